"""Small helpers shared by the resource kinds: tag shapes, pagination, tag diffs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def tags_to_dict(tags: list[dict[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """[{"Key": k, "Value": v}, ...] -> {k: v} (IAM, DynamoDB, SNS spell the keys "Key"/"Value")."""
    return {t[key]: t.get(value, "") for t in tags or []}


def dict_to_tags(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """{k: v} -> [{"Key": k, "Value": v}, ...], sorted so the request is deterministic."""
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def changed_tags(desired: Mapping[str, str], observed: Mapping[str, str]) -> dict[str, str]:
    """The desired tags that are missing or have another value.

    Tags that only exist on the resource are left alone, matching drift() (extra keys are ignored):
    people and tools (cost allocation, security scanners) add their own tags, and removing them
    would make every `up` fight them.
    """
    return {k: v for k, v in desired.items() if observed.get(k) != v}


def paginate(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    """Yield the items of every page of a list/describe call, using botocore's paginator."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])

"""Small helpers shared by the resource kinds: key style, tag shapes, pagination, tag diffs, ids, progress."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from orderpoc.settings import TAG_KEY

if TYPE_CHECKING:
    from orderpoc.resources.base import Context, Outputs, Resource


# -- one vocabulary: configs are snake_case, AWS speaks PascalCase or camelCase ---------------------
def snake(name: str) -> str:
    """VisibilityTimeout -> visibility_timeout, deadLetterTargetArn -> dead_letter_target_arn,
    UUID -> uuid, KMSKeyArn -> kms_key_arn."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def aws_name(key: str, *, camel: bool = False, special: Mapping[str, str] | None = None) -> str:
    """snake_case -> AWS's spelling: PascalCase (camelCase with camel=True); `special` for names
    that are not plain title case (kms_key_arn -> KMSKeyArn)."""
    if special and key in special:
        return special[key]
    words = key.split("_")
    return (words[0] if camel else words[0].capitalize()) + "".join(w.capitalize() for w in words[1:])


def to_aws(value: Any, *, camel: bool = False, special: Mapping[str, str] | None = None) -> Any:
    """A snake_case config (nested dicts and lists) -> AWS's parameter names; values unchanged."""
    if isinstance(value, dict):
        return {
            aws_name(k, camel=camel, special=special): to_aws(v, camel=camel, special=special) for k, v in value.items()
        }
    if isinstance(value, list):
        return [to_aws(v, camel=camel, special=special) for v in value]
    return value


def from_aws(value: Any) -> Any:
    """An AWS structure (nested dicts and lists) -> snake_case keys; values unchanged."""
    if isinstance(value, dict):
        return {snake(k): from_aws(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_aws(v) for v in value]
    return value


def typed(text: Any) -> Any:
    """An attribute string as the value it stands for: "true" -> True, "180" -> 180 (SQS and SNS
    return every attribute as text; configs hold booleans and numbers)."""
    if not isinstance(text, str):
        return text
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.isdigit() else text


def as_text(value: Any) -> str:
    """The inverse of typed() for writing attributes: True -> "true", 180 -> "180"."""
    return str(value).lower() if isinstance(value, bool) else str(value)


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


def pick_ours(
    ctx: Context, items: list[dict[str, Any]], name: str, *, require_tag: bool = False
) -> dict[str, Any] | None:
    """The item called `name`; names are not unique, so prefer ours (tagged with the stack), then
    the oldest. With require_tag, only a tagged one will do."""
    named = [i for i in items if i.get("name") == name]
    tagged = [i for i in named if (i.get("tags") or {}).get(TAG_KEY) == ctx.stack]
    candidates = tagged if tagged or require_tag else named
    return min(candidates, key=lambda i: (str(i.get("createdDate", "")), i["id"]), default=None)


def recorded_or_found(resource: Resource, ctx: Context, name: str, outputs: Outputs | None, key: str) -> Any:
    """outputs[key] when the state recorded it, else the one find() reports; None when nothing is found."""
    value = (outputs or {}).get(key)
    if value is None:
        live = resource.find(ctx, name, {})
        if live is not None:
            value = live.outputs[key]
    return value


def say_retry(ctx: Context, name: str) -> Callable[[str, float], None]:
    """retry()'s on_wait: tell the user which resource waits, why, and for how long."""
    return lambda msg, delay: ctx.say(f"{name}: {msg} in {delay:.1f}s")

"""The small lifecycle every resource kind shares: find, create, update, delete, figures.

A resource kind is a stateless object. The engine hands it a Context (clients, account, region,
tags, a progress callback), the resource's physical name and its *desired* config, a plain dict
whose values are already resolved (ARNs of dependencies filled in).

- find(ctx, name, desired)          -> Live | None    read-only; None when it does not exist
- create(ctx, name, desired)        -> Live           must be safe to call after find said None
- update(ctx, name, live, desired)  -> Live           only called when drift(live, desired) is non-empty
- delete(ctx, name, outputs)        -> bool           True if deleted, False if it was already gone
- drift(live, desired)              -> list[str]      human-readable differences; [] means in sync
- figures(ctx, live)                -> dict           operator figures for `status` (queue depth...)

Live.config is the observed configuration normalised to the *same shape* as the desired config, so
the default drift() is a plain key-by-key comparison. Live.outputs is what other resources and the
state file need (arn, id, url...). Never put secrets (API key values) in either.

Keys of the desired config that start with "_" (e.g. "_zip": the code bytes) are inputs only: they
are neither compared by drift() nor hashed into the state file.

A lost answer is not an error: when AWS carried out a write whose answer never came back, botocore's
retry meets what the first attempt made ("already exists" in one of its many wordings). The engine
asks exists_already(exc); if so it finds the resource again, checks with may_adopt() that it is this
stack's, and converges it like any resource it found (adopt() waits until it is usable first).

delete() must work from the name alone (outputs is None when the state file is lost) and treat
"not found" as done. It waits until the resource is really gone when later deletes depend on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orderpoc.aws import Clients, is_already_exists
from orderpoc.settings import TAG_KEY

Outputs = dict[str, Any]
Config = dict[str, Any]


@dataclass
class Context:
    clients: Clients
    account: str
    region: str
    stack: str
    tags: dict[str, str]
    # progress detail for the user, e.g. ctx.say("waiting for table ACTIVE")
    say: Callable[[str], None] = field(default=lambda message: None)

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


@dataclass
class Live:
    outputs: Outputs
    config: Config


def canonical(value: Any) -> str:
    """Stable text form for comparing and hashing configs (dict order and JSON strings normalised)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def diff_config(desired: Config, observed: Config, prefix: str = "") -> list[str]:
    """Differences between desired and observed, key by key; keys only in observed are ignored."""
    problems: list[str] = []
    for key, want in desired.items():
        if key.startswith("_"):
            continue
        have = observed.get(key)
        label = f"{prefix}{key}"
        if isinstance(want, dict) and isinstance(have, dict):
            problems.extend(diff_config(want, have, prefix=f"{label}."))
        elif canonical(want) != canonical(have):
            problems.append(f"{label}: {_short(have)} -> {_short(want)}")
    return problems


def _short(value: Any, limit: int = 60) -> str:
    text = canonical(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Resource(Protocol):
    """What the engine needs of a resource kind. Kinds subclass it and inherit the defaults for
    drift() and figures(); anything else with these members (a test fake) is a Resource too."""

    kind: str

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None: ...

    def create(self, ctx: Context, name: str, desired: Config) -> Live: ...

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live: ...

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool: ...

    def drift(self, live: Live, desired: Config) -> list[str]:
        return diff_config(desired, live.config)

    def exists_already(self, exc: BaseException) -> bool:
        """Whether a create/update error says that what it was making exists already."""
        return is_already_exists(exc)

    def adopt(self, ctx: Context, name: str, desired: Config) -> Live | None:
        """find() for a resource a create met as "already exists"; kinds whose new resources take a
        while to become usable (a table ACTIVE, a function Active) wait for that first."""
        return self.find(ctx, name, desired)

    def may_adopt(self, ctx: Context, live: Live, desired: Config) -> bool:
        """A resource that appeared between find and create is ours to adopt when it carries this
        stack's tag, or is already exactly as desired (kinds without tags)."""
        tags = live.config.get("tags")
        if isinstance(tags, dict) and tags.get(TAG_KEY) == ctx.stack:
            return True
        return not self.drift(live, desired)

    def figures(self, ctx: Context, live: Live) -> dict[str, Any]:
        return {}

"""The small lifecycle every resource kind shares: find, create, update, delete, figures.

A resource kind is a stateless object. The engine hands it a Context (clients, account, region,
tags, a progress callback), the resource's physical name and its *desired* config, a plain dict
whose values are already resolved (ARNs of dependencies filled in).

- find(ctx, name, desired)          -> Live | None    read-only; None when it does not exist
- create(ctx, name, desired)        -> Live           must be safe to call after find said None
- update(ctx, name, live, desired)  -> Live           only called when drift(live, desired) is non-empty
- delete(ctx, name, outputs)        -> bool           True if deleted, False if it was already gone
- exists(ctx, name, outputs)        -> bool           read-only: whether delete() would find it
- drift(live, desired)              -> list[Change]   the differing fields; [] means in sync
- figures(ctx, live)                -> dict           operator figures for `status` (queue depth...)

Configs use one key style, snake_case, in every kind (`visibility_timeout`, `batch_size`); each kind
maps them to AWS's parameter names at the boundary. Documents AWS defines (IAM policies, JSON
Schemas) and maps of user data (tags, environment variables) are values, kept as they are.

A kind declares in `replace_on` the top-level fields it cannot change in place: a difference there
makes the engine delete and recreate the resource (a "replace") instead of calling update().

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orderpoc.aws import Clients
from orderpoc.aws_errors import is_already_exists
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


class Unknown(str):
    """A value that exists only once a resource is created (an id, a new ARN): `plan` puts it where
    a dependency's output would go. It is a str, so configs built from it (f-strings, API
    parameters) stay well-formed; anything that contains it shows as "(known after up)"."""

    TEXT = "(known after up)"

    def __new__(cls) -> Unknown:
        return super().__new__(cls, cls.TEXT)


UNKNOWN = Unknown()


def is_unknown(value: Any) -> bool:
    """True when the value is, or (as text) contains, a value known only after up."""
    return Unknown.TEXT in canonical(value)


@dataclass(frozen=True)
class Change:
    """One differing field: `field` is a dotted path in the config's vocabulary ("redrive_policy.
    max_receive_count"); `live` and `desired` are the plain values (None: absent)."""

    field: str
    live: Any
    desired: Any

    @property
    def top(self) -> str:
        """The top-level config key the field belongs to."""
        return self.field.split(".", 1)[0]

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "live": self.live, "desired": self.desired}


def diff_config(desired: Config, observed: Config, prefix: str = "") -> list[Change]:
    """Differences between desired and observed, key by key; keys only in observed are ignored."""
    changes: list[Change] = []
    for key, want in desired.items():
        if key.startswith("_"):
            continue
        have = observed.get(key)
        label = f"{prefix}{key}"
        if isinstance(want, dict) and isinstance(have, dict):
            changes.extend(diff_config(want, have, prefix=f"{label}."))
        elif canonical(want) != canonical(have):
            changes.append(Change(label, have, want))
    return changes


def relabel(changes: Iterable[Change], prefix: str) -> list[Change]:
    """The same changes with their fields below `prefix` (e.g. a route's fields below the route)."""
    return [Change(f"{prefix}{c.field}", c.live, c.desired) for c in changes]


class Resource(Protocol):
    """What the engine needs of a resource kind. Kinds subclass it and inherit the defaults for
    drift() and figures(); anything else with these members (a test fake) is a Resource too."""

    kind: str
    # top-level config fields that cannot change in place: a difference there means replace
    replace_on: frozenset[str] = frozenset()

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None: ...

    def create(self, ctx: Context, name: str, desired: Config) -> Live: ...

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live: ...

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool: ...

    def drift(self, live: Live, desired: Config) -> list[Change]:
        return diff_config(desired, live.config)

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        """Read-only: whether delete(ctx, name, outputs) would find something to delete, so `plan`
        tells a resource to delete from a state entry to forget. Default: find() with no desired
        config; kinds whose find needs one, or whose delete goes by a recorded id, override it."""
        return self.find(ctx, name, {}) is not None

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

    def forced_by(self, changes: list[Change]) -> list[str]:
        """The changed fields that force a replacement (default: those under `replace_on`)."""
        return [c.field for c in changes if c.top in self.replace_on]

    def outputs_changed_by(self, changes: list[Change]) -> set[str]:
        """The outputs an in-place update with these changes gives new values (`plan` shows them
        to dependents as unknown): none by default."""
        return set()

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        """What `plan` can tell of a resource's outputs before it exists: values derived from the
        name (most ARNs) where the kind knows them; the engine marks the rest as unknown."""
        return {}

    def figures(self, ctx: Context, live: Live) -> dict[str, Any]:
        return {}

"""The engine's vocabulary: what it is given (Spec), what it plans (Step, Plan), tells (Event) and reports (Report).

Plain data, no AWS calls: the CLI, the ui and the stack use these types without the engine's walks.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orderpoc.resources.base import UNKNOWN, Change, Config, Live, Outputs, Resource, canonical

Builder = Callable[[Mapping[str, Outputs]], Config]
# "forget": recorded in the state, no longer declared, and already gone from AWS: only the state
# entry goes (no AWS call), so plan and up say the same thing about it.
ACTIONS = ("create", "update", "replace", "delete", "forget", "unchanged")
SKIPPED = "a dependency failed"


@dataclass(frozen=True)
class Spec:
    key: str
    resource: Resource
    name: str
    build: Builder
    depends_on: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.resource.kind


@dataclass(frozen=True)
class Event:
    key: str
    kind: str
    name: str
    phase: str  # "start" | "progress" | "done" | "failed" | "skipped"
    action: str = ""  # "create" | "update" | "replace" | "unchanged" | "delete" | "forget" | "absent"
    detail: str = ""
    elapsed: float = 0.0
    changes: tuple[Change, ...] = ()  # what an update or replace changed
    forced_by: tuple[str, ...] = ()  # the fields that made it a replace


class PlannedOutputs(dict[str, Any]):
    """Outputs of a resource yet to be created: what its kind could tell, UNKNOWN for the rest."""

    def __missing__(self, key: str) -> Any:
        return UNKNOWN


@dataclass
class Step:
    """One resource's planned action. `changes` lists the drifted fields of an update or replace,
    `forced_by` the fields that make it a replace; `outputs` are live, recorded or planned."""

    key: str
    kind: str
    name: str
    action: str  # one of ACTIONS, or "unknown" when it could not be planned (see error)
    changes: list[Change] = field(default_factory=list)
    forced_by: list[str] = field(default_factory=list)
    outputs: Outputs = field(default_factory=dict)
    error: str = ""
    desired: Config | None = field(default=None, repr=False)
    live: Live | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"key": self.key, "kind": self.kind, "name": self.name, "action": self.action}
        document["changes"] = [change.as_json() for change in self.changes]
        if self.action == "replace":
            document["forced_by"] = list(self.forced_by)
        document["outputs"] = dict(self.outputs)
        if self.error:
            document["error"] = self.error
        return document


@dataclass
class Plan:
    steps: list[Step]
    # the keys of the declared resources (the rest are orphans: from the state or the stack tag)
    declared: frozenset[str] = frozenset()
    notices: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {action: sum(step.action == action for step in self.steps) for action in ACTIONS}

    @property
    def pending(self) -> bool:
        """Anything to do at all."""
        return any(step.action != "unchanged" for step in self.steps)

    @property
    def destructive(self) -> bool:
        """Something would be deleted (a delete, or the delete half of a replace)."""
        return any(step.action in {"delete", "replace"} for step in self.steps)

    @property
    def errors(self) -> dict[str, str]:
        return {step.key: step.error for step in self.steps if step.error}

    def for_destroy(self) -> Plan:
        """What `down` would delete: every declared resource that exists, and what the state
        still records beyond them."""
        existing = [
            dataclasses.replace(step, action="delete", changes=[], forced_by=[])
            for step in self.steps
            if step.action not in {"create", "delete", "forget", "unknown"} and step.key in self.declared
        ]
        orphans = [step for step in self.steps if step.key not in self.declared]
        return Plan(list(reversed(existing)) + orphans, self.declared, self.notices)


@dataclass
class Report:
    """What one resource looked like to `status`."""

    key: str
    kind: str
    name: str
    state: str  # "ok" | "missing" | "drifted" | "unknown"
    outputs: Outputs = field(default_factory=dict)
    drift: list[Change] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "drift": [change.as_json() for change in self.drift]}


def config_hash(desired: Config) -> str:
    public = {k: v for k, v in desired.items() if not k.startswith("_")}
    return hashlib.sha256(canonical(public).encode()).hexdigest()[:16]

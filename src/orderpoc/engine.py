"""Walks a stack's resource graph: parallel create/update, reverse-order delete, read-only inspect.

The engine knows nothing of the order pipeline: it gets Specs (key, resource kind, physical name,
dependencies, a function building the desired config from the dependencies' outputs), a State
to record into, and a callback for progress Events.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orderpoc import graph
from orderpoc.errors import EngineError, ResourceError
from orderpoc.resources.base import Config, Context, Live, Outputs, Resource, canonical
from orderpoc.settings import TAG_KEY
from orderpoc.state import State

__all__ = ["Engine", "EngineError", "Event", "Report", "Spec", "config_hash"]

Builder = Callable[[Mapping[str, Outputs]], Config]
MAX_TWINS = 5
# A write that met "already exists" starts over from find (the resource made by the attempt whose
# answer was lost is adopted); a few rounds, as each round can lose an answer of its own.
CONVERGE_ROUNDS = 4


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
    action: str = ""  # "create" | "update" | "unchanged" | "delete" | "absent" | "ok" | "missing" | "drifted"
    detail: str = ""
    elapsed: float = 0.0


@dataclass
class Report:
    """What one resource looked like to `status`."""

    key: str
    kind: str
    name: str
    state: str  # "ok" | "missing" | "drifted" | "unknown"
    outputs: Outputs = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def config_hash(desired: Config) -> str:
    public = {k: v for k, v in desired.items() if not k.startswith("_")}
    return hashlib.sha256(canonical(public).encode()).hexdigest()[:16]


class Engine:
    def __init__(
        self,
        specs: list[Spec],
        ctx: Context,
        state: State,
        on_event: Callable[[Event], None] = lambda event: None,
        max_workers: int = 8,
    ) -> None:
        self.specs = {spec.key: spec for spec in specs}
        self.deps = {spec.key: spec.depends_on for spec in specs}
        self.ctx = ctx
        self.state = state
        self.on_event = on_event
        self.max_workers = max_workers
        graph.topological(self.deps)

    # -- shared plumbing ---------------------------------------------------------------------
    def _emit(self, spec: Spec, phase: str, action: str = "", detail: str = "", started: float = 0.0) -> None:
        elapsed = time.monotonic() - started if started else 0.0
        self.on_event(Event(spec.key, spec.kind, spec.name, phase, action, detail, elapsed))

    def _ctx_for(self, spec: Spec, started: float) -> Context:
        return dataclasses.replace(self.ctx, say=lambda msg: self._emit(spec, "progress", detail=msg, started=started))

    def _run(
        self, deps: Mapping[str, tuple[str, ...]], job: Callable[[Spec, Mapping[str, Any]], Any]
    ) -> dict[str, graph.Outcome]:
        def on_skip(key: str) -> None:
            self._emit(self.specs[key], "skipped", detail="a dependency failed")

        return graph.run(
            deps, lambda key, values: job(self.specs[key], values), max_workers=self.max_workers, on_skip=on_skip
        )

    @staticmethod
    def _raise_failures(outcomes: dict[str, graph.Outcome]) -> None:
        failures = {k: o.error for k, o in outcomes.items() if o.error is not None}
        if failures:
            raise EngineError(failures)

    # -- up ----------------------------------------------------------------------------------
    def apply(self) -> dict[str, Outputs]:
        """Create what is missing, update what drifted, leave the rest alone (no mutating call)."""
        outcomes = self._run(self.deps, self._apply_one)
        self._raise_failures(outcomes)
        return {key: outcome.value for key, outcome in outcomes.items()}

    def _apply_one(self, spec: Spec, dep_outputs: Mapping[str, Outputs]) -> Outputs:
        started = time.monotonic()
        self._emit(spec, "start", started=started)
        ctx = self._ctx_for(spec, started)
        try:
            desired = spec.build(dep_outputs)
            action, detail, live = self._converge(spec, ctx, desired)
            recorded = self.state.resources.get(spec.key, {})
            entry = {"kind": spec.kind, "name": spec.name, "outputs": live.outputs, "config_hash": config_hash(desired)}
            if {k: recorded.get(k) for k in entry} != entry:
                self.state.record(spec.key, entry)
        except Exception as exc:
            self._emit(spec, "failed", detail=str(exc), started=started)
            raise
        self._emit(spec, "done", action, detail, started)
        return live.outputs

    def _converge(self, spec: Spec, ctx: Context, desired: Config) -> tuple[str, str, Live]:
        """Find, then create or update. A write that the resource kind says met "it already exists"
        (its own earlier attempt, whose answer was lost) starts over from find and adopts it."""
        resource, first_action = spec.resource, ""
        for round_ in range(1, CONVERGE_ROUNDS + 1):
            live = resource.find(ctx, spec.name, desired) if round_ == 1 else resource.adopt(ctx, spec.name, desired)
            if (
                round_ > 1
                and live is not None
                and first_action == "create"
                and not resource.may_adopt(ctx, live, desired)
            ):
                raise ResourceError(
                    spec.name,
                    "appeared while orderpoc was creating it, but it is not this stack's (no "
                    f"{TAG_KEY}={ctx.stack} tag, and not as desired): not adopted",
                )
            try:
                if live is None:
                    first_action = first_action or "create"
                    return first_action, "", resource.create(ctx, spec.name, desired)
                drift = resource.drift(live, desired)
                first_action = first_action or ("update" if drift else "unchanged")
                if drift:
                    live = resource.update(ctx, spec.name, live, desired)
                detail = "adopted after a lost answer" if first_action == "create" else "; ".join(drift)
                return first_action, detail, live
            except Exception as exc:
                if round_ == CONVERGE_ROUNDS or not resource.exists_already(exc):
                    raise
                ctx.say(f"{exc} (an earlier attempt's answer was lost): adopting what it made")
        raise AssertionError("unreachable")

    # -- down --------------------------------------------------------------------------------
    def destroy(self) -> None:
        """Delete in reverse dependency order; "not found" counts as deleted."""
        outcomes = self._run(graph.reverse(self.deps), lambda spec, _: self._destroy_one(spec))
        self._raise_failures(outcomes)

    def _destroy_one(self, spec: Spec) -> None:
        started = time.monotonic()
        self._emit(spec, "start", started=started)
        try:
            ctx = self._ctx_for(spec, started)
            existed = spec.resource.delete(ctx, spec.name, self.state.outputs(spec.key))
            # A create whose response was lost is retried by botocore and can leave a twin with the
            # same name (REST APIs, API keys, usage plans allow that): delete by name until none is left.
            for _ in range(MAX_TWINS):
                if not spec.resource.delete(ctx, spec.name, None):
                    break
                existed = True
            self.state.forget(spec.key)
        except Exception as exc:
            self._emit(spec, "failed", detail=str(exc), started=started)
            raise
        self._emit(spec, "done", "delete" if existed else "absent", started=started)

    # -- status ------------------------------------------------------------------------------
    def inspect(self) -> list[Report]:
        """Read-only: find each resource, compare with the desired config, collect figures."""
        reports: dict[str, Report] = {}

        def job(spec: Spec, dep_outputs: Mapping[str, Outputs | None]) -> Outputs | None:
            report = Report(spec.key, spec.kind, spec.name, "unknown", outputs=self.state.outputs(spec.key) or {})
            reports[spec.key] = report
            found = {key: out for key, out in dep_outputs.items() if out is not None}
            if len(found) < len(dep_outputs):
                report.state, report.error = "unknown", "a resource it depends on is missing"
                return None
            ctx = self._ctx_for(spec, time.monotonic())
            try:
                desired = spec.build(found)
                live: Live | None = spec.resource.find(ctx, spec.name, desired)
                if live is None:
                    report.state = "missing"
                    return None
                report.outputs = live.outputs
                report.drift = spec.resource.drift(live, desired)
                report.state = "drifted" if report.drift else "ok"
                report.figures = spec.resource.figures(ctx, live)
                return live.outputs
            except Exception as exc:
                report.state, report.error = "unknown", str(exc)
                return None

        graph.run(self.deps, lambda key, values: job(self.specs[key], values), max_workers=self.max_workers)
        return [reports[key] for key in graph.topological(self.deps)]

"""What every engine walk shares: the Specs as a dependency graph, run in threads, telling Events.

The base of the engine's classes (planning in engine_plan.py, applying and destroying in
engine_apply.py, status in engine.py): it holds what the engine was given and knows nothing of
what a walk does at each resource.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from orderpoc import graph
from orderpoc.engine_types import SKIPPED, Event, Spec
from orderpoc.errors import EngineError
from orderpoc.resources.base import Change, Context, Resource
from orderpoc.state import State
from orderpoc.tag_sweep import Pick


class Walker:
    """The specs, the context, the state and the event callback an Engine was made with."""

    def __init__(
        self,
        specs: list[Spec],
        ctx: Context,
        state: State,
        on_event: Callable[[Event], None] = lambda event: None,
        max_workers: int = 8,
        kinds: Mapping[str, Resource] | None = None,
        search_tagged: Callable[[], Pick] | None = None,
        finds_at_once: bool = True,
        may_be_ours: Callable[[str, str, Mapping[str, Any]], bool] = lambda kind, name, outputs: True,
    ) -> None:
        self.specs = {spec.key: spec for spec in specs}
        self.deps = {spec.key: spec.depends_on for spec in specs}
        self.ctx = ctx
        self.state = state
        self.on_event = on_event
        self.max_workers = max_workers
        # every kind a state entry may name, so what is no longer declared can still be deleted
        self.kinds = {**(kinds or {}), **{spec.kind: spec.resource for spec in specs}}
        # read-only: what the stack tag finds beyond what is known (tag_sweep.search); None: not asked
        self.search_tagged = search_tagged
        # the plan sends every find at once (else at most max_workers): see plan()
        self.finds_at_once = finds_at_once
        # whether a state entry no longer declared (kind, name, outputs) could be this stack's: one
        # that is not (a state copied from another stack) is never deleted
        self.may_be_ours = may_be_ours
        graph.topological(self.deps)

    def _emit(
        self,
        spec: Spec,
        phase: str,
        action: str = "",
        detail: str = "",
        started: float = 0.0,
        changes: tuple[Change, ...] = (),
        forced_by: tuple[str, ...] = (),
    ) -> None:
        elapsed = time.monotonic() - started if started else 0.0
        self.on_event(Event(spec.key, spec.kind, spec.name, phase, action, detail, elapsed, changes, forced_by))

    def _ctx_for(self, spec: Spec, started: float) -> Context:
        return dataclasses.replace(self.ctx, say=lambda msg: self._emit(spec, "progress", detail=msg, started=started))

    def _run(
        self, deps: Mapping[str, tuple[str, ...]], job: Callable[[Spec, Mapping[str, Any]], Any], quiet: bool = False
    ) -> dict[str, graph.Outcome]:
        def on_skip(key: str) -> None:
            if not quiet:
                self._emit(self.specs[key], "skipped", detail=SKIPPED)

        return graph.run(
            deps, lambda key, values: job(self.specs[key], values), max_workers=self.max_workers, on_skip=on_skip
        )

    @staticmethod
    def _raise_failures(outcomes: dict[str, graph.Outcome]) -> None:
        failures = {k: o.error for k, o in outcomes.items() if o.error is not None}
        if failures:
            raise EngineError(failures)

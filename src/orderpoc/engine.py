"""Walks a stack's resource graph: parallel create/update, reverse-order delete, read-only inspect.

The engine knows nothing of the order pipeline: it gets Specs (key, resource kind, physical name,
dependencies, a function building the desired config from the dependencies' outputs), a State
to record into, and a callback for progress Events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from orderpoc import graph
from orderpoc.engine_apply import Applier
from orderpoc.engine_types import Report, Spec
from orderpoc.resources.base import Live, Outputs


class Engine(Applier):
    """What callers use: plan() (engine_plan.py), apply() and destroy() (engine_apply.py), and
    inspect() for status, here; the shared walk is engine_walk.py, the types engine_types.py."""

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

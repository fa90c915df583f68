"""Planning: per resource the action `up` will take, and why; read-only (zero mutating calls).

Each declared resource is found by its name and compared with its desired config: a create, an
update, a replace or unchanged. What the state records beyond the declared stack is a delete (a
forget when it is gone already), what only the stack tag finds a delete. `plan` prints the result,
`up` carries it out (engine_apply.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from orderpoc import graph
from orderpoc.engine_types import SKIPPED, Plan, PlannedOutputs, Spec, Step
from orderpoc.engine_walk import Walker
from orderpoc.resources.base import Config, Live, Outputs, is_unknown
from orderpoc.settings import TAG_KEY
from orderpoc.tag_sweep import Found, Known, Tagged


def _tagged_key(tagged: Tagged) -> str:
    """A tag-found resource's key in plans and reports: it has no key in the stack or the state."""
    return f"tagged:{tagged.arn}"


class Planner(Walker):
    """The read-only half of the engine: plan() and what apply and destroy reuse of it."""

    def plan(self) -> Plan:
        """Read-only: per resource the action `apply` will take and why (zero mutating calls).

        A resource still to be created (or replaced) hands its dependents planned outputs: values
        derived from its name where its kind knows them, UNKNOWN ("(known after up)") otherwise.
        """
        steps: dict[str, Step] = {}
        # Every find and the tag search at once (reads, one or two calls each): with the apply's 8
        # threads the ~20 finds went out in four waves of round trips. Not where a round trip is a
        # millisecond (the local AWS): there the extra threads only take turns at the GIL.
        wide = self.finds_at_once and self.max_workers > 1
        find_workers = max(self.max_workers, len(self.specs) + 1) if wide else self.max_workers
        with ThreadPoolExecutor(find_workers, thread_name_prefix="find-ahead") as pool:
            tagged = pool.submit(self.search_tagged) if self.search_tagged is not None else None
            ahead = self._find_ahead(pool)

            def job(spec: Spec, dep_outputs: Mapping[str, Outputs]) -> Outputs:
                try:
                    desired = spec.build(dep_outputs)
                    live = self._found(spec, desired, ahead.get(spec.key))
                    steps[spec.key] = step = self._decide(spec, desired, live)
                except Exception as exc:
                    steps[spec.key] = Step(spec.key, spec.kind, spec.name, "unknown", error=str(exc))
                    raise
                return step.outputs

            self._run(self.deps, job, quiet=True)
        ordered = [
            steps.get(key) or Step(key, self.specs[key].kind, self.specs[key].name, "unknown", error=SKIPPED)
            for key in graph.topological(self.deps)
        ]
        plan = Plan(ordered + self._orphans(), frozenset(self.specs))
        if tagged is not None:
            if plan.errors:  # an unplanned resource's live ids are unknown: it could be mistaken for an orphan
                plan.notices.append("the stack tag was not searched for leftovers: a resource could not be planned")
            else:
                plan.steps += self._tagged_orphans(tagged.result()(self._known(plan.steps)), plan.notices)
        return plan

    def _find_ahead(self, pool: ThreadPoolExecutor) -> dict[str, tuple[Config, Future[Live | None]]]:
        """Every resource's find at once, each on the config it has if its dependencies' outputs
        are the ones the state recorded (or, where none are, those planned for a create).

        On a fresh stack and on a rerun with nothing changed that is the config the walk builds,
        so the walk waits on no chain of reads (a fresh up with 50 ms per call read one level of
        the graph after another before creating anything). Where a dependency turns out otherwise,
        the walk throws that find away and makes it again on the real config."""
        guessed: dict[str, Outputs] = {}
        ahead: dict[str, tuple[Config, Future[Live | None]]] = {}
        for key in graph.topological(self.deps):
            spec = self.specs[key]
            if any(dep not in guessed for dep in spec.depends_on):
                continue
            try:
                desired = spec.build({dep: guessed[dep] for dep in spec.depends_on})
                recorded = self.state.outputs(key)
                guessed[key] = PlannedOutputs(
                    recorded if recorded else spec.resource.planned_outputs(self.ctx, spec.name, desired)
                )
            except Exception:  # the walk builds it again and reports what is wrong
                continue
            ahead[key] = (desired, pool.submit(spec.resource.find, self.ctx, spec.name, desired))
        return ahead

    def _found(self, spec: Spec, desired: Config, ahead: tuple[Config, Future[Live | None]] | None) -> Live | None:
        """What find says for this config: the early answer when it was asked on the same config."""
        if ahead is not None and ahead[0] == desired:
            try:
                return ahead[1].result()
            except Exception:  # a transient failure gets the walk's own attempt
                pass
        return spec.resource.find(self.ctx, spec.name, desired)

    def _decide(self, spec: Spec, desired: Config, live: Live | None) -> Step:
        """The action for one resource, from what was found and what is desired."""
        step = Step(spec.key, spec.kind, spec.name, "create", desired=desired, live=live)
        if live is not None:
            step.changes = spec.resource.drift(live, desired)
            step.forced_by = spec.resource.forced_by(step.changes)
            step.action = "replace" if step.forced_by else "update" if step.changes else "unchanged"
        if step.action in {"create", "replace"}:
            step.outputs = PlannedOutputs(spec.resource.planned_outputs(self.ctx, spec.name, desired))
        else:
            assert live is not None
            stale = spec.resource.outputs_changed_by(step.changes)
            step.outputs = (
                PlannedOutputs({k: v for k, v in live.outputs.items() if k not in stale}) if stale else live.outputs
            )
        return step

    def _orphans(self) -> list[Step]:
        """What the state records but the stack no longer declares, each asked (read-only) whether
        it still exists: a "delete" after the rest converged, or a "forget" of the state entry."""
        return [
            self._orphan(key, entry)
            for key, entry in reversed(list(self.state.resources.items()))
            if key not in self.specs
        ]

    def _orphan(self, key: str, entry: Mapping[str, Any]) -> Step:
        step = Step(key, entry.get("kind", ""), entry.get("name", ""), "delete", outputs=entry.get("outputs") or {})
        resource = self.kinds.get(step.kind)
        if resource is None:
            step.action, step.error = "unknown", f"kind {step.kind!r} is unknown to this orderpoc: delete it by hand"
            return step
        if not self.may_be_ours(step.kind, step.name, step.outputs):
            step.action = "unknown"
            step.error = (
                f"the state records {step.name!r} under {key!r}, a name of another stack's (the state file "
                "was copied or edited): not deleted; remove that entry from the state"
            )
            return step
        try:
            if not resource.exists(self.ctx, step.name, step.outputs or None):
                step.action = "forget"
        except Exception as exc:
            step.action, step.error = "unknown", str(exc)
        return step

    def _known(self, steps: list[Step]) -> Known:
        """Every resource the stack declares or the state records: never swept by the stack tag. Its
        names, and its ARNs and ids as found live, planned and recorded."""
        known = Known()
        for step in steps:
            live = step.live.outputs if step.live is not None else {}
            recorded = self.state.outputs(step.key) or {}
            values = [*step.outputs.values(), *live.values(), *recorded.values()]
            known.add(step.kind, step.name, [v for v in values if not is_unknown(v)])
        for entry in self.state.resources.values():
            known.add(entry.get("kind", ""), entry.get("name", ""), (entry.get("outputs") or {}).values())
        return known

    def _tagged_orphans(self, found: Found, notices: list[str]) -> list[Step]:
        """Read-only: the steps that delete what the stack tag found beyond the known resources."""
        notices.extend(
            f"tagged {TAG_KEY}={self.ctx.stack} but not a kind orderpoc deletes (not deleted): {arn}"
            for arn in found.unknown
        )
        steps = []
        for tagged in found.orphans:
            step = Step(_tagged_key(tagged), tagged.kind, tagged.name, "delete", outputs=dict(tagged.outputs))
            try:
                if not self.kinds[tagged.kind].exists(self.ctx, tagged.name, step.outputs):
                    continue  # the tagging index lags behind a delete: nothing to do
            except Exception as exc:
                step.action, step.error = "unknown", str(exc)
            steps.append(step)
        return steps

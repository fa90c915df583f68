"""Applying and destroying: carry out a plan resource by resource, recording each in the state.

apply creates, updates and replaces in dependency order, adopts what a lost answer made, then
sweeps what is no longer declared; destroy deletes in reverse order, twins included. Each resource
is one lifecycle call sequence (resources/base.py), told as start / progress / done Events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from orderpoc import graph
from orderpoc.engine_plan import Planner
from orderpoc.engine_types import Plan, Spec, Step, config_hash
from orderpoc.errors import EngineError, ResourceError
from orderpoc.resources.base import Config, Context, Live, Outputs
from orderpoc.settings import TAG_KEY

MAX_TWINS = 25  # deleted by name per run (a create resent by botocore or a raced up made them)
# A write that met "already exists" starts over from find (the resource made by the attempt whose
# answer was lost is adopted); a few rounds, as each round can lose an answer of its own.
CONVERGE_ROUNDS = 4


class Applier(Planner):
    """The writing half of the engine: apply (up) and destroy (down)."""

    def apply(self, plan: Plan | None = None) -> dict[str, Outputs]:
        """Carry out the plan (computed here when not given): create what is missing, update what
        drifted, replace what cannot change in place, leave the rest alone (no mutating call), and
        then delete what is no longer declared."""
        plan = plan or self.plan()
        steps = {step.key: step for step in plan.steps}
        outcomes = self._run(self.deps, lambda spec, deps: self._apply_one(spec, steps[spec.key], deps))
        self._raise_failures(outcomes)
        failures: dict[str, BaseException] = {}
        for step in plan.steps:
            if step.key in plan.declared:
                continue
            try:
                self._sweep_one(step)
            except Exception as exc:
                failures[step.key] = exc
        if failures:
            raise EngineError(failures)
        return {key: outcome.value for key, outcome in outcomes.items()}

    def _apply_one(self, spec: Spec, step: Step, dep_outputs: Mapping[str, Outputs]) -> Outputs:
        started = time.monotonic()
        self._emit(spec, "start", started=started)
        ctx = self._ctx_for(spec, started)
        try:
            if step.error:  # it could not be planned (a skipped one never gets here: its dependency failed)
                raise RuntimeError(step.error)
            desired = spec.build(dep_outputs)
            # The plan's observation decided again on the real outputs of the dependencies: the
            # action differs from the plan's only where the plan showed "(known after up)".
            done = self._decide(spec, desired, step.live)
            live, detail = step.live, ""
            if done.action == "replace":
                ctx.say(f"{', '.join(done.forced_by)} cannot change in place: replacing {spec.name}")
                assert live is not None
                spec.resource.delete(ctx, spec.name, live.outputs)
                _, detail, live = self._converge(spec, ctx, desired, None)
            elif done.action in {"create", "update"}:
                _, detail, live = self._converge(spec, ctx, desired, live)
            assert live is not None
            recorded = self.state.resources.get(spec.key, {})
            entry = {"kind": spec.kind, "name": spec.name, "outputs": live.outputs, "config_hash": config_hash(desired)}
            if {k: recorded.get(k) for k in entry} != entry:
                self.state.record(spec.key, entry)
        except Exception as exc:
            self._emit(spec, "failed", detail=str(exc), started=started)
            raise
        self._emit(
            spec,
            "done",
            done.action,
            detail,
            started=started,
            changes=tuple(done.changes),
            forced_by=tuple(done.forced_by),
        )
        return live.outputs

    def _converge(self, spec: Spec, ctx: Context, desired: Config, found: Live | None) -> tuple[str, str, Live]:
        """Create or update what the plan found. A write that the resource kind says met "it already
        exists" (its own earlier attempt, whose answer was lost) starts over from find and adopts it."""
        resource, first_action = spec.resource, ""
        for round_ in range(1, CONVERGE_ROUNDS + 1):
            live = found if round_ == 1 else resource.adopt(ctx, spec.name, desired)
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
                detail = "adopted after a lost answer" if first_action == "create" else ""
                return first_action, detail, live
            except Exception as exc:
                if round_ == CONVERGE_ROUNDS or not resource.exists_already(exc):
                    raise
                ctx.say(f"{exc} (an earlier attempt's answer was lost): adopting what it made")
        raise AssertionError("unreachable")

    def _sweep_one(self, step: Step) -> None:
        """Carry out one orphan's planned step: delete it (then forget it), or only forget it."""
        if step.error:  # an unknown kind, or its existence could not be read
            raise EngineError({step.key: RuntimeError(step.error)})
        spec = Spec(step.key, self.kinds[step.kind], step.name, lambda d: {})
        started = time.monotonic()
        self._emit(spec, "start", started=started)
        try:
            action = step.action
            if action == "delete":
                existed = spec.resource.delete(self._ctx_for(spec, started), step.name, step.outputs or None)
                action = "delete" if existed else "absent"  # gone between plan and apply
            self.state.forget(step.key)
        except Exception as exc:
            self._emit(spec, "failed", detail=str(exc), started=started)
            raise
        self._emit(spec, "done", action, started=started)

    # -- down --------------------------------------------------------------------------------
    def destroy(self) -> None:
        """Delete in reverse dependency order; "not found" counts as deleted. Then what the state
        records beyond the declared stack, then what only the stack tag finds."""
        declared = [
            Step(s.key, s.kind, s.name, "delete", outputs=self.state.outputs(s.key) or {}) for s in self.specs.values()
        ]
        orphans = self._orphans()
        known = self._known(declared + orphans)  # before the deletes forget what the state records
        outcomes = self._run(graph.reverse(self.deps), lambda spec, _: self._destroy_one(spec))
        self._raise_failures(outcomes)
        for step in orphans:
            self._sweep_one(step)
        if self.search_tagged is not None:
            # A declared name the tagging index still lists after its delete stays known: not asked again.
            for step in self._tagged_orphans(self.search_tagged()(known), []):
                self._sweep_one(step)

    def _recorded_outputs(self, spec: Spec) -> Outputs | None:
        """The state's outputs of this resource, to delete it by its ids; None (delete by name)
        unless the entry is this resource's: a state file copied from another stack and edited
        records that stack's ids, and deleting by them deleted its resources."""
        return (self.state.outputs(spec.key) or None) if self._entry_is_ours(spec.key) else None

    def _entry_is_ours(self, key: str) -> bool:
        """The state entry names this resource (kind and name), could be this stack's, and so do
        the entries of what it depends on: a stage records only ids, its API's entry the name."""
        spec, entry = self.specs[key], self.state.resources.get(key) or {}
        return (
            entry.get("kind") == spec.kind
            and entry.get("name") == spec.name
            and self.may_be_ours(spec.kind, spec.name, entry.get("outputs") or {})
            and all(self._entry_is_ours(dep) for dep in spec.depends_on)
        )

    def _destroy_one(self, spec: Spec) -> None:
        started = time.monotonic()
        self._emit(spec, "start", started=started)
        try:
            ctx = self._ctx_for(spec, started)
            existed = spec.resource.delete(ctx, spec.name, self._recorded_outputs(spec))
            # A create whose response was lost is retried by botocore and can leave a twin with the
            # same name (REST APIs, API keys, usage plans allow that): delete by name until none is left.
            for _ in range(MAX_TWINS):
                if not spec.resource.delete(ctx, spec.name, None):
                    break
                existed = True
            else:  # never "gone" while one may be left: the entry stays, and a rerun goes on
                raise ResourceError(spec.name, f"{MAX_TWINS} twins of that name deleted and more remain: rerun down")
            self.state.forget(spec.key)
        except Exception as exc:
            self._emit(spec, "failed", detail=str(exc), started=started)
            raise
        self._emit(spec, "done", "delete" if existed else "absent", started=started)

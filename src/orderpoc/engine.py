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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from orderpoc import graph
from orderpoc.errors import EngineError, ResourceError
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource, canonical, is_unknown
from orderpoc.settings import TAG_KEY
from orderpoc.state import State
from orderpoc.tag_sweep import Found, Known, Pick, Tagged

__all__ = ["ACTIONS", "Engine", "EngineError", "Event", "Plan", "Report", "Spec", "Step", "config_hash"]

Builder = Callable[[Mapping[str, Outputs]], Config]
MAX_TWINS = 5
# A write that met "already exists" starts over from find (the resource made by the attempt whose
# answer was lost is adopted); a few rounds, as each round can lose an answer of its own.
CONVERGE_ROUNDS = 4
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


def _tagged_key(tagged: Tagged) -> str:
    """A tag-found resource's key in plans and reports: it has no key in the stack or the state."""
    return f"tagged:{tagged.arn}"


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
        kinds: Mapping[str, Resource] | None = None,
        search_tagged: Callable[[], Pick] | None = None,
        finds_at_once: bool = True,
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
        graph.topological(self.deps)

    # -- shared plumbing ---------------------------------------------------------------------
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

    # -- plan -------------------------------------------------------------------------------
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

    # -- up ----------------------------------------------------------------------------------
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

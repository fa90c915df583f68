"""The engine with in-memory resource kinds: ordering, parallelism, no-op reruns, failures, delete."""

from __future__ import annotations

import threading

import pytest

from orderpoc import graph
from orderpoc.engine import Engine
from orderpoc.engine_types import Spec, config_hash
from orderpoc.errors import EngineError
from orderpoc.resources.base import Change, Config, Context, Live, Outputs, Resource
from orderpoc.state import State


class FakeCloud(Resource):
    """A resource kind backed by a dict, recording every mutating call."""

    kind = "fake"

    def __init__(self) -> None:
        self.items: dict[str, Config] = {}
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.fail_on: set[str] = set()
        self.barrier: threading.Barrier | None = None

    def _log(self, op: str, name: str) -> None:
        with self.lock:
            self.calls.append((op, name))

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        config = self.items.get(name)
        return None if config is None else Live({"arn": f"arn:fake:{name}", "name": name}, dict(config))

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        if self.barrier:
            self.barrier.wait(timeout=5)  # proves independent creates run at the same time
        if name in self.fail_on:
            raise RuntimeError(f"boom creating {name}")
        self._log("create", name)
        self.items[name] = {k: v for k, v in desired.items() if not k.startswith("_")}
        return self.find(ctx, name, desired)  # type: ignore[return-value]

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        self._log("update", name)
        self.items[name] = {k: v for k, v in desired.items() if not k.startswith("_")}
        return self.find(ctx, name, desired)  # type: ignore[return-value]

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        self._log("delete", name)
        return self.items.pop(name, None) is not None


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def ctx() -> Context:
    return Context(clients=None, account="123456789012", region="us-east-1", stack="t", tags={})  # type: ignore[arg-type]


def specs(cloud: FakeCloud, size: int = 1) -> list[Spec]:
    """a, b independent; c needs both and embeds their ARNs; d needs c."""

    def uses(*keys: str):
        return lambda d: {"size": size, "refs": [d[k]["arn"] for k in keys]}

    return [
        Spec("a", cloud, "a", uses()),
        Spec("b", cloud, "b", uses()),
        Spec("c", cloud, "c", uses("a", "b"), ("a", "b")),
        Spec("d", cloud, "d", lambda d: {"size": size, "_secret_input": b"x"}, ("c",)),
    ]


def test_apply_creates_in_dependency_order_and_records_state(cloud, ctx, tmp_path):
    state = State(tmp_path / "s.json")
    Engine(specs(cloud), ctx, state).apply()
    order = [name for op, name in cloud.calls]
    assert order.index("c") > max(order.index("a"), order.index("b"))
    assert order.index("d") > order.index("c")
    assert cloud.items["c"]["refs"] == ["arn:fake:a", "arn:fake:b"]
    reloaded = State.load(tmp_path / "s.json")
    assert set(reloaded.resources) == {"a", "b", "c", "d"}
    assert reloaded.outputs("c") == {"arn": "arn:fake:c", "name": "c"}
    assert "_secret_input" not in str(reloaded.data)
    assert (tmp_path / "s.json").stat().st_mode & 0o777 == 0o600


def test_independent_resources_are_created_in_parallel(cloud, ctx, tmp_path):
    cloud.barrier = threading.Barrier(2)  # a and b must both be inside create() at once
    Engine(specs(cloud)[:2], ctx, State(tmp_path / "s.json")).apply()
    assert sorted(name for _, name in cloud.calls) == ["a", "b"]


def test_rerun_without_change_makes_no_mutating_call_and_does_not_rewrite_state(cloud, ctx, tmp_path):
    state = State(tmp_path / "s.json")
    Engine(specs(cloud), ctx, state).apply()
    cloud.calls.clear()
    before = (tmp_path / "s.json").stat().st_mtime_ns
    events = []
    Engine(specs(cloud), ctx, state, events.append).apply()
    assert cloud.calls == []
    assert (tmp_path / "s.json").stat().st_mtime_ns == before
    assert {e.action for e in events if e.phase == "done"} == {"unchanged"}


def test_drift_is_updated_in_place_and_reported(cloud, ctx, tmp_path):
    state = State(tmp_path / "s.json")
    Engine(specs(cloud), ctx, state).apply()
    cloud.calls.clear()
    events = []
    Engine(specs(cloud, size=2), ctx, state, events.append).apply()
    assert sorted(cloud.calls) == [("update", n) for n in "abcd"]
    done = next(e for e in events if e.key == "a" and e.phase == "done")
    assert done.action == "update" and done.changes == (Change("size", 1, 2),)
    assert state.resources["a"]["config_hash"] == config_hash({"size": 2, "refs": []})


def test_lost_state_file_finds_instead_of_duplicating(cloud, ctx, tmp_path):
    Engine(specs(cloud), ctx, State(tmp_path / "s.json")).apply()
    (tmp_path / "s.json").unlink()
    cloud.calls.clear()
    Engine(specs(cloud), ctx, State(tmp_path / "s.json")).apply()
    assert cloud.calls == []
    assert set(State.load(tmp_path / "s.json").resources) == {"a", "b", "c", "d"}


def test_failure_skips_dependents_and_rerun_converges(cloud, ctx, tmp_path):
    cloud.fail_on = {"b"}
    state = State(tmp_path / "s.json")
    events = []
    with pytest.raises(EngineError) as err:
        Engine(specs(cloud), ctx, state, events.append).apply()
    assert set(err.value.failures) == {"b"}
    assert {e.key for e in events if e.phase == "skipped"} == {"c", "d"}
    assert "a" in cloud.items and "c" not in cloud.items
    cloud.fail_on.clear()
    cloud.calls.clear()
    Engine(specs(cloud), ctx, state).apply()
    assert sorted(name for op, name in cloud.calls) == ["b", "c", "d"]  # a was not created twice


def test_destroy_deletes_dependents_first_and_counts_absent_as_done(cloud, ctx, tmp_path):
    state = State(tmp_path / "s.json")
    Engine(specs(cloud), ctx, state).apply()
    del cloud.items["d"]  # deleted out of band
    cloud.calls.clear()
    events = []
    Engine(specs(cloud), ctx, state, events.append).destroy()
    order = [name for _, name in cloud.calls]
    assert order.index("c") < min(order.index("a"), order.index("b"))
    assert order.index("d") < order.index("c")
    assert cloud.items == {}
    assert state.resources == {}
    assert next(e.action for e in events if e.key == "d" and e.phase == "done") == "absent"


def test_inspect_reports_ok_missing_drifted_without_mutating(cloud, ctx, tmp_path):
    state = State(tmp_path / "s.json")
    Engine(specs(cloud), ctx, state).apply()
    del cloud.items["a"]
    cloud.items["b"]["size"] = 5
    cloud.calls.clear()
    reports = {r.key: r for r in Engine(specs(cloud), ctx, state).inspect()}
    assert cloud.calls == []
    assert reports["a"].state == "missing"
    assert reports["b"].state == "drifted" and reports["b"].drift == [Change("size", 5, 1)]
    assert reports["c"].state == "unknown"  # cannot build its config without a
    assert reports["d"].state == "unknown"


def test_graph_rejects_cycles():
    with pytest.raises(graph.CycleError):
        graph.topological({"a": ("b",), "b": ("a",)})


class LostAnswerCloud(FakeCloud):
    """A create whose first attempt is carried out but whose answer is lost: the retry (as botocore
    sends it) answers "already exists"."""

    def __init__(self, made_by: dict[str, Config] | None = None) -> None:
        super().__init__()
        self.made_by = made_by  # what the lost attempt made, if not the desired config

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        self._log("create", name)
        self.items[name] = dict(self.made_by or {k: v for k, v in desired.items() if not k.startswith("_")})
        raise AlreadyThere(f"{name} already exists")

    def exists_already(self, exc: BaseException) -> bool:
        return isinstance(exc, AlreadyThere)


class AlreadyThere(Exception):
    pass


def test_a_create_that_meets_already_exists_adopts_and_converges(ctx, tmp_path):
    cloud = LostAnswerCloud(made_by={"size": 0, "refs": [], "tags": {"orderpoc:stack": "t"}})
    said: list[str] = []
    events: list = []
    ctx.say = said.append
    outputs = Engine(
        [Spec("a", cloud, "a", lambda d: {"size": 1, "refs": []})], ctx, State(tmp_path / "s.json"), events.append
    ).apply()
    assert outputs["a"]["name"] == "a"
    assert cloud.calls == [("create", "a"), ("update", "a")]  # adopted, then its drift converged
    assert cloud.items["a"]["size"] == 1
    done = [e for e in events if e.phase == "done"]
    assert [(e.action, e.detail) for e in done] == [("create", "adopted after a lost answer")]


def test_what_appeared_during_create_is_not_adopted_unless_ours(ctx, tmp_path):
    cloud = LostAnswerCloud(made_by={"size": 7, "refs": ["someone else's"]})  # untagged, and different
    with pytest.raises(EngineError, match="appeared while orderpoc was creating it, but it is not this stack's"):
        Engine([Spec("a", cloud, "a", lambda d: {"size": 1, "refs": []})], ctx, State(tmp_path / "s.json")).apply()
    assert cloud.calls == [("create", "a")]  # not touched


def test_an_error_that_is_not_already_exists_is_not_adopted(cloud, ctx, tmp_path):
    cloud.fail_on = {"a"}
    with pytest.raises(EngineError, match="boom creating a"):
        Engine([Spec("a", cloud, "a", lambda d: {"size": 1})], ctx, State(tmp_path / "s.json")).apply()


# -- plan, and apply carrying out exactly the plan --------------------------------------------------
class ReplacingCloud(FakeCloud):
    """Cannot change "shape" in place; each creation gets a new ARN, as AWS ids are."""

    replace_on = frozenset({"shape"})
    serial = 0

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        self.serial += 1
        return super().create(ctx, name, {**desired, "serial": self.serial})

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        return super().update(ctx, name, live, {**desired, "serial": live.config["serial"]})

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        live = super().find(ctx, name, desired)
        return live and Live({**live.outputs, "arn": f"arn:fake:{name}:{live.config['serial']}"}, live.config)

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"name": name}  # the ARN is known only after creation


def shaped(cloud: FakeCloud, size: int = 1, shape: str = "round") -> list[Spec]:
    return [
        Spec("a", cloud, "a", lambda d: {"size": size, "shape": shape}),
        Spec("b", cloud, "b", lambda d: {"size": size, "ref": d["a"]["arn"]}, ("a",)),
        Spec("c", cloud, "c", lambda d: {"size": 1}),
        Spec("d", cloud, "d", lambda d: {"size": 1}),
    ]


def actions_done(events) -> dict[str, str]:
    return {e.key: e.action for e in events if e.phase == "done"}


def test_plan_on_nothing_creates_everything_without_a_call(cloud, ctx, tmp_path):
    cloud = ReplacingCloud()
    plan = Engine(shaped(cloud), ctx, State(tmp_path / "s.json")).plan()
    assert cloud.calls == [] and not (tmp_path / "s.json").exists()
    assert [(s.key, s.action) for s in plan.steps] == [
        ("a", "create"),
        ("b", "create"),
        ("c", "create"),
        ("d", "create"),
    ]
    # a dependent's config holds what is known only after creation as "(known after up)"
    b = next(s for s in plan.steps if s.key == "b")
    assert b.desired["ref"] == "(known after up)" and plan.steps[0].outputs["arn"] == "(known after up)"
    assert plan.counts == {"create": 4, "update": 0, "replace": 0, "delete": 0, "forget": 0, "unchanged": 0}
    assert plan.pending and not plan.destructive


def test_apply_takes_exactly_the_planned_actions_for_every_kind_of_change(ctx, tmp_path):
    cloud, state = ReplacingCloud(), State(tmp_path / "s.json")
    Engine(shaped(cloud), ctx, state).apply()
    state.record("gone", {"kind": "fake", "name": "gone", "outputs": {"name": "gone"}})  # no longer declared
    cloud.items["gone"] = {"size": 1, "serial": 0}
    # no longer declared and deleted by hand: only the state entry goes, in plan and in apply alike
    state.record("vanished", {"kind": "fake", "name": "vanished", "outputs": {"name": "vanished"}})
    del cloud.items["c"]  # deleted out of band: create
    cloud.items["d"]["size"] = 9  # edited out of band: update
    cloud.calls.clear()
    specs = shaped(cloud, shape="square")  # a: a field that cannot change in place, so b's ref changes too
    plan = Engine(specs, ctx, state).plan()
    assert cloud.calls == []
    planned = {s.key: s.action for s in plan.steps}
    assert planned == {
        "a": "replace",
        "b": "update",
        "c": "create",
        "d": "update",
        "gone": "delete",
        "vanished": "forget",
    }
    a = plan.steps[0]
    assert a.forced_by == ["shape"] and a.changes == [Change("shape", "round", "square")]
    d = next(s for s in plan.steps if s.key == "d")
    assert d.changes == [Change("size", 9, 1)]
    assert plan.destructive
    events = []
    Engine(specs, ctx, state, events.append).apply(plan)
    assert actions_done(events) == planned
    assert ("delete", "a") in cloud.calls and ("create", "a") in cloud.calls and "gone" not in cloud.items
    assert "gone" not in state.resources and "vanished" not in state.resources
    assert ("delete", "vanished") not in cloud.calls  # forgetting makes no call
    again = Engine(specs, ctx, state).plan()
    assert {s.action for s in again.steps} == {"unchanged"} and not again.pending


class FindsAtOnce(ReplacingCloud):
    """Records every find with the config it was asked on; with a barrier, the finds must be in
    flight together (one waiting on another's answer would time the barrier out)."""

    def __init__(self) -> None:
        super().__init__()
        self.finds: list[tuple[str, Config]] = []
        self.find_barrier: threading.Barrier | None = None

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        with self.lock:
            self.finds.append((name, desired))
        if self.find_barrier is not None:
            self.find_barrier.wait(timeout=5)
        return super().find(ctx, name, desired)


def test_plan_finds_a_whole_chain_at_once_on_a_fresh_stack_and_on_a_rerun(ctx, tmp_path):
    cloud, state = FindsAtOnce(), State(tmp_path / "s.json")
    chain = [
        Spec("a", cloud, "a", lambda d: {"size": 1}),
        Spec("b", cloud, "b", lambda d: {"ref": d["a"]["arn"]}, ("a",)),
        Spec("c", cloud, "c", lambda d: {"ref": d["b"]["arn"]}, ("b",)),
    ]
    for _ in ("fresh", "rerun"):
        cloud.find_barrier = threading.Barrier(len(chain))  # b's and c's finds wait for no answer
        plan = Engine(chain, ctx, state, max_workers=4).plan()
        assert sorted(name for name, _ in cloud.finds) == ["a", "b", "c"]  # each asked once
        cloud.find_barrier = None
        Engine(chain, ctx, state).apply(plan)
        cloud.finds = []  # create() reads back what it made
    assert {step.action for step in plan.steps} == {"unchanged"}


def test_a_find_made_on_outputs_that_changed_since_the_state_is_made_again(ctx, tmp_path):
    cloud, state = FindsAtOnce(), State(tmp_path / "s.json")
    chain = [
        Spec("a", cloud, "a", lambda d: {"size": 1}),
        Spec("b", cloud, "b", lambda d: {"ref": d["a"]["arn"]}, ("a",)),
    ]
    Engine(chain, ctx, state).apply()
    cloud.items["a"]["serial"] = 99  # replaced out of band: a new ARN the state does not know
    cloud.finds = []
    plan = Engine(chain, ctx, state).plan()
    b = next(step for step in plan.steps if step.key == "b")
    assert b.action == "update" and b.changes == [Change("ref", "arn:fake:a:1", "arn:fake:a:99")]
    # found ahead on the state's outputs, then again on a's new ones (the two may be recorded in
    # either order: the ahead-find runs in the pool, beside a's)
    assert sorted(desired["ref"] for name, desired in cloud.finds if name == "b") == ["arn:fake:a:1", "arn:fake:a:99"]


def test_for_destroy_lists_what_exists_dependents_first(ctx, tmp_path):
    cloud, state = ReplacingCloud(), State(tmp_path / "s.json")
    Engine(shaped(cloud), ctx, state).apply()
    del cloud.items["c"]
    cloud.calls.clear()
    plan = Engine(shaped(cloud), ctx, state).plan().for_destroy()
    assert cloud.calls == []
    assert [(s.key, s.action) for s in plan.steps] == [("d", "delete"), ("b", "delete"), ("a", "delete")]


def test_concurrently_overlaps_calls_and_raises_the_failure_itself():
    barrier = threading.Barrier(3, timeout=5)  # passes only if the three calls run at once
    assert graph.concurrently(*(lambda i=i: (barrier.wait(), i)[1] for i in range(3))) == [0, 1, 2]

    def boom() -> None:
        raise KeyError("first")

    with pytest.raises(KeyError, match="first"):
        graph.concurrently(lambda: 1, boom)


def test_run_or_raise_runs_what_it_can_then_raises_the_failure():
    ran: list[str] = []

    def job(node: str, _: object) -> str:
        ran.append(node)
        if node == "b":
            raise ValueError("b failed")
        return node

    with pytest.raises(ValueError, match="b failed"):
        graph.run_or_raise({"a": (), "b": (), "c": ("b",), "d": ("a",)}, job)
    assert sorted(ran) == ["a", "b", "d"]  # c depends on the failure: never started


class _FindsMeet(FakeCloud):
    """Every find waits for all the others: only a plan that sends them all at once gets through."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.meeting = threading.Barrier(parties, timeout=5)

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        self.meeting.wait()
        return super().find(ctx, name, desired)


def test_the_plan_sends_every_find_at_once_even_beyond_the_applys_workers(ctx, tmp_path):
    cloud = _FindsMeet(parties=12)  # more than the 8 workers the apply runs on
    many = [Spec(f"r{i}", cloud, f"r{i}", lambda d: {"size": 1}) for i in range(12)]
    plan = Engine(many, ctx, State(tmp_path / "s.json"), max_workers=8).plan()
    assert [step.action for step in plan.steps] == ["create"] * 12  # no find timed out at the barrier


class _CountingFinds(FakeCloud):
    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return super().find(ctx, name, desired)
        finally:
            with self.lock:
                self.now -= 1


def test_where_round_trips_are_short_the_plan_keeps_to_the_applys_workers(ctx, tmp_path):
    cloud = _CountingFinds()
    many = [Spec(f"r{i}", cloud, f"r{i}", lambda d: {"size": 1}) for i in range(12)]
    Engine(many, ctx, State(tmp_path / "s.json"), max_workers=3, finds_at_once=False).plan()
    assert cloud.most <= 3


class FakeById(FakeCloud):
    """A kind whose delete goes by the recorded id when it has one (as REST APIs and keys do)."""

    kind = "fake_by_id"

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        target = (outputs or {}).get("id") or name
        self._log("delete", target)
        return self.items.pop(target, None) is not None


def test_a_state_copied_from_another_stack_deletes_nothing_of_that_stack(ctx, tmp_path):
    """Its entries name the other stack's resources: down deletes by this stack's names, and an
    entry that is no longer declared is not deleted when its name is not one this stack could have."""
    cloud = FakeById()
    cloud.items = {"t-a": {}, "other-a": {}, "other-extra": {}}
    state = State(tmp_path / "s.json")
    state.record("a", {"kind": "fake_by_id", "name": "other-a", "outputs": {"id": "other-a"}})
    state.record("extra", {"kind": "fake_by_id", "name": "other-extra", "outputs": {"id": "other-extra"}})

    def ours(kind, name, outputs):
        return name.startswith("t-")

    plan = Engine([Spec("a", cloud, "t-a", lambda d: {})], ctx, state, may_be_ours=ours).plan()
    [extra] = [step for step in plan.steps if step.key == "extra"]
    assert extra.action == "unknown" and "a name of another stack's" in (extra.error or "")
    with pytest.raises(EngineError):
        Engine([Spec("a", cloud, "t-a", lambda d: {})], ctx, state, may_be_ours=ours).apply()
    assert "other-extra" in cloud.items  # not swept
    with pytest.raises(EngineError, match="not deleted"):  # down says so too, once its own are gone
        Engine([Spec("a", cloud, "t-a", lambda d: {})], ctx, state, may_be_ours=ours).destroy()
    assert ("delete", "other-a") not in cloud.calls and "t-a" not in cloud.items
    assert set(cloud.items) == {"other-a", "other-extra"}


def test_down_never_calls_a_resource_gone_while_twins_of_it_remain(ctx, tmp_path):
    from orderpoc import engine_apply

    cloud = FakeCloud()
    twins = engine_apply.MAX_TWINS + 3  # more than one run deletes

    def delete(ctx: Context, name: str, outputs: Outputs | None) -> bool:
        nonlocal twins
        cloud._log("delete", name)
        twins -= 1
        return twins >= 0

    cloud.delete = delete  # type: ignore[method-assign]
    state = State(tmp_path / "s.json")
    state.record("a", {"kind": "fake", "name": "a", "outputs": {"name": "a"}})
    with pytest.raises(EngineError, match="more remain: rerun down"):
        Engine([Spec("a", cloud, "a", lambda d: {})], ctx, state).destroy()
    assert "a" in state.resources  # not forgotten
    Engine([Spec("a", cloud, "a", lambda d: {})], ctx, state).destroy()  # the rerun deletes the rest
    assert "a" not in state.resources and twins < 0

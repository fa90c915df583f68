"""The engine with in-memory resource kinds: ordering, parallelism, no-op reruns, failures, delete."""

from __future__ import annotations

import threading

import pytest

from orderpoc import graph
from orderpoc.engine import Engine, EngineError, Spec, config_hash
from orderpoc.resources.base import Config, Context, Live, Outputs, Resource
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
    detail = next(e.detail for e in events if e.key == "a" and e.phase == "done")
    assert detail == "size: 1 -> 2"
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
    assert reports["b"].state == "drifted" and reports["b"].drift == ["size: 5 -> 1"]
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

"""Shared S3 state, end to end through the app layer against moto in-process (target aws):
two operators racing `up`, `down` racing `up`, and moving state without touching a resource."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from orderpoc import app
from orderpoc.aws import Clients
from orderpoc.aws_calls import is_mutating
from orderpoc.local import patches
from orderpoc.settings import Settings
from orderpoc.state_ops import migrate
from orderpoc.state_s3 import S3Store
from orderpoc.state_store import LockHeld

STACK = "team"
URL = "s3://team-state/orderpoc"


@pytest.fixture
def team(app_calls, tmp_path):
    """Two operators: separate state dirs, one shared --state-url; every API call recorded."""
    patches.atomic_s3_conditional_writes()  # what S3 guarantees and moto alone does not (see patches.py)
    base = Settings(stack=STACK, target="aws", state_url=URL)
    # not init_bucket: moto 5.2.1 cannot evaluate the TLS-only policy's aws:SecureTransport
    # condition and so denies every request to a bucket that has it (see test_state_s3.py)
    s3 = Clients(base)("s3")
    s3.create_bucket(Bucket="team-state")
    s3.put_bucket_versioning(Bucket="team-state", VersioningConfiguration={"Status": "Enabled"})
    return app_calls, replace(base, state_dir=tmp_path / "alice"), replace(base, state_dir=tmp_path / "bob")


def _writers(monkeypatch) -> list[int]:
    """Which store (one per command) made each state write, in order."""
    order: list[int] = []
    original = S3Store.write

    def write(self, data, expected):
        order.append(id(self))
        return original(self, data, expected)

    monkeypatch.setattr(S3Store, "write", write)
    return order


def _together(*jobs):
    """Start the jobs at the same moment; each one's result or exception."""
    start = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i, job):
        start.wait()
        try:
            results[i] = job()
        except Exception as exc:  # the outcome is what the test looks at
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return results


def _census(settings: Settings) -> dict[str, int]:
    c = Clients(settings)
    return {
        "rest_apis": len([a for a in c("apigateway").get_rest_apis()["items"] if a["name"] == f"{STACK}-api"]),
        "api_keys": len([k for k in c("apigateway").get_api_keys()["items"] if k["name"] == f"{STACK}-key"]),
        "usage_plans": len([p for p in c("apigateway").get_usage_plans()["items"] if p["name"] == f"{STACK}-plan"]),
        "functions": len([f for f in c("lambda").list_functions()["Functions"] if f["FunctionName"].startswith(STACK)]),
        "mappings": len(c("lambda").list_event_source_mappings()["EventSourceMappings"]),
        "queues": len(c("sqs").list_queues(QueueNamePrefix=STACK).get("QueueUrls", [])),
        "tables": len(c("dynamodb").list_tables()["TableNames"]),
    }


WHOLE = {"rest_apis": 1, "api_keys": 1, "usage_plans": 1, "functions": 3, "mappings": 2, "queues": 3, "tables": 1}
GONE = dict.fromkeys(WHOLE, 0)


def _grouped(order: list[int]) -> bool:
    """No interleaving: once a second writer appears, the first never writes again."""
    seen: list[int] = []
    for writer in order:
        if not seen or seen[-1] != writer:
            if writer in seen:
                return False
            seen.append(writer)
    return True


@pytest.mark.filterwarnings("ignore::orderpoc.state_store.WaitNotice")
@pytest.mark.parametrize("lock_timeout", [60.0, 0.0], ids=["second-waits", "second-gives-up"])
def test_two_ups_sharing_one_state_url_make_one_stack(team, monkeypatch, lock_timeout):
    calls, alice, bob = team
    order = _writers(monkeypatch)
    alice, bob = replace(alice, lock_timeout=lock_timeout), replace(bob, lock_timeout=lock_timeout)
    results = _together(lambda: app.up(alice, lambda e: None), lambda: app.up(bob, lambda e: None))
    failures = [r for r in results if isinstance(r, Exception)]
    if lock_timeout:
        assert failures == []  # the second waited for the first, then found everything done
        assert sorted(",".join(sorted(set(r[1].actions.values()))) for r in results) == ["create", "unchanged"]
    else:
        assert len(failures) == 1 and isinstance(failures[0], LockHeld)
        assert "orderpoc state unlock" in str(failures[0])
    assert _census(alice) == WHOLE
    assert _grouped(order), "two commands wrote the shared state at the same time"


@pytest.mark.filterwarnings("ignore::orderpoc.state_store.WaitNotice")
def test_down_racing_up_leaves_the_stack_whole_or_gone(team, monkeypatch):
    calls, alice, bob = team
    order = _writers(monkeypatch)
    results = _together(lambda: app.up(alice, lambda e: None), lambda: app.down(bob, lambda e: None))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert _census(alice) in (WHOLE, GONE)
    assert _grouped(order)
    if _census(alice) == WHOLE:
        assert app.status(alice).healthy


def test_migrate_file_to_s3_and_back_touches_no_resource(team):
    calls, alice, _ = team
    local = replace(alice, state_url=None)
    app.up(local, lambda e: None)
    before = local.state_file.read_text()
    calls.clear()
    moved = migrate(local, URL)
    assert moved.copied and moved.removed_source and not local.state_file.exists()
    back = migrate(alice, "file")
    assert back.copied and back.serial == moved.serial
    touched = [(service, op, params.get("Bucket")) for service, op, params in calls if is_mutating(op)]
    assert touched and all(service == "s3" and bucket == "team-state" for service, _, bucket in touched), touched
    assert local.state_file.read_text() == before
    calls.clear()
    _, again = app.up(local, lambda e: None)  # the moved state is the stack's: nothing to do
    assert set(again.actions.values()) == {"unchanged"}
    assert [op for _, op, _ in calls if is_mutating(op) and op != "AssumeRole"] == []


def test_push_refuses_to_overwrite_a_newer_or_another_state(team):
    from orderpoc.errors import UserError
    from orderpoc.state import State
    from orderpoc.state_ops import pull, push
    from orderpoc.state_s3 import store_for

    calls, alice, bob = team
    app.up(alice, lambda e: None)
    pull(bob)  # bob's file: the shared state's serial
    shared = State.load(store_for(alice, Clients(alice)))
    shared.set_identity(invoke_url="https://moved.example")  # the shared state moves on
    with pytest.raises(UserError, match=r"team.aws.json: it is newer serial \((\d+), the source .* has (?!\1)\d+\)"):
        push(bob)
    assert State.load(store_for(alice, Clients(alice))).data["invoke_url"] == "https://moved.example"
    app.down(alice, lambda e: None)  # the shared state is removed; the next up starts another lineage
    app.up(alice, lambda e: None)
    with pytest.raises(UserError, match="it is another state"):
        push(bob)
    assert push(bob, force=True).copied


def test_list_shows_the_stacks_the_shared_prefix_knows(team):
    calls, alice, bob = team
    app.up(alice, lambda e: None)
    listed = app.list_stacks(bob)  # bob's own state dir is empty: the prefix is what he shares
    entries = [(e.stack, e.source, e.state_file, e.tagged_resources) for e in listed.stacks if e.stack == STACK]
    assert entries == [(STACK, "state", f"{URL}/{STACK}.aws.json", entries[0][3])] and entries[0][3]

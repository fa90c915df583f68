"""Warm worker pools: when an invocation reuses a busy function's worker rather than start one, and
which idle workers are recycled. Worker processes are stood in for: what is tested is the pool."""

from __future__ import annotations

import io
import itertools
import threading
import time
import zipfile
from pathlib import Path

import pytest

from orderpoc.local import pools
from orderpoc.local.pools import Pool

_pids = itertools.count(1000)


class _FakeWorker:
    def __init__(self, code_dir: Path, handler: str, env: dict[str, str], stream: str) -> None:
        self.pid = next(_pids)
        self.last_used = time.monotonic()
        self.killed = False

    def wait_ready(self) -> dict:
        return {"ready": True, "error": None, "logs": ""}

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pool:
    monkeypatch.setattr(pools, "Worker", _FakeWorker)
    config = {"version": "$LATEST", "handler": "app.handler"}
    return Pool(config, _empty_zip(), tmp_path / "code", lambda code_dir, stream: {}, limit=3)


def test_an_invocation_waits_for_a_busy_worker_within_the_grace_instead_of_starting_one(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pools, "SPAWN_GRACE_SECONDS", 30.0)  # longer than this test: no race with the clock
    first, init = pool.acquire()
    assert init is not None  # started
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    pool.release(first, reusable=True)  # before or after the waiter looked: either way it gets this one
    waiter.join(10)
    assert got == [(first, None)]
    assert pool._count == 1


def test_past_the_grace_a_busy_function_gets_another_worker(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pools, "SPAWN_GRACE_SECONDS", 0.0)
    first, _ = pool.acquire()
    second, init = pool.acquire()
    assert second is not first and init is not None
    assert pool._count == 2


def test_idle_workers_a_burst_left_are_recycled_sooner_than_the_warmest(pool: Pool) -> None:
    workers = [pool.acquire()[0] for _ in range(3)]
    for worker in workers:
        pool.release(worker, reusable=True)
    now = time.monotonic()
    for worker, idle_for in zip(workers, (100, 50, 20), strict=True):
        worker.last_used = now - idle_for
    pool.reap_idle(600, 30)
    assert [w.killed for w in workers] == [True, True, False]  # the warmest (20 s idle) stays
    pool.reap_idle(600, 5)
    assert not workers[2].killed  # the only one left is the warmest: its own limit applies
    pool.reap_idle(10, 5)
    assert workers[2].killed
    assert pool._count == 0

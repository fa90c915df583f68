"""The embedded AWS collects its garbage once it has worked and then gone quiet."""

from __future__ import annotations

import gc
import weakref

from orderpoc.local import idle_gc
from orderpoc.local.idle_gc import IdleCollector


class Node:
    def __init__(self) -> None:
        self.other: Node = self


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _serve(collector: IdleCollector, requests: int) -> None:
    app = collector.wrap(lambda environ, start_response: [b"ok"])
    for _ in range(requests):
        assert app({}, lambda *a: None) == [b"ok"]


def test_a_cycle_left_by_the_work_is_freed_once_the_server_is_idle() -> None:
    clock = Clock()
    collector = IdleCollector(clock=clock, idle_seconds=2.0)
    gc.disable()  # only the collector may collect here
    try:
        garbage = Node()  # a cycle, as a deleted table and its stream shard
        alive = weakref.ref(garbage)
        del garbage
        _serve(collector, idle_gc.MIN_REQUESTS)
        clock.now += 1.0
        assert collector.tick() is False and alive() is not None  # still busy a second ago
        clock.now += 1.5
        assert collector.tick() is True and alive() is None
        assert collector.tick() is False  # once per spell of work
    finally:
        gc.enable()


def test_a_few_requests_are_not_worth_a_full_collection() -> None:
    clock = Clock()
    collector = IdleCollector(clock=clock, idle_seconds=2.0)
    _serve(collector, idle_gc.MIN_REQUESTS - 1)
    clock.now += 10
    assert collector.tick() is False
    _serve(collector, 1)
    assert collector.tick() is False  # the request just now
    clock.now += 2
    assert collector.tick() is True

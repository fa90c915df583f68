"""Load-mode accounting: what counts as lost, duplicated, or merely notified twice."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from orderpoc import trace
from orderpoc.load import _summarise, _Tracker, percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (50.0, 90.0, 99.0)
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0


def tracker_with(stored: list[str], notified: Counter, sent: list[str], keys: dict[str, str]) -> _Tracker:
    tracker = _Tracker()
    for index, oid in enumerate(sent):
        tracker.sent_at[oid] = float(index)
        tracker.hops["accepted"][oid] = 0.01
    tracker.hops["stored"] = {oid: 0.5 for oid in stored}
    tracker.hops["notified"] = {oid: 1.0 for oid in notified}
    tracker.notifications = notified
    tracker.ids_by_key = keys
    return tracker


def test_a_missing_hop_fails_the_run():
    result = _summarise(tracker_with(["a"], Counter({"a": 1}), ["a", "b"], {"k1": "a", "k2": "b"}), 2, 0.0)
    assert result.missing == {"stored": 1, "notified": 1}
    assert not result.ok


def test_a_notified_order_counts_as_stored_though_the_table_poll_missed_it():
    # a run cut short (the local AWS killed): the last poll of the table came before "c" was stored
    result = _summarise(tracker_with(["a"], Counter({"a": 1, "c": 1}), ["a", "b", "c"], {}), 3, 0.0)
    assert (result.stored, result.notified) == (2, 2)
    assert result.missing == {"stored": 1, "notified": 1}


def test_a_repeated_notification_is_reported_but_not_a_failure():
    result = _summarise(tracker_with(["a"], Counter({"a": 2}), ["a"], {"k1": "a"}), 1, 0.0)
    assert result.duplicate_notifications == 1 and result.duplicates == 0
    assert result.ok


def test_two_keys_one_order_is_a_duplicate():
    result = _summarise(tracker_with(["a"], Counter({"a": 1}), ["a"], {"k1": "a", "k2": "a"}), 2, 0.0)
    assert result.duplicates == 1
    assert not result.ok


def test_a_failed_send_stops_the_watchers_and_the_queued_sends(monkeypatch):
    import threading
    import time

    import pytest

    from orderpoc import load

    posts: list[int] = []

    def failing_post(*args, **kwargs):
        posts.append(1)
        time.sleep(0.01)
        raise OSError("connection reset")

    class FakeDynamo:
        def batch_get_item(self, **kwargs):
            return {"Responses": {}}

    class FakeCtx:
        def clients(self, service):
            return FakeDynamo()

    class FakeSubscription:
        def receive(self, wait=1.0):
            time.sleep(0.01)
            return []

    monkeypatch.setattr(load, "post_order", failing_post)
    before = set(threading.enumerate())
    with pytest.raises(OSError):
        load.run_load(
            FakeCtx(),
            None,
            FakeSubscription(),
            count=500,
            concurrency=1,
            rate=None,
            timeout=5,
            on_progress=lambda hop, n: None,
        )
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []  # the table and topic watchers were stopped
    assert len(posts) < 10  # the orders still queued were not sent after the first failure


def _run_with_watchers(monkeypatch, table_watch, topic_watch):
    """run_load of 3 accepted orders, with these in place of the table and topic watchers."""
    import threading

    from orderpoc import load

    monkeypatch.setattr(load, "_watch_table", table_watch)
    monkeypatch.setattr(load, "_watch_topic", topic_watch)
    monkeypatch.setattr(
        load,
        "post_order",
        lambda *a, **k: type(
            "R", (), {"status": 202, "seconds": 0.01, "json": lambda self: {"orderId": threading.get_ident()}}
        )(),
    )
    return load.run_load(None, None, None, count=3, concurrency=1, rate=None, timeout=30, on_progress=lambda h, n: None)


def _idle_watch(*args):
    args[-2].wait(5)  # (…, stop, on_progress): sees nothing until the run stops it


def test_a_failing_watcher_ends_the_run_with_its_own_error(monkeypatch):
    """An error while watching the table is raised to the caller at once, not reported as missing orders."""
    import pytest

    class Boom(RuntimeError):
        pass

    def broken_table_watch(*args):
        raise Boom("dynamodb said no")

    with pytest.raises(Boom, match="dynamodb said no"):
        _run_with_watchers(monkeypatch, broken_table_watch, _idle_watch)


def test_a_probe_queue_deleted_under_the_run_ends_it_with_that_reason(monkeypatch):
    """`down` during a load run sweeps its probe queue: the run ends saying so, not with SQS's error."""
    from botocore.exceptions import ClientError

    from orderpoc import load

    def queue_gone(*args):
        error = {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no queue"}}
        raise ClientError(error, "ReceiveMessage")

    result = _run_with_watchers(monkeypatch, _idle_watch, queue_gone)
    assert result.aborted == load.DELETED_UNDER_RUN and not result.ok


def _run_without_watchers(monkeypatch, post, gone, *, count: int, concurrency: int = 1, timeout: float = 30):
    """run_load with the given POST and gone() check, and watchers that see nothing."""
    from orderpoc import load

    monkeypatch.setattr(load, "post_order", post)
    monkeypatch.setattr(load, "_watch_table", lambda *args: None)
    monkeypatch.setattr(load, "_watch_topic", lambda *args: None)
    return load.run_load(
        None,
        None,
        None,
        count=count,
        concurrency=concurrency,
        rate=None,
        timeout=timeout,
        on_progress=lambda hop, n: None,
        gone=gone,
    )


def _accepted(order_id: str):
    return type("R", (), {"status": 202, "seconds": 0.01, "json": lambda self: {"orderId": order_id}})()


def test_when_the_aws_under_test_is_gone_the_run_ends_with_the_figures_so_far(monkeypatch):
    """Sends start failing because the AWS went away: no error, the orders seen so far and why."""
    import itertools

    counter = itertools.count()
    alive = {"up": True}

    def post(*args, **kwargs):
        n = next(counter)
        if n >= 5:
            alive["up"] = False
            raise ConnectionRefusedError("nothing listens")
        return _accepted(f"o{n}")

    result = _run_without_watchers(monkeypatch, post, lambda: None if alive["up"] else "it stopped", count=50)
    assert result.aborted == "it stopped" and not result.ok
    assert (result.sent, result.accepted, result.stored) == (50, 5, 0)
    assert result.as_json()["aborted"] == "it stopped"


def test_a_failure_while_the_aws_is_still_there_keeps_its_own_error(monkeypatch):
    import pytest

    def failing_post(*args, **kwargs):
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        _run_without_watchers(monkeypatch, failing_post, lambda: None, count=3, timeout=5)


def test_the_aws_going_away_while_waiting_for_the_hops_ends_the_run(monkeypatch):
    """Every order sent, none stored yet, then the AWS goes: not a wait for the whole timeout."""
    orders = iter(range(100))
    asked = []

    def gone():
        asked.append(1)
        return "it stopped" if len(asked) >= 3 else None

    result = _run_without_watchers(
        monkeypatch, lambda *a, **k: _accepted(f"o{next(orders)}"), gone, count=4, concurrency=2, timeout=600
    )
    assert result.aborted == "it stopped"
    assert (result.accepted, result.missing) == (4, {"stored": 4, "notified": 4})


def test_a_notification_that_beats_its_posts_answer_still_counts():
    """Under load a sender thread can read its 202 after the order's notification arrived: that
    notification was dropped, and the order reported as never notified."""
    tracker = _Tracker()
    assert tracker.notified("a", now=10.4) is False  # unknown yet: kept, not counted
    assert tracker.accepted("a", "k1", sent=10.0, seconds=0.5) is True
    assert tracker.hops["notified"] == {"a": 10.4 - 10.0}
    assert tracker.notified("a", now=11.0) is False  # a repeat: counted as such, time unchanged
    assert tracker.hops["notified"]["a"] == 10.4 - 10.0
    result = _summarise(tracker, 1, 0.0)
    assert result.missing["notified"] == 0 and result.duplicate_notifications == 1


def test_a_notification_after_the_answer_is_timed_from_the_send():
    tracker = _Tracker()
    assert tracker.accepted("a", "k1", sent=5.0, seconds=0.1) is False
    assert tracker.notified("a", now=5.25) is True
    assert tracker.hops["notified"] == {"a": 0.25}


def test_stored_is_when_the_processor_wrote_the_order_not_when_the_poll_saw_it() -> None:
    from datetime import UTC, datetime

    sent = time.monotonic()
    sent_wall = time.time()

    def item(seconds_after_post: float) -> dict:
        at = datetime.fromtimestamp(sent_wall + seconds_after_post, UTC).isoformat(timespec="milliseconds")
        return {"orderId": {"S": "o"}, "receivedAt": {"S": at.replace("+00:00", "Z")}}

    assert trace.stored_after(item(0.030), sent, seen=0.180) == pytest.approx(0.030, abs=0.005)
    # another clock, off by more than the poll's window, either way: the poll's own time
    assert trace.stored_after(item(-2.0), sent, seen=0.180) == 0.180
    assert trace.stored_after(item(5.0), sent, seen=0.180) == 0.180
    assert trace.stored_after({"orderId": {"S": "o"}}, sent, seen=0.180) == 0.180


def test_one_traced_order_is_stored_when_the_processor_wrote_it_not_when_the_poll_saw_it(monkeypatch) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from orderpoc.http_client import Response
    from orderpoc.probe import Endpoints

    written = []  # the processor writes it 20 ms after the POST; the trace's first look is later

    def post(endpoints, order, idempotency_key=None):
        written.append(datetime.fromtimestamp(time.time() + 0.020, UTC).isoformat(timespec="milliseconds"))
        return Response(202, {}, '{"orderId": "o-1"}', 0.005)

    class Table:
        def get_item(self, **_):
            time.sleep(0.15)  # a slow first read: the poll sees the item ~150 ms after the POST
            return {"Item": {"orderId": {"S": "o-1"}, "receivedAt": {"S": written[0].replace("+00:00", "Z")}}}

    class Topic:
        def receive(self, wait):
            return [{"body": {"orderId": "o-1"}, "received": time.time()}]

    monkeypatch.setattr(trace, "post_order", post)
    ctx = SimpleNamespace(clients=lambda service: Table())
    endpoints = Endpoints("http://api", "key", "orders", "arn:topic", None)
    traced = trace.follow_one(ctx, None, endpoints, Topic(), {}, timeout=5)
    assert traced.hops["stored"] == pytest.approx(0.020, abs=0.010)  # not the ~0.15 s of the poll
    assert traced.hops["notified"] >= 0.15

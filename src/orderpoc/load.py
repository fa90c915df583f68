"""send-test-order --count N: many orders at once, then every one accounted for at every hop."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from orderpoc.aws_errors import is_not_found
from orderpoc.probe import Endpoints, Subscription
from orderpoc.resources.base import Context
from orderpoc.trace import HOPS, post_order, sample_order, stored_after

DELETED_UNDER_RUN = (
    "the table or the run's probe queue was deleted during the run (was the stack taken down?): "
    "`orderpoc status` tells what is left"
)
# How often the table is asked which orders are stored. Their stored time comes from receivedAt, so
# polling more often buys no precision, only load on the pipeline's own table (each poll is a
# BatchGetItem of every order still waiting: at 0.2 s it was ~7% of the local AWS's CPU).
TABLE_POLL_SECONDS = 0.5


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    sent: int
    accepted: int = 0
    rejected: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    stored: int = 0
    notified: int = 0
    duplicates: int = 0  # orders stored twice (or two orders for one idempotency key): a failure
    # Notifications delivered more than once: SNS and stream retries are at-least-once, so subscribers
    # dedupe on orderId; reported, not a failure.
    duplicate_notifications: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    latencies: dict[str, dict[str, float | None]] = field(default_factory=dict)
    seconds: float = 0.0
    orders_per_second: float = 0.0
    requested_rate: float | None = None  # --rate
    send_rate: float | None = None  # the rate the senders achieved (None: fewer than two sends)
    # Per hop, per order: (seconds from the run's start to its POST, that hop's latency in seconds),
    # in sending order. What the report charts; not in the JSON (one row per order is too much).
    timeline: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # Why the run ended before every order could be followed (the system under test went away);
    # the figures are what was seen until then.
    aborted: str | None = None

    @property
    def below_rate(self) -> bool:
        """The senders could not keep up with --rate (5% slack for scheduling jitter)."""
        return bool(self.requested_rate and self.send_rate is not None and self.send_rate < 0.95 * self.requested_rate)

    @property
    def ok(self) -> bool:
        return not self.aborted and not self.rejected and not self.duplicates and not any(self.missing.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "stored": self.stored,
            "notified": self.notified,
            "duplicates": self.duplicates,
            "duplicate_notifications": self.duplicate_notifications,
            "missing": self.missing,
            "latency_seconds": self.latencies,
            "seconds": round(self.seconds, 3),
            "orders_per_second": round(self.orders_per_second, 1),
            "requested_rate": self.requested_rate,
            "send_rate": None if self.send_rate is None else round(self.send_rate, 1),
            "aborted": self.aborted,
        }


class _Tracker:
    """Times of each hop per orderId, filled by the senders, the table poller and the topic reader."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent_at: dict[str, float] = {}
        self.hops: dict[str, dict[str, float]] = {hop: {} for hop in HOPS}
        self.notifications: Counter[str] = Counter()
        self.rejected: Counter[int] = Counter()
        self.ids_by_key: dict[str, str] = {}
        self.errors: list[BaseException] = []  # raised in a watcher thread
        self.send_starts: list[float] = []  # when each POST began: the achieved send rate
        # Notifications that arrived before their POST's answer was read (a sender thread can trail
        # the pipeline under load): kept until the order is known, not dropped.
        self.early_notifications: dict[str, float] = {}

    def accepted(self, order_id: str, key: str, sent: float, seconds: float) -> bool:
        """Record an accepted order; True if its notification had already arrived. Holds no lock."""
        self.sent_at[order_id] = sent
        self.hops["accepted"][order_id] = seconds
        self.ids_by_key[key] = order_id
        arrived = self.early_notifications.pop(order_id, None)
        if arrived is not None:
            self.hops["notified"][order_id] = arrived - sent
        return arrived is not None

    def notified(self, order_id: str, now: float) -> bool:
        """Record one notification; True if it is the order's first. Holds no lock."""
        self.notifications[order_id] += 1
        if order_id in self.hops["notified"]:
            return False
        if order_id in self.sent_at:
            self.hops["notified"][order_id] = now - self.sent_at[order_id]
            return True
        self.early_notifications.setdefault(order_id, now)
        return False


def run_load(
    ctx: Context,
    endpoints: Endpoints,
    subscription: Subscription,
    *,
    count: int,
    concurrency: int,
    rate: float | None,
    timeout: float,
    on_progress: Callable[[str, int], None],
    gone: Callable[[], str | None] = lambda: None,
) -> LoadResult:
    """Send `count` orders and follow each. `gone()` tells whether the AWS under test has gone away
    (the reason, else None): asked while waiting and on any failure, it ends the run at once with
    the figures gathered so far instead of an error from whichever call noticed first."""
    run_id = secrets.token_hex(4)
    tracker = _Tracker()
    started = time.monotonic()

    def send(index: int) -> None:
        if rate:
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
        sent = time.monotonic()
        with tracker.lock:
            tracker.send_starts.append(sent)
        response = post_order(
            endpoints,
            sample_order(customer=f"load-{run_id}", quantity=1 + index % 5),
            idempotency_key=f"{run_id}-{index}",
        )
        order_id = (response.json() or {}).get("orderId") if response.status == 202 else None
        early = False
        with tracker.lock:
            if order_id:
                early = tracker.accepted(order_id, f"{run_id}-{index}", sent, response.seconds)
            else:
                tracker.rejected[response.status] += 1
        on_progress("accepted", 1)
        if early:
            on_progress("notified", 1)

    stop = threading.Event()
    watchers = [
        _watcher(tracker, stop, _watch_table, ctx, endpoints, tracker, stop, on_progress),
        _watcher(tracker, stop, _watch_topic, subscription, tracker, stop, on_progress),
    ]
    for watcher in watchers:
        watcher.start()
    aborted: str | None = None
    try:
        pool = ThreadPoolExecutor(max_workers=concurrency)
        try:
            list(pool.map(send, range(count)))
        except Exception:
            if (aborted := gone()) is None:
                raise
        finally:
            # On a failed send or Ctrl-C, do not go on to send every order still queued.
            pool.shutdown(wait=True, cancel_futures=True)
        deadline = time.monotonic() + timeout
        while not aborted and time.monotonic() < deadline and not _complete(tracker) and not tracker.errors:
            time.sleep(0.1)
            aborted = gone()
        if tracker.errors and not aborted:
            aborted = gone() or (DELETED_UNDER_RUN if is_not_found(tracker.errors[0]) else None)
    finally:
        # Also on error: the watchers must not outlive the probe queue they read. When the AWS is
        # gone there is no queue left, and they may be deep in retries against it: not waited for.
        stop.set()
        for watcher in watchers:
            watcher.join(timeout=0.5 if aborted else 25)
    if aborted:
        result = _summarise(tracker, count, started, rate)
        result.aborted = aborted
        return result
    if tracker.errors:  # the real reason, not "missing" orders after the whole timeout
        raise tracker.errors[0]
    result = _summarise(tracker, count, started, rate)
    # A second row for one order would be a duplicate the topic never shows: count the rows.
    result.duplicates += max(0, _rows_for(ctx, endpoints, f"load-{run_id}") - result.accepted)
    return result


def _watcher(tracker: _Tracker, stop: threading.Event, target: Callable[..., None], *args: Any) -> threading.Thread:
    """A daemon thread running target; an error it raises is kept for the main thread and stops the run."""

    def run() -> None:
        try:
            target(*args)
        except Exception as exc:
            with tracker.lock:
                tracker.errors.append(exc)
            stop.set()

    return threading.Thread(target=run, daemon=True)


def _rows_for(ctx: Context, endpoints: Endpoints, customer: str) -> int:
    pages = (
        ctx.clients("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=endpoints.table,
            FilterExpression="customerId = :c",
            ExpressionAttributeValues={":c": {"S": customer}},
            Select="COUNT",
            ConsistentRead=True,
        )
    )
    return sum(page["Count"] for page in pages)


def _complete(tracker: _Tracker) -> bool:
    with tracker.lock:
        ids = set(tracker.sent_at)
        return ids <= set(tracker.hops["stored"]) and ids <= set(tracker.hops["notified"])


def _watch_table(
    ctx: Context,
    endpoints: Endpoints,
    tracker: _Tracker,
    stop: threading.Event,
    on_progress: Callable[[str, int], None],
) -> None:
    dynamodb = ctx.clients("dynamodb")
    while not stop.is_set():
        with tracker.lock:
            waiting = [oid for oid in tracker.sent_at if oid not in tracker.hops["stored"]]
        for start in range(0, len(waiting), 100):
            keys = [{"orderId": {"S": oid}} for oid in waiting[start : start + 100]]
            response = dynamodb.batch_get_item(
                RequestItems={
                    endpoints.table: {
                        "Keys": keys,
                        "ConsistentRead": True,
                        "ProjectionExpression": "orderId, #at",
                        "ExpressionAttributeNames": {"#at": "receivedAt"},
                    }
                }
            )
            now = time.monotonic()
            items = response["Responses"].get(endpoints.table, [])
            with tracker.lock:
                for item in items:
                    oid = item["orderId"]["S"]
                    sent = tracker.sent_at[oid]
                    tracker.hops["stored"][oid] = stored_after(item, sent, now - sent)
            if items:
                on_progress("stored", len(items))
        stop.wait(TABLE_POLL_SECONDS)


def _watch_topic(
    subscription: Subscription, tracker: _Tracker, stop: threading.Event, on_progress: Callable[[str, int], None]
) -> None:
    while not stop.is_set():
        notes = subscription.receive(wait=1)
        now = time.monotonic()
        new = 0
        with tracker.lock:
            for note in notes:
                oid = note["body"].get("orderId")
                if isinstance(oid, str) and tracker.notified(oid, now):
                    new += 1
        if new:
            on_progress("notified", new)


def _summarise(tracker: _Tracker, count: int, started: float, rate: float | None = None) -> LoadResult:
    ids = set(tracker.sent_at)
    result = LoadResult(sent=count, accepted=len(ids), rejected=tracker.rejected, requested_rate=rate)
    starts = tracker.send_starts
    if len(starts) > 1 and max(starts) > min(starts):
        result.send_rate = (len(starts) - 1) / (max(starts) - min(starts))
    # A notification comes from the table's stream: a notified order is stored, even when the
    # table's poll had not seen it yet (a run cut short reported more notified than stored).
    result.stored = len(ids & (set(tracker.hops["stored"]) | set(tracker.hops["notified"])))
    result.notified = len(ids & set(tracker.hops["notified"]))
    result.duplicate_notifications = sum(n - 1 for oid, n in tracker.notifications.items() if oid in ids and n > 1)
    result.duplicates = len(tracker.ids_by_key) - len(set(tracker.ids_by_key.values()))
    result.missing = {"stored": len(ids) - result.stored, "notified": len(ids) - result.notified}
    for hop in HOPS:
        values = list(tracker.hops[hop].values())
        result.latencies[hop] = {f"p{p}": _round(percentile(values, p)) for p in (50, 90, 99)}
        result.timeline[hop] = sorted(
            (tracker.sent_at[oid] - started, t) for oid, t in tracker.hops[hop].items() if oid in ids
        )
    finished = [tracker.sent_at[oid] + t for oid, t in tracker.hops["notified"].items() if oid in ids]
    result.seconds = (max(finished) if finished else time.monotonic()) - started
    result.orders_per_second = result.notified / result.seconds if result.seconds > 0 else 0.0
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

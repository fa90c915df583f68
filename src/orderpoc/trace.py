"""send-test-order: post one order and follow it hop by hop (accepted, stored, notified).

Each hop's time is measured from the moment the POST was sent. A hop that is not seen within the
timeout fails the run, naming the hop and where to look (DLQ depth, the function's latest logs).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderpoc import http_client
from orderpoc.probe import Endpoints, Subscription
from orderpoc.resources.base import Context
from orderpoc.settings import Names

HOPS = ("accepted", "stored", "notified")
# Which function to blame when a hop is missing.
HOP_FUNCTION = {"accepted": "intake", "stored": "processor", "notified": "notifier"}


def sample_order(customer: str = "cust-demo", sku: str = "SKU-001", quantity: int = 2) -> dict[str, Any]:
    return {
        "customerId": customer,
        "currency": "USD",
        "items": [{"sku": sku, "quantity": quantity, "unitPrice": "19.99"}],
        "note": "orderpoc test order",
    }


@dataclass
class Trace:
    order_id: str | None = None
    http_status: int | None = None
    response: Any = None
    hops: dict[str, float] = field(default_factory=dict)  # hop -> seconds since the POST
    failed_hop: str | None = None
    hints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed_hop is None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "order_id": self.order_id,
            "http_status": self.http_status,
            "hops": {h: round(s, 3) for h, s in self.hops.items()},
            "failed_hop": self.failed_hop,
            "hints": self.hints,
        }


def post_order(endpoints: Endpoints, order: dict[str, Any], idempotency_key: str | None = None) -> http_client.Response:
    headers = {"x-api-key": endpoints.api_key, "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    return http_client.post_json(f"{endpoints.invoke_url}/order", order, headers)


def follow_one(
    ctx: Context, names: Names, endpoints: Endpoints, subscription: Subscription, order: dict[str, Any], timeout: float
) -> Trace:
    trace = Trace()
    started, started_wall = time.monotonic(), time.time()
    response = post_order(endpoints, order)
    trace.http_status, trace.response = response.status, response.json()
    if response.status != 202 or not isinstance(trace.response, dict) or "orderId" not in trace.response:
        trace.failed_hop = "accepted"
        trace.hints.append(f"the API answered {response.status}: {response.body[:200]}")
        return _explain(ctx, names, endpoints, trace)
    trace.hops["accepted"] = response.seconds
    trace.order_id = trace.response["orderId"]
    deadline = started + timeout
    table = ctx.clients("dynamodb")
    while time.monotonic() < deadline and len(trace.hops) < len(HOPS):
        if "stored" not in trace.hops:
            item = table.get_item(
                TableName=endpoints.table, Key={"orderId": {"S": trace.order_id}}, ConsistentRead=True
            ).get("Item")
            if item:
                trace.hops["stored"] = stored_after(item, started, time.monotonic() - started)
        for note in subscription.receive(wait=0 if "stored" not in trace.hops else 1):
            if note["body"].get("orderId") == trace.order_id and "notified" not in trace.hops:
                trace.hops["notified"] = note["received"] - started_wall
        if "stored" not in trace.hops:
            time.sleep(0.05)
    missing = [hop for hop in HOPS if hop not in trace.hops]
    if missing:
        trace.failed_hop = missing[0]
        trace.hints.append(f"the order was not {missing[0]} within {timeout:.0f}s")
        _explain(ctx, names, endpoints, trace)
    return trace


_WALL_MINUS_MONOTONIC = time.time() - time.monotonic()  # receivedAt is wall time, `sent` monotonic


def stored_after(item: dict[str, Any], sent: float, seen: float) -> float:
    """POST -> stored for an item first seen `seen` seconds after its POST (sent: monotonic).

    The table is polled (the load test: every TABLE_POLL_SECONDS), which alone adds up to a
    poll's interval: the processor's receivedAt (written with the item) says when it was stored,
    to the millisecond. It is another machine's clock on AWS, so it is believed only between the
    POST and the poll that saw it."""
    try:
        received = datetime.fromisoformat(item["receivedAt"]["S"].replace("Z", "+00:00")).timestamp()
    except (KeyError, TypeError, ValueError):
        return seen
    written = received - (sent + _WALL_MINUS_MONOTONIC)
    return written if 0 <= written <= seen else seen


def _explain(ctx: Context, names: Names, endpoints: Endpoints, trace: Trace) -> Trace:
    """Point at where to look: the DLQ depth and the blamed function's latest log lines."""
    if endpoints.dlq_url:
        attrs = ctx.clients("sqs").get_queue_attributes(
            QueueUrl=endpoints.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        trace.hints.append(f"DLQ {names.dlq} holds {attrs['ApproximateNumberOfMessages']} message(s)")
    function = names.function(HOP_FUNCTION[trace.failed_hop or "accepted"])
    lines = recent_log_lines(ctx, names.log_group(HOP_FUNCTION[trace.failed_hop or "accepted"]))
    if lines:
        trace.hints.append(f"latest log lines of {function}:\n  " + "\n  ".join(lines))
    else:
        trace.hints.append(f"no log lines from {function} (was it invoked? check its event source mapping)")
    return trace


def recent_log_lines(ctx: Context, log_group: str, limit: int = 8) -> list[str]:
    logs = ctx.clients("logs")
    try:
        streams = logs.describe_log_streams(
            logGroupName=log_group, orderBy="LastEventTime", descending=True, limit=1
        ).get("logStreams", [])
        if not streams:
            return []
        events = logs.get_log_events(
            logGroupName=log_group, logStreamName=streams[0]["logStreamName"], limit=limit, startFromHead=False
        ).get("events", [])
    except Exception:
        return []
    return [event["message"].rstrip()[:300] for event in events]

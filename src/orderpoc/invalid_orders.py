"""send-test-order --invalid: each bad order must get the right 4xx, and none may be stored."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from orderpoc import http_client
from orderpoc.probe import Endpoints
from orderpoc.resources.base import Context
from orderpoc.trace import post_order, sample_order


@dataclass
class Case:
    name: str
    expected: int
    got: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.got == self.expected


def _cases(marker: str) -> list[tuple[str, int, dict[str, Any] | None, bytes | None, dict[str, str]]]:
    good = sample_order(customer=marker)
    item = good["items"][0]
    return [
        ("missing API key", 403, good, None, {"x-api-key": ""}),
        ("missing customerId", 400, {"items": good["items"]}, None, {}),
        ("no items", 400, {**good, "items": []}, None, {}),
        ("quantity 0", 400, {**good, "items": [{**item, "quantity": 0}]}, None, {}),
        ("unknown field", 400, {**good, "coupon": "FREE"}, None, {}),
        ("price with 3 decimals", 400, {**good, "items": [{**item, "unitPrice": "1.999"}]}, None, {}),
        ("note too long", 400, {**good, "note": "x" * 501}, None, {}),
        ("malformed JSON", 400, None, b'{"customerId": ', {}),
    ]


def run_invalid(ctx: Context, endpoints: Endpoints, timeout: float) -> tuple[list[Case], int | None]:
    """Send every bad order, then one good sentinel; once it is stored, none of the bad may be."""
    marker = f"invalid-{secrets.token_hex(4)}"
    results: list[Case] = []
    for name, expected, document, raw, extra in _cases(marker):
        headers = {"x-api-key": endpoints.api_key, "Content-Type": "application/json", **extra}
        headers = {k: v for k, v in headers.items() if v}
        body = raw if raw is not None else json.dumps(document).encode()
        response = http_client.request("POST", f"{endpoints.invoke_url}/order", body=body, headers=headers)
        results.append(Case(name, expected, response.status, response.body[:160]))
    stored = _stored_after_sentinel(ctx, endpoints, marker, timeout)
    return results, stored


def _stored_after_sentinel(ctx: Context, endpoints: Endpoints, marker: str, timeout: float) -> int | None:
    """How many bad orders were stored, once a good one sent after them was; None when the good one
    never was, as then "nothing stored" proves nothing."""
    sentinel = post_order(endpoints, sample_order(customer=f"{marker}-sentinel"))
    order_id = (sentinel.json() or {}).get("orderId") if sentinel.status == 202 else None
    if order_id is None:
        return None
    table = ctx.clients("dynamodb")
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() >= deadline:
            return None
        if table.get_item(TableName=endpoints.table, Key={"orderId": {"S": order_id}}, ConsistentRead=True).get("Item"):
            break
        time.sleep(0.1)
    count = 0
    for page in table.get_paginator("scan").paginate(
        TableName=endpoints.table,
        FilterExpression="customerId = :m",
        ExpressionAttributeValues={":m": {"S": marker}},
        Select="COUNT",
        ConsistentRead=True,
    ):
        count += page["Count"]
    return count

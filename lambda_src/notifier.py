"""Lambda "notifier": DynamoDB Streams (NEW_IMAGE) -> SNS "order-events", one message per new order.

Messages go out in SNS PublishBatch calls of up to 10 entries: one round trip for ten orders, which
is what lets one stream shard (one invocation at a time) keep up. The stream mapping filters to
INSERT; anything else is skipped here too. Partial batch failures name the failing records by
SequenceNumber: an entry SNS reports as failed fails only its own record, a call that fails as a
whole fails the records of that call. Delivery is at-least-once: Lambda resumes a stream from the
lowest failed record, so records after it can be published again; subscribers dedupe on orderId.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

import orderlib
import orderschema

FN = "notifier"
EVENT_TYPE = "OrderCreated"
MAX_SUBJECT = 99  # SNS: under 100 characters, printable ASCII, no line breaks
PUBLISH_BATCH_SIZE = 10  # SNS PublishBatch takes at most 10 entries
_deserializer = TypeDeserializer()


class BadRecord(ValueError):
    """The stream record does not hold an order we can describe: retrying will not help."""


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, Any]]]:
    records = event.get("Records") if isinstance(event, dict) else None
    records = [r for r in records or [] if isinstance(r, dict)]
    outcomes: list[tuple[str, dict[str, Any]]] = []  # per record: (outcome, log fields)
    to_publish: list[tuple[int, dict[str, Any]]] = []  # (record index, summary)
    for index, record in enumerate(records):
        stream = record.get("dynamodb") or {}
        fields: dict[str, Any] = {"sequenceNumber": stream.get("SequenceNumber")}
        outcomes.append(("skipped", fields))
        if record.get("eventName") != "INSERT":
            fields["eventName"] = record.get("eventName")
            continue
        try:
            summary = order_summary(stream.get("NewImage"))
        except BadRecord as exc:
            outcomes[index] = ("invalid", {**fields, "level": "WARN", "reason": str(exc)})
            continue
        fields["orderId"] = summary["orderId"]
        to_publish.append((index, summary))
    for start in range(0, len(to_publish), PUBLISH_BATCH_SIZE):
        _publish(to_publish[start : start + PUBLISH_BATCH_SIZE], outcomes, context)
    # Logged in record order, once every call is done: one line per record, as before batching.
    for outcome, fields in outcomes:
        if outcome == "error":
            orderlib.log_exception(FN, context, fields.pop("exception"), **fields)
        else:
            orderlib.log(FN, context, outcome, **fields)
    failed = ("invalid", "failed", "error")
    return {
        "batchItemFailures": [
            {"itemIdentifier": fields["sequenceNumber"]} for outcome, fields in outcomes if outcome in failed
        ]
    }


def _publish(chunk: list[tuple[int, dict[str, Any]]], outcomes: list[tuple[str, dict[str, Any]]], context: Any) -> None:
    """One PublishBatch call; records each entry's outcome (by the entry Id, the record's index)."""
    entries = [_entry(str(index), summary) for index, summary in chunk]
    try:
        response = orderlib.client("sns").publish_batch(
            TopicArn=orderlib.env("ORDER_EVENTS_TOPIC_ARN"), PublishBatchRequestEntries=entries
        )
    except orderlib.AWS_ERRORS as exc:
        for index, _summary in chunk:
            outcomes[index] = ("failed", {**outcomes[index][1], "level": "WARN", "error": orderlib.error_code(exc)})
        return
    except Exception as exc:  # a bug or missing configuration: every record of the call is retried
        for index, _summary in chunk:
            outcomes[index] = ("error", {**outcomes[index][1], "exception": exc})
        return
    published = {str(e.get("Id")): e.get("MessageId") for e in response.get("Successful") or []}
    refused = {str(e.get("Id")): e for e in response.get("Failed") or []}
    for index, _summary in chunk:
        fields = outcomes[index][1]
        entry_id = str(index)
        if entry_id in published:
            outcomes[index] = ("published", {**fields, "snsMessageId": published[entry_id]})
        else:  # reported as failed, or not reported at all: never assume it went out
            error = refused.get(entry_id, {})
            outcomes[index] = ("failed", {**fields, "level": "WARN", "error": error.get("Code") or "NotReported"})


def _entry(entry_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "Subject": subject(summary),
        "Message": json.dumps(summary, separators=(",", ":")),
        "MessageAttributes": {
            "eventType": {"DataType": "String", "StringValue": EVENT_TYPE},
            "orderId": {"DataType": "String", "StringValue": summary["orderId"]},
        },
    }


def order_summary(image: object) -> dict[str, Any]:
    """NewImage (DynamoDB JSON) -> the event's message body."""
    if not isinstance(image, dict) or not image:
        raise BadRecord("no NewImage (is the stream view type NEW_IMAGE?)")
    try:
        order = {key: _deserializer.deserialize(value) for key, value in image.items()}
        order_id, items = order["orderId"], order.get("items") or []
        if not isinstance(order_id, str) or not isinstance(items, list):
            raise BadRecord("orderId or items has the wrong type")
        return {
            "eventType": EVENT_TYPE,
            "orderId": order_id,
            "customerId": order.get("customerId"),
            "total": orderschema.money(order.get("total", 0)),
            "currency": order.get("currency"),
            "itemCount": len(items),  # line items
            "unitCount": int(sum(Decimal(i.get("quantity", 0)) for i in items)),
            "createdAt": order.get("createdAt"),
        }
    except BadRecord:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise BadRecord(f"unreadable order image: {type(exc).__name__}") from None


def subject(summary: dict[str, Any]) -> str:
    """E.g. "Order 1234abcd accepted: 59.97 USD"; forced to printable ASCII for SNS."""
    text = f"Order {summary['orderId'][:8]} accepted: {summary['total']} {summary['currency']}"
    text = "".join(c for c in text if " " <= c <= "~")
    return text[:MAX_SUBJECT]

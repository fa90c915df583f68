"""Lambda "notifier": DynamoDB Streams (NEW_IMAGE) -> SNS "order-events", one message per new order.

The stream mapping filters to INSERT; anything else is skipped here too. Partial batch failures
name the failing records by SequenceNumber. Delivery is at-least-once: Lambda resumes a stream
from the lowest failed record, so records after it can be published again; subscribers dedupe
on orderId.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orderlib
import orderschema
from boto3.dynamodb.types import TypeDeserializer

FN = "notifier"
EVENT_TYPE = "OrderCreated"
MAX_SUBJECT = 99  # SNS: under 100 characters, printable ASCII, no line breaks
_deserializer = TypeDeserializer()


class BadRecord(ValueError):
    """The stream record does not hold an order we can describe: retrying will not help."""


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    records = event.get("Records") if isinstance(event, dict) else None
    failures = [
        {"itemIdentifier": (record.get("dynamodb") or {}).get("SequenceNumber")}
        for record in (records or [])
        if isinstance(record, dict) and not _handle(record, context)
    ]
    return {"batchItemFailures": failures}


def _handle(record: dict[str, Any], context: Any) -> bool:
    stream = record.get("dynamodb") or {}
    fields: dict[str, Any] = {"sequenceNumber": stream.get("SequenceNumber")}
    if record.get("eventName") != "INSERT":
        orderlib.log(FN, context, "skipped", eventName=record.get("eventName"), **fields)
        return True
    try:
        summary = order_summary(stream.get("NewImage"))
    except BadRecord as exc:
        orderlib.log(FN, context, "invalid", level="WARN", reason=str(exc), **fields)
        return False
    fields["orderId"] = summary["orderId"]
    try:
        published = orderlib.client("sns").publish(
            TopicArn=orderlib.env("ORDER_EVENTS_TOPIC_ARN"),
            Subject=subject(summary),
            Message=json.dumps(summary, separators=(",", ":")),
            MessageAttributes={
                "eventType": {"DataType": "String", "StringValue": EVENT_TYPE},
                "orderId": {"DataType": "String", "StringValue": summary["orderId"]},
            },
        )
    except orderlib.AWS_ERRORS as exc:
        orderlib.log(FN, context, "failed", level="WARN", error=orderlib.error_code(exc), **fields)
        return False
    except Exception as exc:
        orderlib.log_exception(FN, context, exc, **fields)
        return False
    orderlib.log(FN, context, "published", snsMessageId=published.get("MessageId"), **fields)
    return True


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

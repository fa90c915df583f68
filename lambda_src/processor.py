"""Lambda "processor": SQS "orders" -> DynamoDB "orders", one conditional PutItem per message.

Reports partial batch failures (ReportBatchItemFailures), so one bad message never holds back
the others: poison is retried until maxReceiveCount and then redriven to the DLQ, a transient
DynamoDB error is simply retried. A redelivered message finds its row already written
(ConditionalCheckFailed) and counts as done, so every valid order is stored exactly once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

import orderlib
import orderschema

FN = "processor"
STATUS_RECEIVED = "RECEIVED"
_serializer = TypeSerializer()


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, Any]]]:
    records = event.get("Records") if isinstance(event, dict) else None
    failures = [
        {"itemIdentifier": record.get("messageId")}
        for record in (records or [])
        if isinstance(record, dict) and not _handle(record, context)
    ]
    return {"batchItemFailures": failures}


def _handle(record: dict[str, Any], context: Any) -> bool:
    """True when the message is done with (stored now or before), False to have it retried."""
    fields: dict[str, Any] = {
        "messageId": record.get("messageId"),
        "receiveCount": (record.get("attributes") or {}).get("ApproximateReceiveCount"),
    }
    try:
        data = orderschema.parse_json(record["body"])
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        orderlib.log(FN, context, "invalid", level="WARN", reason=f"body: {type(exc).__name__}", **fields)
        return False
    order, errors = orderschema.validate_message(data)
    if order is None:
        orderlib.log(FN, context, "invalid", level="WARN", errors=[e.as_dict() for e in errors[:5]], **fields)
        return False

    fields["orderId"] = order["orderId"]
    try:
        orderlib.client("dynamodb").put_item(
            TableName=orderlib.env("ORDERS_TABLE"),
            Item=to_item(order, orderschema.utc_now()),
            ConditionExpression="attribute_not_exists(orderId)",
        )
    except orderlib.AWS_ERRORS as exc:
        code = orderlib.error_code(exc)
        if code == "ConditionalCheckFailedException":  # a redelivery: the first write stands
            orderlib.log(FN, context, "duplicate", **fields)
            return True
        orderlib.log(FN, context, "failed", level="WARN", error=code, **fields)
        return False
    except Exception as exc:  # a bug or missing config: retry, and leave the traceback behind
        orderlib.log_exception(FN, context, exc, **fields)
        return False
    orderlib.log(FN, context, "stored", **fields)
    return True


def to_item(order: dict[str, Any], received_at: str) -> dict[str, Any]:
    """The validated message as a DynamoDB item: amounts as Number (Decimal), never float."""
    item: dict[str, Any] = {
        "orderId": order["orderId"],
        "customerId": order["customerId"],
        "items": [
            {"sku": i["sku"], "quantity": i["quantity"], "unitPrice": Decimal(i["unitPrice"])} for i in order["items"]
        ],
        "total": Decimal(order["total"]),
        "currency": order["currency"],
        "status": STATUS_RECEIVED,
        "createdAt": order["createdAt"],
        "receivedAt": received_at,
    }
    for optional in ("note", "idempotencyKey"):
        if order.get(optional) is not None:
            item[optional] = order[optional]
    return {key: _serializer.serialize(value) for key, value in item.items()}

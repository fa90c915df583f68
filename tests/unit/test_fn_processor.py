"""Lambda "processor": SQS records -> conditional PutItem, partial batch failures (moto)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fn_helpers import Pipeline, api_event, fail_calls, json_body, log_lines, order, raw_sqs_record


def accept(p: Pipeline, body: dict[str, Any] | None = None, key: str | None = None) -> str:
    """POST through intake (the real producer of messages); returns the orderId."""
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    response = p.intake(api_event("POST", "/order", body or order(), headers))
    assert response["statusCode"] == 202, response
    return json_body(response)["orderId"]


def message(**changes: Any) -> dict[str, Any]:
    """A message body as intake writes it."""
    body = {
        "orderId": str(uuid.uuid4()),
        "customerId": "c-1",
        "items": [{"sku": "A", "quantity": 2, "unitPrice": "1.50"}],
        "total": "3.00",
        "currency": "USD",
        "note": None,
        "createdAt": "2024-05-01T12:00:00.000Z",
    }
    body.update(changes)
    return body


def test_stores_the_order(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    order_id = accept(pipeline, key="k-1")
    records = pipeline.queued()

    assert pipeline.processor(records) == {"batchItemFailures": []}

    [row] = pipeline.rows()
    assert row["orderId"] == order_id and row["status"] == "RECEIVED"
    assert row["customerId"] == "cust-42" and row["currency"] == "EUR"
    assert row["total"] == Decimal("64.97")  # a DynamoDB Number, not a string or float
    assert row["items"] == [
        {"sku": "TSHIRT-M", "quantity": 3, "unitPrice": Decimal("19.99")},
        {"sku": "mug_1", "quantity": 1, "unitPrice": Decimal("5")},
    ]
    assert row["note"] == "leave at the door" and row["idempotencyKey"] == "k-1"
    assert row["createdAt"].endswith("Z") and row["receivedAt"] >= row["createdAt"]
    lines = [line for line in log_lines(capsys.readouterr().out) if line["fn"] == "processor"]
    assert [(line["outcome"], line["orderId"]) for line in lines] == [("stored", order_id)]
    assert lines[0]["messageId"] == records[0]["messageId"]


def test_optional_fields_are_omitted(pipeline: Pipeline) -> None:
    pipeline.processor([raw_sqs_record(json.dumps(message()), "m-1")])
    [row] = pipeline.rows()
    assert "note" not in row and "idempotencyKey" not in row


def test_redelivery_stores_one_row(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    accept(pipeline)
    [record] = pipeline.queued()

    assert pipeline.processor([record]) == {"batchItemFailures": []}
    stored = pipeline.rows()
    # At-least-once delivery: the same message again, alone and twice within one batch.
    assert pipeline.processor([record]) == {"batchItemFailures": []}
    assert pipeline.processor([record, record]) == {"batchItemFailures": []}

    assert pipeline.rows() == stored  # one row, and the first write was not overwritten
    outcomes = [line["outcome"] for line in log_lines(capsys.readouterr().out) if line["fn"] == "processor"]
    assert outcomes == ["stored", "duplicate", "duplicate", "duplicate"]


def test_client_retry_with_idempotency_key_stores_one_row(pipeline: Pipeline) -> None:
    first = accept(pipeline, key="same-key")
    second = accept(pipeline, key="same-key")
    records = pipeline.queued()
    assert first == second and len(records) == 2  # intake enqueued twice...

    assert pipeline.processor(records) == {"batchItemFailures": []}
    assert [row["orderId"] for row in pipeline.rows()] == [first]  # ...one order exists


POISON = [
    ("not json", "{oops"),
    ("json array", "[]"),
    ("empty", ""),
    ("missing orderId", json.dumps({k: v for k, v in message().items() if k != "orderId"})),
    ("bad orderId", json.dumps(message(orderId="1234"))),
    ("total mismatch", json.dumps(message(total="999.00"))),
    ("bad createdAt", json.dumps(message(createdAt="yesterday"))),
    ("impossible date", json.dumps(message(createdAt="2024-13-01T00:00:00Z"))),
    ("unknown field", json.dumps(message(admin=True))),
    ("float quantity", json.dumps(message(items=[{"sku": "A", "quantity": 2.0, "unitPrice": "1.50"}]))),
    ("NaN", json.dumps(message(total=float("nan")))),
]


@pytest.mark.parametrize("body", [b for _, b in POISON], ids=[n for n, _ in POISON])
def test_one_poison_record_fails_alone(pipeline: Pipeline, body: str, capsys: pytest.CaptureFixture) -> None:
    good = [raw_sqs_record(json.dumps(message()), f"good-{n}") for n in range(2)]
    poison = raw_sqs_record(body, "poison")

    result = pipeline.processor([good[0], poison, good[1]])

    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert len(pipeline.rows()) == 2
    [line] = [x for x in log_lines(capsys.readouterr().out) if x["outcome"] == "invalid"]
    assert line["messageId"] == "poison"


def test_record_without_body_fails_alone(pipeline: Pipeline) -> None:
    record = raw_sqs_record("{}", "no-body")
    del record["body"]
    assert pipeline.processor([record]) == {"batchItemFailures": [{"itemIdentifier": "no-body"}]}


def test_transient_error_fails_only_that_record_and_redelivery_heals(pipeline: Pipeline) -> None:
    bodies = [message() for _ in range(3)]
    unlucky = bodies[1]["orderId"]
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "PutItem",
    )
    fail_calls(
        pipeline.fns["orderlib"].client("dynamodb"),
        "PutItem",
        throttled,
        when=lambda params: params["Item"]["orderId"]["S"] == unlucky,
    )
    records = [raw_sqs_record(json.dumps(b), f"m-{n}") for n, b in enumerate(bodies)]

    assert pipeline.processor(records) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert unlucky not in {row["orderId"] for row in pipeline.rows()}

    pipeline.fns["orderlib"].reset_clients()  # the throttling passes
    assert pipeline.processor([records[1]]) == {"batchItemFailures": []}
    assert len(pipeline.rows()) == 3


def test_table_missing_fails_every_record_without_raising(pipeline: Pipeline) -> None:
    pipeline.dynamodb.delete_table(TableName=pipeline.table)
    records = [raw_sqs_record(json.dumps(message()), f"m-{n}") for n in range(3)]
    result = pipeline.processor(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m-{n}"} for n in range(3)]}


def test_missing_configuration_fails_records_and_logs_traceback(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("ORDERS_TABLE")
    result = pipeline.processor([raw_sqs_record(json.dumps(message()), "m-1")])
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    [line] = log_lines(capsys.readouterr().out)
    assert line["outcome"] == "error" and "ORDERS_TABLE" in line["traceback"]


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": None}, None])
def test_empty_events(pipeline: Pipeline, event: Any) -> None:
    assert pipeline.fns["processor"].handler(event, None) == {"batchItemFailures": []}

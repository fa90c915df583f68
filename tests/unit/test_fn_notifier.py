"""Lambda "notifier": DynamoDB stream records -> SNS, partial batch failures (moto).

Stream records are the real ones moto's DynamoDB Streams holds after the processor wrote rows;
what was published is read back from an SQS queue subscribed to the topic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

# fn_fixtures is importable whether or not tests/unit is a package
sys.path.insert(0, str(Path(__file__).parent))
from fn_fixtures import (
    Pipeline,
    api_event,
    fail_calls,
    fns,
    json_body,
    log_lines,
    moto,
    order,
    pipeline,
)

__all__ = ["fns", "moto", "pipeline"]  # fixtures, used by name


def stored_orders(p: Pipeline, *bodies: dict[str, Any]) -> list[str]:
    """Orders through intake and processor; returns their ids in order."""
    ids = []
    for body in bodies:
        response = p.intake(api_event("POST", "/order", body))
        ids.append(json_body(response)["orderId"])
    assert p.processor(p.queued()) == {"batchItemFailures": []}
    return ids


def inserts(p: Pipeline) -> list[dict[str, Any]]:
    return [r for r in p.stream_records() if r["eventName"] == "INSERT"]


def test_publishes_one_event_per_new_order(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    [order_id] = stored_orders(
        pipeline, order(items=[{"sku": "A", "quantity": 3, "unitPrice": "19.99"}], currency="USD")
    )
    records = inserts(pipeline)

    assert pipeline.notifier(records) == {"batchItemFailures": []}

    [envelope] = pipeline.published()
    assert envelope["Subject"] == f"Order {order_id[:8]} accepted: 59.97 USD"
    assert envelope["MessageAttributes"]["eventType"] == {"Type": "String", "Value": "OrderCreated"}
    message = json.loads(envelope["Message"])
    assert message == {
        "eventType": "OrderCreated",
        "orderId": order_id,
        "customerId": "cust-42",
        "total": "59.97",
        "currency": "USD",
        "itemCount": 1,
        "unitCount": 3,
        "createdAt": message["createdAt"],
    }
    lines = [x for x in log_lines(capsys.readouterr().out) if x["fn"] == "notifier"]
    assert [(x["outcome"], x["orderId"]) for x in lines] == [("published", order_id)]
    assert lines[0]["sequenceNumber"] == records[0]["dynamodb"]["SequenceNumber"]


def test_non_insert_records_are_ignored(pipeline: Pipeline) -> None:
    [order_id] = stored_orders(pipeline, order())
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={"orderId": {"S": order_id}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "SHIPPED"}},
    )
    pipeline.dynamodb.delete_item(TableName=pipeline.table, Key={"orderId": {"S": order_id}})
    others = [r for r in pipeline.stream_records() if r["eventName"] != "INSERT"]
    assert {r["eventName"] for r in others} == {"MODIFY", "REMOVE"}

    assert pipeline.notifier(others) == {"batchItemFailures": []}
    assert pipeline.published() == []


def test_one_failing_publish_reports_exactly_that_record(pipeline: Pipeline) -> None:
    ids = stored_orders(pipeline, order(customerId="a"), order(customerId="b"), order(customerId="c"))
    records = inserts(pipeline)
    unlucky = ids[1]
    unlucky_record = next(r for r in records if r["dynamodb"]["NewImage"]["orderId"]["S"] == unlucky)
    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "Publish")
    fail_calls(
        pipeline.fns["orderlib"].client("sns"),
        "Publish",
        throttled,
        when=lambda params: json.loads(params["Message"])["orderId"] == unlucky,
    )

    result = pipeline.notifier(records)

    seq = unlucky_record["dynamodb"]["SequenceNumber"]
    assert result == {"batchItemFailures": [{"itemIdentifier": seq}]}
    published = {json.loads(e["Message"])["orderId"] for e in pipeline.published()}
    assert published == {ids[0], ids[2]}


def test_malformed_insert_fails_alone(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    stored_orders(pipeline, order())
    [good] = inserts(pipeline)
    no_image = {**good, "dynamodb": {**good["dynamodb"], "SequenceNumber": "999"}}
    del no_image["dynamodb"]["NewImage"]  # e.g. a stream view type without new images
    bad_type = {**good, "dynamodb": {**good["dynamodb"], "SequenceNumber": "998", "NewImage": {"orderId": {"N": "5"}}}}

    result = pipeline.notifier([no_image, good, bad_type])

    assert result == {"batchItemFailures": [{"itemIdentifier": "999"}, {"itemIdentifier": "998"}]}
    assert len(pipeline.published()) == 1
    outcomes = [x["outcome"] for x in log_lines(capsys.readouterr().out) if x["fn"] == "notifier"]
    assert outcomes == ["invalid", "published", "invalid"]


def test_topic_gone_fails_every_insert(pipeline: Pipeline) -> None:
    stored_orders(pipeline, order(), order())
    records = inserts(pipeline)
    pipeline.sns.delete_topic(TopicArn=pipeline.topic_arn)

    result = pipeline.notifier(records)

    assert result == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records]}


@pytest.mark.parametrize("event", [{}, {"Records": []}, None])
def test_empty_events(pipeline: Pipeline, event: Any) -> None:
    assert pipeline.fns["notifier"].handler(event, None) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    "summary",
    [
        {"orderId": "12345678-aaaa", "total": "59.97", "currency": "USD"},
        {"orderId": "ü\n" * 60, "total": "1" * 120, "currency": "€€€"},
    ],
)
def test_subject_is_short_printable_ascii(fns: dict, summary: dict[str, str]) -> None:
    subject = fns["notifier"].subject(summary)
    assert len(subject) < 100 and subject.isascii() and subject.isprintable()
    assert subject.startswith("Order ")

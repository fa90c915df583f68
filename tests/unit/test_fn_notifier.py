"""Lambda "notifier": DynamoDB stream records -> SNS, partial batch failures (moto).

Stream records are the real ones moto's DynamoDB Streams holds after the processor wrote rows;
what was published is read back from an SQS queue subscribed to the topic.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fn_helpers import (
    Pipeline,
    api_event,
    fail_calls,
    json_body,
    log_lines,
    order,
    refuse_batch_entries,
)


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


def store_many(p: Pipeline, count: int) -> list[str]:
    ids = [json_body(p.intake(api_event("POST", "/order", order(customerId=f"c{i}"))))["orderId"] for i in range(count)]
    while batch := p.queued():
        assert p.processor(batch) == {"batchItemFailures": []}
    return ids


def all_published(p: Pipeline) -> list[str]:
    """orderIds of every message the sink queue got (until it answers empty)."""
    ids: list[str] = []
    while envelopes := p.published():
        ids.extend(json.loads(e["Message"])["orderId"] for e in envelopes)
    return ids


def count_calls(client: Any, operation: str) -> list[int]:
    """Entries per call of a batch operation, as the function made them."""
    sizes: list[int] = []
    service = client.meta.service_model.service_name
    client.meta.events.register(
        f"before-parameter-build.{service}.{operation}",
        lambda params, **_: sizes.append(len(params["PublishBatchRequestEntries"])),
    )
    return sizes


def record_of(records: list[dict[str, Any]], order_id: str) -> dict[str, Any]:
    return next(r for r in records if r["dynamodb"]["NewImage"]["orderId"]["S"] == order_id)


def test_orders_are_published_in_batches_of_ten(pipeline: Pipeline) -> None:
    ids = store_many(pipeline, 23)
    sizes = count_calls(pipeline.fns["orderlib"].client("sns"), "PublishBatch")

    assert pipeline.notifier(inserts(pipeline)) == {"batchItemFailures": []}

    assert sizes == [10, 10, 3]
    assert sorted(all_published(pipeline)) == sorted(ids)


def test_an_entry_sns_refuses_fails_exactly_its_record(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    ids = stored_orders(pipeline, order(customerId="a"), order(customerId="b"), order(customerId="c"))
    records = inserts(pipeline)
    unlucky = ids[1]
    refused = refuse_batch_entries(
        pipeline.fns["orderlib"].client("sns"),
        "PublishBatch",
        "InternalError",
        when=lambda entry: json.loads(entry["Message"])["orderId"] == unlucky,
    )

    result = pipeline.notifier(records)

    assert len(refused) == 1
    seq = record_of(records, unlucky)["dynamodb"]["SequenceNumber"]
    assert result == {"batchItemFailures": [{"itemIdentifier": seq}]}
    assert set(all_published(pipeline)) == {ids[0], ids[2]}
    lines = {x["orderId"]: x for x in log_lines(capsys.readouterr().out) if x.get("fn") == "notifier"}
    assert lines[unlucky]["outcome"] == "failed" and lines[unlucky]["error"] == "InternalError"
    assert lines[ids[0]]["outcome"] == lines[ids[2]]["outcome"] == "published"


def test_a_failed_call_fails_only_the_records_it_carried(pipeline: Pipeline) -> None:
    ids = store_many(pipeline, 12)
    records = inserts(pipeline)
    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "PublishBatch")
    unlucky = records[0]["dynamodb"]["NewImage"]["orderId"]["S"]
    fail_calls(
        pipeline.fns["orderlib"].client("sns"),
        "PublishBatch",
        throttled,
        when=lambda params: any(unlucky in e["Message"] for e in params["PublishBatchRequestEntries"]),
    )

    result = pipeline.notifier(records)

    assert result == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records[:10]]}
    assert sorted(all_published(pipeline)) == sorted(r["dynamodb"]["NewImage"]["orderId"]["S"] for r in records[10:])
    assert set(ids) == {r["dynamodb"]["NewImage"]["orderId"]["S"] for r in records}


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

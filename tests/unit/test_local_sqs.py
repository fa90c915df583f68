"""SQS event source mappings, polled as the Lambda service does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from local_helpers import RECORDER, Emulator, health, recorded, wait_for

PROCESSOR = (
    RECORDER
    + """
def handler(event, context):
    failures = []
    for r in event["Records"]:
        if r["body"] == "poison":
            raise ValueError("poison message")
        if r["body"].startswith("bad") and r["attributes"]["ApproximateReceiveCount"] == "1":
            failures.append({"itemIdentifier": r["messageId"]})
    record(event)
    return {"batchItemFailures": failures}
"""
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "invocations.jsonl"


def _queue_empty(emulator: Emulator, url: str) -> bool:
    attrs = emulator.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def _bodies(entries: list[dict]) -> list[str]:
    return [r["body"] for e in entries for r in e["event"]["Records"]]


def _mapping(emulator: Emulator, fn: str, arn: str, batch_size: int = 10, **extra: object) -> str:
    return emulator.client("lambda").create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, BatchSize=batch_size, **extra
    )["UUID"]


def test_a_batch_is_processed_then_deleted_with_lambdas_event_shape(emulator: Emulator, out: Path) -> None:
    url, arn = emulator.queue("q-batch")
    emulator.function("proc-batch", PROCESSOR, env={"OUT": str(out)})
    sqs = emulator.client("sqs")
    for i in range(5):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=f"order-{i}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
        )
    _mapping(emulator, "proc-batch", arn)
    wait_for(lambda: len(_bodies(recorded(out))) == 5, what="5 processed messages")
    wait_for(lambda: _queue_empty(emulator, url), what="the batch to be deleted")
    record = recorded(out)[0]["event"]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1" and record["md5OfBody"] and record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "order"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert sorted(_bodies(recorded(out))) == [f"order-{i}" for i in range(5)]


def test_partial_batch_failure_redelivers_only_the_failed_items(emulator: Emulator, out: Path) -> None:
    url, arn = emulator.queue("q-partial", VisibilityTimeout="1")
    emulator.function("proc-partial", PROCESSOR, env={"OUT": str(out)})
    for body in ("good-1", "bad-1", "good-2", "bad-2", "good-3"):
        emulator.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    _mapping(emulator, "proc-partial", arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: _queue_empty(emulator, url), what="all messages to be deleted")
    entries = recorded(out)
    first, retries = entries[0], entries[1:]
    assert len(first["event"]["Records"]) == 5
    assert sorted(_bodies(retries)) == ["bad-1", "bad-2"]
    assert {r["attributes"]["ApproximateReceiveCount"] for e in retries for r in e["event"]["Records"]} == {"2"}


def test_a_poison_message_lands_in_the_dlq_after_max_receive_count(emulator: Emulator, out: Path) -> None:
    dlq_url, dlq_arn = emulator.queue("q-poison-dlq")
    url, arn = emulator.queue(
        "q-poison",
        VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
    )
    emulator.function("proc-poison", PROCESSOR, env={"OUT": str(out)})
    for body in ("poison", "fine"):
        emulator.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    _mapping(emulator, "proc-poison", arn, batch_size=1)  # a raising batch fails as a whole
    dead = wait_for(lambda: emulator.drain(dlq_url, wait=1), what="the poison message in the DLQ")
    assert [m["Body"] for m in dead] == ["poison"]
    wait_for(lambda: _queue_empty(emulator, url), what="the main queue to drain")
    assert _bodies(recorded(out)).count("fine") >= 1 and "poison" not in _bodies(recorded(out))
    said = emulator.status.log_file.read_text()  # the failed invocation is in the server's log
    assert "failed (ValueError): its 1 messages come back after the visibility timeout" in said


def test_filter_criteria_drop_and_delete_unmatched_messages(emulator: Emulator, out: Path) -> None:
    url, arn = emulator.queue("q-filter")
    emulator.function("proc-filter", PROCESSOR, env={"OUT": str(out)})
    for kind in ("order", "ping", "order"):
        emulator.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"kind": kind}))
    _mapping(
        emulator,
        "proc-filter",
        arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
    )
    wait_for(lambda: _queue_empty(emulator, url), what="every message to be consumed")
    assert [json.loads(b)["kind"] for b in _bodies(recorded(out))] == ["order", "order"]


def test_disabling_the_mapping_stops_its_poller_and_enabling_resumes(emulator: Emulator, out: Path) -> None:
    url, arn = emulator.queue("q-toggle")
    emulator.function("proc-toggle", PROCESSOR, env={"OUT": str(out)})
    uuid = _mapping(emulator, "proc-toggle", arn)
    wait_for(lambda: uuid in health(emulator)["pollers"], what="the poller to start")
    lam, sqs = emulator.client("lambda"), emulator.client("sqs")
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert uuid not in health(emulator)["pollers"]  # stopped before the update answered
    sqs.send_message(QueueUrl=url, MessageBody="while-disabled")
    # still there: nobody consumed it (a lane stopped mid-receive hands it back)
    received = wait_for(lambda: emulator.drain(url, wait=1), what="the message to stay in the queue")
    assert [m["Body"] for m in received] == ["while-disabled"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert recorded(out) == []
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_for(lambda: _bodies(recorded(out)) == ["while-disabled"], what="processing after re-enable")
    lam.delete_event_source_mapping(UUID=uuid)
    assert uuid not in health(emulator)["pollers"]  # gone with its mapping

"""DynamoDB Streams event source mappings: filters, retries, bisect, partial failures, destinations."""

from __future__ import annotations

import json
from pathlib import Path

from local_helpers import RECORDER, Emulator, health, recorded, wait_for

NOTIFIER = (
    RECORDER
    + """
seen = set()
def handler(event, context):
    keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
    record(event)
    if any(k.startswith("poison") for k in keys):
        raise RuntimeError("cannot notify")
    failures = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r, k in zip(event["Records"], keys)
                if k.startswith("flaky") and k not in seen]
    seen.update(keys)
    return {"batchItemFailures": failures}
"""
)


def _table(emulator: Emulator, name: str) -> str:
    table = emulator.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return str(table["TableDescription"]["LatestStreamArn"])


def _put(emulator: Emulator, table: str, *ids: str) -> None:
    for item_id in ids:
        emulator.client("dynamodb").put_item(TableName=table, Item={"id": {"S": item_id}, "total": {"N": "5"}})


def _keys(entries: list[dict]) -> list[list[str]]:
    return [[r["dynamodb"]["Keys"]["id"]["S"] for r in e["event"]["Records"]] for e in entries]


def test_insert_filter_invokes_only_for_inserts_with_lambdas_record_shape(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    stream = _table(emulator, "t-filter")
    emulator.function("notify-filter", NOTIFIER, env={"OUT": str(out)})
    emulator.client("lambda").create_event_source_mapping(
        FunctionName="notify-filter",
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
    )
    ddb = emulator.client("dynamodb")
    _put(emulator, "t-filter", "a")
    ddb.update_item(
        TableName="t-filter",
        Key={"id": {"S": "a"}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "total"},
        ExpressionAttributeValues={":t": {"N": "6"}},
    )
    ddb.delete_item(TableName="t-filter", Key={"id": {"S": "a"}})
    _put(emulator, "t-filter", "b")
    wait_for(lambda: sum(map(len, _keys(recorded(out)))) == 2, what="two INSERT records")
    records = [r for e in recorded(out) for r in e["event"]["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT"]
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb" and first["eventSourceARN"] == stream
    assert first["awsRegion"] == "us-east-1" and first["eventID"]
    assert first["dynamodb"]["Keys"] == {"id": {"S": "a"}}
    assert first["dynamodb"]["NewImage"] == {"id": {"S": "a"}, "total": {"N": "5"}}
    assert first["dynamodb"]["StreamViewType"] == "NEW_IMAGE"
    assert int(first["dynamodb"]["SequenceNumber"]) < int(records[1]["dynamodb"]["SequenceNumber"])
    assert first["dynamodb"]["SizeBytes"] > 0 and isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)


def test_failed_records_go_to_the_on_failure_destination_after_retries(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    stream = _table(emulator, "t-fail")
    dest_url, dest_arn = emulator.queue("t-fail-dest")
    emulator.function("notify-fail", NOTIFIER, env={"OUT": str(out)})
    _put(emulator, "t-fail", "ok-1", "poison-1", "ok-2")
    emulator.client("lambda").create_event_source_mapping(
        FunctionName="notify-fail",
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )
    messages = wait_for(lambda: emulator.drain(dest_url, wait=1), what="the on-failure record")
    failure = json.loads(messages[0]["Body"])
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2  # first try + 1 retry
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 1 and info["streamArn"] == stream  # bisected down to the poison
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    # The other half ([ok-2]) is invoked after the poison's failure record was sent.
    calls = wait_for(lambda: ["ok-2"] in _keys(recorded(out)) and _keys(recorded(out)), what="the other half")
    assert calls[0] == ["ok-1", "poison-1", "ok-2"]
    assert ["ok-1"] in calls and calls.count(["poison-1"]) == 2
    _put(emulator, "t-fail", "ok-3")  # the poller moved on past the failed batch
    wait_for(lambda: ["ok-3"] in _keys(recorded(out)), what="the next record")


def test_partial_batch_response_retries_from_the_first_failed_record(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    stream = _table(emulator, "t-partial")
    emulator.function("notify-partial", NOTIFIER, env={"OUT": str(out)})
    _put(emulator, "t-partial", "a", "flaky-b", "c")
    emulator.client("lambda").create_event_source_mapping(
        FunctionName="notify-partial",
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    wait_for(lambda: len(recorded(out)) >= 2, what="the retry")
    assert _keys(recorded(out))[:2] == [["a", "flaky-b", "c"], ["flaky-b", "c"]]
    _put(emulator, "t-partial", "d")
    wait_for(lambda: _keys(recorded(out))[-1] == ["d"], what="the next batch")
    assert len(recorded(out)) == 3


def test_latest_starting_position_skips_older_records(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    stream = _table(emulator, "t-latest")
    emulator.function("notify-latest", NOTIFIER, env={"OUT": str(out)})
    _put(emulator, "t-latest", "old")
    uuid = emulator.client("lambda").create_event_source_mapping(
        FunctionName="notify-latest",
        EventSourceArn=stream,
        StartingPosition="LATEST",
        BatchSize=10,
    )["UUID"]
    wait_for(lambda: uuid in health(emulator)["pollers"], what="the poller to start")  # positioned
    _put(emulator, "t-latest", "new")
    wait_for(lambda: recorded(out), what="the new record")
    assert _keys(recorded(out)) == [["new"]]


def test_records_older_than_the_maximum_age_go_to_the_destination_uninvoked(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    stream = _table(emulator, "t-age")
    dest_url, dest_arn = emulator.queue("t-age-dest")
    emulator.function("notify-age", NOTIFIER, env={"OUT": str(out)})
    _put(emulator, "t-age", "stale")
    emulator.client("lambda").create_event_source_mapping(
        FunctionName="notify-age",
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=0,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )
    failure = json.loads(wait_for(lambda: emulator.drain(dest_url, wait=1), what="the expiry record")[0]["Body"])
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1 and recorded(out) == []

"""Event source mapping kind (SQS queue and DynamoDB stream sources) against in-process moto."""

from __future__ import annotations

import pytest
from lambda_helpers import FUNCTION

from orderpoc.errors import ResourceError
from orderpoc.resources.base import Change
from orderpoc.resources.event_source import mapping

QUEUE, TABLE = "orderpoc-test-orders", "orderpoc-test-orders"
SQS_NAME, STREAM_NAME = f"{FUNCTION}|{QUEUE}", f"{FUNCTION}|{TABLE}"


@pytest.fixture
def queue_arn(ctx) -> str:
    sqs = ctx.clients("sqs")
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def stream_arn(ctx) -> str:
    table = ctx.clients("dynamodb").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return table["TableDescription"]["LatestStreamArn"]


def sqs_desired(queue_arn: str, **overrides) -> dict:
    return {
        "function_name": FUNCTION,
        "event_source_arn": queue_arn,
        "enabled": True,
        "batch_size": 10,
        "maximum_batching_window_in_seconds": 1,
        "function_response_types": ["ReportBatchItemFailures"],
        "scaling_config": {"maximum_concurrency": 5},
        **overrides,
    }


def stream_desired(stream_arn: str, failure_arn: str, **overrides) -> dict:
    return {
        "function_name": FUNCTION,
        "event_source_arn": stream_arn,
        "enabled": True,
        "starting_position": "TRIM_HORIZON",
        "batch_size": 100,
        "maximum_batching_window_in_seconds": 0,
        "filter_criteria": {"filters": [{"pattern": '{"eventName": ["INSERT"]}'}]},
        "maximum_retry_attempts": 3,
        "bisect_batch_on_function_error": True,
        "maximum_record_age_in_seconds": 3600,
        "function_response_types": ["ReportBatchItemFailures"],
        "destination_config": {"on_failure": {"destination": failure_arn}},
        **overrides,
    }


def test_find_nothing(ctx, function, queue_arn):
    assert mapping.find(ctx, SQS_NAME, sqs_desired(queue_arn)) is None
    assert mapping.find(ctx, f"nope|{QUEUE}", sqs_desired(queue_arn)) is None  # no such function


def test_sqs_create_find_rerun_is_free(ctx, calls, function, queue_arn):
    want = sqs_desired(queue_arn)
    created = mapping.create(ctx, SQS_NAME, want)
    assert set(created.outputs) == {"uuid", "arn"}
    assert mapping.drift(created, want) == []
    calls.clear()
    live = mapping.find(ctx, SQS_NAME, want)
    assert live.outputs == created.outputs
    assert live.config["function_name"] == FUNCTION  # normalised from FunctionArn
    assert mapping.drift(live, want) == [] and calls.mutating == []
    assert mapping.figures(ctx, live) == {"state": "Enabled"}


def test_queue_name_matches_exactly(ctx, function, queue_arn):
    """A mapping on "...-orders-dlq" is not the one on "...-orders"."""
    sqs = ctx.clients("sqs")
    url = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping.create(ctx, f"{FUNCTION}|{QUEUE}-dlq", sqs_desired(dlq_arn))
    assert mapping.find(ctx, SQS_NAME, sqs_desired(queue_arn)) is None


def test_stream_create_find_rerun_is_free(ctx, calls, function, stream_arn, queue_arn):
    want = stream_desired(stream_arn, queue_arn)
    mapping.create(ctx, STREAM_NAME, want)
    calls.clear()
    live = mapping.find(ctx, STREAM_NAME, want)
    assert live.config["event_source_arn"] == stream_arn
    # the filter pattern is compared as JSON, not as text
    respaced = stream_desired(
        stream_arn, queue_arn, filter_criteria={"filters": [{"pattern": '{"eventName":["INSERT"]}'}]}
    )
    assert mapping.drift(live, want) == [] and mapping.drift(live, respaced) == []
    assert calls.mutating == []


def test_drift_updates_only_what_changed(ctx, calls, function, queue_arn):
    want = sqs_desired(queue_arn)
    created = mapping.create(ctx, SQS_NAME, want)
    ctx.clients("lambda").update_event_source_mapping(UUID=created.outputs["uuid"], BatchSize=5, Enabled=False)
    live = mapping.find(ctx, SQS_NAME, want)
    assert sorted(d.field for d in mapping.drift(live, want)) == ["batch_size", "enabled"]
    calls.clear()
    fixed = mapping.update(ctx, SQS_NAME, live, want)
    assert calls.mutating == ["UpdateEventSourceMapping"]
    assert fixed.outputs == created.outputs and mapping.drift(fixed, want) == []


def test_create_only_drift_forces_a_replace(ctx, calls, function, stream_arn, queue_arn):
    mapping.create(ctx, STREAM_NAME, stream_desired(stream_arn, queue_arn))
    want = stream_desired(stream_arn, queue_arn, starting_position="LATEST", batch_size=50)
    live = mapping.find(ctx, STREAM_NAME, want)
    changes = mapping.drift(live, want)
    assert changes == [Change("starting_position", "TRIM_HORIZON", "LATEST"), Change("batch_size", 100, 50)]
    assert mapping.forced_by(changes) == ["starting_position"]
    calls.clear()
    with pytest.raises(ResourceError, match="starting_position cannot be updated in place"):
        mapping.update(ctx, STREAM_NAME, live, want)  # the engine replaces it instead
    assert calls.mutating == []


def test_delete(ctx, function, queue_arn):
    created = mapping.create(ctx, SQS_NAME, sqs_desired(queue_arn))
    assert mapping.delete(ctx, SQS_NAME, created.outputs) is True
    assert mapping.find(ctx, SQS_NAME, sqs_desired(queue_arn)) is None
    assert mapping.delete(ctx, SQS_NAME, created.outputs) is False
    assert mapping.delete(ctx, SQS_NAME, None) is False


def test_delete_by_name(ctx, function, queue_arn):
    mapping.create(ctx, SQS_NAME, sqs_desired(queue_arn))
    assert mapping.delete(ctx, SQS_NAME, None) is True
    assert mapping.find(ctx, SQS_NAME, sqs_desired(queue_arn)) is None


SQS_DENIED = (
    "The provided execution role does not have permissions to call ReceiveMessage on SQS",
    "The provided execution role does not have permissions to call SendMessage on SQS",
)
STREAM_DENIED = (
    "Cannot access stream arn:aws:dynamodb:us-east-1:123456789012:table/orderpoc-test-orders/stream/2024. "
    "Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams "
    "Actions on your stream in IAM."
)


@pytest.mark.parametrize("message", SQS_DENIED)
def test_sqs_permissions_not_yet_in_force_are_waited_out(ctx, function, queue_arn, clock, message):
    attempts = clock.refuse_until(
        ctx.clients, "before-call.lambda.CreateEventSourceMapping", 40, "InvalidParameterValueException", message
    )
    created = mapping.create(ctx, SQS_NAME, sqs_desired(queue_arn))
    assert attempts[-1] >= 40
    assert mapping.find(ctx, SQS_NAME, sqs_desired(queue_arn)).outputs == created.outputs
    assert any(m.startswith("waiting for IAM to propagate … ") for m in ctx.messages)


def test_stream_permissions_not_yet_in_force_are_waited_out(ctx, function, stream_arn, queue_arn, clock):
    attempts = clock.refuse_until(
        ctx.clients, "before-call.lambda.CreateEventSourceMapping", 100, "InvalidParameterValueException", STREAM_DENIED
    )
    mapping.create(ctx, STREAM_NAME, stream_desired(stream_arn, queue_arn))
    assert attempts[-1] >= 100  # a policy change that took well over the ~10 s the count-based retry lasted
    assert any(m.startswith("waiting for IAM to propagate … ") for m in ctx.messages)


def test_stream_permissions_that_never_arrive_fail_with_a_clear_message(ctx, function, stream_arn, queue_arn, clock):
    clock.refuse_until(
        ctx.clients, "before-call.lambda.CreateEventSourceMapping", 1e9, "InvalidParameterValueException", STREAM_DENIED
    )
    with pytest.raises(ResourceError, match="gave up waiting for IAM to propagate after 180 s: .*Cannot access stream"):
        mapping.create(ctx, STREAM_NAME, stream_desired(stream_arn, queue_arn))


def test_a_previous_mapping_still_deleting_is_waited_out(ctx, function, queue_arn, clock):
    """`up` right after `down`: Lambda says a mapping on the source exists, but it is Deleting."""
    message = (
        f"An event source mapping with SQS arn ({queue_arn}) and function ({FUNCTION}) already exists. "
        "Please update or delete the existing mapping with UUID 0000"
    )
    attempts = clock.refuse_until(
        ctx.clients, "before-call.lambda.CreateEventSourceMapping", 30, "ResourceConflictException", message
    )
    mapping.create(ctx, SQS_NAME, sqs_desired(queue_arn))
    assert attempts[-1] >= 30
    assert any(m.startswith("waiting for the previous mapping on this source to be deleted … ") for m in ctx.messages)

"""Read-mostly access to moto's in-process state: the one place (with patches.py) that knows moto's
internals. Checked against moto 5.2.1 (pinned in pyproject.toml).

Everything the embedded AWS wires up is read from here at the moment it is needed, so what runs is
exactly what was provisioned through the API.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from moto.apigateway.models import apigateway_backends
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.logs.models import logs_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

ACCOUNT = DEFAULT_ACCOUNT_ID  # what moto maps the fake credentials (test/test) to


def _regions(backend_dict: Any) -> Iterator[tuple[str, str, Any]]:
    """(account, region, backend) for every backend moto has instantiated (copies: threads add)."""
    for account, per_region in list(backend_dict.items()):
        for region, backend in list(per_region.items()):
            yield account, region, backend


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    return parts[3], parts[4], parts[5]


# -- Lambda ---------------------------------------------------------------------------------------


def find_function(ref: str, region: str, qualifier: str | None = None, account: str = ACCOUNT) -> LambdaFunction | None:
    """A function by name, partial or full ARN (an ARN's region/account win), or None."""
    if ref.startswith("arn:"):
        region, account, _ = arn_parts(ref)
    try:
        return lambda_backends[account][region].get_function(ref, qualifier)
    except Exception:  # moto raises UnknownFunctionException / ValueError for bad refs
        return None


def function_config(fn: LambdaFunction) -> dict[str, Any]:
    """What a warm environment depends on; a change in any of it replaces the workers."""
    return {
        "arn": fn.function_arn,
        "name": fn.function_name,
        "version": str(fn.version),
        "region": fn.region,
        "account": fn.account_id,
        "handler": fn.handler or "",
        "runtime": fn.run_time or "",
        "timeout": int(fn.timeout or 3),
        "memory": int(fn.memory_size or 128),
        "env": dict(fn.environment_vars or {}),
        "code_sha": getattr(fn, "code_sha_256", ""),
        "reserved": fn.reserved_concurrency,
    }


def function_code(fn: LambdaFunction) -> bytes:
    return getattr(fn, "code_bytes", b"") or b""


def event_source_mappings() -> list[dict[str, Any]]:
    """Every event source mapping's configuration, as GetEventSourceMapping would return it."""
    found = []
    for _account, _region, backend in _regions(lambda_backends):
        for esm in backend.list_event_source_mappings("", ""):
            found.append(esm.get_configuration())
    return found


def lambda_permissions(fn: LambdaFunction) -> list[dict[str, Any]]:
    return list(getattr(fn.policy, "statements", []) or [])


# -- DynamoDB Streams -----------------------------------------------------------------------------


def stream_shard(stream_arn: str) -> Any | None:
    """The (single) shard moto keeps for a table's stream, if the stream still is that ARN."""
    region, account, resource = arn_parts(stream_arn)  # table/{name}/stream/{label}
    _, table_name, _, label = resource.split("/", 3)
    try:
        table = dynamodb_backends[account][region].get_table(table_name)
    except Exception:
        return None
    if table.latest_stream_label != label or table.stream_shard is None:
        return None
    return table.stream_shard


def read_stream(shard: Any, position: int, limit: int, stream_arn: str) -> list[dict[str, Any]]:
    """Up to `limit` records from sequence number `position`, in Lambda's DynamoDB event shape."""
    start = max(position - shard.starting_sequence_number, 0)
    region = arn_parts(stream_arn)[0]
    records = []
    for item in shard.items[start : start + limit]:
        raw = item.to_json()
        ddb = dict(raw["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, dt.datetime):
            ddb["ApproximateCreationDateTime"] = int(created.replace(tzinfo=dt.UTC).timestamp())
        records.append(
            {
                "eventID": raw["eventID"],
                "eventName": raw["eventName"],
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": json.loads(json.dumps(ddb)),  # a private copy
                "eventSourceARN": stream_arn,
            }
        )
    return records


def stream_start(shard: Any, starting_position: str) -> int:
    if starting_position == "LATEST":
        return shard.starting_sequence_number + len(shard.items)
    return shard.starting_sequence_number


def shard_id(shard: Any) -> str:
    return str(shard.id)


# -- SQS (the event source pollers) ---------------------------------------------------------------

_SYSTEM_ATTRIBUTES = (  # what ReceiveMessage returns for MessageSystemAttributeNames=All
    ("SenderId", "sender_id"),
    ("SentTimestamp", "sent_timestamp"),
    ("ApproximateReceiveCount", "approximate_receive_count"),
    ("ApproximateFirstReceiveTimestamp", "approximate_first_receive_timestamp"),
    ("MessageDeduplicationId", "deduplication_id"),
    ("MessageGroupId", "group_id"),
    ("SequenceNumber", "sequence_number"),
)


def sqs_receive(account: str, region: str, queue_name: str, count: int, wait: int) -> list[dict[str, Any]]:
    """ReceiveMessage (all attributes, the queue's visibility timeout) through moto's own backend
    call: visibility, receive counts and the redrive to the DLQ are SQS's; only the HTTP round trip
    and its (de)serialization are skipped. Messages in ReceiveMessage's response shape."""
    backend = sqs_backends[account][region]
    queue: Any = backend.get_queue(queue_name)
    found = []
    for message in backend.receive_message(queue_name, count, wait, int(queue.visibility_timeout), ["All"]):
        attributes = {}
        for name, field in _SYSTEM_ATTRIBUTES:
            value = getattr(message, field, None)
            if value is not None:
                attributes[name] = str(value)
        trace = (message.system_attributes or {}).get("AWSTraceHeader")
        if trace and trace.get("StringValue"):
            attributes["AWSTraceHeader"] = trace["StringValue"]
        found.append(
            {
                "MessageId": message.id,
                "ReceiptHandle": message.receipt_handle,
                "MD5OfBody": message.body_md5,
                "Body": message.body,
                "MessageAttributes": dict(message.message_attributes or {}),
                "Attributes": attributes,
            }
        )
    return found


def sqs_wait(account: str, region: str, queue_name: str, seconds: float) -> None:
    """Until a message is visible in the queue (SendMessage wakes it) or `seconds` pass."""
    queue: Any = sqs_backends[account][region].get_queue(queue_name)
    queue.wait_for_messages(seconds)


def sqs_delete(account: str, region: str, queue_name: str, receipt_handles: list[str]) -> None:
    backend = sqs_backends[account][region]
    for handle in receipt_handles:
        backend.delete_message(queue_name, handle)


def sqs_release(account: str, region: str, queue_name: str, receipt_handles: list[str]) -> None:
    """Visibility timeout 0: the messages are visible again at once (ChangeMessageVisibility)."""
    backend = sqs_backends[account][region]
    for handle in receipt_handles:
        backend.change_message_visibility(queue_name, handle, 0)


# -- Destinations (on-failure records) ------------------------------------------------------------


def send_to_destination(arn: str, message: str) -> None:
    """Deliver a message to an SQS queue or SNS topic ARN, as Lambda's destinations do."""
    region, account, resource = arn_parts(arn)
    service = arn.split(":")[2]
    if service == "sqs":
        sqs_backends[account][region].send_message(resource, message)
    elif service == "sns":
        sns_backends[account][region].publish(message, arn)
    else:
        raise ValueError(f"unsupported destination {arn}")


# -- CloudWatch Logs ------------------------------------------------------------------------------


def put_log_events(account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    """Append events, creating the stream on first use as the Lambda service does. A missing group
    is not made: the stack's roles may not create one (up creates it, with its retention), so AWS
    drops those lines. An invocation still running while `down` deletes its group must not bring
    the group back."""
    backend = logs_backends[account][region]
    if group not in backend.groups:
        return
    if stream not in backend.groups[group].streams:
        backend.create_log_stream(group, stream)
    backend.put_log_events(group, stream, events)


# -- API Gateway ----------------------------------------------------------------------------------


def find_rest_api(api_id: str) -> tuple[Any, Any] | None:
    """(backend, RestAPI) for an API id in any region."""
    for _account, _region, backend in _regions(apigateway_backends):
        api = backend.apis.get(api_id)
        if api is not None:
            return backend, api
    return None

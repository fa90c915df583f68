"""The Lambda function tests' (test_fn_*.py) loader, Pipeline handle and event builders; their
fixtures (`fns`, `moto`, `pipeline`) are in conftest.py.

The functions are imported the way Lambda imports them: lambda_src on sys.path, top-level module
names (`intake`, `orderlib`, ...). `pipeline` runs moto in-process with the real queue, table
(Streams NEW_IMAGE) and topic, plus an SQS "sink" subscribed to the topic to observe what the
notifier published.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
MODULES = ("orderschema", "orderlib", "intake", "processor", "notifier")
REGION = "us-east-1"


def load_functions() -> dict[str, ModuleType]:
    """Import (once) the lambda_src modules, evicting same-named modules from elsewhere."""
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC))
    loaded: dict[str, ModuleType] = {}
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree that gets zipped
    try:
        for name in MODULES:
            module = sys.modules.get(name)
            if module is None or Path(getattr(module, "__file__", "") or "").parent != LAMBDA_SRC:
                sys.modules.pop(name, None)
                module = importlib.import_module(name)
            loaded[name] = module
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return loaded


@dataclass
class Context:
    """The part of the Lambda context object the functions read."""

    aws_request_id: str = "req-0001"
    function_name: str = "test"


@dataclass
class Pipeline:
    sqs: Any
    dynamodb: Any
    sns: Any
    streams: Any
    queue_url: str
    table: str
    topic_arn: str
    sink_url: str
    fns: dict[str, ModuleType] = field(default_factory=dict)

    # --- calling the functions -------------------------------------------------------------
    def intake(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return self.fns["intake"].handler(event, context if context is not None else Context())

    def processor(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.fns["processor"].handler({"Records": records}, Context())

    def notifier(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.fns["notifier"].handler({"Records": records}, Context())

    # --- observing AWS ----------------------------------------------------------------------
    def queued(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Receive (and thereby hide) what intake enqueued, as Lambda SQS event records."""
        got = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        return [sqs_record(m) for m in got.get("Messages", [])]

    def queue_depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

    def rows(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        items = self.dynamodb.scan(TableName=self.table, ConsistentRead=True)["Items"]
        des = TypeDeserializer()
        return [{k: des.deserialize(v) for k, v in item.items()} for item in items]

    def stream_records(self) -> list[dict[str, Any]]:
        """Everything on the table's stream so far, shaped as Lambda's DynamoDB event records."""
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        records: list[dict[str, Any]] = []
        for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for record in self.streams.get_records(ShardIterator=iterator)["Records"]:
                stream = dict(record["dynamodb"])
                created = stream.get("ApproximateCreationDateTime")
                if hasattr(created, "timestamp"):  # boto3 parses it; Lambda passes epoch seconds
                    stream["ApproximateCreationDateTime"] = created.timestamp()
                records.append({**record, "dynamodb": stream, "eventSourceARN": arn})
        return records

    def published(self) -> list[dict[str, Any]]:
        """SNS envelopes delivered to the sink queue (Subject, Message, MessageAttributes)."""
        got = self.sqs.receive_message(QueueUrl=self.sink_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


# --- event builders ------------------------------------------------------------------------

VALID_ORDER: dict[str, Any] = {
    "customerId": "cust-42",
    "items": [
        {"sku": "TSHIRT-M", "quantity": 3, "unitPrice": "19.99"},
        {"sku": "mug_1", "quantity": 1, "unitPrice": 5},
    ],
    "currency": "EUR",
    "note": "leave at the door",
}


def order(**changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(VALID_ORDER))
    body.update(changes)
    return body


def api_event(
    method: str = "POST",
    path: str = "/order",
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    raw_body: str | None = None,
    base64_body: bool = False,
    multi_headers: dict[str, list[str]] | None = None,
    stage: str = "prod",
) -> dict[str, Any]:
    """An API Gateway REST proxy event (payload 1.0) as API Gateway sends it."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    if headers is None:
        headers = {"Content-Type": "application/json"}
    parts = [p for p in path.split("/") if p]
    resource, params = path, None
    if len(parts) == 2 and parts[0] == "order":
        resource, params = "/order/{orderId}", {"orderId": parts[1]}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers
        if multi_headers is not None
        else ({k: [v] for k, v in headers.items()} if headers else None),
        "queryStringParameters": None,
        "pathParameters": params,
        "requestContext": {"stage": stage, "path": f"/{stage}{path}", "requestId": "api-req-1"},
        "body": text,
        "isBase64Encoded": base64_body,
    }


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """An SQS message as Lambda's SQS event source hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message.get("ReceiptHandle", "rh"),
        "body": message["Body"],
        "attributes": message.get("Attributes", {"ApproximateReceiveCount": "1"}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orderpoc-orders",
        "awsRegion": REGION,
    }


def raw_sqs_record(body: str, message_id: str) -> dict[str, Any]:
    return sqs_record({"MessageId": message_id, "Body": body})


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def fail_calls(client: Any, operation: str, error: Exception, when: Any = None) -> None:
    """Make `operation` on this (real, moto-backed) client raise `error`, optionally only when
    `when(params)` is true: botocore's own event hooks, so everything else stays real."""
    service = client.meta.service_model.service_name

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when is None or when(params):
            raise error

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", hook)


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def refuse_batch_entries(client: Any, operation: str, code: str, when: Any) -> list[str]:
    """Make a batch call (SNS PublishBatch) answer `code` in `Failed` for the entries where
    `when(entry)` is true, as the service does for a partial failure; the other entries really go
    out (moto). Returns the refused entry Ids, filled as calls are made. A call must keep at least
    one entry (an empty batch is a different error)."""
    service = client.meta.service_model.service_name
    refused: list[str] = []
    this_call: list[str] = []

    def take_out(params: dict[str, Any], **_: Any) -> None:
        entries = params["PublishBatchRequestEntries"]
        this_call[:] = [e["Id"] for e in entries if when(e)]
        params["PublishBatchRequestEntries"] = [e for e in entries if e["Id"] not in this_call]
        refused.extend(this_call)

    def report(parsed: dict[str, Any], **_: Any) -> None:
        parsed.setdefault("Failed", []).extend(
            {"Id": ident, "Code": code, "Message": "refused by the test", "SenderFault": False} for ident in this_call
        )

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", take_out)
    client.meta.events.register(f"after-call.{service}.{operation}", report)
    return refused

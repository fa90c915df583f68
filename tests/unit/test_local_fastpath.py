"""fastpath.py answers the pipeline's SQS, DynamoDB and SNS calls as moto's server app does.

The same boto3 calls are made twice on a fresh moto, once through moto's app and once through the
shortcut (in process, as WSGI), and every answer is compared: status, headers, body, with only
what is random per call (request ids, message ids, receipt handles, clocks) masked.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder

from orderpoc.local.fastpath import FastPath
from orderpoc.local.routing import moto_app

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, dict[str, str], bytes]
HOST = "127.0.0.1:4566"
VOLATILE_HEADERS = {"x-amzn-requestid", "x-amz-crc32", "date", "content-length"}
MASKS = [
    (rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", b"<uuid>"),
    (rb"\d{4}-\d\d-\d\dT[\d:.]+Z?", b"<time>"),
    (rb"\b\d{10}(\.\d+)?\b|\b\d{13}\b", b"<epoch>"),
    (rb'"ReceiptHandle": ?"[^"]*"', b'"ReceiptHandle": "<handle>"'),
    (rb"<RequestId>[^<]*</RequestId>", b"<RequestId/>"),
]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._body


def _call(app: App, method: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
    parts = urlsplit(url)
    environ = EnvironBuilder(
        method=method, path=parts.path, query_string=parts.query, headers=headers, data=body
    ).get_environ()
    environ["HTTP_HOST"] = HOST
    started: list[Any] = []
    chunks = list(app(environ, lambda status, hdrs, exc_info=None: started.extend([status, hdrs])))
    status, header_list = started
    return int(status.split()[0]), dict(header_list), b"".join(chunks)


def _clients(app: App, answers: list[Answer]) -> dict[str, Any]:
    """boto3 clients whose requests go to `app` in process; every raw answer lands in `answers`."""
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")

    def send(request: Any, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        sent = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        status, headers, content = _call(app, request.method, request.url, sent, body)
        answers.append((status, headers, content))
        return AWSResponse(request.url, status, headers, _Raw(content))

    session.events.register("before-send", send)
    return {name: session.client(name, endpoint_url=f"http://{HOST}") for name in ("sqs", "sns", "dynamodb")}


def _pipeline_calls(clients: dict[str, Any]) -> None:
    sqs, sns, ddb = clients["sqs"], clients["sns"], clients["dynamodb"]
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"orderId": {"DataType": "String", "StringValue": "o-1"}}
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f'{{"n":{n}}}', MessageAttributes=attributes)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[1:])]
    sqs.delete_message_batch(QueueUrl=url, Entries=[*entries, {"Id": "bad", "ReceiptHandle": "nope"}])
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])

    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    item = {"orderId": {"S": "o-1"}, "total": {"N": "12.50"}, "lines": {"L": [{"M": {"sku": {"S": "a"}}}]}}
    put = {"TableName": "orders", "Item": item, "ConditionExpression": "attribute_not_exists(orderId)"}
    ddb.put_item(**put)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ddb.put_item(**put, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    ddb.get_item(TableName="orders", Key={"orderId": {"S": "o-1"}}, ConsistentRead=True)
    ddb.query(
        TableName="orders", KeyConditionExpression="orderId = :o", ExpressionAttributeValues={":o": item["orderId"]}
    )
    ddb.scan(TableName="orders", Select="COUNT")
    ddb.scan(TableName="orders", ReturnConsumedCapacity="TOTAL")

    topic = sns.create_topic(Name="events")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="one", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": str(i), "Message": f"m{i}"} for i in range(3)])
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)


def _error_calls(clients: dict[str, Any]) -> None:
    sqs, sns, ddb = clients["sqs"], clients["sns"], clients["dynamodb"]
    missing_queue = f"http://{HOST}/123456789012/missing"
    for call in (
        lambda: sqs.send_message(QueueUrl=missing_queue, MessageBody="x"),
        lambda: sqs.get_queue_url(QueueName="missing"),
        lambda: ddb.get_item(TableName="missing", Key={"orderId": {"S": "o"}}),
        lambda: ddb.put_item(TableName="missing", Item={"orderId": {"S": "o"}}),
        lambda: sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:missing", Message="x"),
    ):
        with pytest.raises(ClientError):
            call()


def _masked(answer: Answer) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = answer
    assert int(headers["Content-Length"]) == len(body), answer
    crc = headers.get("x-amz-crc32")
    if crc is not None:  # random ids are in the body: its checksum must match it, not the other run's
        assert int(crc) == zlib.crc32(body), answer
    kept = {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() not in VOLATILE_HEADERS and not name.lower().startswith("access-control-")
    }
    for pattern, mask in MASKS:
        body = re.sub(pattern, mask, body)
    return status, kept, body


def _answers(app: App, calls: Callable[[dict[str, Any]], None]) -> list[Answer]:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    answers: list[Answer] = []
    try:
        calls(_clients(app, answers))
    finally:
        moto_api_backend.reset()
    return answers


def _fast_only(fast: FastPath) -> App:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answered = fast(environ, start_response)
        assert answered is not None, (environ.get("HTTP_X_AMZ_TARGET"), environ.get("HTTP_AUTHORIZATION"))
        return answered

    return app


@pytest.mark.parametrize("calls", [_pipeline_calls, _error_calls], ids=["pipeline", "errors"])
def test_fast_path_answers_as_motos_app(calls: Callable[[dict[str, Any]], None]) -> None:
    expected = [_masked(a) for a in _answers(moto_app(), calls)]
    got = [_masked(a) for a in _answers(_fast_only(FastPath()), calls)]
    assert len(got) == len(expected) > 4
    for mine, moto in zip(got, expected, strict=True):
        assert mine == moto
    assert any(status >= 400 for status, _, _ in got)


@pytest.mark.parametrize(
    ("environ", "why"),
    [
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, "not a POST"),
        ({"PATH_INFO": "/123456789012/orders"}, "a queue URL path"),
        ({"HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}, "DynamoDB Streams"),
        ({"HTTP_CONTENT_ENCODING": "gzip"}, "a compressed body"),
        ({"HTTP_AUTHORIZATION": ""}, "unsigned"),
        (
            {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/lambda/aws4_request, x"},
            "Lambda",
        ),
    ],
)
def test_anything_else_goes_to_motos_app(environ: dict[str, Any], why: str) -> None:
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/dynamodb/aws4_request, x",
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
    }
    fast = FastPath()
    assert fast.service(base) == "dynamodb"
    assert fast.service({**base, **environ}) is None, why

"""The hot JSON calls parsed by json.loads give exactly what moto's model-driven walk gives, and
every body the walk would change (blobs, nulls) still gets the walk. Bodies are made by botocore's
own serializer, as every SDK client sends them."""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

import pytest
from botocore.serialize import create_serializer
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.utils import get_service_model

from orderpoc.local import moto_parse

ITEM = {
    "orderId": {"S": "o-1"},
    "total": {"N": "19.99"},
    "items": {"L": [{"M": {"sku": {"S": "A"}, "quantity": {"N": "2"}}}]},
    "paid": {"BOOL": True},
    "tags": {"SS": ["x", "y"]},
}
PLAIN = [
    ("dynamodb", "PutItem", {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(orderId)"}),
    ("dynamodb", "GetItem", {"TableName": "t", "Key": {"orderId": {"S": "o-1"}}, "ConsistentRead": True}),
    (
        "dynamodb",
        "BatchGetItem",
        {"RequestItems": {"t": {"Keys": [{"orderId": {"S": "o-1"}}], "ProjectionExpression": "orderId, #at"}}},
    ),
    ("dynamodb", "Query", {"TableName": "t", "KeyConditionExpression": "k = :k", "Limit": 5}),
    (
        "sqs",
        "SendMessage",
        {
            "QueueUrl": "http://q",
            "MessageBody": '{"orderId": "o-1"}',
            "DelaySeconds": 0,
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "order"}},
        },
    ),
    ("sqs", "SendMessageBatch", {"QueueUrl": "http://q", "Entries": [{"Id": "1", "MessageBody": "b"}]}),
    ("sqs", "ReceiveMessage", {"QueueUrl": "http://q", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
    ("sqs", "DeleteMessage", {"QueueUrl": "http://q", "ReceiptHandle": "abc"}),
    ("sqs", "DeleteMessageBatch", {"QueueUrl": "http://q", "Entries": [{"Id": "1", "ReceiptHandle": "abc"}]}),
]
WALKED = [  # what the walk changes: blobs decoded
    ("dynamodb", "PutItem", {"TableName": "t", "Item": {"orderId": {"S": "o"}, "raw": {"B": b"\x00\x01"}}}),
    ("dynamodb", "PutItem", {"TableName": "t", "Item": {"orderId": {"S": "o"}, "raws": {"BS": [b"\x02"]}}}),
    (
        "sqs",
        "SendMessage",
        {"QueueUrl": "q", "MessageBody": "b", "MessageAttributes": {"k": {"DataType": "Binary", "BinaryValue": b"x"}}},
    ),
]


def _body(service: str, operation: str, params: dict[str, Any]) -> str:
    model = get_service_model(service)
    serialized = create_serializer("json").serialize_to_request(params, model.operation_model(operation))
    body = serialized["body"]
    return body.decode() if isinstance(body, bytes) else body


def _walk(service: str, operation: str, body: str) -> dict[str, Any]:
    parser = PROTOCOL_PARSERS["json"](get_service_model(service).operation_model(operation), map_type=dict)
    request = {"method": "POST", "values": {}, "headers": {}, "body": body.encode(), "url_path": "/", "url_params": {}}
    return parser.parse(request)


@pytest.mark.parametrize(("service", "operation", "params"), PLAIN, ids=[f"{s}.{o}" for s, o, _ in PLAIN])
def test_a_plain_body_parses_to_what_motos_walk_returns(service: str, operation: str, params: dict) -> None:
    body = _body(service, operation, params)
    parsed = moto_parse.plain_json(service, operation, body)
    assert parsed is not None
    assert parsed == _walk(service, operation, body)


@pytest.mark.parametrize(("service", "operation", "params"), WALKED, ids=["B", "BS", "BinaryValue"])
def test_a_body_the_walk_would_change_gets_the_walk(service: str, operation: str, params: dict) -> None:
    body = _body(service, operation, params)
    assert moto_parse.plain_json(service, operation, body) is None
    assert json.loads(body) != _walk(service, operation, body)  # the walk does change it: blobs decoded


def test_nulls_other_calls_and_non_objects_get_the_walk() -> None:
    assert moto_parse.plain_json("dynamodb", "GetItem", '{"TableName": "t", "Key": null}') is None
    assert moto_parse.plain_json("dynamodb", "CreateTable", '{"TableName": "t"}') is None  # not a hot call
    assert moto_parse.plain_json("sqs", "DeleteMessage", "[1, 2]") is None
    assert moto_parse.plain_json("sqs", "DeleteMessage", "{not json") is None
    escaped = '{"TableName": "t", "Item": {"k": {"\\u0042": "AAE="}}}'  # "B", spelt so no check sees it
    assert moto_parse.plain_json("dynamodb", "PutItem", escaped) is None
    assert _walk("dynamodb", "PutItem", escaped)["Item"]["k"] == {"B": b"\x00\x01"}


def test_the_converted_members_are_found_through_nested_and_recursive_shapes() -> None:
    put_item = get_service_model("dynamodb").operation_model("PutItem").input_shape
    assert moto_parse.sensitive_names(put_item) == {"B", "BS"}  # AttributeValue nests itself in L and M
    send = get_service_model("sqs").operation_model("SendMessage").input_shape
    assert moto_parse.sensitive_names(send) == {"BinaryValue", "BinaryListValues"}
    assert base64.b64encode(b"x").decode() in _body("sqs", "SendMessage", WALKED[2][2])


def test_through_moto_a_plain_put_skips_the_walk_and_a_blob_put_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.core.parse import JSONParser

    moto_parse.apply()
    walks: list[str] = []
    parse = JSONParser.parse
    monkeypatch.setattr(JSONParser, "parse", lambda self, request: walks.append("walk") or parse(self, request))
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        walks.clear()
        ddb.put_item(TableName="t", Item=ITEM, ConditionExpression="attribute_not_exists(orderId)")
        assert walks == []
        ddb.put_item(TableName="t", Item={"orderId": {"S": "o-2"}, "raw": {"B": b"\x00\xff"}})
        assert walks == ["walk"]
        assert ddb.get_item(TableName="t", Key={"orderId": {"S": "o-1"}})["Item"] == ITEM
        assert ddb.get_item(TableName="t", Key={"orderId": {"S": "o-2"}})["Item"]["raw"] == {"B": b"\x00\xff"}


QUERY_CALLS = [
    (
        "PublishBatch",
        {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "PublishBatchRequestEntries": [
                {
                    "Id": str(i),
                    "Subject": "Order received",
                    "Message": json.dumps({"orderId": f"o-{i}"}),
                    "MessageAttributes": {
                        "eventType": {"DataType": "String", "StringValue": "OrderReceived"},
                        "orderId": {"DataType": "String", "StringValue": f"o-{i}"},
                    },
                }
                for i in range(1, 13)  # past 10 and 11: "member.1" is a prefix of "member.10"
            ],
        },
    ),
    ("Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m", "Subject": "s"}),
    (
        "Subscribe",
        {"TopicArn": "arn:t", "Protocol": "sqs", "Endpoint": "arn:q", "Attributes": {"RawMessageDelivery": "true"}},
    ),
    ("ListTopics", {}),
]


@pytest.mark.parametrize(("operation", "params"), QUERY_CALLS, ids=[o for o, _ in QUERY_CALLS])
def test_a_query_body_parses_as_motos_walk_over_werkzeugs_fields(operation: str, params: dict) -> None:
    from urllib.parse import urlencode

    from moto.core.parse import QueryParser
    from werkzeug import Request

    model = get_service_model("sns").operation_model(operation)
    body = urlencode(create_serializer("query").serialize_to_request(params, model)["body"])
    fields = Request.from_values(method="POST", data=body, content_type="application/x-www-form-urlencoded").values
    request = {
        "method": "POST",
        "values": fields,
        "headers": {},
        "body": body.encode(),
        "url_path": "/",
        "url_params": {},
    }
    moto_parse.apply()
    assert moto_parse.moto_query_methods is not None
    motos_do_parse, motos_gonna_recurse = moto_parse.moto_query_methods
    theirs = QueryParser(model, map_type=dict)
    theirs._gonna_recurse = functools.partial(motos_gonna_recurse, theirs)  # type: ignore[method-assign]
    expected = motos_do_parse(theirs, request, model.input_shape)
    assert QueryParser(model, map_type=dict).parse(request) == expected
    if operation == "PublishBatch":
        assert [e["Id"] for e in expected["PublishBatchRequestEntries"]] == [str(i) for i in range(1, 13)]

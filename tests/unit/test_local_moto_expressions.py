"""DynamoDB expressions parsed once answer as moto's parser does: conditions, filters, errors."""

from __future__ import annotations

import sys
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import comparisons

from orderpoc.local import moto_expressions


def test_the_same_expression_gives_the_same_tree_and_other_values_another() -> None:
    parse = moto_expressions.memoized(comparisons.get_filter_expression)
    first = parse("customerId = :c", None, {":c": {"S": "a"}})
    assert parse("customerId = :c", None, {":c": {"S": "a"}}) is first
    assert parse("customerId = :c", None, {":c": {"S": "b"}}) is not first
    assert parse("#c = :c", {"#c": "customerId"}, {":c": {"S": "a"}}) is not first
    with pytest.raises(Exception):  # noqa: B017  # whatever moto raises for a bad expression, twice
        parse("customerId = = :c", None, {":c": {"S": "a"}})
    with pytest.raises(Exception):  # noqa: B017
        parse("customerId = = :c", None, {":c": {"S": "a"}})


def _pipeline(ddb: Any) -> list[Any]:
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    outcomes: list[Any] = []
    for order, customer in (("o1", "a"), ("o2", "a"), ("o1", "b"), ("o3", "b")):
        try:
            ddb.put_item(
                TableName="t",
                Item={"orderId": {"S": order}, "customerId": {"S": customer}},
                ConditionExpression="attribute_not_exists(orderId)",
            )
            outcomes.append("stored")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    for customer in ("a", "b", "c"):
        scan = ddb.scan(
            TableName="t", FilterExpression="customerId = :c", ExpressionAttributeValues={":c": {"S": customer}}
        )
        outcomes.append(sorted(item["orderId"]["S"] for item in scan["Items"]))
    return outcomes


def test_conditional_puts_and_filtered_scans_answer_as_without_the_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_expressions.apply()
    modules = [m for n, m in sys.modules.items() if n.startswith("moto.dynamodb") and m is not None]
    memoized = {m: m.get_filter_expression for m in modules if hasattr(m, "get_filter_expression")}
    assert any(hasattr(f, "__wrapped__") for f in memoized.values())
    for module, parse in memoized.items():  # moto's own parser for the expected answers
        monkeypatch.setattr(module, "get_filter_expression", getattr(parse, "__wrapped__", parse))
    with mock_aws():
        expected = _pipeline(boto3.client("dynamodb", region_name="us-east-1"))
    monkeypatch.undo()
    with mock_aws():
        assert _pipeline(boto3.client("dynamodb", region_name="us-east-1")) == expected
    assert expected[:4] == ["stored", "stored", "ConditionalCheckFailedException", "stored"]
    assert expected[4:] == [["o1", "o2"], ["o3"], []]

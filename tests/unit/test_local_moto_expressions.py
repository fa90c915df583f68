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
    for names in ({"#o": "orderId"}, {"#o": "orderId", "#unused": "x"}):  # checked by the response layer
        try:
            ddb.put_item(
                TableName="t",
                Item={"orderId": {"S": "o4"}},
                ConditionExpression="attribute_not_exists(#o)",
                ExpressionAttributeNames=names,
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
    from moto.dynamodb import responses

    create = responses.create_condition_expression_parser
    assert hasattr(create, "__wrapped__")
    monkeypatch.setattr(responses, "create_condition_expression_parser", create.__wrapped__)
    with mock_aws():
        expected = _pipeline(boto3.client("dynamodb", region_name="us-east-1"))
    monkeypatch.undo()
    with mock_aws():
        assert _pipeline(boto3.client("dynamodb", region_name="us-east-1")) == expected
    assert expected[:4] == ["stored", "stored", "ConditionalCheckFailedException", "stored"]
    assert expected[4:6] == ["stored", "ValidationException"]
    assert expected[6:] == [["o1", "o2"], ["o3"], []]


@pytest.mark.parametrize(
    ("expr", "names", "values"),
    [
        ("attribute_not_exists(orderId)", {}, {}),
        ("#a = :v AND size(#b) > :n", {"#a": "a", "#b": "b"}, {":v": {"S": "x"}, ":n": {"N": "1"}}),
        (None, {}, {}),
    ],
)
def test_the_response_layers_parse_finds_what_motos_finds_each_time(expr, names, values) -> None:
    create = moto_expressions.memoized_parser(comparisons.create_condition_expression_parser)
    theirs = comparisons.create_condition_expression_parser(expr, names, values)
    theirs.parse()
    for _ in range(2):  # parsed, then from the memo
        ours = create(expr, names, values)
        ours.parse()
        assert ours.expr_attr_names_found == theirs.expr_attr_names_found
        assert ours.expr_attr_values_found == theirs.expr_attr_values_found
    ours.expr_attr_names_found.append("#extended")  # callers extend their list: not the memo's
    again = create(expr, names, values)
    again.parse()
    assert again.expr_attr_names_found == theirs.expr_attr_names_found


def test_a_bad_expression_raises_at_parse_as_motos_does_every_time() -> None:
    create = moto_expressions.memoized_parser(comparisons.create_condition_expression_parser)
    with pytest.raises(Exception) as theirs:
        comparisons.create_condition_expression_parser("a = = :v", {}, {":v": {"S": "x"}}).parse()
    for _ in range(2):
        parser = create("a = = :v", {}, {":v": {"S": "x"}})  # creating it raises nothing
        with pytest.raises(type(theirs.value)):
            parser.parse()

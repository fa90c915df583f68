"""Lambda "intake": HTTP contract, validation, idempotency, failure modes (moto in-process)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from fn_helpers import Context, Pipeline, api_event, fail_calls, json_body, log_lines, order
from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

# A fixed id for parametrised cases: test ids must be the same in every process (pytest-xdist
# workers collect separately and refuse to run when their collections differ).
SOME_ID = "0b7e6f2c-3d4a-4c5b-9e8f-1a2b3c4d5e6f"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def post(p: Pipeline, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> dict:
    return p.intake(api_event("POST", "/order", order() if body is None else body, headers, **kw))


def error_fields(response: dict[str, Any]) -> set[str]:
    return {e["field"] for e in json_body(response)["errors"]}


# --- POST /order: the happy path -----------------------------------------------------------


def test_post_accepts_enqueues_and_logs(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    response = post(pipeline)

    assert response["statusCode"] == 202
    body = json_body(response)
    assert body["status"] == "ACCEPTED" and UUID_RE.match(body["orderId"])
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Location"] == f"/prod/order/{body['orderId']}"

    [record] = pipeline.queued()
    assert record["messageAttributes"]["orderId"]["StringValue"] == body["orderId"]
    message = json.loads(record["body"])
    assert message == {
        "orderId": body["orderId"],
        "customerId": "cust-42",
        "items": [
            {"sku": "TSHIRT-M", "quantity": 3, "unitPrice": "19.99"},
            {"sku": "mug_1", "quantity": 1, "unitPrice": "5.00"},
        ],
        "total": "64.97",
        "currency": "EUR",
        "note": "leave at the door",
        "createdAt": message["createdAt"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", message["createdAt"])

    [line] = log_lines(capsys.readouterr().out)
    assert line["fn"] == "intake" and line["outcome"] == "accepted" and line["status"] == 202
    assert line["orderId"] == body["orderId"] and line["requestId"] == "req-0001"
    assert "cust-42" not in json.dumps(line) and "headers" not in line


def test_defaults_and_amount_forms(pipeline: Pipeline) -> None:
    body = {
        "customerId": "c",
        "items": [
            {"sku": "a", "quantity": 2, "unitPrice": 0.1},  # JSON number, read as exact Decimal
            {"sku": "b", "quantity": 1, "unitPrice": "0.2"},  # numeric string
            {"sku": "c", "quantity": 1000, "unitPrice": 1000000},
            {"sku": "d", "quantity": 1, "unitPrice": "0"},
        ],
    }
    assert post(pipeline, body)["statusCode"] == 202
    message = json.loads(pipeline.queued()[0]["body"])
    assert [i["unitPrice"] for i in message["items"]] == ["0.10", "0.20", "1000000.00", "0.00"]
    assert message["total"] == "1000000000.40"
    assert message["currency"] == "USD" and message["note"] is None
    assert "idempotencyKey" not in message


def test_location_without_stage_context(pipeline: Pipeline) -> None:
    event = api_event(body=order())
    event["requestContext"] = None  # e.g. an emulator that sends no request context
    response = pipeline.intake(event)
    assert response["headers"]["Location"] == f"/order/{json_body(response)['orderId']}"


@pytest.mark.parametrize(
    "headers",
    [
        None,  # API Gateway sends null when the request had no headers
        {"content-type": "application/json; charset=UTF-8"},
        {"CONTENT-TYPE": "application/vnd.orders+json"},
        {"Content-Type": "Application/JSON"},
        {"Content-Type": ""},
    ],
)
def test_accepted_content_types(pipeline: Pipeline, headers: dict[str, str] | None) -> None:
    event = api_event(body=order(), headers=headers or {})
    if headers is None:
        event["headers"] = event["multiValueHeaders"] = None
    assert pipeline.intake(event)["statusCode"] == 202


def test_base64_body_is_decoded(pipeline: Pipeline) -> None:
    assert post(pipeline, base64_body=True)["statusCode"] == 202
    assert len(pipeline.queued()) == 1


def test_context_may_be_none(pipeline: Pipeline, capsys: pytest.CaptureFixture) -> None:
    response = pipeline.fns["intake"].handler(api_event(body=order()), None)
    assert response["statusCode"] == 202
    assert log_lines(capsys.readouterr().out)[0]["requestId"] is None


# --- Idempotency-Key -----------------------------------------------------------------------


def test_same_idempotency_key_same_order_id(pipeline: Pipeline) -> None:
    first = post(pipeline, headers={"Idempotency-Key": "retry-me-1"})
    again = post(pipeline, headers={"idempotency-key": "retry-me-1"})  # names are case-insensitive
    other = post(pipeline, headers={"IDEMPOTENCY-KEY": "retry-me-2"})
    plain = [post(pipeline, headers={}) for _ in range(2)]

    ids = [json_body(r)["orderId"] for r in (first, again, other, *plain)]
    assert ids[0] == ids[1]
    assert len(set(ids)) == 4
    messages = [json.loads(r["body"]) for r in pipeline.queued()]
    assert {m.get("idempotencyKey") for m in messages} == {"retry-me-1", "retry-me-2", None}


def test_idempotency_key_from_multi_value_headers_only(pipeline: Pipeline) -> None:
    event = api_event(body=order(), headers={})
    event["headers"] = None
    event["multiValueHeaders"] = {"Idempotency-Key": ["k-77"]}
    first, second = pipeline.intake(event), post(pipeline, headers={"Idempotency-Key": "k-77"})
    assert json_body(first)["orderId"] == json_body(second)["orderId"]


def test_idempotency_key_is_scoped_by_customer(pipeline: Pipeline) -> None:
    a = post(pipeline, order(customerId="a"), {"Idempotency-Key": "same"})
    b = post(pipeline, order(customerId="b"), {"Idempotency-Key": "same"})
    assert json_body(a)["orderId"] != json_body(b)["orderId"]


@pytest.mark.parametrize("key", ["", "   ", "k" * 129, "bad\x01key", "ключ"])
def test_invalid_idempotency_key(pipeline: Pipeline, key: str) -> None:
    response = post(pipeline, headers={"Idempotency-Key": key})
    assert response["statusCode"] == 400
    assert error_fields(response) == {"headers.Idempotency-Key"}
    assert pipeline.queue_depth() == 0


def test_conflicting_idempotency_keys(pipeline: Pipeline) -> None:
    event = api_event(body=order(), multi_headers={"Idempotency-Key": ["a", "b"]})
    response = pipeline.intake(event)
    assert response["statusCode"] == 400 and pipeline.queue_depth() == 0


def test_key_errors_and_body_errors_are_listed_together(pipeline: Pipeline) -> None:
    response = post(pipeline, order(customerId=""), {"Idempotency-Key": ""})
    assert error_fields(response) == {"headers.Idempotency-Key", "customerId"}


# --- POST /order: bad input ----------------------------------------------------------------


def item(**changes: Any) -> dict[str, Any]:
    return {"sku": "SKU-1", "quantity": 1, "unitPrice": "1.00", **changes}


BAD_ORDERS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("no customer", {"items": [item()]}, {"customerId"}),
    ("empty customer", order(customerId=""), {"customerId"}),
    ("blank customer", order(customerId="   "), {"customerId"}),
    ("long customer", order(customerId="c" * 65), {"customerId"}),
    ("numeric customer", order(customerId=42), {"customerId"}),
    ("control char customer", order(customerId="a\nb"), {"customerId"}),
    ("no items", {"customerId": "c"}, {"items"}),
    ("empty items", order(items=[]), {"items"}),
    ("too many items", order(items=[item()] * 51), {"items"}),
    ("items not a list", order(items={"sku": "a"}), {"items"}),
    ("item not an object", order(items=["SKU-1"]), {"items[0]"}),
    ("sku with space", order(items=[item(sku="a b")]), {"items[0].sku"}),
    ("empty sku", order(items=[item(sku="")]), {"items[0].sku"}),
    ("long sku", order(items=[item(sku="s" * 65)]), {"items[0].sku"}),
    ("missing sku", order(items=[{"quantity": 1, "unitPrice": "1"}]), {"items[0].sku"}),
    ("zero quantity", order(items=[item(quantity=0)]), {"items[0].quantity"}),
    ("huge quantity", order(items=[item(quantity=1001)]), {"items[0].quantity"}),
    ("bool quantity", order(items=[item(quantity=True)]), {"items[0].quantity"}),
    ("float quantity", order(items=[item(quantity=1.0)]), {"items[0].quantity"}),
    ("string quantity", order(items=[item(quantity="2")]), {"items[0].quantity"}),
    ("null quantity", order(items=[item(quantity=None)]), {"items[0].quantity"}),
    ("negative price", order(items=[item(unitPrice=-1)]), {"items[0].unitPrice"}),
    ("negative string price", order(items=[item(unitPrice="-1")]), {"items[0].unitPrice"}),
    ("three decimals", order(items=[item(unitPrice="1.999")]), {"items[0].unitPrice"}),
    ("three decimals number", order(items=[item(unitPrice=1.999)]), {"items[0].unitPrice"}),
    ("NaN string", order(items=[item(unitPrice="NaN")]), {"items[0].unitPrice"}),
    ("Infinity string", order(items=[item(unitPrice="Infinity")]), {"items[0].unitPrice"}),
    ("exponent string", order(items=[item(unitPrice="1e3")]), {"items[0].unitPrice"}),
    ("padded string", order(items=[item(unitPrice=" 1.00")]), {"items[0].unitPrice"}),
    ("empty string price", order(items=[item(unitPrice="")]), {"items[0].unitPrice"}),
    ("over the cap", order(items=[item(unitPrice=1000000.01)]), {"items[0].unitPrice"}),
    ("bool price", order(items=[item(unitPrice=True)]), {"items[0].unitPrice"}),
    ("null price", order(items=[item(unitPrice=None)]), {"items[0].unitPrice"}),
    ("missing price", order(items=[{"sku": "a", "quantity": 1}]), {"items[0].unitPrice"}),
    ("lowercase currency", order(currency="usd"), {"currency"}),
    ("short currency", order(currency="US"), {"currency"}),
    ("numeric currency", order(currency=840), {"currency"}),
    ("long note", order(note="n" * 501), {"note"}),
    ("numeric note", order(note=5), {"note"}),
    ("control char note", order(note="a\x00b"), {"note"}),
    ("unknown top-level field", order(price=1), {"price"}),
    ("unknown item field", order(items=[item(discount=1)]), {"items[0].discount"}),
    (
        "everything at once",
        {"customerId": "", "items": [item(sku="", quantity=0, unitPrice="x"), item(colour="red")], "currency": "x"},
        {"customerId", "items[0].sku", "items[0].quantity", "items[0].unitPrice", "items[1].colour", "currency"},
    ),
]


@pytest.mark.parametrize("body,fields", [(b, f) for _, b, f in BAD_ORDERS], ids=[name for name, _, _ in BAD_ORDERS])
def test_invalid_order_lists_every_problem(pipeline: Pipeline, body: dict[str, Any], fields: set[str]) -> None:
    response = post(pipeline, body)
    assert response["statusCode"] == 400, response
    assert json_body(response)["message"] == "invalid order"
    assert error_fields(response) == fields
    assert pipeline.queue_depth() == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"customerId": "c", "items": [{"sku": "a", "quantity": 1, "unitPrice": 1e400}]}',
        '{"customerId": "c", "items": [{"sku": "a", "quantity": 1, "unitPrice": 1E-999999999}]}',
        '{"customerId": "c", "items": [{"sku": "a", "quantity": 1e2, "unitPrice": 1}]}',
        '{"customerId": "c", "items": [{"sku": "a", "quantity": 1, "unitPrice": "\\u0661"}]}',
        '{"customerId": "\\ud800", "items": [{"sku": "a", "quantity": 1, "unitPrice": 1}]}',
    ],
)
def test_number_and_unicode_weirdness(pipeline: Pipeline, raw: str) -> None:
    response = post(pipeline, raw_body=raw)
    assert response["statusCode"] == 400 and json_body(response)["message"] == "invalid order"
    assert pipeline.queue_depth() == 0


@pytest.mark.parametrize(
    "raw,message",
    [
        ("{", "request body is not valid JSON"),
        ("", "request body is required"),
        ("[]", "invalid order"),
        ("null", "invalid order"),
        ('"an order"', "invalid order"),
        ("42", "invalid order"),
        ('{"customerId": NaN}', "request body is not valid JSON"),
        ('{"customerId": "a", "customerId": "b"}', "request body is not valid JSON"),
        ("[" * 40000, "request body is not valid JSON"),
        ('{"n": ' + "9" * 5000 + "}", "request body is not valid JSON"),
        ("\ud800", "request body is not valid UTF-8"),
    ],
)
def test_bad_json(pipeline: Pipeline, raw: str, message: str) -> None:
    response = post(pipeline, raw_body=raw)
    assert response["statusCode"] == 400
    assert json_body(response)["message"] == message
    assert json_body(response)["errors"]
    assert pipeline.queue_depth() == 0


def test_missing_body(pipeline: Pipeline) -> None:
    event = api_event(body=None)
    assert pipeline.intake(event)["statusCode"] == 400


@pytest.mark.parametrize("body", ["not base64!", "eyJh", base64.b64encode(b"\xff\xfe{}").decode()])
def test_bad_base64_body(pipeline: Pipeline, body: str) -> None:
    event = api_event(raw_body="x")
    event.update(body=body, isBase64Encoded=True)
    response = pipeline.intake(event)
    assert response["statusCode"] == 400 and pipeline.queue_depth() == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "multipart/form-data; boundary=x",
    ],
)
def test_unsupported_media_type(pipeline: Pipeline, content_type: str) -> None:
    response = post(pipeline, headers={"Content-Type": content_type})
    assert response["statusCode"] == 415 and pipeline.queue_depth() == 0


@pytest.mark.parametrize("base64_body", [False, True])
def test_body_too_large(pipeline: Pipeline, base64_body: bool) -> None:
    big = order(note="x" * 70000)
    response = post(pipeline, big, base64_body=base64_body)
    assert response["statusCode"] == 413 and pipeline.queue_depth() == 0


# --- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,status,allow",
    [
        ("GET", "/order", 405, "POST"),
        ("PUT", "/order", 405, "POST"),
        ("DELETE", f"/order/{SOME_ID}", 405, "GET"),
        ("POST", f"/order/{SOME_ID}", 405, "GET"),
        ("GET", "/orders", 404, None),
        ("POST", "/", 404, None),
        ("GET", "/order/a/b", 404, None),
    ],
)
def test_routes(pipeline: Pipeline, method: str, path: str, status: int, allow: str | None) -> None:
    event = api_event(method, path, order())
    event["resource"] = "/{proxy+}" if status == 404 else event["resource"]
    response = pipeline.intake(event)
    assert response["statusCode"] == status
    assert response["headers"].get("Allow") == allow
    assert pipeline.queue_depth() == 0


def test_route_from_path_when_no_resource(pipeline: Pipeline) -> None:
    event = api_event(body=order())
    event["resource"] = None
    assert pipeline.intake(event)["statusCode"] == 202


# --- dependencies failing ------------------------------------------------------------------


def test_queue_missing_is_503(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_QUEUE_URL", pipeline.queue_url + "-gone")
    response = post(pipeline)
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "2"
    assert pipeline.queue_depth() == 0


def test_queue_unreachable_is_503(pipeline: Pipeline) -> None:
    sqs = pipeline.fns["orderlib"].client("sqs")
    fail_calls(sqs, "SendMessage", EndpointConnectionError(endpoint_url="http://sqs"))
    response = post(pipeline)
    assert response["statusCode"] == 503 and "message" in json_body(response)


def test_missing_configuration_is_500_and_logged(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("ORDERS_QUEUE_URL")
    response = post(pipeline)
    assert response["statusCode"] == 500
    assert json_body(response) == {"message": "internal error"}
    [line] = log_lines(capsys.readouterr().out)
    assert line["outcome"] == "error" and "ORDERS_QUEUE_URL" in line["traceback"]


# --- GET /order/{orderId} ------------------------------------------------------------------


def test_get_returns_the_stored_order(pipeline: Pipeline) -> None:
    accepted = post(
        pipeline, order(items=[{"sku": "a", "quantity": 2, "unitPrice": "19.90"}]), {"Idempotency-Key": "secret-ish"}
    )
    order_id = json_body(accepted)["orderId"]
    assert pipeline.processor(pipeline.queued()) == {"batchItemFailures": []}

    response = pipeline.intake(api_event("GET", f"/order/{order_id.upper()}"))
    assert response["statusCode"] == 200
    got = json_body(response)
    assert got["orderId"] == order_id and got["status"] == "RECEIVED"
    assert got["items"] == [{"sku": "a", "quantity": 2, "unitPrice": "19.90"}]
    assert got["total"] == "39.80" and got["currency"] == "EUR"
    assert "idempotencyKey" not in got


def test_get_unknown_order_is_404(pipeline: Pipeline) -> None:
    response = pipeline.intake(api_event("GET", f"/order/{uuid.uuid4()}"))
    assert response["statusCode"] == 404


@pytest.mark.parametrize("order_id", ["nope", "1234", "%2e%2e", SOME_ID + "0", "{" + SOME_ID + "}"])
def test_get_malformed_id_is_400(pipeline: Pipeline, order_id: str) -> None:
    response = pipeline.intake(api_event("GET", f"/order/{order_id}"))
    assert response["statusCode"] == 400


def test_get_with_table_missing_is_503(pipeline: Pipeline) -> None:
    pipeline.dynamodb.delete_table(TableName=pipeline.table)
    response = pipeline.intake(api_event("GET", f"/order/{uuid.uuid4()}"))
    assert response["statusCode"] == 503 and "Retry-After" in response["headers"]


# --- property: nothing a client sends is a 5xx, and a 4xx enqueues nothing --------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
item_like = st.fixed_dictionaries(
    {},
    optional={
        "sku": st.text(max_size=70) | json_values,
        "quantity": st.integers(-5, 1005) | json_values,
        "unitPrice": st.decimals(allow_nan=False).map(str) | st.floats() | st.text(max_size=12) | json_values,
        "extra": json_values,
    },
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "customerId": st.text(max_size=70) | json_values,
        "items": st.lists(item_like, max_size=3) | json_values,
        "currency": st.sampled_from(["USD", "EUR", "usd", ""]) | json_values,
        "note": st.text(max_size=20) | json_values,
        "other": json_values,
    },
)
valid_item = st.fixed_dictionaries(
    {
        "sku": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
        "quantity": st.integers(1, 1000),
        "unitPrice": st.decimals(0, 1000000, places=2).map(str) | st.integers(0, 1000000),
    }
)
valid_order = st.fixed_dictionaries(
    {
        "customerId": st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=64),
        "items": st.lists(valid_item, min_size=1, max_size=5),
    },
    optional={
        "currency": st.from_regex(r"[A-Z]{3}", fullmatch=True),
        "note": st.text(st.characters(categories=["L", "N", "P", "S", "Z"]), max_size=500),
    },
)
bodies = (
    valid_order.map(json.dumps)  # twice: a fair share of examples must reach the 202 path
    | valid_order.map(json.dumps)
    | order_like.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=100)
    | st.none()
)
header_names = st.sampled_from(
    ["Content-Type", "content-type", "Idempotency-Key", "IDEMPOTENCY-KEY", "X-Api-Key", "Accept"]
) | st.text(max_size=10)
header_values = st.sampled_from(
    ["application/json", "text/plain", "application/json; charset=x", "application/x+json", "k1", ""]
) | st.text(max_size=140)
headers = (
    st.none()
    | st.just({"Content-Type": "application/json"})
    | st.builds(lambda k: {"Idempotency-Key": k}, st.text(max_size=140))
    | st.dictionaries(header_names, header_values, max_size=4)
)
multi_headers = st.none() | st.dictionaries(header_names, st.lists(header_values, max_size=3), max_size=3)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    body=bodies,
    headers=headers,
    multi=multi_headers,
    b64=st.booleans(),
    method=st.sampled_from(["POST"] * 12 + ["GET", "PUT"]),
    path=st.sampled_from(["/order"] * 12 + ["/order/x", f"/order/{SOME_ID}", "/"]),
)
def test_never_5xx_and_4xx_enqueues_nothing(
    pipeline: Pipeline,
    body: str | None,
    headers: dict | None,
    multi: dict | None,
    b64: bool,
    method: str,
    path: str,
) -> None:
    sends: list[Any] = []
    sqs = pipeline.fns["orderlib"].client("sqs")
    hook_id = "property-spy"
    sqs.meta.events.register("before-call.sqs.SendMessage", lambda **kw: sends.append(1), unique_id=hook_id)
    try:
        event = api_event(method, path, raw_body=body or "")
        if body is None:
            event["body"] = None
        if b64 and body is not None:
            with contextlib.suppress(UnicodeEncodeError):
                event["body"] = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
            event["isBase64Encoded"] = True
        event["headers"], event["multiValueHeaders"] = headers, multi
        response = pipeline.intake(event, Context())
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessage", unique_id=hook_id)

    status = response["statusCode"]
    tally(f"status {status}")  # --hypothesis-show-statistics: is every class of answer reached?
    assert status < 500, response
    assert isinstance(json.loads(response["body"]), dict)
    assert len(sends) == (1 if status == 202 else 0)

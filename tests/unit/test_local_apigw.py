"""The API Gateway front: routing, API keys, validation, the Lambda proxy contract, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from local_helpers import ACCOUNT, REGION, Emulator, wait_for

HANDLER = """
import base64, json
def handler(event, context):
    body = event.get("body") or ""
    if "boom" in body:
        raise RuntimeError("boom")
    if event["path"] == "/files/bad":
        return "not a proxy response"
    if event["path"] == "/files/binary":
        return {"statusCode": 200, "body": base64.b64encode(b"\\x00\\x01").decode(), "isBase64Encoded": True,
                "headers": {"Content-Type": "application/octet-stream"}}
    return {"statusCode": 201, "headers": {"X-Order": "yes"}, "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "body": json.dumps({"event": event})}
"""
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["item"],
    "properties": {"item": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
}


@pytest.fixture(scope="module")
def api(emulator: Emulator) -> dict[str, Any]:
    """An API: POST /orders (key + body model), GET /orders/{id} (?verbose required), ANY /files/{proxy+}."""
    fn_arn = emulator.function("api-fn", HANDLER)
    other_arn = emulator.function("api-no-permission", HANDLER)
    apigw = emulator.client("apigateway")
    api_id = apigw.create_rest_api(name="local-test-api")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    body_validator = apigw.create_request_validator(restApiId=api_id, name="body", validateRequestBody=True)["id"]
    params_validator = apigw.create_request_validator(restApiId=api_id, name="params", validateRequestParameters=True)[
        "id"
    ]
    apigw.create_model(restApiId=api_id, name="Order", contentType="application/json", schema=json.dumps(SCHEMA))

    def method(parent: str, part: str, verb: str, target: str, **kwargs: Any) -> str:
        resource = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod=verb, authorizationType="NONE", **kwargs)
        apigw.put_integration(
            restApiId=api_id,
            resourceId=resource,
            httpMethod=verb,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{target}/invocations",
        )
        return resource

    orders = method(
        root,
        "orders",
        "POST",
        fn_arn,
        apiKeyRequired=True,
        requestValidatorId=body_validator,
        requestModels={"application/json": "Order"},
    )
    method(
        orders,
        "{id}",
        "GET",
        fn_arn,
        requestValidatorId=params_validator,
        requestParameters={"method.request.querystring.verbose": True},
    )
    files = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="files")["id"]
    method(files, "{proxy+}", "ANY", fn_arn)
    method(root, "private", "GET", other_arn)
    apigw.put_method(restApiId=api_id, resourceId=orders, httpMethod="OPTIONS", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=orders,
        httpMethod="OPTIONS",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=orders,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={"method.response.header.Access-Control-Allow-Origin": "'*'"},
    )
    emulator.client("lambda").add_permission(
        FunctionName="api-fn",
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*",
    )
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    key = apigw.create_api_key(name="k", enabled=True)
    plan = apigw.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "dev"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    slow_key = apigw.create_api_key(name="slow", enabled=True)
    slow = apigw.create_usage_plan(
        name="slow", apiStages=[{"apiId": api_id, "stage": "dev"}], throttle={"rateLimit": 0.01, "burstLimit": 1}
    )
    apigw.create_usage_plan_key(usagePlanId=slow["id"], keyId=slow_key["id"], keyType="API_KEY")
    base = f"{emulator.status.endpoint}/restapis/{api_id}/dev/_user_request_"
    return {"id": api_id, "base": base, "key": key["value"], "key_id": key["id"], "slow_key": slow_key["value"]}


def test_a_valid_request_reaches_the_function_with_the_proxy_event(api: dict[str, Any]) -> None:
    response = requests.post(
        f"{api['base']}/orders?a=1&a=2", json={"item": "book", "qty": 2}, headers={"x-api-key": api["key"]}
    )
    assert response.status_code == 201
    assert response.headers["X-Order"] == "yes" and response.headers["X-Multi"] == "a, b"
    event = response.json()["event"]
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/orders", "/orders", "POST")
    assert json.loads(event["body"]) == {"item": "book", "qty": 2} and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["headers"]["x-api-key"] == api["key"] and event["multiValueHeaders"]["x-api-key"] == [api["key"]]
    assert event["pathParameters"] is None and event["stageVariables"] is None
    ctx = event["requestContext"]
    assert (ctx["stage"], ctx["resourcePath"], ctx["apiId"], ctx["path"]) == (
        "dev",
        "/orders",
        api["id"],
        "/dev/orders",
    )
    assert ctx["identity"]["apiKey"] == api["key"] and ctx["identity"]["apiKeyId"] == api["key_id"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["requestId"] == response.headers["x-amzn-RequestId"]


def test_path_parameters_and_greedy_proxy_routes(api: dict[str, Any]) -> None:
    event = requests.get(f"{api['base']}/orders/o-42?verbose=1").json()["event"]
    assert (event["resource"], event["pathParameters"]) == ("/orders/{id}", {"id": "o-42"})
    event = requests.delete(f"{api['base']}/files/a/b/c.txt").json()["event"]
    assert (event["resource"], event["pathParameters"]) == ("/files/{proxy+}", {"proxy": "a/b/c.txt"})


def test_binary_responses_are_decoded(api: dict[str, Any]) -> None:
    response = requests.get(f"{api['base']}/files/binary")
    assert response.status_code == 200 and response.content == b"\x00\x01"


def test_mock_integrations_answer_cors_preflights(api: dict[str, Any]) -> None:
    response = requests.options(f"{api['base']}/orders")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"


def test_api_key_is_required(api: dict[str, Any]) -> None:
    for headers in ({}, {"x-api-key": "not-a-key"}):
        response = requests.post(f"{api['base']}/orders", json={"item": "book"}, headers=headers)
        assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


def test_unknown_routes_and_methods_get_missing_authentication_token(api: dict[str, Any]) -> None:
    for verb, path in (("GET", "/nothing"), ("DELETE", "/orders"), ("GET", "/")):
        response = requests.request(verb, f"{api['base']}{path}")
        assert (response.status_code, response.json()) == (403, {"message": "Missing Authentication Token"})


def test_the_request_validator_rejects_a_bad_body_and_missing_parameters(api: dict[str, Any]) -> None:
    for body in ({"qty": 2}, {"item": "book", "qty": 0}, "not json"):
        kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
        response = requests.post(f"{api['base']}/orders", headers={"x-api-key": api["key"]}, **kwargs)
        assert (response.status_code, response.json()) == (400, {"message": "Invalid request body"})
    response = requests.get(f"{api['base']}/orders/o-42")
    assert response.status_code == 400
    assert response.json() == {"message": "Missing required request parameters: [verbose]"}


def test_the_server_log_says_why_a_body_was_rejected_but_not_what_it_held(
    emulator: Emulator, api: dict[str, Any]
) -> None:
    from orderpoc.local import lifecycle

    marker = "customer-secret-4711"
    response = requests.post(f"{api['base']}/orders", headers={"x-api-key": api["key"]}, json={"item": 1, "x": marker})
    assert response.status_code == 400
    log = lifecycle.log_file(emulator.state_dir, emulator.port)
    lines = wait_for(
        lambda: [line for line in log.read_text().splitlines() if "/orders rejected" in line], what="the log line"
    )
    assert "rejected: Invalid request body" in lines[-1]
    assert marker not in log.read_text()


def test_gateway_response_templates_can_expose_the_validation_error(emulator: Emulator, api: dict[str, Any]) -> None:
    emulator.client("apigateway").put_gateway_response(
        restApiId=api["id"],
        responseType="BAD_REQUEST_BODY",
        statusCode="400",
        responseTemplates={
            "application/json": '{"message": $context.error.messageString, '
            '"reason": "$context.error.validationErrorString"}'
        },
    )
    response = requests.post(f"{api['base']}/orders", json={"qty": 2}, headers={"x-api-key": api["key"]})
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request body"
    assert "'item' is a required property" in response.json()["reason"]


def test_function_errors_and_malformed_responses_are_502(api: dict[str, Any]) -> None:
    response = requests.post(f"{api['base']}/orders", json={"item": "boom"}, headers={"x-api-key": api["key"]})
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    response = requests.get(f"{api['base']}/files/bad")
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})


def test_a_function_without_an_apigateway_permission_is_a_500(api: dict[str, Any]) -> None:
    response = requests.get(f"{api['base']}/private")
    assert (response.status_code, response.json()) == (500, {"message": "Internal server error"})


def test_usage_plan_throttle_gives_429(api: dict[str, Any]) -> None:
    headers = {"x-api-key": api["slow_key"]}
    assert requests.post(f"{api['base']}/orders", json={"item": "a"}, headers=headers).status_code == 201
    response = requests.post(f"{api['base']}/orders", json={"item": "b"}, headers=headers)
    assert (response.status_code, response.json()) == (429, {"message": "Too Many Requests"})


def test_unknown_stage_and_api(emulator: Emulator, api: dict[str, Any]) -> None:
    assert requests.get(api["base"].replace("/dev/", "/prod/") + "/orders/1?verbose=1").status_code == 403
    assert requests.get(f"{emulator.status.endpoint}/restapis/nope/dev/_user_request_/x").status_code == 404


def test_a_models_validator_is_built_once_and_answers_for_each_body() -> None:
    from orderpoc.local import apigw_proxy

    schema = '{"type": "object", "required": ["a"], "properties": {"a": {"multipleOf": 0.01}}}'
    assert apigw_proxy.body_errors(schema, b'{"a": 19.99}') == []
    hits = apigw_proxy._validator_for.cache_info().hits
    assert apigw_proxy.body_errors(schema, b'{"a": 19.999}') == ["19.999 is not a multiple of 0.01 (at /a)"]
    assert apigw_proxy.body_errors(schema, b"{}") == ["'a' is a required property"]
    assert apigw_proxy._validator_for.cache_info().hits == hits + 2


def test_a_hostile_body_gets_a_short_400_reason_never_a_500() -> None:
    from orderpoc.local import apigw_proxy

    schema = '{"type": "object", "properties": {"a": {"maxLength": 5}}, "additionalProperties": false}'
    nested = b'{"b": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert apigw_proxy.body_errors(schema, nested) == ["Invalid JSON: nested too deeply"]
    [too_long] = apigw_proxy.body_errors(schema, b'{"a": "' + b"x" * 10_000_000 + b'"}')
    assert too_long.endswith("\u2026 (at /a)") and len(too_long) < 250  # the value is not echoed whole
    [digits] = apigw_proxy.body_errors(schema, b'{"a": ' + b"9" * 5000 + b"}")
    assert digits.startswith("Invalid JSON: Exceeds the limit") and "sys." not in digits
    many = b'{"a": [' + b",".join(b"%d" % n for n in range(100)) + b"]}"
    array = '{"properties": {"a": {"items": {"type": "string"}}}}'
    assert len(apigw_proxy.body_errors(array, many)) == apigw_proxy.MAX_ERRORS

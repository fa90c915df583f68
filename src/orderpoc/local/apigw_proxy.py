"""API Gateway's request validation and the Lambda proxy (AWS_PROXY, payload 1.0) contract."""

from __future__ import annotations

import base64
import functools
import json
import time
import uuid
from datetime import UTC, datetime
from decimal import MAX_EMAX, MIN_EMIN, Decimal, InvalidOperation, localcontext
from typing import Any

import jsonschema  # installed with moto[server] (via openapi-spec-validator)
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from orderpoc.local.httpserver import RAW_HEADERS

MAX_MESSAGE = 200  # characters of one validation error in a 400's message
MAX_ERRORS = 20  # validation errors listed in one 400


class Invalid(Exception):
    """A request validator rejected the request: (gateway response type, message, detail)."""

    def __init__(self, response_type: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.response_type, self.message, self.detail = response_type, message, detail


def validate(api: Any, method: Any, request: Request, path_params: dict[str, str]) -> None:
    """Apply the method's request validator, if any, as API Gateway does before the integration."""
    validator = api.request_validators.get(method.request_validator_id or "")
    if validator is None:
        return
    if validator.validate_request_parameters:
        sources: dict[str, Any] = {  # werkzeug's Headers and MultiDict, the path's dict
            "header": request.headers,
            "querystring": request.args,
            "path": path_params,
        }
        missing = []
        for name, required in (method.request_parameters or {}).items():
            _, _, where, param = name.split(".", 3)  # method.request.{where}.{param}
            if required and not sources.get(where, {}).get(param):
                missing.append(param)
        if missing:
            message = f"Missing required request parameters: [{', '.join(missing)}]"
            raise Invalid("BAD_REQUEST_PARAMETERS", message, message)
    if validator.validate_request_body:
        models = method.request_models or {}
        model_name = models.get(request.mimetype or "application/json") or models.get("$default")
        model = api.models.get(model_name) if model_name and model_name != "Empty" else None
        if model is None or not model.schema:
            return
        schema = model.schema if isinstance(model.schema, str) else json.dumps(model.schema)
        errors = body_errors(schema, request.get_data() or b"null")
        if errors:
            raise Invalid("BAD_REQUEST_BODY", "Invalid request body", "[" + ", ".join(errors) + "]")


def body_errors(schema: str, body: bytes) -> list[str]:
    """What the model (JSON Schema text) finds wrong with a request body; [] when it conforms.

    Numbers are read as decimals, as API Gateway's validator treats them: 19.99 is a multiple of
    0.01, which as floats it is not."""
    try:
        document = json.loads(body, parse_float=Decimal, parse_constant=_not_json)
        errors = sorted(_validator_for(schema).iter_errors(document), key=lambda e: list(e.path))
    except RecursionError:  # a client's [[[[...]]]] must get its 400, not the gateway's 500
        return ["Invalid JSON: nested too deeply"]
    except ValueError as exc:  # also an integer of more digits than Python converts
        return [f"Invalid JSON: {_capped(str(exc).split('; use sys.')[0])}"]
    return [_describe(e) for e in errors[:MAX_ERRORS]]


@functools.lru_cache(maxsize=64)
def _validator_for(schema: str) -> Any:
    """One validator per model text, not one per request: reading the schema and building the
    validator cost more than validating an order. (jsonschema's validators are immutable and its
    references resolve through an immutable registry: one may serve several threads at once.)"""
    return _DecimalValidator(json.loads(schema, parse_float=Decimal))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "number"):
        return
    try:
        with localcontext() as exact:  # every exponent JSON allows, 60 digits of quotient
            exact.prec, exact.Emin, exact.Emax = 60, MIN_EMIN, MAX_EMAX
            failed = bool(Decimal(instance) % Decimal(divisor))
    except InvalidOperation:  # a quotient past 60 digits: far beyond any limit a model sets
        failed = True
    if failed:
        yield jsonschema.ValidationError(f"{instance} is not a multiple of {divisor}")


_DecimalValidator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"multipleOf": _multiple_of})


def _describe(error: jsonschema.ValidationError) -> str:
    where = _capped("/" + "/".join(str(p) for p in error.path))
    return f"{_capped(error.message)} (at {where})" if error.path else _capped(error.message)


def _capped(text: str) -> str:
    """A message quotes the offending value: a 10 MB string must not come back whole."""
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "\u2026"


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # the last value wins, as in API Gateway
        multi.setdefault(name, []).append(value)
    return single, multi


def proxy_event(request: Request, ctx: dict[str, Any], path: str, route: Any, api_key: Any) -> dict[str, Any]:
    """The AWS_PROXY integration event (payload format 1.0)."""
    raw_headers = request.environ.get(RAW_HEADERS)  # as the client sent them (server.py)
    headers, multi_headers = _multi(raw_headers if raw_headers is not None else list(request.headers.items()))
    query, multi_query = _multi(list(request.args.items(multi=True)))
    raw = request.get_data()
    try:
        body: str | None = raw.decode("utf-8") if raw else None
        is_b64 = False
    except UnicodeDecodeError:
        body, is_b64 = base64.b64encode(raw).decode(), True
    now = datetime.now(UTC)
    return {
        "resource": route.resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": route.path_parameters or None,
        "stageVariables": ctx["stage_variables"] or None,
        "requestContext": {
            "resourceId": route.resource.id,
            "resourcePath": route.resource_path,
            "httpMethod": request.method,
            "extendedRequestId": ctx["request_id"],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{ctx['stage']}{path}",
            "accountId": ctx["account"],
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": ctx["stage"],
            "domainPrefix": ctx["api_id"],
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": ctx["request_id"],
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "user": None,
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent"),
                "apiKey": api_key.value if api_key else None,
                "apiKeyId": api_key.id if api_key else None,
            },
            "domainName": request.host,
            "apiId": ctx["api_id"],
        },
        "body": body,
        "isBase64Encoded": is_b64,
    }


def proxy_response(payload: Any, request_id: str) -> Response | None:
    """The HTTP response a proxy function asked for, or None if its answer is malformed."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or not 100 <= status <= 599:
        return None
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        return None
    data = base64.b64decode(body) if body and payload.get("isBase64Encoded") else (body or "").encode()
    headers = Headers()
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            headers.add(name, str(value))
    for name, value in (payload.get("headers") or {}).items():
        headers.set(name, str(value))
    headers.setdefault("Content-Type", "application/json")
    headers.set("x-amzn-RequestId", request_id)
    headers.set("x-amz-apigw-id", uuid.uuid4().hex[:16])
    return Response(data, status=status, headers=headers)

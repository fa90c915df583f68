"""Lambda "intake": the HTTP face of the pipeline (API Gateway REST, AWS_PROXY, payload 1.0).

POST /order            validate, assign orderId, enqueue on SQS -> 202
GET  /order/{orderId}  read the stored order from DynamoDB     -> 200 / 404

Anything the client sent gets a 4xx; 5xx means our side failed (503: a dependency, retry later;
500: a bug or a deployment fault, logged with its traceback).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import unquote

from boto3.dynamodb.types import TypeDeserializer

import orderlib
import orderschema

FN = "intake"
MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = "2"
IDEMPOTENCY_HEADER = "idempotency-key"
_JSON_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}

Response = dict[str, Any]


class HttpError(Exception):
    """A finished client-facing answer, raised from deep inside the request handling."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors, headers

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return _response(self.status, body, self.headers)


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def handler(event: dict[str, Any], context: Any) -> Response:
    started = time.perf_counter()
    fields: dict[str, Any] = {}  # what the log line says about this request, filled as we go
    try:
        response = _dispatch(event if isinstance(event, dict) else {}, fields)
    except HttpError as exc:
        response = exc.response()
    except Exception as exc:  # a genuine server fault: never let it look like the client's
        orderlib.log_exception(FN, context, exc, status=500, **fields)
        return _response(500, {"message": "internal error"})
    status = response["statusCode"]
    outcome = {200: "ok", 202: "accepted", 503: "unavailable"}.get(status, "rejected")
    orderlib.log(
        FN, context, outcome, status=status, durationMs=round((time.perf_counter() - started) * 1000, 1), **fields
    )
    return response


def _dispatch(event: dict[str, Any], fields: dict[str, Any]) -> Response:
    method = str(event.get("httpMethod") or "").upper()
    route, order_id = _route(event)
    fields.update(method=method, route=route, apiRequestId=_request_context(event).get("requestId"))
    if route == "/order":
        if method != "POST":
            raise HttpError(405, "method not allowed", headers={"Allow": "POST"})
        return _create(event, fields)
    if route == "/order/{orderId}":
        if method != "GET":
            raise HttpError(405, "method not allowed", headers={"Allow": "GET"})
        return _get(order_id, fields)
    raise HttpError(404, "not found")


def _request_context(event: dict[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext")
    return context if isinstance(context, dict) else {}


def _route(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """Prefer API Gateway's matched resource; fall back to the raw path (proxy resources and
    emulators). The path is relative to the stage, so no stage prefix to strip."""
    resource = event.get("resource")
    params = event.get("pathParameters") or {}
    if resource == "/order":
        return "/order", None
    if resource == "/order/{orderId}" and isinstance(params, dict):
        return "/order/{orderId}", str(params.get("orderId") or "")
    path = event.get("path")
    parts = [p for p in path.split("/") if p] if isinstance(path, str) else []
    if parts == ["order"]:
        return "/order", None
    if len(parts) == 2 and parts[0] == "order":
        return "/order/{orderId}", unquote(parts[1])
    return None, None


def _headers(event: dict[str, Any]) -> dict[str, list[str]]:
    """Lower-cased header name -> values. `headers` may be None; `multiValueHeaders` keeps
    repeats, which matters for spotting two different Idempotency-Keys."""
    merged: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for name, values in multi.items():
            if isinstance(name, str) and isinstance(values, list):
                merged.setdefault(name.lower(), []).extend(v for v in values if isinstance(v, str))
    single = event.get("headers")
    if isinstance(single, dict):
        for name, value in single.items():
            if isinstance(name, str) and isinstance(value, str):
                values = merged.setdefault(name.lower(), [])
                if value not in values:
                    values.append(value)
    return merged


def _check_content_type(headers: dict[str, list[str]]) -> None:
    values = headers.get("content-type") or []
    if not values or not values[-1].strip():
        return  # no content type: take it as JSON, as most API clients mean it
    media, _, params = values[-1].partition(";")
    media = media.strip().lower()
    is_json = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if not is_json:
        raise HttpError(415, "unsupported media type: send application/json")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _JSON_CHARSETS:
            raise HttpError(415, "unsupported charset: send UTF-8")


def _read_body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        raise HttpError(400, "request body is required", [{"field": "body", "reason": "is required"}])
    if not isinstance(body, str):
        raise HttpError(400, "request body is not valid JSON", [{"field": "body", "reason": "unreadable body"}])
    # Size checks before decoding: never spend memory on what we will refuse anyway.
    too_large = HttpError(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
    if event.get("isBase64Encoded"):
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4 + 4:
            raise too_large
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(
                400, "request body is not valid base64", [{"field": "body", "reason": "invalid base64"}]
            ) from None
    else:
        if len(body) > MAX_BODY_BYTES:
            raise too_large
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise HttpError(
                400, "request body is not valid UTF-8", [{"field": "body", "reason": "invalid UTF-8"}]
            ) from None
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    return raw


def _parse_body(raw: bytes) -> Any:
    try:
        return orderschema.parse_json(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        reason = "invalid UTF-8"
    except RecursionError:
        reason = "nested too deeply"
    except ValueError as exc:  # JSONDecodeError, NaN, duplicate keys, absurd integers
        reason = str(exc)[:200]
    raise HttpError(400, "request body is not valid JSON", [{"field": "body", "reason": reason}])


def _idempotency_key(headers: dict[str, list[str]]) -> tuple[str | None, list[dict[str, str]]]:
    values = headers.get(IDEMPOTENCY_HEADER)
    if not values:
        return None, []
    field = "headers.Idempotency-Key"
    if len(set(values)) > 1:
        return None, [{"field": field, "reason": "must be sent once"}]
    key = values[0].strip()
    reason = orderschema.validate_idempotency_key(key)
    return (key, []) if reason is None else (None, [{"field": field, "reason": reason}])


def _create(event: dict[str, Any], fields: dict[str, Any]) -> Response:
    headers = _headers(event)
    _check_content_type(headers)
    data = _parse_body(_read_body(event))
    key, errors = _idempotency_key(headers)
    order, body_errors = orderschema.validate_request(data)
    errors += [e.as_dict() for e in body_errors]
    if errors or order is None:
        fields["errors"] = len(errors)
        raise HttpError(400, "invalid order", errors[: orderschema.MAX_ERRORS])

    order_id = orderschema.order_id_for(order["customerId"], key)
    fields.update(orderId=order_id, idempotent=key is not None)
    message = {"orderId": order_id, **order, "createdAt": orderschema.utc_now()}
    if key is not None:
        message["idempotencyKey"] = key
    try:
        sent = orderlib.client("sqs").send_message(
            QueueUrl=orderlib.env("ORDERS_QUEUE_URL"),
            MessageBody=json.dumps(message, separators=(",", ":")),
            MessageAttributes={"orderId": {"DataType": "String", "StringValue": order_id}},
        )
    except orderlib.AWS_ERRORS as exc:
        fields["error"] = orderlib.error_code(exc)
        raise HttpError(
            503,
            "order queue unavailable, retry later (same Idempotency-Key)",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from None
    fields["messageId"] = sent.get("MessageId")
    location = f"{_base_path(event)}/order/{order_id}"
    return _response(202, {"orderId": order_id, "status": "ACCEPTED"}, {"Location": location})


def _base_path(event: dict[str, Any]) -> str:
    """What the client's URL had before the resource path: "/{stage}" on execute-api URLs, a
    base path on custom domains, "" elsewhere. requestContext.path is the full path the client
    used, event.path the part API Gateway routed on."""
    full = _request_context(event).get("path")
    path = event.get("path")
    if isinstance(full, str) and isinstance(path, str) and path and full.endswith(path):
        return full[: len(full) - len(path)].rstrip("/")
    return ""


def _get(order_id: str | None, fields: dict[str, Any]) -> Response:
    order_id = (order_id or "").lower()
    if not orderschema.is_order_id(order_id):
        raise HttpError(400, "invalid order id", [{"field": "orderId", "reason": "must be a UUID"}])
    fields["orderId"] = order_id
    try:
        found = orderlib.client("dynamodb").get_item(
            TableName=orderlib.env("ORDERS_TABLE"),
            Key={"orderId": {"S": order_id}},
            ConsistentRead=True,  # a client polling right after the 202 should see the write
        )
    except orderlib.AWS_ERRORS as exc:
        fields["error"] = orderlib.error_code(exc)
        raise HttpError(
            503, "order store unavailable, retry later", headers={"Retry-After": RETRY_AFTER_SECONDS}
        ) from None
    item = found.get("Item")
    if not item:
        raise HttpError(404, "order not found")
    deserializer = TypeDeserializer()
    order = {k: deserializer.deserialize(v) for k, v in item.items()}
    return _response(200, orderschema.render_order(order), {"Cache-Control": "no-store"})

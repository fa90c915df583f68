"""The API Gateway front: serve REST API invoke URLs of the form LocalStack uses,
`http://127.0.0.1:PORT/restapis/{apiId}/{stage}/_user_request_/{path}`.

Per request, as API Gateway does: find the deployed stage, route by resources and methods, check
the API key and the usage plan's throttle, run the request validator, check the function's
resource policy lets this API invoke it, build the proxy event, invoke, map the response (MOCK
integrations, e.g. CORS preflights, answer from their integration response). Errors
use API Gateway's status codes and messages, and the API's gateway responses when it has some.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from orderpoc.local import backends
from orderpoc.local.apigw_proxy import Invalid, proxy_event, proxy_response, validate
from orderpoc.local.apigw_routes import Throttle, find_api_key, resolve
from orderpoc.local.pools import Throttled
from orderpoc.local.runtime import LambdaRuntime

log = logging.getLogger("orderpoc.local.apigw")

USER_REQUEST = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
_FUNCTION_IN_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>.+?)/invocations$")
# gateway response type -> (status, message, x-amzn-ErrorType)
_DEFAULTS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token", "MissingAuthenticationTokenException"),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "BAD_REQUEST_BODY": (400, "Invalid request body", "BadRequestException"),
    "BAD_REQUEST_PARAMETERS": (400, "Invalid request parameters", "BadRequestException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error", "InternalServerErrorException"),
    "DEFAULT_5XX": (502, "Internal server error", "InternalServerErrorException"),
}


class ApiGatewayFront:
    def __init__(self, runtime: LambdaRuntime) -> None:
        self._runtime = runtime
        self._throttle = Throttle()

    def handle(self, request: Request) -> Response | None:
        match = USER_REQUEST.match(request.path)
        if match is None:
            return None
        request_id = str(uuid.uuid4())
        found = backends.find_rest_api(match["api"])
        if found is None:
            return _plain(404, "Not Found", request_id)
        backend, api = found
        stage = match["stage"]
        if stage not in api.stages:  # not deployed to that stage
            return _plain(403, "Forbidden", request_id)
        path = match["path"] or "/"

        def fail(kind: str, detail: str = "", message: str | None = None) -> Response:
            return _gateway_error(api, kind, request_id, detail, message)

        route = resolve(api, request.method, path)
        if route is None:
            return fail("MISSING_AUTHENTICATION_TOKEN")
        api_key = None
        if route.method.api_key_required:
            key_and_plan = find_api_key(backend, api.id, stage, request.headers.get("x-api-key"))
            if key_and_plan is None:
                return fail("INVALID_API_KEY")
            api_key, plan = key_and_plan
            if not self._throttle.allow(plan, api_key):
                return fail("THROTTLED")
        try:
            validate(api, route.method, request, route.path_parameters)
        except Invalid as exc:
            # the reason only: the detail quotes what the client sent (order data stays out of logs)
            log.info("%s %s rejected: %s", request.method, path, exc.message)
            return fail(exc.response_type, exc.detail, exc.message)

        integration = route.method.method_integration
        if integration is not None and integration.integration_type == "MOCK":
            return _mock(integration, request_id)  # e.g. CORS preflight (OPTIONS)
        fn, problem = self._function(api, stage, request.method, route)
        if fn is None:
            log.error("API %s %s %s: %s", api.id, request.method, route.resource_path, problem)
            return fail("API_CONFIGURATION_ERROR")
        ctx = {
            "request_id": request_id,
            "stage": stage,
            "api_id": api.id,
            "account": backend.account_id,
            "stage_variables": dict(api.stages[stage].variables or {}),
        }
        event = proxy_event(request, ctx, path, route, api_key)
        try:
            result = self._runtime.invoke_function(fn, json.dumps(event).encode())
        except Throttled:
            return fail("THROTTLED")
        if not result.ok:
            log.info("API %s: function error %s", api.id, result.error_type)
            return fail("DEFAULT_5XX")
        try:
            response = proxy_response(result.json(), request_id)
        except ValueError:
            response = None
        if response is None:
            log.error("API %s: malformed Lambda proxy response: %.200r", api.id, result.payload)
            return fail("DEFAULT_5XX")
        return response

    def _function(self, api: Any, stage: str, method: str, route: Any) -> tuple[Any, str]:
        """The integration's function, if it exists and its resource policy allows this API."""
        integration = route.method.method_integration
        if integration is None or integration.integration_type != "AWS_PROXY":
            return None, "only AWS_PROXY (Lambda proxy) and MOCK integrations are emulated"
        match = _FUNCTION_IN_URI.search(integration.uri or "")
        if match is None:
            return None, f"integration URI {integration.uri!r} does not name a Lambda function"
        region = backends.arn_parts(match["arn"])[0] if match["arn"].startswith("arn:") else api.region_name
        fn = backends.find_function(match["arn"], region)
        if fn is None:
            return None, f"function {match['arn']} does not exist"
        partition = fn.function_arn.split(":")[1]
        source = f"arn:{partition}:execute-api:{api.region_name}:{fn.account_id}:{api.id}/{stage}/{method}{route.resource_path}"
        if not _permitted(backends.lambda_permissions(fn), source):
            return None, f"the resource policy of {fn.function_name} does not allow {source} (add_permission)"
        return fn, ""


def _mock(integration: Any, request_id: str) -> Response:
    """A MOCK integration: its default integration response, static header values, JSON template."""
    responses = list((integration.integration_responses or {}).values())
    chosen = next((r for r in responses if not r.selection_pattern), responses[0] if responses else None)
    if chosen is None:
        return _plain(500, "Internal server error", request_id)
    headers = {"x-amzn-RequestId": request_id}
    for name, value in (chosen.response_parameters or {}).items():
        if name.startswith("method.response.header.") and str(value).startswith("'"):
            headers[name.split(".", 3)[3]] = str(value).strip("'")
    body = (chosen.response_templates or {}).get("application/json") or ""
    return Response(body, status=int(chosen.status_code), mimetype="application/json", headers=headers)


def _permitted(statements: list[dict[str, Any]], source_arn: str) -> bool:
    for statement in statements:
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if service != "apigateway.amazonaws.com" or statement.get("Effect", "Allow") != "Allow":
            continue
        condition = (statement.get("Condition") or {}).get("ArnLike") or {}
        pattern = condition.get("AWS:SourceArn") or condition.get("aws:SourceArn")
        if pattern is None or fnmatch.fnmatchcase(source_arn, pattern):
            return True
    return False


def _plain(status: int, message: str, request_id: str) -> Response:
    return Response(
        json.dumps({"message": message}),
        status=status,
        mimetype="application/json",
        headers={"x-amzn-RequestId": request_id},
    )


def _gateway_error(api: Any, kind: str, request_id: str, detail: str = "", message: str | None = None) -> Response:
    """API Gateway's error response, honouring the API's gateway responses (status, template)."""
    status, default_message, error_type = _DEFAULTS[kind]
    message = message or default_message
    custom = api.gateway_responses.get(kind) or api.gateway_responses.get(
        "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
    )
    body = json.dumps({"message": message})
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error_type}
    if custom is not None:
        status = int(custom.status_code or status)
        template = (custom.response_templates or {}).get("application/json")
        if template:
            body = _render(template, kind, message, detail, request_id)
        for name, value in (custom.response_parameters or {}).items():
            if name.startswith("gatewayresponse.header.") and str(value).startswith("'"):
                headers[name.split(".", 2)[2]] = str(value).strip("'")
    return Response(body, status=status, mimetype="application/json", headers=headers)


def _render(template: str, kind: str, message: str, detail: str, request_id: str) -> str:
    """The $context variables gateway response templates commonly use."""

    def escaped(text: str) -> str:  # to go inside a JSON string literal
        return json.dumps(text)[1:-1]

    values = {
        "$context.error.validationErrorString": escaped(detail),
        "$context.error.messageString": json.dumps(message),
        "$context.error.message": escaped(message),
        "$context.error.responseType": kind,
        "$context.requestId": request_id,
    }
    for name in sorted(values, key=len, reverse=True):
        template = template.replace(name, values[name])
    return template

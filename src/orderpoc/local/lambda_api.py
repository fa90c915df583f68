"""Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), served by our runtime.

Intercepted before moto (whose invoke needs Docker). An unknown function falls through to moto, so
the error is moto's ResourceNotFoundException, exactly as for every other Lambda API call.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from orderpoc.local import backends
from orderpoc.local.pools import Throttled
from orderpoc.local.runtime import LambdaRuntime

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_SCOPE = re.compile(r"Credential=[^/]+/\d+/(?P<region>[a-z0-9-]+)/")


def request_region(request: Request) -> str:
    """The region the client signed for (moto routes by the same credential scope)."""
    match = _SCOPE.search(request.headers.get("Authorization", ""))
    return match["region"] if match else "us-east-1"


def _error(status: int, code: str, message: str, **extra: str) -> Response:
    body = {"Type": "User", "message": message, **extra}
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/json",
        headers={"x-amzn-ErrorType": code},
    )


def handle_invoke(request: Request, runtime: LambdaRuntime) -> Response | None:
    """The Invoke response, or None to let moto answer (unknown function)."""
    match = INVOKE_PATH.match(request.path)
    if match is None or request.method != "POST":
        return None
    fn = backends.find_function(unquote(match["name"]), request_region(request), request.args.get("Qualifier"))
    if fn is None:
        return None
    payload = request.get_data()
    if payload.strip():
        try:
            json.loads(payload)
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return Response(status=204)
    if invocation_type == "Event":
        request_id = runtime.invoke_async(fn, payload)
        return Response(status=202, headers={"x-amzn-RequestId": request_id})
    if invocation_type != "RequestResponse":
        return _error(400, "InvalidParameterValueException", f"Unsupported InvocationType {invocation_type}")
    try:
        result = runtime.invoke_function(fn, payload)
    except Throttled:
        return _error(
            429,
            "TooManyRequestsException",
            "Rate Exceeded.",
            Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
        )
    headers = {"x-amzn-RequestId": result.request_id, "X-Amz-Executed-Version": result.executed_version}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()).decode()
    return Response(result.payload, status=200, mimetype="application/json", headers=headers)

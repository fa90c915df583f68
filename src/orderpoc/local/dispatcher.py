"""The embedded AWS's WSGI app: our routes first, everything else to moto's server app.

- GET /_orderpoc/health                              who is running (boot id, pid, ...)
- POST /2015-03-31/functions/{name}/invocations     Lambda Invoke, run by our runtime
- /restapis/{api}/{stage}/_user_request_/{path}     API Gateway invoke URLs
- X-Amz-Target: ...GetResources                     the tagging API, when tagging.py can answer
                                                     without importing every moto service
- POST / for SQS, DynamoDB and SNS                   straight to moto's response classes (fastpath.py)
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from orderpoc.local import tagging
from orderpoc.local.apigw import ApiGatewayFront
from orderpoc.local.fastpath import FastPath
from orderpoc.local.lambda_api import handle_invoke
from orderpoc.local.runtime import LambdaRuntime

log = logging.getLogger("orderpoc.local.dispatcher")

HEALTH_PATH = "/_orderpoc/health"
GET_RESOURCES_TARGET = "ResourceGroupsTaggingAPI_20170126.GetResources"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Dispatcher:
    def __init__(
        self,
        moto_app: WsgiApp,
        runtime: LambdaRuntime,
        apigw: ApiGatewayFront,
        health: Callable[[], dict[str, Any]],
    ) -> None:
        self._moto = moto_app
        self._runtime = runtime
        self._apigw = apigw
        self._health = health
        self._tagging: Any = None  # tagging.response_class(), made on first use
        self._fast = FastPath()  # SQS, DynamoDB and SNS calls, without moto's Flask app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            response = self._ours(environ, path)
        except Exception:
            log.exception("%s %s failed", environ.get("REQUEST_METHOD"), path)
            response = Response(
                json.dumps({"message": "Internal server error"}), status=500, mimetype="application/json"
            )
        if response is not None:
            return response(environ, start_response)
        answered = self._fast(environ, start_response)
        return answered if answered is not None else self._moto(environ, start_response)

    def _ours(self, environ: dict[str, Any], path: str) -> Response | None:
        if path == HEALTH_PATH:
            return Response(json.dumps(self._health()), mimetype="application/json")
        if path.startswith("/2015-03-31/functions/") and path.rstrip("/").endswith("/invocations"):
            request = Request(environ)
            response = handle_invoke(request, self._runtime)
            if response is None:
                _rewind(environ, request)  # moto reads the body we consumed
            return response
        if path.startswith("/restapis/") and "/_user_request_" in path:
            return self._apigw.handle(Request(environ))
        if environ.get("HTTP_X_AMZ_TARGET") == GET_RESOURCES_TARGET:
            return self._get_resources(environ)
        return None

    def _get_resources(self, environ: dict[str, Any]) -> Response | None:
        request = Request(environ)
        try:
            params = json.loads(request.get_data(cache=True) or b"{}")
        except ValueError:
            params = None
        if not isinstance(params, dict) or not tagging.servable(params):
            _rewind(environ, request)
            return None
        if self._tagging is None:
            self._tagging = tagging.response_class()
        status, headers, body = self._tagging.dispatch(request, request.url, dict(request.headers))
        return Response(body, status=status, headers=headers)


def _rewind(environ: dict[str, Any], request: Request) -> None:
    body = request.get_data(cache=True)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))

"""A shortcut to moto's response classes for the calls the pipeline makes most (moto 5.2.1).

Every SQS SendMessage, DynamoDB PutItem and SNS PublishBatch the functions make arrives as a
POST to `/` that moto's server app routes per request: a lock around its host lookup, then a
Flask app (request context, URL map, before/after hooks, CORS) whose view is the service's
`BaseResponse.dispatch`. Profiled under load, that wrapping cost about as much as the moto call
itself. Here the service is read from what moto reads (the SigV4 credential scope, X-Amz-Target)
and its `dispatch` is called directly, with the same arguments and the same rendering of its
answer (the status line, moto's headers, Flask's default Content-Type). Anything else, or
anything unusual (another path or method, compressed bodies, unsigned calls), returns None and
goes the normal way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.settings import MAX_FORM_MEMORY_SIZE
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

StartResponse = Callable[..., Any]
# What flask.Response gives a body without a Content-Type of its own.
FLASK_DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"
JSON_TARGETS = {"dynamodb": "DynamoDB_20120810.", "sqs": "AmazonSQS."}
QUERY_SERVICES = frozenset({"sns"})  # form-encoded Action=... calls


def signed_service(environ: dict[str, Any]) -> str | None:
    """The service of a SigV4 request's credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return None
    scope = auth.split(",", 1)[0].split()[-1]
    parts = scope.split("/")
    return parts[3].lower() if len(parts) == 5 else None


class _Request(Request):
    """As the Flask app's request: moto raises Flask's form size limit (500 kB), so must we."""

    max_form_memory_size = MAX_FORM_MEMORY_SIZE


class FastPath:
    def __init__(self) -> None:
        self._dispatch: dict[str, Callable[..., Any]] = {}

    def service(self, environ: dict[str, Any]) -> str | None:
        """The service this request is for, if the shortcut handles it."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/":
            return None
        if environ.get("HTTP_CONTENT_ENCODING") or environ.get("QUERY_STRING"):
            return None  # moto's app decompresses bodies; query strings are rare: its way
        service = signed_service(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if service in JSON_TARGETS:
            return service if target.startswith(JSON_TARGETS[service]) else None
        if service in QUERY_SERVICES and not target:
            content_type = environ.get("CONTENT_TYPE", "")
            return service if content_type.startswith("application/x-www-form-urlencoded") else None
        return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
        service = self.service(environ)
        if service is None:
            return None
        from botocore.exceptions import ClientError

        request = _Request(environ)
        try:
            # request.url rebuilt by werkzeug (IRI decoding, host checks) costs more than the call's
            # parsing; the path is "/" and there is no query string (service() checked)
            url = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}/"
            result = self._handler(service)(request, url, dict(request.headers))
        except ClientError as exc:  # as moto's convert_to_flask_response answers it
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        if isinstance(content, str):
            body = content.encode()
        elif isinstance(content, bytes):
            body = content
        else:  # a stream or an iterable: let flask.Response render it, as moto's app would
            from flask import Response

            return Response(response=content, status=status, headers=headers)(environ, start_response)
        header_list = [(str(name), str(value)) for name, value in headers.items()]
        if not any(name.lower() == "content-type" for name, _ in header_list):
            header_list.append(("Content-Type", FLASK_DEFAULT_CONTENT_TYPE))
        header_list.append(("Content-Length", str(len(body))))
        start_response(f"{int(status)} {HTTP_STATUS_CODES.get(int(status), 'UNKNOWN')}", header_list)
        return [body]

    def _handler(self, service: str) -> Callable[..., Any]:
        dispatch = self._dispatch.get(service)
        if dispatch is None:
            if service == "dynamodb":
                from moto.dynamodb.responses import DynamoHandler as handler
            elif service == "sqs":
                from moto.sqs.responses import SQSResponse as handler  # type: ignore[assignment]
            else:
                from moto.sns.responses import SNSResponse as handler  # type: ignore[assignment]
            dispatch = self._dispatch[service] = handler.dispatch
        return dispatch

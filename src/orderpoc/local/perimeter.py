"""The embedded AWS's perimeter: it answers this machine's tools, not web pages.

Any page open in the developer's browser can reach 127.0.0.1 too: with a CORS request, with a
form POST or an <img> GET that needs no preflight, or by DNS rebinding (its own domain made to
resolve to 127.0.0.1, so the browser calls it same-origin). moto's server allows every origin
(flask-cors) and serves its admin API (`/moto-api/reset` wipes every resource). So, before
anything else sees a request:

- the Host must be this server: 127.0.0.1, localhost or [::1] with its port (a rebinding page
  sends its own host name);
- `/moto-api/` is closed: nothing in orderpoc needs moto's admin API;
- on the AWS API paths a browser's request is refused: any OPTIONS (a CORS preflight), any
  request with an Origin header, any Sec-Fetch-Site but `none` (the user typed the URL); and no
  Access-Control-* header goes out. SDKs, curl and the function workers send none of these.
- The API Gateway invoke URLs are the user's API: how they answer browsers (OPTIONS methods,
  the functions' headers) is the API's own, as on AWS. Only the Host rule applies to them.

A WSGI middleware around the dispatcher; refusals are 403 with a one-line JSON message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("orderpoc.local.perimeter")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MOTO_ADMIN_PREFIX = "/moto-api"
_MAX_LOGGED = 50  # distinct refusals logged per run: a page looping on us must not fill the log


def is_invoke_url(path: str) -> bool:
    """An API Gateway invoke URL: /restapis/{api}/{stage}/_user_request_/{path}."""
    return path.startswith("/restapis/") and "/_user_request_" in path


class Perimeter:
    def __init__(self, app: WsgiApp, port: int) -> None:
        self._app = app
        self._port = port
        self._hosts = frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES) | (
            frozenset(LOOPBACK_NAMES) if port == 80 else frozenset()
        )
        self._logged: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        reason = self.refusal(environ, path)
        if reason is not None:
            return self._refuse(reason, start_response)
        if is_invoke_url(path):
            return self._app(environ, start_response)

        def without_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
            return start_response(status, kept, exc_info)

        return self._app(environ, without_cors)

    def refusal(self, environ: dict[str, Any], path: str) -> str | None:
        """Why this request may not pass, or None."""
        host = environ.get("HTTP_HOST", "").lower()
        if host not in self._hosts:
            return f"Host {host[:100]!r} is not 127.0.0.1, localhost or [::1] with port {self._port}"
        if is_invoke_url(path):
            return None
        if ("/" + path.lstrip("/")).startswith(MOTO_ADMIN_PREFIX):
            return "moto's admin API is closed on the orderpoc local AWS"
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            return "no CORS: the local AWS answers this machine's tools, not web pages"
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            return f"a web page's request (Origin {origin[:100]!r}): the local AWS answers this machine's tools"
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None and site != "none":
            return f"a web page's request (Sec-Fetch-Site {site[:20]!r}): the local AWS answers this machine's tools"
        return None

    def _refuse(self, reason: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            first = reason not in self._logged and len(self._logged) < _MAX_LOGGED
            if first:
                self._logged.add(reason)
        if first:
            log.warning("refused: %s", reason)
        body = json.dumps({"message": f"refused: {reason}"}).encode()
        start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

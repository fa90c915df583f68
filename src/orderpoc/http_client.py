"""A minimal JSON-over-HTTP client on the standard library (one less dependency for one POST).

Connections are kept alive, one per thread and origin: a load test's senders each reuse theirs
instead of opening a TCP (on AWS, a TLS) connection per order, as urllib does. A connection the
server closed while it sat idle is found out on its next request, which is sent once more on a new
one (orders carry an Idempotency-Key, so a resent POST stores nothing twice). Where a proxy is set
for the URL (HTTPS_PROXY and the like), urllib sends it, as before.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

# What a kept-alive connection the server has since closed raises on its next use.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class _Connections(threading.local):
    """This thread's open connections, by (scheme, host, port)."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}


_connections = _Connections()


def request(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> Response:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or _proxied(parts):
        return _via_urllib(method, url, body, headers or {}, timeout)
    origin = (parts.scheme, parts.hostname, parts.port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    reused = origin in _connections.open
    while True:
        connection = _connections.open.pop(origin, None) or _connect(origin, timeout)
        try:
            connection.timeout = timeout
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        except _STALE:
            connection.close()
            if not reused:
                raise
            reused = False  # the server closed it while idle: once more, on a new connection
            continue
        except BaseException:
            connection.close()
            raise
        if not response.will_close:
            _connections.open[origin] = connection
        else:
            connection.close()
        return Response(
            response.status, dict(response.headers), data.decode(errors="replace"), time.monotonic() - started
        )


def post_json(url: str, document: Any, headers: dict[str, str], timeout: float = 30.0) -> Response:
    return request(
        "POST",
        url,
        body=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", **headers},
        timeout=timeout,
    )


def _connect(origin: tuple[str, str, int | None], timeout: float) -> http.client.HTTPConnection:
    scheme, host, port = origin
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _proxied(parts: urllib.parse.SplitResult) -> bool:
    proxies = urllib.request.getproxies()
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.netloc)


def _via_urllib(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float) -> Response:
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    started = time.monotonic()
    # An opener of its own: urlopen's global one read the proxy settings once, at its first use.
    opener = urllib.request.build_opener()
    try:
        with opener.open(req, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers), resp.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers), err.read().decode(errors="replace"), time.monotonic() - started)

"""A small threaded HTTP/1.1 WSGI server for the embedded AWS, in place of werkzeug's dev server.

Every AWS call a function makes, every poller receive and every invoke goes through here, so
the per-request cost is the emulator's cost per order. werkzeug's development server parses
headers with the email package, builds its environ through several layers and formats a log line
per request; profiled under load it was a fifth of the server's CPU. This one reads the request
line and headers itself, keeps connections alive (boto3 reuses them), and writes each response
in one send. One thread per connection (clients keep theirs open), reused for the next
connection, bound to 127.0.0.1.

What it supports is what AWS clients send: Content-Length or chunked bodies, `Expect:
100-continue`, HEAD, keep-alive and `Connection: close`. Header case as sent is kept in the
environ under RAW_HEADERS (API Gateway's proxy event reports headers as sent).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import socketserver
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from orderpoc.local.connthreads import ConnectionThreads
from orderpoc.local.gate import RequestGate

log = logging.getLogger("orderpoc.local.http")

RAW_HEADERS = "orderpoc.raw_headers"  # environ key: [(name as sent, value), ...]
MAX_LINE = 65536
MAX_HEADERS = 200
# A connection that sends nothing, or a request that trickles in, must not hold a thread for good
# (any local process can open hundreds): kept-alive connections idle this long are closed, as AWS
# closes them, and a request must be read whole within REQUEST_SECONDS of its first line.
IDLE_SECONDS = 60.0
REQUEST_SECONDS = 30.0
MAX_CONNECTIONS = 512  # served at once; beyond, a new connection gets a 503 and is closed
READ_CHUNK = 1024 * 1024
DEFAULT_MAX_BODY = 64 * 1024 * 1024
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_REASONS = {
    400: "Bad Request",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(socketserver.StreamRequestHandler):
    server: Server
    rbufsize = 65536
    wbufsize = 0

    def setup(self) -> None:
        super().setup()
        self._deadline = 0.0  # by when the request being read must be whole (_in_time)
        self._timeout = 0.0  # the socket's timeout as last set
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away: nothing to answer

    def _one_request(self) -> bool:
        """Serve one request; False when the connection should close."""
        self._set_timeout(IDLE_SECONDS)
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        if line in (b"\r\n", b"\n"):  # tolerated between requests
            return True
        self._deadline = time.monotonic() + REQUEST_SECONDS
        self._set_timeout(REQUEST_SECONDS)
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ")
            if not version.startswith("HTTP/1."):
                raise ValueError(version)
            headers = self._headers()
            environ = self._environ(method, target, version, headers)
        except BadRequest as exc:
            self._send_error(exc.status, str(exc))
            return False
        except ValueError:
            self._send_error(400, "malformed request line")
            return False
        keep_alive = _keep_alive(version, environ.get("HTTP_CONNECTION", ""))
        # The app may take long (a long poll) without touching the socket; a client that does not
        # read its answer is given up on.
        self._set_timeout(REQUEST_SECONDS)
        with self.server.gate:  # from here to the answer's last byte, no restart in place
            self._respond(environ, method == "HEAD", keep_alive)
        return keep_alive

    def _readline(self) -> bytes:
        self._in_time()
        return self.rfile.readline(MAX_LINE + 1)

    def _read(self, size: int) -> bytes:
        """size bytes of the body (fewer when the client went away), read before the deadline."""
        parts: list[bytes] = []
        while size > 0:
            self._in_time()
            part = self.rfile.read(min(size, READ_CHUNK))
            if not part:
                break
            parts.append(part)
            size -= len(part)
        return b"".join(parts)

    def _in_time(self) -> None:
        """Each read may wait only for what is left of the request's time, give or take a second
        (TimeoutError: closed); the socket's timeout is set again only when that has shrunk."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not read in time")
        if left < self._timeout - 1.0:
            self._set_timeout(left)

    def _set_timeout(self, seconds: float) -> None:
        if seconds != self._timeout:  # a system call each time: not per header line
            self.connection.settimeout(seconds)
            self._timeout = seconds

    def _headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            line = self._readline()
            if len(line) > MAX_LINE:
                raise BadRequest(431, "header line too long")
            if line in (b"\r\n", b"\n", b""):
                return headers
            if len(headers) >= MAX_HEADERS:
                raise BadRequest(431, "too many headers")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest(400, "malformed header")
            headers.append((name, value.strip()))

    def _environ(self, method: str, target: str, version: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form: keep the path only
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),  # PEP 3333: bytes as latin-1
            "QUERY_STRING": query,
            "REQUEST_URI": target,
            "RAW_URI": target,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            RAW_HEADERS: headers,
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if "_" in name:  # werkzeug's rule too: X_Api_Key must not pass for X-Api-Key
                continue
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        environ["wsgi.input"] = io.BytesIO(self._body(environ))
        return environ

    def _body(self, environ: dict[str, Any]) -> bytes:
        limit = self.server.body_limit(environ["PATH_INFO"])
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = 0 if chunked else int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadRequest(400, "bad Content-Length") from None
        if length < 0:
            raise BadRequest(400, "bad Content-Length")
        if length > limit:  # before 100 Continue: the client need not send it
            raise BadRequest(413, f"body too large: at most {limit} bytes")
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if chunked:
            body = self._chunked(limit)
            # As read: the app must take the body by its length (werkzeug reads no body of a
            # request that still says chunked).
            del environ["HTTP_TRANSFER_ENCODING"]
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        body = self._read(length) if length else b""
        if len(body) < length:
            raise ConnectionError("body cut short")
        return body

    def _chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self._readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size") from None
            if size < 0:
                raise BadRequest(400, "bad chunk size")
            if size == 0:
                while self._readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers: ignored
                return b"".join(parts)
            total += size
            if total > limit:
                raise BadRequest(413, f"body too large: at most {limit} bytes")
            chunk = self._read(size)
            if len(chunk) < size:
                raise ConnectionError("body cut short")
            parts.append(chunk)
            self._readline()  # the CRLF after the chunk

    def _respond(self, environ: dict[str, Any], head: bool, keep_alive: bool) -> None:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            log.exception("%s %s failed", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            self._send_error(500, "internal error")
            raise ConnectionAbortedError from None  # ends this connection (handled in handle())
        status, headers = started
        body = b"".join(chunks)
        lines = [f"HTTP/1.1 {status}"]
        lines.extend(f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP)
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(out if head else out + body)

    def _send_error(self, status: int, message: str) -> None:
        body = message.encode()
        reason = _REASONS.get(status, "Error")
        self.wfile.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode("latin-1")
            + body
        )


_TOO_MANY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 16\r\nConnection: close\r\n\r\ntoo many clients"
_HOP_BY_HOP = {"content-length", "connection", "keep-alive", "transfer-encoding"}


def _keep_alive(version: str, connection: str) -> bool:
    tokens = {t.strip().lower() for t in connection.split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


class Server(socketserver.TCPServer):
    """One thread per connection, reused for the next (connthreads.py); none holds up shutdown."""

    allow_reuse_address = True
    request_queue_size = 128  # bursts of new connections (API clients without keep-alive)

    def __init__(
        self,
        host: str,
        port: int,
        body_limit: Callable[[str], int] = lambda path: DEFAULT_MAX_BODY,
        *,
        inherited_fd: int | None = None,
    ) -> None:
        self.app: WsgiApp = _not_ready
        self.body_limit = body_limit  # the largest body a request to this path may send
        self.threads = ConnectionThreads(self._serve_connection)
        self.gate = RequestGate()
        super().__init__((host, port), _Handler, bind_and_activate=inherited_fd is None)
        if inherited_fd is not None:  # the listening socket of the process this one replaced
            self.socket.close()
            self.socket = socket.socket(fileno=inherited_fd)
            self.socket.set_inheritable(False)

    def get_request(self) -> tuple[socket.socket, Any]:
        # socket.accept() without its per-call family/type enum lookups: always TCP over IPv4 here
        fd, address = self.socket._accept()  # type: ignore[attr-defined]
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=fd), address

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.threads.busy() >= MAX_CONNECTIONS:
            request.setblocking(False)  # the accept loop must never wait on one client
            with contextlib.suppress(OSError):
                request.send(_TOO_MANY)
            self.shutdown_request(request)
            return
        self.threads.submit(request, client_address)

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def serve(self, app: WsgiApp, poll_interval: float = 0.5) -> None:
        """Answer with app until shutdown(); connections made since the bind wait in the backlog."""
        self.app = app
        self.serve_forever(poll_interval)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("request from %s failed", client_address)


def _not_ready(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("no app yet: Server.serve(app) installs it")  # unreachable: nothing is accepted before


def make_server(
    host: str,
    port: int,
    *,
    inherited_fd: int | None = None,
    body_limit: Callable[[str], int] = lambda path: DEFAULT_MAX_BODY,
) -> Server:
    """Bound and listening (OSError when the port is taken), or listening on inherited_fd, which
    the replaced process left open; serve(app) to answer."""
    return Server(host, port, body_limit, inherited_fd=inherited_fd)

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

import io
import logging
import socket
import socketserver
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from orderpoc.local.connthreads import ConnectionThreads
from orderpoc.local.gate import RequestGate

log = logging.getLogger("orderpoc.local.http")

RAW_HEADERS = "orderpoc.raw_headers"  # environ key: [(name as sent, value), ...]
MAX_LINE = 65536
MAX_HEADERS = 200
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_REASONS = {
    400: "Bad Request",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
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
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away: nothing to answer

    def _one_request(self) -> bool:
        """Serve one request; False when the connection should close."""
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        if line in (b"\r\n", b"\n"):  # tolerated between requests
            return True
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
        with self.server.gate:  # from here to the answer's last byte, no restart in place
            self._respond(environ, method == "HEAD", keep_alive)
        return keep_alive

    def _headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
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
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self._chunked()
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadRequest(400, "bad Content-Length") from None
        if length < 0 or length > self.server.max_body:
            raise BadRequest(413, "body too large")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise ConnectionError("body cut short")
        return body

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(MAX_LINE + 1)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: ignored
                return b"".join(parts)
            total += size
            if total > self.server.max_body:
                raise BadRequest(413, "body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(MAX_LINE + 1)  # the CRLF after the chunk

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
        self, host: str, port: int, max_body: int = 64 * 1024 * 1024, *, inherited_fd: int | None = None
    ) -> None:
        self.app: WsgiApp = _not_ready
        self.max_body = max_body
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


def make_server(host: str, port: int, *, inherited_fd: int | None = None) -> Server:
    """Bound and listening (OSError when the port is taken), or listening on inherited_fd, which
    the replaced process left open; serve(app) to answer."""
    return Server(host, port, inherited_fd=inherited_fd)

"""The embedded AWS's HTTP server reads what clients send, and no client holds it up for good."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from local_helpers import free_port
from werkzeug.wrappers import Request

from orderpoc.local import httpserver
from orderpoc.local.httpserver import Server, make_server

SMALL_PATH = "/small"  # a path whose bodies may be 100 bytes at most (as invoke URLs get 10 MB)


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = Request(environ).get_data()  # as werkzeug (moto's and our apps') reads it
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


@pytest.fixture
def serve() -> Iterator[Callable[[], Server]]:
    servers: list[Server] = []

    def start() -> Server:
        httpd = make_server("127.0.0.1", free_port(), body_limit=lambda path: 100 if path == SMALL_PATH else 10_000)
        threading.Thread(target=httpd.serve, args=(_echo, 0.05), daemon=True).start()
        servers.append(httpd)
        return httpd

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _connect(httpd: Server) -> socket.socket:
    sock = socket.create_connection(httpd.server_address[:2], timeout=5)
    return sock


def _exchange(httpd: Server, raw: bytes) -> bytes:
    """Send raw bytes, read until the server closes (every request here says Connection: close)."""
    with _connect(httpd) as sock:
        sock.sendall(raw)
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_chunked_body_reaches_the_app_whole(serve: Callable[[], Server]) -> None:
    answer = _exchange(
        serve(),
        b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nhello world")


@pytest.mark.parametrize("length", [b"-5", b"ten"])
def test_a_bad_content_length_is_a_400(serve: Callable[[], Server], length: bytes) -> None:
    answer = _exchange(serve(), b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"bad Content-Length" in answer


def test_a_body_over_its_path_limit_is_a_413_before_it_is_sent(serve: Callable[[], Server]) -> None:
    httpd = serve()
    head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n"
    refused = _exchange(httpd, head % SMALL_PATH.encode())  # no body sent: the answer comes anyway
    assert refused.startswith(b"HTTP/1.1 413") and b"at most 100 bytes" in refused
    assert b"100 Continue" not in refused
    taken = _exchange(httpd, (head % b"/other").replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + b"x" * 101)
    assert taken.startswith(b"HTTP/1.1 100 Continue") and taken.endswith(b"x" * 101)


def test_a_chunked_body_over_the_limit_is_a_413(serve: Callable[[], Server]) -> None:
    chunk = b"65\r\n" + b"x" * 101 + b"\r\n"  # 0x65 = 101 bytes
    answer = _exchange(
        serve(), b"POST /small HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk
    )
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_request_that_trickles_in_is_cut_off_at_its_deadline(
    serve: Callable[[], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpserver, "REQUEST_SECONDS", 0.3)
    httpd = serve()
    with _connect(httpd) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nab")  # 8 bytes short
        assert _read_all(sock) == b""  # closed by the server, well before the client's 5 s timeout
    with _connect(httpd) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
        assert _read_all(sock) == b""


def test_an_idle_kept_alive_connection_is_closed(serve: Callable[[], Server], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserver, "IDLE_SECONDS", 0.3)
    with _connect(serve()) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nok")
        assert _read_all(sock).endswith(b"\r\n\r\nok")  # answered, then closed once idle


def test_connections_beyond_the_cap_get_a_503(serve: Callable[[], Server], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserver, "MAX_CONNECTIONS", 2)
    httpd = serve()
    held = [_connect(httpd) for _ in range(2)]
    try:
        for sock in held:  # each is being served (its thread reads the request line)
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.1 200"
        assert _exchange(httpd, b"").startswith(b"HTTP/1.1 503")
    finally:
        for sock in held:
            sock.close()

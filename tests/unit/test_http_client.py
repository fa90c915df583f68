"""The order client keeps one connection per thread and origin, and survives a server that closed it."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orderpoc import http_client


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.requests: list[tuple[str, str, bytes]] = []  # method, path, body
        self.close_after_response = False  # as a server that times idle connections out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: Recorder

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(("POST", self.path, body))
        status = 400 if b"bad" in body else 202
        self._answer(status, b'{"orderId": "o-1"}' if status == 202 else b'{"message": "bad body"}')

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, b""))
        self._answer(200, b"{}")

    def _answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        if self.server.close_after_response:
            self.close_connection = True  # without "Connection: close": the client finds out later

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()
    http_client._connections.open.clear()


def test_a_threads_requests_share_one_connection(server: Recorder) -> None:
    for n in range(5):
        response = http_client.post_json(f"{server.url}/order?n={n}", {"n": n}, {"x-api-key": "k"})
        assert response.status == 202 and response.json() == {"orderId": "o-1"}
    assert server.connections == 1
    assert [path for _, path, _ in server.requests] == [f"/order?n={n}" for n in range(5)]


def test_each_thread_has_its_own_connection(server: Recorder) -> None:
    def send() -> None:
        for _ in range(3):
            assert http_client.request("GET", f"{server.url}/order/o-1").status == 200

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.connections == 3 and len(server.requests) == 9


def test_a_connection_the_server_closed_is_replaced_and_the_request_sent_once(server: Recorder) -> None:
    server.close_after_response = True
    for n in range(3):
        assert http_client.post_json(f"{server.url}/order", {"n": n}, {}).status == 202
    assert server.connections == 3
    assert [body for _, _, body in server.requests] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


def test_an_error_status_is_an_answer_and_keeps_the_connection(server: Recorder) -> None:
    bad = http_client.post_json(f"{server.url}/order", {"bad": True}, {})
    assert bad.status == 400 and bad.json() == {"message": "bad body"}
    assert http_client.post_json(f"{server.url}/order", {"n": 1}, {}).status == 202
    assert server.connections == 1


def test_a_refused_connection_raises_at_once(server: Recorder) -> None:
    url = server.url
    server.shutdown()
    server.server_close()
    with pytest.raises(ConnectionRefusedError):
        http_client.request("GET", f"{url}/order/o-1", timeout=2)


def test_a_proxy_set_for_the_url_is_used(server: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    urllib.request.urlopen(f"{server.url}/before", timeout=5).close()  # urllib's global opener, proxy-less
    server.requests.clear()
    monkeypatch.setenv("HTTP_PROXY", server.url)  # the recorder stands in for the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert http_client.request("GET", "http://orders.example.invalid/order/o-1").status == 200
    assert server.requests == [("GET", "http://orders.example.invalid/order/o-1", b"")]  # absolute: to a proxy

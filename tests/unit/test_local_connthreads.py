"""The HTTP server's connection threads are reused, never shared by two connections at once."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from local_helpers import free_port, wait_for

from orderpoc.local.connthreads import ConnectionThreads
from orderpoc.local.httpserver import Server, make_server


def test_one_connection_after_another_reuses_one_thread() -> None:
    served: list[str] = []
    done = threading.Semaphore(0)

    def serve(request: Any, address: Any) -> None:
        served.append(threading.current_thread().name)
        done.release()

    threads = ConnectionThreads(serve)
    for n in range(5):
        threads.submit(n, None)
        assert done.acquire(timeout=5)
        wait_for(lambda: threads.idle() == 1, what="the thread back to idle")
    assert threads.started == 1 and len(set(served)) == 1


def test_connections_at_once_get_a_thread_each_and_idle_threads_end() -> None:
    release = threading.Event()
    running = threading.Semaphore(0)

    def serve(request: Any, address: Any) -> None:
        running.release()
        release.wait(5)

    threads = ConnectionThreads(serve, idle_seconds=0.1, name="idle-test")

    def alive() -> int:  # this pool's threads only: other tests' servers keep theirs a while
        return sum(t.name.startswith("idle-test-") for t in threading.enumerate())

    for n in range(3):
        threads.submit(n, None)
    for _ in range(3):
        assert running.acquire(timeout=5), "a connection waited for another's thread"
    assert threads.started == 3
    release.set()
    wait_for(lambda: threads.idle() == 0 and alive() == 0, what="idle threads to end")
    time.sleep(0.3)
    assert threads.idle() == 0
    threads.submit(9, None)  # after they ended, a new one is started
    assert running.acquire(timeout=5) and threads.started == 4


@pytest.fixture
def server() -> Iterator[Server]:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    httpd = make_server("127.0.0.1", free_port())
    thread = threading.Thread(target=httpd.serve, args=(app, 0.05), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_server_answers_each_new_connection_on_the_same_thread(server: Server) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    names = set()
    for _ in range(5):
        with urllib.request.urlopen(url, timeout=5) as response:  # a connection per request
            names.add(response.read())
        wait_for(lambda: server.threads.idle() == 1, what="the connection's thread back to idle")
    assert len(names) == 1 and server.threads.started == 1


def test_server_keeps_a_kept_alive_connection_and_serves_another_beside_it(server: Server) -> None:
    kept = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    kept.request("GET", "/")
    first = kept.getresponse().read()
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5) as response:
        other = response.read()
    kept.request("GET", "/")
    assert kept.getresponse().read() == first != other
    kept.close()

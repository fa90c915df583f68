"""Threads that serve one connection each, kept for the next connection instead of ended.

The HTTP server gives every connection its own thread (boto3 clients keep theirs open and
long-poll on them), but API clients such as the load test, curl or urllib open a connection per
request: with a new thread each time, starting it (Thread, its Event and Condition, the start
handshake) and reaping it was paid per order. Here a thread that finished a connection waits
for the next one; a thread idle for `idle_seconds` ends, so a burst does not leave threads behind.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

Serve = Callable[[Any, Any], None]  # (request socket, client address)


class ConnectionThreads:
    def __init__(self, serve: Serve, idle_seconds: float = 60.0, name: str = "http") -> None:
        self._serve = serve
        self._idle_seconds = idle_seconds
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # waiting threads no connection has been handed to yet
        self._live = 0  # threads running now, serving or waiting
        self.started = 0  # threads started so far (for tests and curiosity)

    def submit(self, request: Any, address: Any) -> None:
        """Serve this connection on an idle thread, or on a new one when none is idle."""
        with self._lock:
            claimed = self._idle > 0
            if claimed:
                self._idle -= 1
            else:
                self.started += 1
                self._live += 1
        self._queue.put((request, address))
        if not claimed:
            threading.Thread(target=self._run, name=f"{self._name}-{self.started}", daemon=True).start()

    def idle(self) -> int:
        with self._lock:
            return self._idle

    def busy(self) -> int:
        """Connections being served now."""
        with self._lock:
            return self._live - self._idle

    def _run(self) -> None:
        while True:
            try:
                request, address = self._queue.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody counted on this thread: end it
                        self._idle -= 1
                        self._live -= 1
                        return
                continue  # every waiting thread is claimed: a connection is on its way
            self._serve(request, address)
            with self._lock:
                self._idle += 1

"""A gate every request passes while it is answered, which can be shut once none is in flight.

The embedded AWS restarts itself in place when it holds nothing (recycle.py): it must not do so
halfway through a request, or a create could be made and its answer lost. The HTTP server holds
the gate from a request's first line to its answer's last byte; `close` waits until no request is
in flight and then keeps new ones waiting (their clients see the connection end at the restart,
before anything was done, and retry).
"""

from __future__ import annotations

import threading
from types import TracebackType


class RequestGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False

    def __enter__(self) -> None:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._in_flight += 1

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def close(self, timeout: float) -> bool:
        """Shut once no request is in flight (True), or give up after timeout and stay open."""
        with self._cond:
            self._closed = True
            if self._cond.wait_for(lambda: self._in_flight == 0, timeout):
                return True
            self._closed = False
            self._cond.notify_all()
            return False

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._cond.notify_all()

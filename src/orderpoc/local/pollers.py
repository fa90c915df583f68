"""The event source mapping supervisor: one poller per enabled mapping, as provisioned.

It reconciles with the mappings moto holds whenever the Lambda API creates, updates or deletes one,
before that call answers, and every half second besides: a new or re-enabled mapping gets a poller,
a disabled or deleted one loses it, a changed one (batch size, filters...) is restarted with its
new configuration. So once UpdateEventSourceMapping(Enabled=False) has answered, no lane takes
another message (the half-second tick alone let an order sent just after it be processed).
Nothing is hard-coded: the wiring is whatever the API was told.
It also gives the runtime its housekeeping tick (retire pools of changed or deleted functions),
and sweeps at once after a DeleteFunction, so `down` leaves no worker process behind.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from orderpoc.local import backends
from orderpoc.local.sqs_poller import SqsPoller
from orderpoc.local.stream_poller import StreamPoller

log = logging.getLogger("orderpoc.local.pollers")

INTERVAL = 0.5
SWEEP_EVERY = 10  # ticks between runtime sweeps (5 s)
# Fields that do not change how a mapping is polled.
_VOLATILE = {"LastModified", "State", "StateTransitionReason", "LastProcessingResult", "Tags"}


class Poller(Protocol):
    config: dict[str, Any]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


def _fingerprint(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _VOLATILE}


class Supervisor:
    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self._pollers: dict[str, Poller] = {}
        self._checkpoints: dict[str, int] = {}  # stream positions by mapping UUID
        self._stopped: dict[str, Poller] = {}  # last stopped poller per UUID: its successor waits
        self._ignored: set[str] = set()  # mappings of sources we do not emulate (warned once)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the tick and the API's request threads both reconcile
        self._thread = threading.Thread(target=self._loop, name="esm-supervisor", daemon=True)

    def start(self) -> None:
        _after(_MAPPING_CHANGES, self._reconcile_quietly)
        _after(_FUNCTION_DELETIONS, self._sweep_quietly)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for poller in self._pollers.values():
            poller.stop()
        self._pollers.clear()

    def running(self) -> list[str]:
        """UUIDs of the mappings being polled (for the health endpoint and tests)."""
        return sorted(self._pollers.copy())

    def _loop(self) -> None:
        tick = 0
        while not self._stop.is_set():
            try:
                self.reconcile()
                tick += 1
                if tick % SWEEP_EVERY == 0:
                    self._runtime.sweep()
            except Exception:
                log.exception("supervisor tick failed")
            self._stop.wait(INTERVAL)

    def _reconcile_quietly(self) -> None:
        if self._stop.is_set():  # the hook outlives a stopped supervisor: it must not start pollers
            return
        try:
            self.reconcile()
        except Exception:  # the API call itself succeeded: the tick tries again
            log.exception("reconcile after a mapping change failed")

    def _sweep_quietly(self) -> None:
        """After DeleteFunction: its workers go now, not at the next sweep (up to 5 s later)."""
        if self._stop.is_set():
            return
        try:
            self._runtime.sweep()
        except Exception:
            log.exception("sweep after a function deletion failed")

    def reconcile(self) -> None:
        with self._lock:
            self._reconcile()

    def _reconcile(self) -> None:
        wanted = {c["UUID"]: c for c in backends.event_source_mappings() if c.get("State") == "Enabled"}
        for uuid in list(self._pollers):
            poller = self._pollers[uuid]
            if uuid not in wanted or _fingerprint(wanted[uuid]) != _fingerprint(poller.config):
                poller.stop()
                self._stopped[uuid] = self._pollers.pop(uuid)
                log.info("stopped poller for mapping %s", uuid)
        live = {c["UUID"] for c in backends.event_source_mappings()}
        for uuid in set(self._checkpoints) | set(self._stopped):
            if uuid not in live:  # deleted mapping: forget its position
                self._checkpoints.pop(uuid, None)
                self._stopped.pop(uuid, None)
        for uuid, config in wanted.items():
            if uuid in self._pollers or uuid in self._ignored:
                continue
            new = self._make(config)
            if new is None:
                continue
            new.start()
            self._pollers[uuid] = new
            log.info("started poller for mapping %s (%s)", uuid, config["EventSourceArn"])

    def _make(self, config: dict[str, Any]) -> Poller | None:
        service = config["EventSourceArn"].split(":")[2]
        if service == "sqs":
            return SqsPoller(config, self._runtime)
        if service == "dynamodb":
            return StreamPoller(config, self._runtime, self._checkpoints, self._stopped.pop(config["UUID"], None))
        self._ignored.add(config["UUID"])
        log.warning("mapping %s: event source %s is not emulated", config["UUID"], service)
        return None


_MAPPING_CHANGES = ("create_event_source_mapping", "update_event_source_mapping", "delete_event_source_mapping")
_FUNCTION_DELETIONS = ("delete_function",)


def _after(names: tuple[str, ...], callback: Callable[[], None]) -> None:
    """Run `callback` after each of these moto LambdaBackend methods, in the request's thread,
    before the API answers (moto 5.2.1's names; the latest supervisor's callback wins)."""
    from moto.awslambda.models import LambdaBackend

    backend_cls: Any = LambdaBackend
    for name in names:
        method = getattr(backend_cls, name)
        original = getattr(method, "__wrapped__", method)

        @functools.wraps(original)
        def changed(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            result = _original(self, *args, **kwargs)
            callback()
            return result

        setattr(backend_cls, name, changed)

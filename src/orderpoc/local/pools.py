"""Warm execution environments for one function configuration: reuse idle workers, bound them."""

from __future__ import annotations

import io
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orderpoc.local.worker_process import Worker, new_log_stream

EnvFactory = Callable[[Path, str], dict[str, str]]  # (code dir, log stream) -> environment

# An invocation that finds every warm worker busy waits this long for one to come free before it
# starts another. Lambda would start one at once; here a start costs a Python process (~45 MB, and
# ~0.2 s of CPU importing boto3) on the same machine, while a busy worker is usually free within a
# few milliseconds. A worker that stays busy longer does not hold anyone back: the pool grows.
SPAWN_GRACE_SECONDS = 0.025


class PoolRetired(Exception):
    """The configuration changed while waiting for a worker; ask the runtime for the new pool."""


class Throttled(Exception):
    """Reserved concurrency 0: the function accepts no invocation, as Lambda throttles it."""


class Pool:
    """All warm workers of one (function version, code, configuration)."""

    def __init__(self, config: dict[str, Any], code: bytes, code_dir: Path, make_env: EnvFactory, limit: int) -> None:
        self.config = config
        self.code_dir = code_dir
        self._make_env = make_env
        reserved = config.get("reserved")
        self.limit = limit if reserved is None else min(limit, int(reserved))
        self._idle: list[Worker] = []
        self._live: set[Worker] = set()  # idle + busy
        self._count = 0  # idle + busy + starting
        self._cond = threading.Condition()
        self._retired = False
        code_dir.mkdir(parents=True)
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(code_dir)
        except zipfile.BadZipFile:
            shutil.rmtree(code_dir, ignore_errors=True)
            raise

    def acquire(self) -> tuple[Worker, dict[str, Any] | None]:
        """An idle worker (None) or a freshly started one with its init report."""
        if self.limit <= 0:
            raise Throttled()
        grace_ends = time.monotonic() + SPAWN_GRACE_SECONDS
        with self._cond:
            while True:
                if self._retired:
                    raise PoolRetired()
                while self._idle:
                    worker = self._idle.pop()  # LIFO: the warmest environment first
                    if worker.alive():
                        return worker, None
                    self._count -= 1
                if self._count < self.limit:
                    now = time.monotonic()
                    if self._count == 0 or now >= grace_ends:
                        self._count += 1
                        break
                    self._cond.wait(grace_ends - now)
                    continue
                self._cond.wait()
        try:
            stream = new_log_stream(str(self.config["version"]))
            worker = Worker(self.code_dir, self.config["handler"], self._make_env(self.code_dir, stream), stream)
            with self._cond:
                self._live.add(worker)
            return worker, worker.wait_ready()
        except BaseException:
            self._forget(None)
            raise

    def release(self, worker: Worker, reusable: bool) -> None:
        with self._cond:
            if reusable and not self._retired and worker.alive():
                self._idle.append(worker)
                self._cond.notify()
                return
        self._forget(worker)

    def _forget(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._cond:
            self._live.discard(worker)
            self._count -= 1
            self._cond.notify()
            cleanup = self._retired and self._count == 0
        if cleanup:
            shutil.rmtree(self.code_dir, ignore_errors=True)

    def retire(self, *, kill_busy: bool = False) -> None:
        """Stop taking work: idle workers go now, busy ones when their invocation ends (or now,
        at shutdown: their invocations then fail with Runtime.ExitError)."""
        with self._cond:
            self._retired = True
            idle, self._idle = self._idle, []
            busy = [w for w in self._live if w not in idle] if kill_busy else []
            self._cond.notify_all()
        for worker in idle:
            self._forget(worker)
        for worker in busy:
            worker.kill()  # its invocation's thread sees WorkerDied and releases it
        with self._cond:
            empty = self._count == 0
        if empty:
            shutil.rmtree(self.code_dir, ignore_errors=True)

    def reap_idle(self, warmest_for: float, others_for: float) -> None:
        """Lambda recycles environments that sat idle; so do we, to give the memory back: the
        warmest idle worker after `warmest_for` seconds, the others (what a burst of load left)
        after `others_for`."""
        now = time.monotonic()
        with self._cond:
            warmest = max(self._idle, key=lambda w: w.last_used, default=None)
            stale = [w for w in self._idle if now - w.last_used > (warmest_for if w is warmest else others_for)]
            self._idle = [w for w in self._idle if w not in stale]
        for worker in stale:
            self._forget(worker)

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._idle]

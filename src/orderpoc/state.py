"""The state file: what was created, for which account/region/endpoint. Atomic, locked, private.

It is a cache, not the source of truth: every resource can be found again by its deterministic
name, so losing this file never leads to duplicates. It does pin the identity (account, region,
endpoint) so a command never acts on another account than the one that built the stack.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orderpoc.errors import UserError

SCHEMA_VERSION = 1


def ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


class State:
    """In-memory view of one stack's state file; every change is written through atomically."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data: dict[str, Any] = data or {"schema": SCHEMA_VERSION, "resources": {}}
        self._write_lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> State:
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(
                f"state file {path} is unreadable ({exc}); move it aside and rerun: "
                "orderpoc finds its resources by name"
            ) from None
        if not isinstance(data, dict):
            raise UserError(
                f"state file {path} does not hold a JSON object; move it aside and rerun: "
                "orderpoc finds its resources by name"
            )
        if data.get("schema") != SCHEMA_VERSION:
            raise UserError(
                f"state file {path} has schema {data.get('schema')!r}, this orderpoc writes "
                f"{SCHEMA_VERSION}; move it aside and rerun: resources are found by name"
            )
        return cls(path, data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.data.setdefault("resources", {})

    def outputs(self, key: str) -> dict[str, Any] | None:
        entry = self.resources.get(key)
        return entry.get("outputs") if entry else None

    # -- identity ----------------------------------------------------------------------------
    def check_identity(self, *, account: str, region: str, endpoint: str | None) -> None:
        """Refuse to act on another account/region/endpoint than the one this state belongs to."""
        recorded = {k: self.data.get(k) for k in ("account", "region", "endpoint")}
        if recorded["account"] is None:
            return
        current = {"account": account, "region": region, "endpoint": endpoint}
        for key, value in current.items():
            if recorded[key] != value:
                raise UserError(
                    f"state file {self.path} belongs to {key} {recorded[key]!r} but this command "
                    f"would act on {value!r}; use the matching credentials/--region/--endpoint-url, "
                    "or another --state-dir"
                )

    def set_identity(self, **identity: Any) -> None:
        with self._write_lock:
            self.data.update(identity)
            self._write()

    # -- writing -----------------------------------------------------------------------------
    def record(self, key: str, entry: dict[str, Any]) -> None:
        with self._write_lock:
            self.resources[key] = {**entry, "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            self._write()

    def forget(self, key: str) -> None:
        with self._write_lock:
            if self.resources.pop(key, None) is not None:
                self._write()

    def remove_file(self) -> None:
        with self._write_lock:
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        """temp file in the same folder, fsync, rename: a crash leaves the old or the new file."""
        ensure_private_dir(self.path.parent)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(self.data, handle, indent=2, sort_keys=True, default=str)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextmanager
def locked(path: Path, *, timeout: float = 5.0) -> Iterator[None]:
    """Exclusive lock for one stack+target, so two commands never interleave their writes."""
    ensure_private_dir(path.parent)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError(
                        f"another orderpoc command is working on this stack (lock {lock_path}); wait for it to finish"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the flock

"""A stack's state: what was created, for which account/region/endpoint. Written through a store.

It is a cache, not the source of truth: every resource can be found again by its deterministic
name, so losing it never leads to duplicates. It does pin the identity (account, region,
endpoint) so a command never acts on another account than the one that built the stack.

Where the document lives is the store's business (`state_store.FileStore`, the default, or
`state_s3.S3Store`); every write here is a compare-and-swap on the version last read or written,
and carries a `serial` that grows by one, so a command that lost a race stops instead of
overwriting newer state.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orderpoc.errors import UserError
from orderpoc.settings import DEFAULT_LOCK_TIMEOUT
from orderpoc.state_store import (
    FileStore,
    LockInfo,
    Snapshot,
    StateConflict,
    Store,
    ensure_private_dir,
)

__all__ = ["SCHEMA_VERSION", "State", "ensure_private_dir", "locked", "validate_shape"]

SCHEMA_VERSION = 1
_IDENTITY = ("lineage", "stack", "target", "account", "region", "endpoint", "local_boot_id", "invoke_url")


def _store(where: Path | Store) -> Store:
    return FileStore(where) if isinstance(where, Path) else where


class State:
    """In-memory view of one stack's state; every change is written through the store at once."""

    def __init__(self, where: Path | Store, data: dict[str, Any] | None = None, version: str | None = None) -> None:
        self.store = _store(where)
        # lineage: which state this is (made once, kept by every write and move); serial: how new
        fresh = {"schema": SCHEMA_VERSION, "lineage": str(uuid.uuid4()), "serial": 0, "resources": {}}
        self.data: dict[str, Any] = data or fresh
        self.version = version
        self._write_lock = threading.Lock()
        self._lost: StateConflict | None = None  # once a write lost a race, every later one stops too

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, where: Path | Store) -> State:
        store = _store(where)
        snapshot = store.read()
        if snapshot is None:
            return cls(store)
        validate_shape(snapshot.data, store.url)
        return cls(store, snapshot.data, snapshot.version)

    @classmethod
    def of(cls, store: Store, snapshot: Snapshot) -> State:
        validate_shape(snapshot.data, store.url)
        return cls(store, snapshot.data, snapshot.version)

    @property
    def path(self) -> Path | None:
        return self.store.path if isinstance(self.store, FileStore) else None

    @property
    def url(self) -> str:
        return self.store.url

    @property
    def exists(self) -> bool:
        return self.version is not None

    @property
    def serial(self) -> int:
        return int(self.data.get("serial") or 0)

    @property
    def lineage(self) -> str | None:
        return self.data.get("lineage")

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.data.setdefault("resources", {})

    def outputs(self, key: str) -> dict[str, Any] | None:
        entry = self.resources.get(key)
        return entry.get("outputs") if entry else None

    # -- identity ----------------------------------------------------------------------------
    def check_identity(
        self, *, stack: str, target: str, account: str | None, region: str, endpoint: str | None
    ) -> None:
        """Refuse to act on another stack, target, account, region or endpoint than this state's
        (account None: not known yet, the rest checked)."""
        for key, value in (("stack", stack), ("target", target)):
            # a state file copied or renamed onto another stack's: acting on it would delete the
            # resources of the stack it records (down deletes what the state records)
            if self.data.get(key) not in (None, value):
                raise UserError(
                    f"state {self.url} is the state of {key} {self.data[key]!r}, not {value!r}: it was "
                    "copied or renamed; put it back under its own name, or use another --state-dir / --state-url"
                )
        recorded = {k: self.data.get(k) for k in ("account", "region", "endpoint")}
        if recorded["account"] is None:
            return
        current: dict[str, str | None] = {"account": account, "region": region, "endpoint": endpoint}
        for name, now in current.items():
            if now is None and name == "account":
                continue
            if recorded[name] != now:
                raise UserError(
                    f"state {self.url} belongs to {name} {recorded[name]!r} but this command "
                    f"would act on {now!r}; use the matching credentials/--region/--endpoint-url, "
                    "or another --state-dir / --state-url"
                )

    def set_identity(self, **identity: Any) -> None:
        with self._write_lock:
            if all(self.data.get(k) == v for k, v in identity.items()) and self.exists:
                return  # a rerun with nothing changed writes nothing
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
        """Remove the stored document (the stack is gone)."""
        with self._write_lock:
            self.store.delete(self.version)
            self.version = None

    def replace(self, data: dict[str, Any], *, serial: int) -> None:
        """Store another document wholesale (state push/migrate), with the given serial."""
        with self._write_lock:
            self.data = {**data, "serial": serial}
            self.version = self.store.write(self.data, self.version)

    def _write(self) -> None:
        """One compare-and-swap: the store refuses if someone wrote since our last read/write."""
        if self._lost is not None:
            raise self._lost
        self.data["serial"] = self.serial + 1
        try:
            self.version = self.store.write(self.data, self.version)
        except StateConflict as exc:
            self._lost = exc
            raise


def validate_shape(data: dict[str, Any], url: str) -> None:
    """Valid JSON of the wrong shape is a user error (one line), not a crash deep in the engine."""

    def wrong(what: str) -> UserError:
        return UserError(f"state {url} is malformed ({what}); move it aside and rerun: resources are found by name")

    if data.get("schema") != SCHEMA_VERSION:
        raise UserError(
            f"state {url} has schema {data.get('schema')!r}, this orderpoc writes "
            f"{SCHEMA_VERSION}; move it aside and rerun: resources are found by name"
        )
    resources = data.get("resources", {})
    if not isinstance(resources, dict):
        raise wrong(f"resources is a {type(resources).__name__}, not an object")
    for key, entry in resources.items():
        if not isinstance(entry, dict):
            raise wrong(f"resource {key!r} is a {type(entry).__name__}, not an object")
        if not isinstance(entry.get("outputs", {}), dict | None):
            raise wrong(f"the outputs of resource {key!r} are not an object")
    serial = data.get("serial", 0)
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        raise wrong(f"serial {serial!r} is not a non-negative integer")
    for key in _IDENTITY:
        if not isinstance(data.get(key), str | None):
            raise wrong(f"{key} is not a string")
    emails = data.get("notify_emails")  # "a@b.c" would subscribe a, @, b, . and c
    if emails is not None and not (isinstance(emails, list) and all(isinstance(e, str) for e in emails)):
        raise wrong("notify_emails is not a list of addresses")


@contextmanager
def locked(path: Path, *, timeout: float = DEFAULT_LOCK_TIMEOUT, operation: str = "") -> Iterator[LockInfo]:
    """Exclusive lock on one stack+target's state file, so two commands never interleave writes."""
    with FileStore(path).lock(operation, timeout=timeout) as info:
        yield info

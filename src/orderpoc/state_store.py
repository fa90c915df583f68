"""Where a stack's state lives: a small store interface and its local-file implementation.

A store keeps one JSON document per stack and target and offers five operations: `read` (the
document and an opaque version), `write` (compare-and-swap on that version), `lock` / `unlock`
(one command at a time, recording who holds it) and `delete`. `state.State` is the in-memory view
the engine records into; it knows nothing of where the document lives. The S3 implementation is
`state_s3.S3Store`; this module has no AWS dependency.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import glob
import hashlib
import json
import os
import shlex
import socket
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from orderpoc.errors import UserError
from orderpoc.local import procs
from orderpoc.settings import DEFAULT_LOCK_TIMEOUT

STALE_TEMP_SECONDS = 60.0  # a state write's temp file this old is a killed writer's


class StateConflict(UserError):
    """The stored state changed since this command read it: it lost a race and must not overwrite."""


class LockHeld(UserError):
    """Another command holds the stack's lock and did not release it within --lock-timeout."""


class Notice(UserWarning):
    """Something the user should see while the command goes on; the CLI prints it as one line."""

    prefix = "note: "


class PermissionNotice(Notice):
    """A state dir was readable by others."""

    prefix = "warning: "


class WaitNotice(Notice):
    """Waiting for another command's lock."""

    prefix = ""


@dataclass(frozen=True)
class Snapshot:
    """A stored document and the version token a compare-and-swap write must present."""

    data: dict[str, Any]
    version: str


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock; stored in the lock itself so the next command can name the holder."""

    id: str
    operation: str
    command: str
    user: str
    host: str
    pid: int
    since: str
    path: str = ""

    @classmethod
    def mine(cls, operation: str) -> LockInfo:
        program = Path(sys.argv[0]) if sys.argv else Path()
        argv = sys.argv[1:] if "orderpoc" in (program.name, program.parent.name) else []
        command = ("orderpoc " + shlex.join(argv)).strip() if argv else f"orderpoc {operation}".strip()
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            command=command[:200],
            user=_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    @classmethod
    def parse(cls, raw: bytes | str) -> LockInfo | None:
        try:
            doc = json.loads(raw)
            return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})
        except (ValueError, TypeError, KeyError):
            return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def describe(self) -> str:
        """`alice@box pid 4242 (`orderpoc up`, since 2026-12-02T07:00:00Z)`, plus a hint when the
        holder ran on this host and its process is gone: the lock is stale, but only a person may
        break it."""
        gone = ""
        if self.host == socket.gethostname() and not procs.alive(self.pid):
            gone = "; that process is no longer running on this host"
        return f"{self.user}@{self.host} pid {self.pid} (`{self.command}`, since {self.since}{gone})"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def flock_within(fd: int, timeout: float, *, poll: float = 0.1, on_wait: Callable[[], None] | None = None) -> bool:
    """Take an exclusive flock on fd, waiting up to timeout seconds (on_wait: once, when it must
    wait); False when another process still holds it then."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if on_wait is not None and timeout > 0:
                on_wait()
                on_wait = None
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


class Store(Protocol):
    """One stack's state document somewhere; every method is safe to call from several threads."""

    @property
    def url(self) -> str:
        """Where it lives, as the user would type it (a path or s3://bucket/key)."""

    def read(self) -> Snapshot | None:
        """The document and its version, or None when there is none."""

    def write(self, data: dict[str, Any], expected: str | None) -> str:
        """Store data if the stored version is still `expected` (None: only if there is none);
        return the new version. Raises StateConflict otherwise."""

    def delete(self, expected: str | None) -> None:
        """Remove the document if its version is still `expected`."""

    def lock(self, operation: str, *, timeout: float) -> contextlib.AbstractContextManager[LockInfo]:
        """Hold the stack's lock for the `with` block; wait up to timeout seconds, then LockHeld."""

    def unlock(self, lock_id: str) -> LockInfo:
        """Force-release the lock `lock_id` (a dead holder's); refuses another id. Returns it."""

    def holder(self) -> LockInfo | None:
        """Who holds the lock now, if anyone."""


def notify_wait(url: str, holder: LockInfo | None) -> None:
    who = holder.describe() if holder else "another orderpoc command"
    warnings.warn(f"waiting for the state lock on {url}, held by {who}", WaitNotice, stacklevel=3)


# -- the local file ----------------------------------------------------------------------------


def ensure_private_dir(path: Path) -> None:
    """Create the state dir owner-only. An existing one open to group/others is tightened to 0700
    (and said) when it holds only orderpoc's files; a folder with other things in it (the project
    folder as --state-dir) is not chmod-ed behind the user's back: it is warned about."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise UserError(f"cannot create the state dir {path}: {exc.strerror or exc}; use another --state-dir") from None
    if not mode & 0o077:
        return
    note = f"state dir {path} is readable by others (mode {mode:04o}): chmod 700 it, or use a dedicated --state-dir"
    if _only_ours(path):
        try:
            os.chmod(path, 0o700)
            note = f"state dir {path} was readable by others (mode {mode:04o}); tightened to 0700"
        except OSError:
            pass
    warnings.warn(note, PermissionNotice, stacklevel=2)


def _only_ours(path: Path) -> bool:
    """Whether the folder holds nothing but what orderpoc keeps there (state, locks, local/)."""
    try:
        names = [entry.name for entry in os.scandir(path)]
    except OSError:
        return False
    return all(name == "local" or name.endswith((".json", ".json.lock", ".tmp")) for name in names)


def _unwritable(path: Path, exc: OSError) -> UserError:
    return UserError(
        f"the state dir {path} is not writable ({exc.strerror or exc}); fix its permissions or use another --state-dir"
    )


def _version(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass
class FileStore:
    """The default: `{state_dir}/{stack}.{target}.json`, mode 0600, written atomically (temp file,
    fsync, rename), locked with flock on a sibling `.lock` file that records its holder. The OS
    releases a flock when its process dies, so a file lock is never stale."""

    path: Path
    poll: float = 0.1

    @property
    def url(self) -> str:
        return str(self.path)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _read_raw(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UserError(f"state file {self.path} is unreadable ({exc.strerror or exc})") from None

    def read(self) -> Snapshot | None:
        raw = self._read_raw()
        if raw is None:
            return None
        ensure_private_dir(self.path.parent)  # a read-only command still tightens (and says) an open dir
        self._ensure_private_file()
        return Snapshot(decode(raw, self.url), _version(raw))

    def _ensure_private_file(self) -> None:
        """A state file made readable by others (copied in, chmod-ed) is tightened to 0600 and said,
        by a command that only reads it too: it names the account and every resource."""
        try:
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(self.path, 0o600)
                warnings.warn(
                    f"state file {self.path} was readable by others (mode {mode:04o}); tightened to 0600",
                    PermissionNotice,
                    stacklevel=2,
                )
        except OSError:  # not ours to chmod (another user's, a read-only mount): a write says more
            pass

    def write(self, data: dict[str, Any], expected: str | None) -> str:
        current = self._read_raw()
        if (None if current is None else _version(current)) != expected:
            raise StateConflict(
                f"state file {self.path} was changed by another command since this one read it; "
                "nothing was overwritten: rerun the command"
            )
        raw = encode(data)
        ensure_private_dir(self.path.parent)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise _unwritable(self.path.parent, exc) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._remove_stale_temp_files()
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return _version(raw)

    def _remove_stale_temp_files(self) -> None:
        """The temp files of writers killed before their rename (kill -9 mid-up). Writers hold the
        stack's lock, so an older one is no live writer's; the age is a margin all the same."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                if stale.stat().st_mtime < cutoff:
                    stale.unlink()

    def delete(self, expected: str | None) -> None:
        current = self._read_raw()
        if current is not None and expected is not None and _version(current) != expected:
            raise StateConflict(f"state file {self.path} was changed by another command; not removed")
        self.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, operation: str = "", *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[LockInfo]:
        info = LockInfo.mine(operation)
        ensure_private_dir(self.path.parent)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _unwritable(self.path.parent, exc) from None
        acquired = False
        try:
            if not flock_within(fd, timeout, poll=self.poll, on_wait=lambda: notify_wait(self.url, self.holder())):
                holder = self.holder()
                who = holder.describe() if holder else "another orderpoc command"
                raise LockHeld(
                    f"state {self.path} is locked by {who}; wait for it to finish "
                    f"(--lock-timeout {timeout:g}s passed): a file lock ends with its process"
                )
            acquired = True
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.to_json().encode(), 0)
            yield info
        finally:
            if acquired:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)  # the holder's record goes with the lock
            os.close(fd)  # closing releases the flock

    def holder(self) -> LockInfo | None:
        """The record in the lock file, if a process really holds the flock: one killed with
        SIGKILL leaves its record behind, but the OS has released its lock."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except OSError:
            return None
        try:
            if flock_within(fd, 0):  # nobody holds it (or this very process, through another open)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            raw = os.pread(fd, 4096, 0)
        finally:
            os.close(fd)
        return LockInfo.parse(raw) if raw else None

    def unlock(self, lock_id: str) -> LockInfo:
        holder = self.holder()
        if holder is None:
            raise UserError(f"state {self.path} is not locked")
        raise UserError(
            f"state {self.path} is locked by {holder.describe()}: a file lock is released by the OS "
            "when its process exits, there is nothing to force-release; wait for it or stop that process"
        )


def encode(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def decode(raw: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UserError(
            f"state {url} is unreadable ({exc}); move it aside and rerun: orderpoc finds its resources by name"
        ) from None
    if not isinstance(data, dict):
        raise UserError(
            f"state {url} does not hold a JSON object; move it aside and rerun: orderpoc finds its resources by name"
        )
    return data

"""State in S3: one object per stack and target, locked with S3's own conditional writes.

- The state is `s3://BUCKET/{PREFIX}/{stack}.{target}.json`, written with SSE (AES256). Every write
  is a compare-and-swap: `If-Match: <ETag read>` (or `If-None-Match: *` for the first), so a writer
  that lost a race gets 412 and stops; it never overwrites newer state.
- The lock is a sibling object `….json.lock`, created with `If-None-Match: *` (as Terraform's S3
  backend does since 1.10 with use_lockfile): exactly one creator wins. It holds who took it (user,
  host, pid, command, operation, since); release deletes it with `If-Match: <its ETag>`, so a lock
  somebody else took after a force-unlock is never removed by the one it replaced.
- A lost answer is not an error: botocore retries a conditional PUT whose first try landed, and the
  retry's 412 is then our own write; both paths re-read and recognise it (lock id, serial).
- A stale lock (its holder was SIGKILLed) is reported with its holder and the command that breaks
  it, `orderpoc state unlock LOCK_ID`; it is never broken silently.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from orderpoc.errors import UserError
from orderpoc.settings import TARGETS, Settings
from orderpoc.state_store import (
    FileStore,
    LockHeld,
    LockInfo,
    Snapshot,
    StateConflict,
    Store,
    decode,
    encode,
    notify_wait,
)

if TYPE_CHECKING:
    from orderpoc.aws import Clients

SSE = "AES256"
_BUCKET_RULES = "3-63 lowercase letters, digits, dots and dashes"


@dataclass(frozen=True)
class S3Url:
    bucket: str
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_url(url: str) -> S3Url:
    """`s3://bucket[/prefix]`; anything else is a one-line user error."""
    parsed = urlparse(url)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    if parsed.scheme != "s3" or not bucket:
        raise UserError(f"invalid state URL {url!r}: use s3://BUCKET/PREFIX")
    if not (3 <= len(bucket) <= 63) or not all(c.islower() or c.isdigit() or c in ".-" for c in bucket):
        raise UserError(f"invalid bucket name {bucket!r} in {url!r}: use {_BUCKET_RULES}")
    if parsed.query or parsed.fragment or "//" in prefix:
        raise UserError(f"invalid state URL {url!r}: use s3://BUCKET/PREFIX (no query, no empty path parts)")
    return S3Url(bucket, prefix)


def store_for(settings: Settings, clients: Clients | None = None, url: str | None = None) -> Store:
    """The store the settings (or `url`) name: the file in --state-dir unless an s3:// URL is given."""
    url = url if url is not None else settings.state_url
    if not url:
        return FileStore(settings.state_file)
    if clients is None:
        raise AssertionError("an S3 state store needs clients")
    flags = f" --stack {settings.stack}" + (f" --target {settings.target}" if settings.target != "local" else "")
    flags += f" --endpoint-url {settings.endpoint_url}" if settings.endpoint_url else ""
    return S3Store(
        clients("s3"), parse_url(url), f"{settings.stack}.{settings.target}.json", flags=f"{flags} --state-url {url}"
    )


def stores_under(settings: Settings, clients: Clients, url: str) -> list[tuple[str, str, Store]]:
    """(stack, target, store) for every state object under the S3 prefix of `url`."""
    where = parse_url(url)
    probe = S3Store(clients("s3"), where, "probe.local.json")
    return [(stack, target, S3Store(probe.s3, where, f"{stack}.{target}.json")) for stack, target in probe.stacks()]


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Store:
    """One stack's state object and its lock object in a bucket (see the module docstring)."""

    def __init__(
        self,
        s3: Any,
        where: S3Url,
        name: str,
        *,
        poll: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        flags: str = "",
    ) -> None:
        self.s3 = s3
        self.bucket = where.bucket
        self.key = where.key(name)
        self.lock_key = self.key + ".lock"
        self.url = f"s3://{self.bucket}/{self.key}"
        self.poll = poll
        self.sleep = sleep
        self.flags = flags  # what `orderpoc state unlock` needs to find this store again

    # -- errors ------------------------------------------------------------------------------
    def _user_error(self, exc: BaseException) -> UserError | None:
        """Bucket problems the user fixes: one line (exit 2) instead of a botocore traceback."""
        code = _code(exc)
        if code == "NoSuchBucket":
            return UserError(
                f"the state bucket {self.bucket} does not exist: create it with "
                f"`orderpoc state init-bucket s3://{self.bucket}` (same --target/--endpoint-url)"
            )
        if code in ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch") or (
            _status(exc) == 403
        ):
            return UserError(
                f"access denied to the state at {self.url} ({code or 403}): the credentials need the "
                "state bucket policy in docs/state.md"
            )
        return None

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        import botocore.exceptions

        try:
            yield
        except botocore.exceptions.ClientError as exc:
            if (error := self._user_error(exc)) is not None:
                raise error from None
            raise

    # -- the state object ----------------------------------------------------------------------
    def _get(self, key: str) -> tuple[bytes, str] | None:
        import botocore.exceptions

        try:
            with self._translated():
                response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return response["Body"].read(), str(response["ETag"])

    def read(self) -> Snapshot | None:
        found = self._get(self.key)
        if found is None:
            return None
        raw, etag = found
        return Snapshot(decode(raw, self.url), etag)

    def write(self, data: dict[str, Any], expected: str | None) -> str:
        import botocore.exceptions

        body = encode(data)
        condition = {"IfMatch": expected} if expected else {"IfNoneMatch": "*"}
        try:
            with self._translated():
                response = self.s3.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=body,
                    ContentType="application/json",
                    ServerSideEncryption=SSE,
                    **condition,
                )
            return str(response["ETag"])
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                raise
        # 412/409: someone else wrote since we read, or a retry of our own landed write was refused.
        current = self._get(self.key)
        if current is not None and current[0] == body:
            return current[1]  # our own write (its answer was lost): nothing was overwritten
        if current is None:
            raise StateConflict(
                f"the state at {self.url} was removed by another command (a `down`?); nothing was written: "
                "rerun the command"
            )
        theirs = decode(current[0], self.url).get("serial")
        raise StateConflict(
            f"the state at {self.url} was changed by another command (serial now {theirs}, this one "
            f"wrote {data.get('serial')}); nothing was overwritten: rerun the command"
        )

    def delete(self, expected: str | None) -> None:
        import botocore.exceptions

        if expected is None:
            return  # nothing was read, so there is nothing of ours to remove
        try:
            with self._translated():
                self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=expected)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise StateConflict(f"the state at {self.url} was changed by another command; not removed") from None
            raise

    # -- the lock ------------------------------------------------------------------------------
    def holder(self) -> LockInfo | None:
        found = self._get(self.lock_key)
        return LockInfo.parse(found[0]) if found else None

    def _held(self) -> tuple[LockInfo, str] | None:
        found = self._get(self.lock_key)
        if found is None:
            return None
        info = LockInfo.parse(found[0])
        return (info, found[1]) if info else None

    def _try_lock(self, info: LockInfo) -> str | None:
        """Create the lock object if there is none: its ETag when we hold it, else None."""
        import botocore.exceptions

        try:
            with self._translated():
                response = self.s3.put_object(
                    Bucket=self.bucket,
                    Key=self.lock_key,
                    Body=info.to_json().encode(),
                    ContentType="application/json",
                    ServerSideEncryption=SSE,
                    IfNoneMatch="*",
                )
            return str(response["ETag"])
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
        held = self._held()
        if held is not None and held[0].id == info.id:
            return held[1]  # our create landed, the answer was lost, the retry saw our own lock
        return None

    @contextlib.contextmanager
    def lock(self, operation: str = "", *, timeout: float = 60.0) -> Iterator[LockInfo]:
        info = LockInfo.mine(operation)
        info = LockInfo(**{**info.__dict__, "path": self.url})
        etag: str | None = None
        try:
            etag = self._acquire(info, timeout)
            yield info
        finally:
            if etag is None:
                # interrupted between the PUT and its answer: the lock may be ours all the same
                with contextlib.suppress(Exception):
                    held = self._held()
                    if held is not None and held[0].id == info.id:
                        etag = held[1]
            if etag is not None:
                self._release(etag)

    def _acquire(self, info: LockInfo, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        said: str | None = None
        while True:
            etag = self._try_lock(info)
            if etag is not None:
                return etag
            holder = self.holder()
            if time.monotonic() >= deadline:
                raise LockHeld(self.held_message(holder, timeout))
            if holder is not None and holder.id != said:
                said = holder.id
                notify_wait(self.url, holder)
            self.sleep(min(self.poll, max(deadline - time.monotonic(), 0.0)))

    def held_message(self, holder: LockInfo | None, timeout: float) -> str:
        if holder is None:
            return f"the state at {self.url} is locked (the lock changed hands while waiting {timeout:g}s); retry"
        return (
            f"the state at {self.url} is locked by {holder.describe()}, lock {holder.id}; waited {timeout:g}s "
            f"(--lock-timeout). If that command is dead: orderpoc state unlock {holder.id}{self.flags}"
        )

    def _release(self, etag: str) -> None:
        import botocore.exceptions

        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=etag)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("NoSuchKey", "404", "PreconditionFailed"):
                raise  # 412: it was force-unlocked and someone else holds it now: theirs to release

    def unlock(self, lock_id: str) -> LockInfo:
        held = self._held()
        if held is None:
            raise UserError(f"the state at {self.url} is not locked")
        info, etag = held
        if info.id != lock_id:
            raise UserError(
                f"the state at {self.url} is locked by {info.describe()} with lock {info.id}, not {lock_id}; "
                "nothing released"
            )
        self._release(etag)
        return info

    # -- listing -------------------------------------------------------------------------------
    def stacks(self) -> list[tuple[str, str]]:
        """(stack, target) of every state object under this one's prefix."""
        prefix = self.key.rpartition("/")[0]
        keys: list[str] = []
        with self._translated():
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{prefix}/" if prefix else ""
            ):
                keys.extend(item["Key"][len(prefix) + 1 if prefix else 0 :] for item in page.get("Contents", []))
        return stack_names(keys)


def stack_names(names: list[str]) -> list[tuple[str, str]]:
    """(stack, target) for every `{stack}.{target}.json` among file or object names."""
    found = []
    for name in names:
        parts = name.split(".")
        if "/" not in name and len(parts) == 3 and parts[2] == "json" and parts[1] in TARGETS:
            found.append((parts[0], parts[1]))
    return sorted(found)


def bucket_policy(bucket: str) -> str:
    """Deny any request that does not come over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TLSOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )

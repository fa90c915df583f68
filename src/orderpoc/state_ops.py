"""`orderpoc state …`: look at, move and unlock a stack's state, and create a state bucket.

None of this touches a resource of the stack: the only calls are the identity check (read-only)
and the state bucket's own. Moving state (pull, push, migrate) locks both ends and refuses to
overwrite a newer state (a higher serial) or a different one of the same serial, unless forced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orderpoc.aws import Clients
from orderpoc.aws_errors import error_code
from orderpoc.errors import UserError
from orderpoc.settings import Settings
from orderpoc.state import State
from orderpoc.state_s3 import bucket_policy, parse_url, store_for
from orderpoc.state_store import LockInfo, Store

FILE = "file"  # `--to file`: the state file in --state-dir


def clients_for(settings: Settings) -> Clients:
    """Clients for the state bucket: the embedded AWS on the local target (started if needed)."""
    if settings.target == "local":
        from orderpoc.local import lifecycle

        lifecycle.ensure_running(settings.state_dir, settings.local_port)
    clients = Clients(settings)
    clients.account_id()  # read-only; turns missing credentials or a dead endpoint into one line
    return clients


def open_store(settings: Settings, url: str | None) -> Store:
    """The store at `url` (an s3:// URL, or None / "file" for the state file)."""
    if url in (None, FILE):
        return store_for(settings, None, "")
    return store_for(settings, clients_for(settings), url)


# -- show ----------------------------------------------------------------------------------------
@dataclass
class ShowResult:
    url: str
    exists: bool
    serial: int
    data: dict[str, Any]
    holder: LockInfo | None


def show(settings: Settings) -> ShowResult:
    store = open_store(settings, settings.state_url)
    state = State.load(store)
    return ShowResult(store.url, state.exists, state.serial, state.data if state.exists else {}, store.holder())


# -- moving state --------------------------------------------------------------------------------
@dataclass
class CopyResult:
    source: str
    destination: str
    serial: int
    copied: bool
    removed_source: bool = False


def _same_document(a: dict[str, Any], b: dict[str, Any]) -> bool:
    drop = {"serial"}
    return {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


@contextlib.contextmanager
def _both_locked(first: Store, second: Store, operation: str, timeout: float) -> Iterator[None]:
    # always in the same order, so two moves in opposite directions cannot deadlock
    ordered = sorted((first, second), key=lambda store: store.url)
    with ordered[0].lock(operation, timeout=timeout), ordered[1].lock(operation, timeout=timeout):
        yield


def copy(
    settings: Settings,
    source_url: str | None,
    destination_url: str | None,
    *,
    operation: str,
    force: bool = False,
    remove_source: bool = False,
) -> CopyResult:
    """Copy one stack's state from one store to another, keeping its serial; never a resource call."""
    source = open_store(settings, source_url)
    destination = open_store(settings, destination_url)
    if source.url == destination.url:
        raise UserError(f"the state is already at {source.url}: nothing to move")
    with _both_locked(source, destination, operation, settings.lock_timeout):
        src = State.load(source)
        if not src.exists:
            raise UserError(f"there is no state for stack {settings.stack} ({settings.target}) at {source.url}")
        dst = State.load(destination)
        copied = True
        serial = src.serial
        if dst.exists:
            if dst.lineage and src.lineage and dst.lineage != src.lineage and not force:
                raise UserError(
                    f"refusing to overwrite the state at {destination.url}: it is another state (lineage "
                    f"{dst.lineage}, the source {source.url} has {src.lineage}), made since or elsewhere; "
                    "check both with `orderpoc state show`, then rerun with --force to overwrite it"
                )
            if dst.serial == src.serial and _same_document(dst.data, src.data):
                copied = False
            elif not force and dst.serial >= src.serial:
                why = "newer" if dst.serial > src.serial else "different, with the same"
                raise UserError(
                    f"refusing to overwrite the state at {destination.url}: it is {why} serial "
                    f"({dst.serial}, the source {source.url} has {src.serial}); "
                    "check both with `orderpoc state show`, then rerun with --force to overwrite it"
                )
            serial = max(src.serial, dst.serial + 1) if force and dst.serial >= src.serial else src.serial
        if copied:
            dst.replace(src.data, serial=serial)
        if remove_source:
            src.remove_file()
        return CopyResult(source.url, destination.url, serial, copied, remove_source)


def pull(settings: Settings, *, force: bool = False) -> CopyResult:
    if not settings.state_url:
        raise UserError("state pull copies from --state-url (or ORDERPOC_STATE_URL) to the state file: give one")
    return copy(settings, settings.state_url, FILE, operation="state pull", force=force)


def push(settings: Settings, *, force: bool = False) -> CopyResult:
    if not settings.state_url:
        raise UserError("state push copies the state file to --state-url (or ORDERPOC_STATE_URL): give one")
    return copy(settings, FILE, settings.state_url, operation="state push", force=force)


def migrate(settings: Settings, to: str, *, force: bool = False) -> CopyResult:
    """Move the state from where the settings keep it to `to` (s3://… or "file"), then remove the source."""
    if to != FILE:
        parse_url(to)
    return copy(settings, settings.state_url or FILE, to, operation="state migrate", force=force, remove_source=True)


def unlock(settings: Settings, lock_id: str) -> tuple[str, LockInfo]:
    store = open_store(settings, settings.state_url)
    return store.url, store.unlock(lock_id)


# -- the bucket ----------------------------------------------------------------------------------
@dataclass
class BucketResult:
    bucket: str
    created: bool
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}


def init_bucket(settings: Settings, url: str) -> BucketResult:
    """A private state bucket: versioning, public access blocked, default encryption, TLS only.
    Converges an existing bucket of ours, making only the calls its differences need."""
    import botocore.exceptions

    bucket = parse_url(url).bucket
    s3 = clients_for(settings)("s3")
    result = BucketResult(bucket, created=False)

    def read(call: Any, **kwargs: Any) -> Any:
        try:
            return call(Bucket=bucket, **kwargs)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code.startswith("NoSuch") or "NotFound" in code or code == "404":
                return None
            raise

    try:
        if read(s3.head_bucket) is None:
            config = {} if settings.region == "us-east-1" else {"LocationConstraint": settings.region}
            try:
                s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": config} if config else {}))
                result.created = True
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise
        block = (read(s3.get_public_access_block) or {}).get("PublicAccessBlockConfiguration")
        if block != PUBLIC_ACCESS_BLOCK:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
            result.changed.append("public access blocked")
        if (read(s3.get_bucket_versioning) or {}).get("Status") != "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            result.changed.append("versioning on")
        encryption = (read(s3.get_bucket_encryption) or {}).get("ServerSideEncryptionConfiguration", {})
        if [r.get("ApplyServerSideEncryptionByDefault") for r in encryption.get("Rules", [])] != [
            {"SSEAlgorithm": "AES256"}
        ]:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTION)
            result.changed.append("default encryption")
        endpoint = s3.meta.endpoint_url
        if not endpoint.startswith("https://"):
            # A TLS-only policy denies every request that comes over plain HTTP: on an http://
            # endpoint (the embedded AWS, LocalStack) it would lock everyone out of the bucket.
            result.skipped.append(f"TLS-only policy (the endpoint {endpoint} is not TLS: it would deny every request)")
        elif (policy := (read(s3.get_bucket_policy) or {}).get("Policy")) is None or _policy(policy) != _policy(
            bucket_policy(bucket)
        ):
            s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket))
            result.changed.append("TLS-only policy")
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code == "BucketAlreadyExists":
            raise UserError(f"the bucket name {bucket} is taken by another account: choose another") from None
        if code in ("AccessDenied", "AllAccessDisabled") or "403" in str(exc):
            raise UserError(
                f"access denied to the bucket {bucket} ({code}): see docs/state.md for the policy"
            ) from None
        raise
    return result


def _policy(text: str) -> Any:
    import json

    return json.loads(text)

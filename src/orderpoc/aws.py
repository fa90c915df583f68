"""botocore session and clients: one place for credentials, endpoint, retries and error translation.

botocore, not boto3: orderpoc uses clients only, and boto3's session layer (resources, S3
transfers, and the multiprocessing machinery they import) was ~30 ms of every command's start."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.exceptions
import botocore.loaders
import botocore.parsers
import botocore.regions
import botocore.session
from botocore.config import Config

from orderpoc.errors import ResourceError, UserError
from orderpoc.settings import Settings

T = TypeVar("T")

# botocore's "standard" mode retries throttling and transient errors with jittered backoff.
RETRY_CONFIG = Config(
    retries={"max_attempts": 8, "mode": "standard"},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
)
SINGLE_SHOT_CONFIG = RETRY_CONFIG.merge(Config(retries={"total_max_attempts": 1, "mode": "standard"}))
IDENTITY_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=10)
IDENTITY_ATTEMPTS = 4  # throttled identity checks, on top of botocore's own retries
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}

_READ_PREFIXES = ("Describe", "Get", "List", "Head", "Receive", "Query", "Scan")


THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
# The identity check's answers that mean "these credentials will not do" (expired, or not valid).
EXPIRED_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED_CREDENTIALS = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AuthFailure",
    "InvalidToken",
    "AccessDenied",
    "AccessDeniedException",
}
_NOT_SENT = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
_MAYBE_SENT = (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError)


class Clock:
    """Time as orderpoc's waits see it; tests swap in a fake one (`aws.clock`) so nothing really waits."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


clock = Clock()


def is_mutating(operation_name: str) -> bool:
    """True for API operations that change something (used to prove a no-op rerun is free)."""
    return not operation_name.startswith(_READ_PREFIXES)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    if isinstance(exc, botocore.exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_throttled(exc: BaseException) -> bool:
    """The request was turned away before AWS acted on it: sending it again is safe."""
    return error_code(exc) in THROTTLING or http_status(exc) == 429 or isinstance(exc, _NOT_SENT)


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have been carried out even though no answer says so."""
    return http_status(exc) >= 500 or isinstance(exc, _MAYBE_SENT)


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    return "NotFound" in code or code in {
        "NoSuchEntity",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NotFoundException",
    }


def unless_not_found(call: Callable[[], T]) -> T | None:
    """The call's result, or None when AWS answers that the thing does not exist.

    Only a ClientError that is_not_found() accepts becomes None; every other error propagates.
    A call whose own result may be None cannot tell "gone" from "done": boto3 calls return a dict.
    """
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if is_not_found(exc):
            return None
        raise


@dataclass(frozen=True)
class AwsCall:
    """One API call as `--verbose` reports it (retries included in its time)."""

    service: str
    operation: str
    milliseconds: float
    outcome: str  # "ok", the AWS error code, or the exception's name
    status: int | None = None
    retries: int = 0


_call_observers: list[Callable[[AwsCall], None]] = []


def observe_calls(observer: Callable[[AwsCall], None]) -> None:
    """Report every API call of every Clients made from now on (the CLI's --verbose)."""
    _call_observers.append(observer)


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    context["orderpoc_call"] = (model.service_model.service_name, model.name, time.monotonic())


def _after_call(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
    code = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
    _report(context, str(code or "ok"), getattr(http_response, "status_code", None), int(meta.get("RetryAttempts", 0)))


def _after_call_error(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    _report(context, type(exception).__name__, None, 0)


def _report(context: dict[str, Any], outcome: str, status: int | None, retries: int) -> None:
    service, operation, started = context.pop("orderpoc_call", ("?", "?", time.monotonic()))
    call = AwsCall(service, operation, (time.monotonic() - started) * 1000, outcome, status, retries)
    for observer in list(_call_observers):
        observer(call)


_loader_lock = threading.Lock()
_shared_loader: botocore.loaders.Loader | None = None


def shared_loader() -> botocore.loaders.Loader:
    """The process's one botocore model loader (as botocore builds a session's own).

    Each botocore session otherwise parses every service's JSON model afresh: that was most of the
    CPU of a short command after the first, and of every test that builds its own Clients. A loader
    only reads files and caches what it parsed, so sharing it across sessions is safe; credentials,
    region and event hooks stay per session.
    """
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))
            parse_models_into_dicts(_shared_loader)
        return _shared_loader


def new_session(
    *, region_name: str | None = None, profile_name: str | None = None, credentials: dict[str, str] | None = None
) -> botocore.session.Session:
    """A botocore session on the shared loader; an unknown profile raises ProfileNotFound here,
    not at the first call."""
    session = botocore.session.Session(profile=profile_name)
    session.register_component("data_loader", shared_loader())
    if region_name:
        session.set_config_variable("region", region_name)
    if credentials:
        session.set_credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
    if profile_name:
        session.get_scoped_config()
    return session


def known_regions() -> set[str]:
    """Every region botocore knows SQS in, in every partition (aws, aws-cn, aws-us-gov...), read
    from the shared loader's endpoints data: no session needed, and the clients reuse the parse."""
    resolver = botocore.regions.EndpointResolver(shared_loader().load_data("endpoints"))
    return {
        region
        for partition in resolver.get_available_partitions()
        for region in resolver.get_available_endpoints("sqs", partition)
    }


def _load_plain(full_path: str, open_method: Any) -> Any:
    """botocore's JSONFileLoader._load_file without its object_pairs_hook=OrderedDict."""
    if not os.path.isfile(full_path):
        return None
    with open_method(full_path, "rb") as fp:
        return json.loads(fp.read().decode("utf-8"))


def parse_models_into_dicts(loader: botocore.loaders.Loader) -> None:
    """The loader parses JSON models into plain dicts: botocore asks for OrderedDicts, twice the
    parse time (75 vs 37 ms for the models an `up` reads) and about twice the memory, for an
    order that dicts keep anyway; nothing in botocore, boto3 or moto uses OrderedDict's extras."""
    loader.file_loader._load_file = _load_plain


class Clients:
    """Creates botocore clients lazily, once per service, shared across the engine's threads.

    botocore clients are thread-safe; sessions are not, so clients are built under a lock.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.endpoint_url = settings.effective_endpoint
        local = settings.target == "local"
        # A call goes over a network, tens of ms a round trip: reads sent at once, and clients
        # built while one is in flight, save wall time. The local AWS answers in a millisecond,
        # and there the extra threads only take turns at the GIL (a no-op up took 1.13x as long).
        self.remote = not local
        try:
            self.session = new_session(
                region_name=settings.region,
                profile_name=None if local else settings.profile,
                credentials=LOCAL_CREDENTIALS if local else None,
            )
        except botocore.exceptions.ProfileNotFound as exc:
            raise UserError(f"{exc}; list profiles with `aws configure list-profiles`") from None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._hooks: list[tuple[str, Callable[..., Any]]] = []
        if _call_observers:
            self.on("before-call", _before_call)
            self.on("after-call", _after_call)
            self.on("after-call-error", _after_call_error)

    def __call__(self, service: str, *, single_shot: bool = False) -> Any:
        """The client for a service; single_shot=True: one that never retries by itself (see
        orderpoc.idempotent: a retried create of a resource with a non-unique name makes a twin)."""
        key = f"{service}#single" if single_shot else service
        client = self._clients.get(key)  # made already: no waiting behind another service's creation
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self.session.create_client(
                    service, endpoint_url=self.endpoint_url, config=SINGLE_SHOT_CONFIG if single_shot else RETRY_CONFIG
                )
                for event, handler in self._hooks:
                    client.meta.events.register(event, handler)
                self._clients[key] = client
            return client

    def _build(self, services: tuple[str, ...]) -> None:
        for service in services:
            try:
                self(service)
            except Exception:  # the caller's own use of the client raises it properly
                return

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event hook on every client, present and future (once: the same
        hook registered again is not called twice)."""
        with self._lock:
            if (event, handler) in self._hooks:
                return
            self._hooks.append((event, handler))
            for client in self._clients.values():
                client.meta.events.register(event, handler)

    def account_id(self, *, meanwhile: Sequence[str] = ()) -> str:
        """The account the credentials belong to; a clear one-line error when there are none, they
        are expired or rejected, or the endpoint is not AWS (nor AWS-compatible).

        `meanwhile`: services whose clients to build while the call is on the network. Building
        one parses its JSON model (tens of ms, holding the GIL): done later, in the plan's threads,
        that stalled every find waiting to send."""
        # A dedicated client that gives up fast: this call is the reachability check too.
        with self._lock:
            sts = self.session.create_client("sts", endpoint_url=self.endpoint_url, config=IDENTITY_CONFIG)
            for event, handler in self._hooks:
                sts.meta.events.register(event, handler)
        if meanwhile:
            threading.Thread(target=self._build, args=(tuple(meanwhile),), name="clients", daemon=True).start()
        try:
            # A throttled check is sent again a few times (botocore already did twice): the account
            # is busy, the credentials are fine.
            identity = retry(
                sts.get_caller_identity,
                should_retry=lambda exc: error_code(exc) in THROTTLING,
                attempts=IDENTITY_ATTEMPTS,
            )
            account = identity.get("Account") if isinstance(identity, dict) else None
            if not account:
                raise self._not_aws("an answer without an account")
            return str(account)
        except UserError:
            raise
        except botocore.exceptions.NoCredentialsError:
            raise UserError(
                "no AWS credentials found for --target aws: run `aws configure` or `aws sso login`, "
                "or set AWS_PROFILE / AWS_ACCESS_KEY_ID; or use the default --target local"
            ) from None
        except (
            botocore.exceptions.SSOError,
            botocore.exceptions.TokenRetrievalError,
            botocore.exceptions.CredentialRetrievalError,
            botocore.exceptions.PartialCredentialsError,
        ) as exc:
            # Typically an expired SSO session or a broken credential_process / partial env keys.
            raise UserError(
                f"the AWS credentials could not be loaded ({exc}): run `aws sso login` or fix the profile"
            ) from None
        except botocore.exceptions.EndpointConnectionError:
            raise UserError(
                f"cannot reach the AWS endpoint {self.endpoint_url or 'for ' + self.settings.region}: "
                "check --endpoint-url / --region and your network"
            ) from None
        except botocore.exceptions.ClientError as exc:
            raise self._identity_refused(exc) from None
        except (botocore.parsers.ResponseParserError, KeyError, TypeError, ValueError):
            # HTML, plain text or JSON where STS answers XML: a web server, not an AWS endpoint.
            raise self._not_aws("an answer that is not AWS's") from None
        except botocore.exceptions.HTTPClientError as exc:
            raise UserError(f"the AWS endpoint {self.endpoint_url or self.settings.region} failed: {exc}") from None

    def _identity_refused(self, exc: botocore.exceptions.ClientError) -> UserError:
        code, message = error_code(exc), exc.response.get("Error", {}).get("Message", "")
        why = f"{code}: {message}" if message and message != code else code
        if code in THROTTLING:
            return UserError(
                f"the identity check (sts:GetCallerIdentity) was throttled ({why}) even after retries: "
                "the account is busy, try again in a minute"
            )
        if code in EXPIRED_CREDENTIALS:
            return UserError(
                f"the AWS credentials have expired ({why}): run `aws sso login` or get a new session token"
            )
        if code in REJECTED_CREDENTIALS:
            return UserError(
                f"the AWS credentials were rejected ({why}): check the access key, the secret and the "
                "profile (`aws sts get-caller-identity` shows what AWS sees)"
            )
        if not code or code == "Unknown" or code.isdigit() or http_status(exc) in {404, 405}:
            return self._not_aws(f"HTTP {http_status(exc) or '?'}")
        return UserError(f"the identity check (sts:GetCallerIdentity) failed: {why}")

    def _not_aws(self, what: str) -> UserError:
        where = self.endpoint_url or f"AWS STS in {self.settings.region}"
        return UserError(
            f"{where} is not an AWS-compatible endpoint (sts:GetCallerIdentity got {what}): check --endpoint-url"
        )


def retry(
    fn: Callable[[], T],
    *,
    should_retry: Callable[[BaseException], bool],
    attempts: int = 10,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call fn, retrying errors should_retry accepts, with capped exponential backoff and full jitter."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not should_retry(exc):
                raise
            delay = random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            if on_wait:
                on_wait(f"{error_code(exc) or type(exc).__name__}: retrying", delay)
            (sleep or clock.sleep)(delay)
    raise AssertionError("unreachable")


# How long AWS's eventual consistency may take to settle, by what is awaited. IAM: a new or changed
# role or policy reaches Lambda's control plane in seconds, occasionally in minutes.
IAM_BUDGET = 180.0
# SQS refuses a queue name for 60 s after that queue was deleted.
SQS_NAME_REUSE_BUDGET = 120.0
# Lambda refuses changes while a previous change to the function or mapping is in progress.
CONFLICT_BUDGET = 120.0

# What Lambda answers (InvalidParameterValueException) while a role, or a permission just granted to
# it, has not reached Lambda yet; lower case.
_PROPAGATION_WORDINGS = (
    "cannot be assumed",  # "The role defined for the function cannot be assumed by Lambda."
    "role defined for the function",
    "execution role does not have permissions",  # "... to call ReceiveMessage on SQS" / "Publish on SNS"
    "cannot access stream",  # "Cannot access stream arn:... Please ensure the role can perform the
    "please ensure the role can perform",  # GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions"
    "not authorized",
)
# A KMS key or SNS topic that denies access right after its policy (or the role's) changed.
_KMS_DENIED = {"KMSAccessDeniedException", "KMSAccessDenied", "KMS.AccessDeniedException"}


def is_propagation_delay(exc: BaseException) -> bool:
    """IAM is eventually consistent: a new role may not be assumable by Lambda, nor a new policy in
    force, for seconds or minutes after it was written."""
    code, msg = error_code(exc), str(exc).lower()
    if code in _KMS_DENIED:
        return True
    if code != "InvalidParameterValueException":
        return False
    kms_denied = "kms" in msg and ("accessdenied" in msg or "access denied" in msg)
    return kms_denied or any(wording in msg for wording in _PROPAGATION_WORDINGS)


def is_conflict(exc: BaseException) -> bool:
    """Lambda rejects changes while a previous update is in progress (not: "it already exists")."""
    return error_code(exc) in {
        "ResourceConflictException",
        "ResourceInUseException",
        "TooManyRequestsException",
    } and not is_already_exists(exc)


def is_already_exists(exc: BaseException) -> bool:
    """AWS answers that the thing a create asked for exists already, in any of its wordings."""
    code = error_code(exc)
    if code.endswith(("AlreadyExists", "AlreadyExistsException")) or code in {"QueueNameExists", "EntityAlreadyExists"}:
        return True
    # Codes that also mean "busy": only their "exists" wordings count ("Table already exists: x",
    # "Function already exist", "Stage already exists", "Another resource with the same parent
    # already has this name", "The statement id (x) provided already exists").
    msg = str(exc).lower()
    # SNS: "Invalid parameter: Tags Reason: Topic already exists with different tags".
    return code in {
        "ConflictException",
        "ResourceConflictException",
        "ResourceInUseException",
        "InvalidParameter",
    } and ("already exist" in msg or "already has" in msg)


def pending_change(exc: BaseException) -> str | None:
    """wait_out's `awaiting` for calls Lambda refuses while a previous change is in progress."""
    return "the previous change to finish" if is_conflict(exc) else None


def pending_iam_or_change(exc: BaseException) -> str | None:
    """wait_out's `awaiting` for calls that use a role or a permission written moments ago."""
    return "IAM to propagate" if is_propagation_delay(exc) else pending_change(exc)


def wait_out(
    call: Callable[[], T],
    *,
    awaiting: Callable[[BaseException], str | None],
    budget: float,
    name: str,
    say: Callable[[str], None],
    max_delay: float = 10.0,
) -> T:
    """call(), sent again while AWS answers that something has not settled yet, for up to `budget`
    seconds: eventual consistency ends after a time, not after a number of attempts.

    awaiting(exc) names what the error says is pending ("IAM to propagate"), or None for an error
    that waiting does not fix; each wait is told as "waiting for IAM to propagate … 14 s". Once the
    budget is spent, a ResourceError says what did not happen in time and what AWS last answered.
    """
    started, delay = clock.now(), 1.0
    while True:
        try:
            return call()
        except Exception as exc:
            what = awaiting(exc)
            if what is None:
                raise
            waited = clock.now() - started
            if waited >= budget:
                raise ResourceError(name, f"gave up waiting for {what} after {waited:.0f} s: {exc}") from exc
            say(f"waiting for {what} … {waited:.0f} s")
            # Equal jitter: never a busy loop, never in step with other callers.
            clock.sleep(min(budget - waited, delay / 2 + random.uniform(0, delay / 2)))
            delay = min(delay * 2, max_delay)

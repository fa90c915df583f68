"""Clients: the botocore clients of one command, and the account their credentials belong to.

One place for the endpoint, the retry configuration and the identity check (account_id), whose
failures become one-line UserErrors. What an error means is aws_errors.py, sending a call again
aws_retry.py, the session and its shared model loader aws_session.py, --verbose's call report
aws_calls.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import botocore.exceptions
import botocore.parsers
from botocore.config import Config

from orderpoc.aws_calls import call_hooks
from orderpoc.aws_errors import (
    EXPIRED_CREDENTIALS,
    REJECTED_CREDENTIALS,
    THROTTLING,
    error_code,
    http_status,
    is_ambiguous,
)
from orderpoc.aws_retry import retry
from orderpoc.aws_session import new_session
from orderpoc.errors import UserError
from orderpoc.settings import Settings

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
        for event, handler in call_hooks():
            self.on(event, handler)

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
                client = self._clients[key] = self._new_client(
                    service, SINGLE_SHOT_CONFIG if single_shot else RETRY_CONFIG
                )
            return client

    def _new_client(self, service: str, config: Config) -> Any:
        """A client with every hook registered so far (called under the lock)."""
        client = self.session.create_client(service, endpoint_url=self.endpoint_url, config=config)
        for event, handler in self._hooks:
            client.meta.events.register(event, handler)
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
            sts = self._new_client("sts", IDENTITY_CONFIG)
        if meanwhile:
            threading.Thread(target=self._build, args=(tuple(meanwhile),), name="clients", daemon=True).start()
        try:
            # A throttled check, AWS's own error or an answer lost on the way is sent again a few
            # times (botocore already did twice): it is a read, and nothing is wrong with the input.
            # An endpoint that cannot be reached at all is said at once (the reachability check).
            identity = retry(sts.get_caller_identity, should_retry=_worth_asking_again, attempts=IDENTITY_ATTEMPTS)
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
        if is_ambiguous(exc):
            return UserError(f"the identity check (sts:GetCallerIdentity) failed: {why} (AWS's own error): try again")
        return UserError(f"the identity check (sts:GetCallerIdentity) failed: {why}")

    def _not_aws(self, what: str) -> UserError:
        where = self.endpoint_url or f"AWS STS in {self.settings.region}"
        return UserError(
            f"{where} is not an AWS-compatible endpoint (sts:GetCallerIdentity got {what}): check --endpoint-url"
        )


def _worth_asking_again(exc: BaseException) -> bool:
    """Throttled, or maybe lost on the way (a 5xx, a dropped answer); not an endpoint that cannot
    be reached at all (is_throttled's "not sent"), which the check says at once."""
    return error_code(exc) in THROTTLING or is_ambiguous(exc)

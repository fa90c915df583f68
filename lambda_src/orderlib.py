"""Runtime plumbing shared by the three functions: boto3 clients, configuration, JSON logs.

Clients are created on first use and then reused for the life of the execution environment:
import stays cheap, and tests can create them inside moto's mock_aws (see reset_clients).
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from decimal import Decimal
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

# Short timeouts and few retries: API Gateway gives up after 29 s and the event sources retry
# failed records themselves, so waiting long inside one invocation helps nobody.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
)

# Errors worth a 503 / a batch item failure: the service said no, or could not be reached.
AWS_ERRORS: tuple[type[Exception], ...] = (
    botocore.exceptions.ClientError,
    botocore.exceptions.BotoCoreError,
)

_clients: dict[str, Any] = {}
_session: boto3.session.Session | None = None  # one per environment: models load once
_lock = threading.Lock()  # boto3 sessions are not thread-safe; an emulator may share a process


def client(service: str) -> Any:
    """The execution environment's client for `service`, created on first use.

    The endpoint comes from AWS_ENDPOINT_URL (honoured by botocore itself), the region from
    AWS_REGION, which Lambda always sets (botocore alone only reads AWS_DEFAULT_REGION).
    """
    global _session
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            if _session is None:
                _session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
            _clients[service] = _session.client(service, config=CLIENT_CONFIG)
        return _clients[service]


def reset_clients() -> None:
    """Forget the cached session and clients (tests: each moto mock and env change needs fresh
    ones, since credentials, region and endpoint are read when a client is made)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None


class ConfigError(RuntimeError):
    """A required environment variable is missing: a deployment fault, never the caller's."""


def env(name: str) -> str:
    """Read at call time, not import time, so configuration changes need no re-import."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def request_id(context: object) -> str | None:
    """context.aws_request_id when there is a Lambda context (tests may pass None)."""
    return getattr(context, "aws_request_id", None)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)


def log(fn: str, context: object, outcome: str, **fields: Any) -> None:
    """One JSON line on stdout (CloudWatch Logs). Callers pass identifiers and outcomes only:
    never headers, API keys, idempotency keys or order contents."""
    line = {"fn": fn, "requestId": request_id(context), "outcome": outcome, **fields}
    print(json.dumps(line, default=_default, separators=(",", ":")), flush=True)


def log_exception(fn: str, context: object, exc: BaseException, **fields: Any) -> None:
    """A server-side fault: include the traceback, which holds code locations, not request data."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
    log(fn, context, "error", level="ERROR", error=error_code(exc), traceback=tb, **fields)

"""Which API calls a command makes: the --verbose report of each call, and which calls mutate.

A Clients registers call_hooks() when it is made, so observe_calls() reaches every Clients made
after it. No botocore import here: the hooks get botocore's objects as arguments."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_READ_PREFIXES = ("Describe", "Get", "List", "Head", "Receive", "Query", "Scan")


def is_mutating(operation_name: str) -> bool:
    """True for API operations that change something (used to prove a no-op rerun is free)."""
    return not operation_name.startswith(_READ_PREFIXES)


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


def call_hooks() -> list[tuple[str, Callable[..., Any]]]:
    """The botocore hooks (event, handler) that report a Clients' calls to the observers; none
    while nothing observes calls."""
    if not _call_observers:
        return []
    return [("before-call", _before_call), ("after-call", _after_call), ("after-call-error", _after_call_error)]

"""Create a resource whose name AWS does not keep unique, without ever making a twin.

REST APIs, API keys, usage plans, deployments and event source mappings can exist many times with
the same name. botocore retries a create whose answer was lost (a 5xx, a timeout, a dropped
connection) as if nothing had happened, and AWS may then hold two. So these creates go through a
client that never retries by itself, and this loop decides: a throttled request never reached AWS
and is simply sent again; after an ambiguous failure the resource is looked up by name first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions

from orderpoc.aws import error_code, retry

T = TypeVar("T")

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
_NOT_SENT = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
_MAYBE_SENT = (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError)


def _status(exc: BaseException) -> int:
    if isinstance(exc, botocore.exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_throttled(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING or _status(exc) == 429 or isinstance(exc, _NOT_SENT)


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have been carried out even though no answer says so."""
    return _status(exc) >= 500 or isinstance(exc, _MAYBE_SENT)


def create_once(
    create: Callable[[], T],
    find: Callable[[], T | None],
    *,
    attempts: int = 8,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """create(), retried like botocore would, except that an ambiguous failure is followed by find()."""

    def attempt() -> T:
        try:
            return create()
        except Exception as exc:
            if is_ambiguous(exc) and (found := find()) is not None:
                return found
            raise

    return retry(
        attempt,
        should_retry=lambda exc: is_ambiguous(exc) or is_throttled(exc),
        attempts=attempts,
        max_delay=20.0,
        on_wait=on_wait,
        sleep=sleep,
    )

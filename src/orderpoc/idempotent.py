"""Create a resource whose name AWS does not keep unique, without ever making a twin.

REST APIs, API keys, usage plans, deployments and event source mappings can exist many times with
the same name. botocore retries a create whose answer was lost (a 5xx, a timeout, a dropped
connection) as if nothing had happened, and AWS may then hold two. So these creates go through a
client that never retries by itself, and this loop decides: a throttled request never reached AWS
and is simply sent again; after an ambiguous failure the resource is looked up by name first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from orderpoc.aws import THROTTLING, is_ambiguous, is_throttled, retry

__all__ = ["THROTTLING", "create_once", "is_ambiguous", "is_throttled"]

T = TypeVar("T")


def create_once(
    create: Callable[[], T],
    find: Callable[[], T | None],
    *,
    attempts: int = 8,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
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

"""Writes whose lost answer must not make a twin (create_once) nor fail a retry (delete_once).

REST APIs, API keys, usage plans, deployments, event source mappings, and inside an API its
resources and request validators, can exist many times with the same name. botocore retries a create whose answer was lost (a 5xx, a timeout, a dropped
connection) as if nothing had happened, and AWS may then hold two. So these creates go through a
client that never retries by itself, and this loop decides: a throttled request never reached AWS
and is simply sent again; after an ambiguous failure the resource is looked up by name first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from orderpoc.aws_errors import THROTTLING, is_ambiguous, is_not_found, is_throttled
from orderpoc.aws_retry import retry

__all__ = ["THROTTLING", "create_once", "delete_once", "is_ambiguous", "is_throttled"]

T = TypeVar("T")


def create_once(
    create: Callable[[], T],
    find: Callable[[], T | None],
    *,
    attempts: int = 8,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """create(), retried like botocore would, except that an ambiguous failure is followed by find().

    Until that find has answered, no create is sent again: a find that fails (throttled) is retried
    itself, as the lost create may have made the thing."""
    unanswered = False  # an ambiguous create whose find has not answered yet

    def attempt() -> T:
        nonlocal unanswered
        if unanswered:
            found = find()
            unanswered = False
            if found is not None:
                return found
        try:
            return create()
        except Exception as exc:
            if is_ambiguous(exc):
                unanswered = True
                found = find()
                unanswered = False
                if found is not None:
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


def delete_once(
    delete: Callable[[], object],
    gone: Callable[[], bool],
    *,
    attempts: int = 8,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> bool:
    """delete() through a single-shot client: True if it deleted, False if it was not there.

    Blindly resent after a lost answer, a delete meets "not found" (done), or on some APIs and
    emulators a 500 or "still in use": so a throttled request is resent, "not found" is done, and
    after an ambiguous failure gone() says whether the first attempt was carried out.
    """

    def attempt() -> bool:
        try:
            delete()
        except Exception as exc:
            if is_not_found(exc):
                return False
            if is_ambiguous(exc) and gone():
                return True
            raise
        return True

    return retry(
        attempt,
        should_retry=lambda exc: is_ambiguous(exc) or is_throttled(exc),
        attempts=attempts,
        base_delay=base_delay,
        max_delay=max_delay,
        on_wait=on_wait,
        sleep=sleep,
    )

"""Sending a call again: bounded backoff for errors that may pass, time budgets for eventual consistency.

retry() counts attempts (throttling, ambiguous answers); wait_out() waits, on a budget of seconds,
for what AWS says has not settled yet (IAM propagation, a queue name in reuse, a change in
progress). Both sleep on `clock`, which tests replace."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from orderpoc.aws_errors import error_code
from orderpoc.errors import ResourceError

T = TypeVar("T")


class Clock:
    """Time as orderpoc's waits see it; tests swap in a fake one (`aws_retry.clock`) so nothing really waits."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


clock = Clock()


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

"""send-test-order's coordination, free of click and rich: open a session on the deployed stack,
find its endpoints, subscribe a temporary probe to the topic, then follow one order, a set of bad
ones, or a load run. The probe is removed whatever happens (Ctrl-C and SIGTERM included)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from orderpoc import stack
from orderpoc.invalid_orders import Case, run_invalid
from orderpoc.load import LoadResult, run_load
from orderpoc.probe import Endpoints, Subscription, find_endpoints, subscribed
from orderpoc.settings import Settings
from orderpoc.stack_session import Session, open_session
from orderpoc.trace import Trace, follow_one

LOCAL_AWS_STOPPED = (
    "the local AWS stopped during the run; it kept the stack in memory, so its resources are gone: "
    "`orderpoc up` rebuilds them"
)


@dataclass
class InvalidResult:
    cases: list[Case]
    stored: int | None  # bad orders stored; None: unverified (the good sentinel was never stored)

    @property
    def ok(self) -> bool:
        return all(case.ok for case in self.cases) and self.stored == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stored": self.stored,
            "cases": [{"case": c.name, "expected": c.expected, "got": c.got, "ok": c.ok} for c in self.cases],
        }


@contextmanager
def _reach(settings: Settings) -> Iterator[tuple[Session, Endpoints]]:
    with open_session(settings, lock=False, engine=False, start_local=False) as session:
        yield session, find_endpoints(session.ctx, settings.names, session.clients.endpoint_url, stack.STAGE)


@contextmanager
def _probe(settings: Settings) -> Iterator[tuple[Session, Endpoints, Subscription]]:
    with (
        _reach(settings) as (session, endpoints),
        subscribed(session.ctx, settings.names, endpoints.topic_arn) as subscription,
    ):
        yield session, endpoints, subscription


def send_one(settings: Settings, order: dict[str, Any], timeout: float) -> Trace:
    """Post one order and follow it: accepted, stored, notified."""
    with _probe(settings) as (session, endpoints, subscription):
        return follow_one(session.ctx, settings.names, endpoints, subscription, order, timeout)


def send_invalid(settings: Settings, timeout: float) -> InvalidResult:
    """Every bad order must get its 4xx, and none may be stored."""
    with _reach(settings) as (session, endpoints):
        cases, stored = run_invalid(session.ctx, endpoints, timeout)
    return InvalidResult(cases, stored)


def send_load(
    settings: Settings,
    *,
    count: int,
    concurrency: int,
    rate: float | None,
    timeout: float,
    on_progress: Callable[[str, int], None] = lambda hop, n: None,
) -> LoadResult:
    """A load test: every order accounted for at every hop, none lost or duplicated."""
    with _probe(settings) as (session, endpoints, subscription):
        result = run_load(
            session.ctx,
            endpoints,
            subscription,
            count=count,
            concurrency=concurrency,
            rate=rate,
            timeout=timeout,
            on_progress=on_progress,
            gone=_local_aws_gone(settings),
        )
        if result.aborted == LOCAL_AWS_STOPPED:
            subscription.abandon()  # it went with the local AWS
        return result


def _local_aws_gone(settings: Settings) -> Callable[[], str | None]:
    """On the local target, whether the embedded AWS the run started on has stopped (killed,
    crashed, stopped or restarted): its resources lived in its memory, so they went with it."""
    if settings.target != "local":
        return lambda: None
    from orderpoc.local import lifecycle

    pid = lifecycle.running_pid(settings.state_dir, settings.local_port)
    if pid is None:
        return lambda: None

    def gone() -> str | None:
        return None if lifecycle.still_running(settings.state_dir, settings.local_port, pid) else LOCAL_AWS_STOPPED

    return gone

"""The commands' logic, free of click and rich: settings in, results and engine events out.

Each command opens a session with the stack (stack_session.py) and walks it with the engine."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orderpoc import package, tag_sweep
from orderpoc.aws import Clients
from orderpoc.engine import Engine
from orderpoc.engine_types import Event, Plan, Report
from orderpoc.errors import UserError
from orderpoc.probe import sweep_probes
from orderpoc.resources.base import Outputs
from orderpoc.settings import Settings
from orderpoc.stack_session import NOTIFY_EMAILS, Session, open_session

if TYPE_CHECKING:
    from orderpoc.listing import StackEntry
    from orderpoc.logs import Empty, Fetched, LogLine, Query
    from orderpoc.outputs import StackOutputs

OnEvent = Callable[[Event], None]


@dataclass
class UpResult:
    outputs: dict[str, Outputs]
    invoke_url: str | None
    seconds: float
    actions: dict[str, str]


@dataclass
class PreparedUp:
    """An open session and the plan `up` will carry out: shown and confirmed before anything changes."""

    session: Session
    engine: Engine
    plan: Plan
    notify_emails: list[str]
    emails_known: bool  # else the list is not recorded (Session.emails_known)
    started: float

    @property
    def needs_confirmation(self) -> bool:
        """On AWS, a plan that deletes or replaces anything is confirmed first; the local target never asks."""
        return self.session.settings.target == "aws" and self.plan.destructive

    def apply(self, on_event: OnEvent) -> UpResult:
        session, settings = self.session, self.session.settings
        actions: dict[str, str] = {}
        self.engine.on_event = _recording(actions, on_event)
        session.state.set_identity(
            stack=settings.stack,
            target=settings.target,
            account=session.ctx.account,
            region=settings.region,
            endpoint=session.clients.endpoint_url,
            local_boot_id=session.boot_id,
            **({NOTIFY_EMAILS: self.notify_emails} if self.emails_known else {}),
        )
        outputs = self.engine.apply(self.plan)
        result = UpResult(outputs, session.invoke_url(outputs), time.monotonic() - self.started, actions)
        if result.invoke_url and session.state.data.get("invoke_url") != result.invoke_url:
            session.state.set_identity(invoke_url=result.invoke_url)
        return result


@contextmanager
def prepare_up(
    settings: Settings, *, notify_emails: Sequence[str] | None = None, max_workers: int = 8
) -> Iterator[PreparedUp]:
    """Open the session (locked) and plan; the caller confirms if needed, then calls apply()."""
    started = time.monotonic()
    packages = package.for_settings(settings)  # before any call: a bad requirement or size fails first
    with open_session(settings, operation="up") as session:
        emails = session.notify_emails(notify_emails)
        engine = session.engine(lambda event: None, notify_emails, max_workers, packages)
        known = session.emails_known(notify_emails)
        yield PreparedUp(session, engine, engine.plan(), emails, known, started)


def up(
    settings: Settings, on_event: OnEvent, *, notify_emails: Sequence[str] | None = None, max_workers: int = 8
) -> tuple[Session, UpResult]:
    """Plan and apply without asking (the CLI asks through prepare_up)."""
    with prepare_up(settings, notify_emails=notify_emails, max_workers=max_workers) as prepared:
        return prepared.session, prepared.apply(on_event)


@dataclass
class PlanResult:
    plan: Plan
    account: str
    notices: list[str]


def plan(settings: Settings, *, notify_emails: Sequence[str] | None = None, destroy: bool = False) -> PlanResult:
    """Read-only: what `up` (or with destroy, `down`) would do; zero mutating calls, no state write."""
    # as up does, before any call: code that up would refuse (a link, a zip too large) is refused here too
    packages = None if destroy else package.for_settings(settings)
    with open_session(settings, lock=False) as session:
        computed = session.engine(lambda event: None, notify_emails, packages=packages).plan()
        if destroy:
            computed = computed.for_destroy()
        return PlanResult(computed, session.ctx.account, session.notices + computed.notices)


@dataclass
class DownResult:
    seconds: float
    leftovers: list[str]
    actions: dict[str, str] = field(default_factory=dict)


def _recording(actions: dict[str, str], on_event: OnEvent) -> OnEvent:
    """on_event that also notes each resource's final action (up's and down's --json list them)."""

    def track(event: Event) -> None:
        if event.phase == "done":
            actions[event.key] = event.action
        on_event(event)

    return track


@dataclass
class PreparedDown:
    session: Session
    started: float

    def plan(self) -> Plan:
        """What down will delete (read-only): shown with the account before asking on AWS."""
        return self.session.engine(lambda event: None).plan().for_destroy()

    def apply(self, on_event: OnEvent) -> DownResult:
        session = self.session
        actions: dict[str, str] = {}
        sweep_probes(session.ctx)  # temporary queues a killed send-test-order left behind
        session.engine(_recording(actions, on_event)).destroy()
        leftovers = settle_leftovers(session)
        if not leftovers:
            session.state.remove_file()
        return DownResult(time.monotonic() - self.started, leftovers, actions)


@contextmanager
def prepare_down(settings: Settings) -> Iterator[PreparedDown]:
    started = time.monotonic()
    with open_session(settings, operation="down") as session:
        yield PreparedDown(session, started)


def down(settings: Settings, on_event: OnEvent) -> DownResult:
    """Delete everything without asking (the CLI asks through prepare_down)."""
    with prepare_down(settings) as prepared:
        return prepared.apply(on_event)


def settle_leftovers(
    session: Session, *, patience: float = 90.0, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    """What is still tagged with the stack after the deletes. On AWS the tagging index lags behind
    deletes (minutes at worst), so ask again with backoff before calling anything a leftover; but
    only while one of them is of a service orderpoc deletes from: no wait makes an S3 bucket go."""
    budget = patience if session.settings.target == "aws" else 0.0
    waited, delay = 0.0, 2.0
    while (
        (leftovers := tagged_resources(session))
        and any(tag_sweep.of_a_swept_service(arn) for arn in leftovers)
        and waited + delay <= budget
    ):
        sleep(delay)
        waited, delay = waited + delay, min(delay * 2, 20.0)
    return leftovers


def tagged_resources(session: Session) -> list[str]:
    """ARNs still tagged with this stack: the Resource Groups Tagging API's, and the IAM roles it
    cannot see (the same listing the sweep uses)."""
    return tag_sweep.tagged_arns(session.ctx)


@dataclass
class StatusResult:
    reports: list[Report]
    extras: dict[str, str]
    notices: list[str]

    @property
    def healthy(self) -> bool:
        return all(report.state == "ok" for report in self.reports)

    def as_json(self) -> dict[str, Any]:
        """The body of `status --json` (drift as raw engine items: the CLI's contract shapes it)."""
        return {
            "healthy": self.healthy,
            "resources": [report.as_json() for report in self.reports],
            **self.extras,
            "notices": self.notices,
        }


def status(settings: Settings) -> StatusResult:
    with open_session(settings, lock=False, start_local=False) as session:
        reports = session.engine(lambda event: None).inspect()
        outputs = {r.key: (r.outputs if r.state in {"ok", "drifted"} else None) for r in reports}
        extras = {"invoke_url": session.invoke_url(outputs) or ""}
        if not session.state.exists and any(r.state != "missing" for r in reports):
            session.notices.append("no state: resources were found by their names")
        if settings.target == "local":
            from orderpoc.local import notifications

            latest = notifications.read_outbox(settings.state_dir, limit=1)
            if latest:
                extras["latest_email"] = f"{latest[-1].get('subject', '')} -> {latest[-1].get('endpoint', '')}"
        return StatusResult(reports, extras, session.notices)


def read_outputs(settings: Settings, *, show_key: bool = False) -> StackOutputs:
    """The URLs, key id (value only with show_key), names and ARNs a caller of the stack needs."""
    from orderpoc import outputs

    with open_session(settings, lock=False, start_local=False, engine=False) as session:
        endpoint = session.clients.endpoint_url
        return outputs.read(session.ctx, settings.names, settings.target, endpoint, show_key=show_key)


def read_logs(settings: Settings, query: Query, start_ms: int) -> tuple[Fetched, Empty | None]:
    """The chosen functions' lines since start_ms, and why there are none when there are none."""
    from orderpoc import logs

    with open_session(settings, lock=False, start_local=False, engine=False) as session:
        fetched = logs.fetch(session.ctx, settings.names, query, start_ms)
        empty = None if fetched.lines else logs.why_empty(session.ctx, settings.names, query)
        return fetched, empty


def follow_logs(settings: Settings, query: Query, start_ms: int, on_lines: Callable[[list[LogLine]], None]) -> None:
    """Lines since start_ms, then new ones as they come, until Ctrl-C (KeyboardInterrupt)."""
    from botocore.exceptions import EndpointConnectionError

    from orderpoc import interrupts, logs

    with open_session(settings, lock=False, start_local=False, engine=False) as session:
        try:
            logs.follow(session.ctx, settings.names, query, start_ms, on_lines, sleep=interrupts.sleep)
        except EndpointConnectionError:
            if settings.target != "local":
                raise
            raise UserError(
                "the local AWS stopped while following the logs; it kept the stack in memory, so its "
                "resources are gone: `orderpoc up` rebuilds them"
            ) from None


@dataclass
class ListResult:
    target: str
    region: str
    account: str | None
    stacks: list[StackEntry]
    notices: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "region": self.region,
            "account": self.account,
            "stacks": [entry.as_json() for entry in self.stacks],
            "notices": self.notices,
        }


def list_stacks(settings: Settings) -> ListResult:
    """The state dir's stacks, plus those the stack tag finds on the chosen target and region.
    Never starts the embedded AWS: when it is not running, nothing is deployed on it."""
    from orderpoc import listing

    known = [] if settings.state_url else listing.from_state_dir(settings.state_dir)
    if settings.target == "local":
        from orderpoc.local import lifecycle

        if not lifecycle.status(settings.state_dir, settings.local_port).running:  # (its S3 too)
            for entry in known:
                if entry.target == "local" and not entry.note:
                    entry.note = "local AWS not running: its resources are gone"
            notice = f"the local AWS is not running on port {settings.local_port}: nothing is deployed on it"
            return ListResult(settings.target, settings.region, None, known, [notice])
    clients = Clients(settings)
    account = clients.account_id()
    if settings.state_url:  # the stacks a shared S3 prefix knows
        from orderpoc.state_s3 import stores_under

        known = listing.from_stores(stores_under(settings, clients, settings.state_url))
    tagged: Counter[str] = listing.tagged_stacks(clients)
    stacks = listing.merge(known, tagged, target=settings.target, region=settings.region, account=account)
    return ListResult(settings.target, settings.region, account, stacks, [])

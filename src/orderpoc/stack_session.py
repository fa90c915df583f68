"""A command's session with the stack: where it runs, the account and state, the declared Specs.

open_session resolves the endpoint and account, loads and locks the state and refuses a
mismatched identity; Session hands out the engine over the declared stack. app.py's commands
(up, plan, down, status, ...) each open one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from orderpoc import package, stack, tag_sweep
from orderpoc.aws import Clients
from orderpoc.engine import Engine
from orderpoc.engine_types import Event, Spec
from orderpoc.errors import UserError
from orderpoc.resources.apigateway_stage import invoke_url
from orderpoc.resources.base import Context, Outputs
from orderpoc.settings import Settings
from orderpoc.state import State

OnEvent = Callable[[Event], None]
NOTIFY_EMAILS = "notify_emails"  # the state's record of the stack's email setting
NOTICE_RESTARTED = (
    "the local AWS was restarted since this stack was deployed (it keeps resources in memory): "
    "they are gone; `orderpoc up` rebuilds them"
)


@dataclass
class Session:
    settings: Settings
    clients: Clients
    ctx: Context
    state: State
    notices: list[str] = field(default_factory=list)
    boot_id: str | None = None

    def engine(
        self,
        on_event: OnEvent,
        notify_emails: Sequence[str] | None = None,
        max_workers: int = 8,
        packages: Mapping[str, package.Package] | None = None,
    ) -> Engine:
        """The engine over the declared stack; email subscriptions as given, else as recorded."""
        specs = build_specs(self.settings, self.ctx, self.notify_emails(notify_emails), packages)
        # the topic's email subscriptions are the stack's once its email list is known
        email_topic = self.ctx.arn("sns", self.settings.names.topic) if self.emails_known(notify_emails) else None
        return Engine(
            specs,
            self.ctx,
            self.state,
            on_event,
            max_workers=max_workers,
            kinds=stack.KINDS,
            search_tagged=lambda: tag_sweep.search(self.ctx, email_topic),
            finds_at_once=self.clients.remote,
            may_be_ours=stack.may_be_ours(self.settings.stack),
        )

    def emails_known(self, requested: Sequence[str] | None) -> bool:
        """Whether the stack's email list is known: given, declared by the project, or recorded.
        A lost state knows none: the addresses subscribed to the topic are left alone (and the
        list is not recorded) until one is given; from then on an address not on it is removed."""
        return (
            requested is not None
            or bool(self.settings.config.notify_emails)
            or self.state.data.get(NOTIFY_EMAILS) is not None
            or bool(self._recorded_subscriptions())
        )

    def notify_emails(self, requested: Sequence[str] | None) -> list[str]:
        """The stack's email setting: the requested list (empty clears it), else the project's
        (orderpoc.toml's notifications.emails), else the one the last up recorded."""
        if requested is not None:
            return list(dict.fromkeys(requested))
        if self.settings.config.notify_emails:  # the project's orderpoc.toml declares them
            return list(dict.fromkeys(self.settings.config.notify_emails))
        recorded = self.state.data.get(NOTIFY_EMAILS)
        if recorded is not None:
            return list(recorded)
        return self._recorded_subscriptions()

    def _recorded_subscriptions(self) -> list[str]:
        """A state written before the email setting existed: the addresses of the subscriptions it records."""
        return [e["name"] for e in self.state.resources.values() if e.get("kind") == "sns_subscription"]

    def invoke_url(self, outputs: Mapping[str, Outputs | None]) -> str | None:
        """Where to POST /order: LocalStack-style on the emulator or a custom endpoint, else AWS's."""
        api, stage = outputs.get("api"), outputs.get("stage")
        if not api or not stage:
            return None
        return invoke_url(self.ctx, api["id"], stack.STAGE, self.clients.endpoint_url)


def build_specs(
    settings: Settings,
    ctx: Context,
    notify_emails: Sequence[str] = (),
    packages: Mapping[str, package.Package] | None = None,
) -> list[Spec]:
    """The stack every command walks: `up`, `plan`, `down`, `status` and `diagram` get it from here.

    Without packages, each function's zip is built when its desired config first is: `down` never
    packages (nor installs requirements)."""
    zips = packages if packages is not None else package.Lazy(settings)
    return stack.build_specs(ctx, settings.names, zips, notify_emails, config=settings.config)


class _NoClients:
    """Clients for the declared stack: building Specs needs none, and calling one is a bug."""

    endpoint_url = None

    def __call__(self, service: str, **kwargs: Any) -> Any:
        raise AssertionError(f"the declared stack makes no AWS call (asked for {service})")


PLACEHOLDER_ACCOUNT = "123456789012"


def declared_specs(settings: Settings, notify_emails: Sequence[str] = ()) -> list[Spec]:
    """The Specs as declared, with a placeholder account: no endpoint, no emulator, no AWS call.

    The code is a placeholder too (an empty zip per function): a picture needs neither the zips nor
    the project's requirements installed into them."""
    ctx = Context(_NoClients(), PLACEHOLDER_ACCOUNT, settings.region, settings.stack, settings.tags)  # type: ignore[arg-type]
    placeholders = {fn: package.Package(fn, b"") for fn in package.FUNCTIONS}
    return build_specs(settings, ctx, notify_emails, placeholders)


@contextmanager
def open_session(
    settings: Settings, *, lock: bool = True, operation: str = "", engine: bool = True, start_local: bool = True
) -> Iterator[Session]:
    """Resolve the endpoint and account, load the state, refuse a mismatched identity, hold the lock.
    engine: the session walks the stack, so (where a round trip is long) its clients are built
    while the identity call waits. start_local: the command may start the embedded AWS; a command
    that only reads what is deployed refuses instead (a server not running holds nothing)."""
    from orderpoc.state_s3 import store_for  # deferred: only an s3:// state URL needs it

    clients = Clients(settings)
    if not settings.state_url:  # a mismatched state file is refused before the emulator starts
        _check_identity(State.load(store_for(settings)), settings, None, clients.endpoint_url)
    boot_id = _local_boot_id(settings, start_local) if settings.target == "local" else None
    account = clients.account_id(meanwhile=stack.SERVICES if engine and clients.remote else ())
    ctx = Context(clients, account, settings.region, settings.stack, settings.tags)
    store = store_for(settings, clients)
    with store.lock(operation, timeout=settings.lock_timeout) if lock else nullcontext():
        state = State.load(store)
        _check_identity(state, settings, account, clients.endpoint_url)
        _migrate_email_key(state)
        session = Session(settings, clients, ctx, state, boot_id=boot_id)
        recorded_boot = state.data.get("local_boot_id")
        if boot_id and recorded_boot and recorded_boot != boot_id and state.resources:
            session.notices.append(NOTICE_RESTARTED)
        yield session


def _check_identity(state: State, settings: Settings, account: str | None, endpoint: str | None) -> None:
    state.check_identity(
        stack=settings.stack, target=settings.target, account=account, region=settings.region, endpoint=endpoint
    )


def _local_boot_id(settings: Settings, start: bool) -> str | None:
    """The running embedded AWS's boot id, started first if allowed."""
    from orderpoc.local import lifecycle  # deferred: only the local target needs the emulator

    if not start and not lifecycle.may_be_running(settings.state_dir, settings.local_port):
        raise UserError(
            f"the local AWS is not running (port {settings.local_port}), and it keeps resources in "
            f"memory only: nothing of stack {settings.stack} is deployed; `orderpoc up` starts it and deploys it"
        )
    return lifecycle.ensure_running(settings.state_dir, settings.local_port).boot_id


def _migrate_email_key(state: State) -> None:
    """A state from before the email setting records its one subscription as "email": key it by
    address like the stack now does (in memory; written with the next change), so it is kept, not swept."""
    legacy = state.resources.pop("email", None)
    if legacy is not None:
        state.resources.setdefault(stack.email_key(legacy.get("name", "")), legacy)

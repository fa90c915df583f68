"""Start the embedded AWS afresh, in place, once it holds nothing and has grown.

A load run leaves the server's memory high after `down`: its live objects are back to what they
were after `up`, but CPython cannot give back a memory arena while any object in it lives, and a
long run scatters long-lived objects over many (measured: 78 arenas after a 3,000-order run and
`down`, 55 after `up`; 153-165 MB of RSS against 115-118 MB). A server that holds no resource has
nothing to lose by starting over, as gunicorn's workers do after max_requests. So when the
server is idle (idle_gc.py), holds nothing, and has grown by `growth_mb` since it was ready, it
re-executes itself: same pid, boot id and listening socket (a client that connects meanwhile
waits in the backlog; one whose kept-alive connection ends sends again, botocore does).

It holds nothing when every service any request was signed for is one whose holdings are looked
at here (SERVICES), and each of their backends is empty. A call to any other service (an EC2 VPC
made with the AWS CLI) keeps the process for good: we cannot tell what it made.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from orderpoc.local.fastpath import signed_service
from orderpoc.local.gate import RequestGate

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# SigV4 signing name -> the moto modules and backend dicts that hold its resources
SERVICES: dict[str, tuple[tuple[str, str], ...]] = {
    "apigateway": (("moto.apigateway.models", "apigateway_backends"),),
    "dynamodb": (
        ("moto.dynamodb.models", "dynamodb_backends"),
        ("moto.dynamodbstreams.models", "dynamodbstreams_backends"),
    ),
    "iam": (("moto.iam.models", "iam_backends"),),
    "lambda": (("moto.awslambda.models", "lambda_backends"),),
    "logs": (("moto.logs.models", "logs_backends"),),
    "s3": (("moto.s3.models", "s3_backends"),),
    "sns": (("moto.sns.models", "sns_backends"),),
    "sqs": (("moto.sqs.models", "sqs_backends"),),
    "sts": (("moto.sts.models", "sts_backends"),),
    "tagging": (),  # reads only (tagging.py answers without moto's backend, which imports every service)
}
# What moto fills by itself, caches, or derives from the resources (their tags, counts of them):
# no resource anyone made. Any other container or moto store of a backend is looked into.
NOT_HOLDINGS: dict[str, frozenset[str]] = {
    "apigateway_backends": frozenset({"account"}),
    "dynamodbstreams_backends": frozenset({"shard_iterators"}),
    "iam_backends": frozenset({"aws_managed_policies", "account_summary", "tagger"}),
    "logs_backends": frozenset({"tagger"}),
    "s3_backends": frozenset({"_pagination_tokens", "tagger"}),
    "sns_backends": frozenset({"opt_out_numbers", "_message_public_keys", "sms_attributes"}),
    "sts_backends": frozenset({"assumed_roles"}),
}
# Requests without a signature that are ours (dispatcher.py), not some other service's
UNSIGNED_OURS = ("/_orderpoc/", "/2015-03-31/functions/", "/restapis/")
AWS_MANAGED_POLICY = "arn:aws:iam::aws:policy/"
QUIESCE_SECONDS = 1.0  # how long a restart waits for the request in flight to be answered
ACCEPTED_GRACE_SECONDS = 0.05  # for a connection accepted just before the accept loop stopped


class ServiceLedger:
    """Which services requests went to; `foreign` once one went anywhere else."""

    def __init__(self) -> None:
        self.foreign: str | None = None  # the first such service, for the health report

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def noted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if self.foreign is None:
                service = signed_service(environ)
                if service is None and not environ.get("PATH_INFO", "").startswith(UNSIGNED_OURS):
                    self.foreign = "an unsigned request"
                elif service is not None and service not in SERVICES:
                    self.foreign = service
            return app(environ, start_response)

        return noted


def holdings() -> list[str]:
    """What the emulator's backends hold, as `backends.container` names; empty when nothing.
    A moto module never imported holds nothing, and is not imported here."""
    held: set[str] = set()
    for module_name, backends_name in {source for sources in SERVICES.values() for source in sources}:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for account in dict.values(getattr(module, backends_name)):
            for backend in dict.values(account):
                held.update(f"{backends_name}.{name}" for name in _held_by(backends_name, backend))
    return sorted(held)


def _held_by(backends_name: str, backend: Any) -> Iterable[str]:
    skip = NOT_HOLDINGS.get(backends_name, frozenset())
    for name, value in vars(backend).items():
        if name in skip:
            continue
        if backends_name == "iam_backends" and name == "managed_policies":
            value = [arn for arn in value if not arn.startswith(AWS_MANAGED_POLICY)]
        elif backends_name == "apigateway_backends" and name == "usage_plan_keys":
            value = [plan for plan in value if plan in backend.usage_plans]  # moto keeps deleted plans' keys
        if _is_moto_object(value):  # a store (Lambda's functions, layers): what it holds is its backend's
            if any(_holds(inner) for inner in vars(value).values() if _is_container(inner)):
                yield name
        elif _is_container(value) and _holds(value):
            yield name


def _is_container(value: Any) -> bool:
    return isinstance(value, Collection) and not isinstance(value, str | bytes)


def _is_moto_object(value: Any) -> bool:
    return type(value).__module__.startswith("moto.") and hasattr(value, "__dict__")


def _holds(value: Any) -> bool:
    """Anything but empty containers, however nested (moto leaves {deleted function: {}} behind)."""
    if isinstance(value, Mapping):
        return any(_holds(inner) for inner in value.values())
    if _is_container(value):
        return any(_holds(inner) for inner in value)
    return True


def rss_mb() -> float:
    """This process's resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Recycler:
    """Decides, when the server has gone idle, whether to start it afresh.

    The idle thread decides (after_idle) and stops the accept loop (stop_serving): a connection
    made from then on waits in the backlog for the new process. The main thread then confirms
    (confirm): once no request is in flight, the gate shut and still nothing held, it re-executes.
    """

    def __init__(
        self,
        ledger: ServiceLedger,
        gate: RequestGate,
        stop_serving: Callable[[], None],
        growth_mb: float | None,
        *,
        rss: Callable[[], float] = rss_mb,
        held: Callable[[], list[str]] = holdings,
    ) -> None:
        self._ledger = ledger
        self._gate = gate
        self._stop_serving = stop_serving
        self._growth_mb = growth_mb  # None: never
        self._rss = rss
        self._held = held
        self._ready_mb = rss()
        self._lock = threading.Lock()
        self.due = False  # a restart was decided: the accept loop stops, confirm() follows
        self.kept_because = "not idle yet"
        self.looks = 0  # idle spells looked at (for the health report)

    def after_idle(self) -> bool:
        """Decide at the end of an idle spell; True if a restart is due (serving stops)."""
        with self._lock:
            self.looks += 1
            self.kept_because = self._reason_to_keep()
            if self.kept_because:
                return False
            self.due = True
        self._stop_serving()
        return True

    def confirm(self) -> bool:
        """With the accept loop stopped: True when the process may be replaced now (the gate is
        then shut for good); False when a request came or made something, and serving goes on."""
        with self._lock:
            self.due = False
            time.sleep(ACCEPTED_GRACE_SECONDS)  # a connection accepted last has its request line read
            if not self._gate.close(timeout=QUIESCE_SECONDS):
                self.kept_because = "a request came in"
                return False
            reason = _holding(self._held())  # again: a request may have made something meanwhile
            if reason:
                self._gate.reopen()
                self.kept_because = reason
                return False
            return True

    def _reason_to_keep(self) -> str:
        if self._growth_mb is None:
            return "recycling is off"
        if self._ledger.foreign is not None:
            return f"it answered {self._ledger.foreign}, whose holdings it cannot see"
        grown = self._rss() - self._ready_mb
        if grown < self._growth_mb:
            return f"grown {grown:.0f} MB since ready, under {self._growth_mb:.0f}"
        return _holding(self._held())


def _holding(held: list[str]) -> str:
    """Why a server holding these keeps its process ("" when it holds nothing)."""
    return f"it holds {', '.join(held[:3])}" if held else ""

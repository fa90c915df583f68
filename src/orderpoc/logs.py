"""`orderpoc logs`: the functions' CloudWatch Logs lines, merged in time order (read-only).

One FilterLogEvents query per function's log group (`/aws/lambda/{stack}-{fn}`), on either target:
the embedded AWS stores what its Lambda runtime captures in the same log groups. Following polls
with backoff, re-reading a short window behind the newest line seen (CloudWatch can deliver a line
after a later one) and dropping the events it already printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from orderpoc import stack_config
from orderpoc.aws_errors import is_not_found
from orderpoc.errors import UserError
from orderpoc.resources.base import Context
from orderpoc.settings import Names

FUNCTIONS = tuple(stack_config.FUNCTIONS)  # intake, processor, notifier: the pipeline's order
DEFAULT_SINCE = "10m"
MAX_PER_FUNCTION = 10_000  # a read, not an export: past this, narrow --since or --filter
LOOKBACK_MS = 10_000  # how far behind the newest line a follow poll looks again
MIN_POLL, MAX_POLL = 0.5, 5.0
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> int:
    """--since as epoch milliseconds: a duration back from now (30s, 10m, 2h, 1d, 1w) or an
    ISO-8601 time (a time without an offset is UTC)."""
    now = time.time() if now is None else now
    value = text.strip()
    if match := _RELATIVE.match(value):  # no line is older than 1970: CloudWatch refuses a time before
        return max(0, int((now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)]) * 1000))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"invalid --since {text!r}: use a duration such as 30s, 10m, 2h, 1d, or an ISO-8601 time "
            "such as 2026-01-31T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(moment.timestamp() * 1000))


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # epoch milliseconds, as CloudWatch records it
    function: str  # intake | processor | notifier
    message: str
    stream: str
    event_id: str

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "timestamp": self.timestamp,
            "function": self.function,
            "message": self.message.rstrip("\n"),
            "log_stream": self.stream,
            "event_id": self.event_id,
        }


@dataclass(frozen=True)
class Query:
    functions: tuple[str, ...] = FUNCTIONS
    texts: tuple[str, ...] = ()  # every one must appear in a line (--filter, --order)

    def matches(self, message: str) -> bool:
        return all(text in message for text in self.texts)

    @property
    def pattern(self) -> str:
        """A CloudWatch filter pattern for one term (the server narrows, `matches` decides)."""
        term = next((t for t in self.texts if '"' not in t), "")
        return f'"{term}"' if term else ""


@dataclass
class Fetched:
    lines: list[LogLine]
    truncated: list[str] = field(default_factory=list)  # functions with more lines than MAX_PER_FUNCTION


def fetch(ctx: Context, names: Names, query: Query, start_ms: int) -> Fetched:
    """Every matching line since start_ms of the chosen functions, oldest first."""
    client = ctx.clients("logs")
    result = Fetched([])
    for fn in query.functions:
        kwargs: dict[str, Any] = {"logGroupName": names.log_group(fn), "startTime": start_ms, "interleaved": True}
        if query.pattern:
            kwargs["filterPattern"] = query.pattern
        count = 0
        try:
            for page in client.get_paginator("filter_log_events").paginate(**kwargs):
                for event in page.get("events", []):
                    count += 1
                    if query.matches(event.get("message", "")):
                        result.lines.append(
                            LogLine(
                                int(event["timestamp"]),
                                fn,
                                event.get("message", ""),
                                event.get("logStreamName", ""),
                                str(event.get("eventId", "")),
                            )
                        )
                if count >= MAX_PER_FUNCTION:
                    result.truncated.append(fn)
                    break
        except botocore.exceptions.ClientError as exc:
            if not is_not_found(exc):
                raise
            # no log group (yet): why_empty() says so
    result.lines.sort(key=lambda line: line.timestamp)  # stable: a stream's own order is kept
    return result


@dataclass(frozen=True)
class Empty:
    reason: str
    stack_missing: bool = False


def why_empty(ctx: Context, names: Names, query: Query) -> Empty:
    """Why there is nothing to show, as precisely as AWS lets us know."""
    client = ctx.clients("logs")
    missing, silent = [], []
    for fn in query.functions:
        group = names.log_group(fn)
        groups = client.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        if not any(g["logGroupName"] == group for g in groups):
            missing.append(fn)
        elif not client.describe_log_streams(logGroupName=group, limit=1).get("logStreams"):
            silent.append(fn)
    if len(missing) == len(query.functions):
        return Empty(f"stack {ctx.stack!r} is not deployed here (no log groups): run `orderpoc up` first", True)
    parts = []
    if missing:
        parts.append(f"no log group for {', '.join(missing)}")
    if silent:
        parts.append(f"{', '.join(silent)} not invoked yet")
    if parts:
        return Empty("; ".join(parts))
    return Empty("no line in that time" + (" matches" if query.texts else "") + " (widen --since?)")


def follow(
    ctx: Context,
    names: Names,
    query: Query,
    start_ms: int,
    on_lines: Callable[[list[LogLine]], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
) -> None:
    """Print what is there, then new lines as they come, until interrupted (or `polls` polls)."""
    seen: dict[str, int] = {}
    cursor, delay, done = start_ms, MIN_POLL, 0
    while polls is None or done < polls:
        fresh = [
            line for line in fetch(ctx, names, query, max(start_ms, cursor - LOOKBACK_MS)).lines if _new(line, seen)
        ]
        done += 1
        if fresh:
            on_lines(fresh)
            cursor = max(cursor, fresh[-1].timestamp)
            _forget_before(seen, cursor - LOOKBACK_MS)
            delay = MIN_POLL
        else:
            delay = min(delay * 2, MAX_POLL)
        if polls is None or done < polls:
            sleep(delay)


def _new(line: LogLine, seen: dict[str, int]) -> bool:
    key = f"{line.stream}/{line.event_id}"
    if key in seen:
        return False
    seen[key] = line.timestamp
    return True


def _forget_before(seen: dict[str, int], timestamp: int) -> None:
    for key in [k for k, ts in seen.items() if ts < timestamp]:
        del seen[key]


def functions_or_all(chosen: Iterable[str]) -> tuple[str, ...]:
    picked = tuple(dict.fromkeys(chosen))
    return picked or FUNCTIONS

"""orderpoc logs against moto's CloudWatch Logs in-process: merge, filter, follow, why empty; and
orderpoc local logs' file tail/follow."""

from __future__ import annotations

import time

import pytest

from orderpoc import logs
from orderpoc.cli.logs_command import FUNCTIONS
from orderpoc.errors import UserError
from orderpoc.local import server_log
from orderpoc.settings import Names

NAMES = Names("orderpoc-test")
NOW = 1_800_000_000.0


def test_the_cli_knows_the_pipelines_functions():
    assert FUNCTIONS == logs.FUNCTIONS


@pytest.mark.parametrize(
    "text, expected",
    [
        ("30s", NOW - 30),
        ("10m", NOW - 600),
        ("2h", NOW - 7200),
        ("1d", NOW - 86400),
        ("2027-01-15T09:00:00Z", 1800003600.0),
        ("2027-01-15T09:00:00", 1800003600.0),  # no offset: UTC
        ("2027-01-15T10:00:00+01:00", 1800003600.0),
        ("30000d", 0),  # before 1970: from the first line there can be (CloudWatch refuses less)
        ("1969-01-01T00:00:00Z", 0),
        ("0001-01-01T00:00:00", 0),
    ],
)
def test_since(text, expected):
    assert logs.parse_since(text, now=NOW) == int(expected * 1000)


@pytest.mark.parametrize("text", ["", "10", "5x", "-5m", "yesterday", "2027-13-01"])
def test_bad_since_is_a_user_error(text):
    with pytest.raises(UserError, match="invalid --since"):
        logs.parse_since(text, now=NOW)


def _put(ctx, fn: str, stream: str, *events: tuple[int, str]) -> None:
    client = ctx.clients("logs")
    group = NAMES.log_group(fn)
    if not client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        client.create_log_group(logGroupName=group)
    if not client.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    client.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": ts, "message": m} for ts, m in events]
    )


def test_lines_of_every_function_merge_in_time_order_and_filter(ctx):
    t = int(time.time() * 1000)
    _put(ctx, "intake", "a", (t + 1, "intake accepted order-1"), (t + 30, "intake accepted order-2"))
    _put(ctx, "processor", "b", (t + 10, "processor stored order-1"), (t + 40, "processor stored order-2"))
    _put(ctx, "notifier", "c", (t + 20, "notifier published order-1"))
    got = logs.fetch(ctx, NAMES, logs.Query(), t - 1000).lines
    assert [(line.function, line.message.split()[-1]) for line in got] == [
        ("intake", "order-1"),
        ("processor", "order-1"),
        ("notifier", "order-1"),
        ("intake", "order-2"),
        ("processor", "order-2"),
    ]
    story = logs.fetch(ctx, NAMES, logs.Query(texts=("order-1",)), t - 1000).lines
    assert [line.function for line in story] == ["intake", "processor", "notifier"]
    both = logs.fetch(ctx, NAMES, logs.Query(("processor",), ("order-2", "stored")), t - 1000).lines
    assert [line.message for line in both] == ["processor stored order-2"]
    assert logs.fetch(ctx, NAMES, logs.Query(), t + 35).lines[0].message == "processor stored order-2"


def test_no_lines_says_why(ctx):
    assert logs.why_empty(ctx, NAMES, logs.Query()).stack_missing is True
    ctx.clients("logs").create_log_group(logGroupName=NAMES.log_group("intake"))
    empty = logs.why_empty(ctx, NAMES, logs.Query())
    assert not empty.stack_missing and "intake not invoked yet" in empty.reason
    assert "no log group for processor, notifier" in empty.reason
    t = int(time.time() * 1000)
    _put(ctx, "intake", "a", (t, "hello"))
    assert "no line in that time matches" in logs.why_empty(ctx, NAMES, logs.Query(("intake",), ("x",))).reason


def test_follow_prints_each_line_once_as_it_comes_and_backs_off(ctx):
    t = int(time.time() * 1000)
    _put(ctx, "processor", "a", (t, "first"))
    printed: list[str] = []
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:  # a line arrives while following; one from earlier arrives late too
            _put(ctx, "processor", "b", (t - 5, "late"), (t + 5, "second"))

    logs.follow(
        ctx,
        NAMES,
        logs.Query(("processor",)),
        t - 60_000,
        lambda ls: printed.extend(line.message for line in ls),
        sleep=sleep,
        polls=6,
    )
    assert printed == ["first", "late", "second"]
    assert sleeps == [logs.MIN_POLL, 1.0, 2.0, logs.MIN_POLL, 1.0]


def test_local_log_tail_and_follow(tmp_path):
    path = tmp_path / "server.log"
    assert server_log.tail(path, 5) == ([], 0)
    path.write_text("one\ntwo\nthree\n")
    last, offset = server_log.tail(path, 2)
    assert last == ["two", "three"]
    seen: list[str] = []

    def append(text: str) -> None:
        with path.open("a") as handle:
            handle.write(text)

    steps = iter(
        [
            lambda: append("four\nfi"),  # a line half written is not printed until it ends
            lambda: append("ve\n"),
            lambda: path.write_text("new\n"),  # replaced (shorter): read from its top
        ]
    )
    server_log.follow(path, offset, seen.append, sleep=lambda seconds: next(steps)(), polls=4)
    assert seen == ["four", "five", "new"]

"""What users tune about the stack: the settings, their defaults, their limits, and their checks.

The values come from three layers, each overriding the one before: the defaults below, then the
project's orderpoc.toml (its top level, then the chosen `[stages.NAME]`), then the command line.
stack.py reads a StackConfig; it holds no magic numbers of its own.

A bad value is one line naming the file, the key and what is allowed (UserError, exit code 2).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orderpoc.errors import UserError
from orderpoc.settings import MAX_EMAIL_LEN, validate_email

FUNCTIONS = ("intake", "processor", "notifier")
# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)  # fmt: skip
ARCHITECTURES = ("x86_64", "arm64")
# Set by stack.py to wire the functions to the queue, table and topic: not the user's to set.
WIRING_ENV = ("ORDERS_QUEUE_URL", "ORDERS_TABLE", "ORDER_EVENTS_TOPIC_ARN")


@dataclass(frozen=True)
class FunctionConfig:
    description: str
    timeout: int = 30
    memory: int = 256
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class StackConfig:
    functions: Mapping[str, FunctionConfig] = field(
        default_factory=lambda: {
            "intake": FunctionConfig("Validates orders posted to the API and enqueues them", timeout=10),
            "processor": FunctionConfig("Stores queued orders in the table exactly once"),
            "notifier": FunctionConfig("Publishes an OrderCreated event for each new order"),
        }
    )
    architecture: str = "x86_64"
    # How the mappings gather records before they invoke (docs/architecture.md, "Batching, latency
    # and cost"). Window 0: a quiet order is stored as soon as the poller sees it; under load the
    # batches still fill from the backlog. A window of N seconds trades up to N s of latency per hop
    # for fewer, fuller invocations.
    queue_batch_size: int = 10
    queue_batching_window: int = 0
    # None: 6x the processor's timeout, as SQS recommends for a queue feeding a function.
    queue_visibility_timeout: int | None = None
    # The stream is one shard, one invocation at a time: a big batch drains a backlog in few calls;
    # the notifier publishes it 10 entries per SNS PublishBatch.
    stream_batch_size: int = 100
    stream_batching_window: int = 0
    stream_retries: int = 3
    api_throttle_rate: float = 100.0
    api_throttle_burst: int = 200
    api_quota_limit: int | None = None
    api_quota_period: str = "DAY"
    log_retention_days: int = 14
    notify_emails: tuple[str, ...] = ()

    @property
    def visibility_timeout(self) -> int:
        return self.queue_visibility_timeout or 6 * self.functions["processor"].timeout


# -- the file's shape: key -> checker ---------------------------------------------------------
class Check:
    def allowed(self) -> str:
        raise NotImplementedError

    def __call__(self, value: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Check):
    low: int
    high: int

    def allowed(self) -> str:
        return f"a whole number from {self.low} to {self.high}"

    def __call__(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class Number(Int):
    def allowed(self) -> str:
        return f"a number from {self.low} to {self.high}"

    def __call__(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class OneOf(Check):
    choices: tuple[Any, ...]

    def allowed(self) -> str:
        return "one of " + ", ".join(repr(c) if isinstance(c, str) else str(c) for c in self.choices)

    def __call__(self, value: Any) -> bool:
        return not isinstance(value, bool) and value in self.choices


@dataclass(frozen=True)
class Text(Check):
    pattern: str = r".+"
    what: str = "a string"

    def allowed(self) -> str:
        return self.what

    def __call__(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None


class StrMap(Check):
    def allowed(self) -> str:
        return 'a table of string values, e.g. { LOG_LEVEL = "DEBUG" }'

    def __call__(self, value: Any) -> bool:
        return isinstance(value, dict) and all(
            isinstance(k, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k) and isinstance(v, str)
            for k, v in value.items()
        )


class Emails(Check):
    def allowed(self) -> str:
        return f"a list of email addresses (each one line, at most {MAX_EMAIL_LEN} characters)"

    def __call__(self, value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) and _is_email(v) for v in value)


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except UserError:
        return False
    return True


FUNCTION_KEYS: dict[str, Check] = {
    "memory": Int(128, 10240),
    "timeout": Int(1, 900),
    "environment": StrMap(),
    "reserved_concurrency": Int(0, 1000),
}
SECTIONS: dict[str, dict[str, Check]] = {
    "queue": {"batch_size": Int(1, 10000), "batching_window": Int(0, 300), "visibility_timeout": Int(0, 43200)},
    "stream": {"batch_size": Int(1, 10000), "batching_window": Int(0, 300), "retries": Int(-1, 10000)},
    "api": {
        "throttle_rate": Number(0, 10000),
        "throttle_burst": Int(0, 5000),
        "quota_limit": Int(1, 2_000_000_000),
        "quota_period": OneOf(("DAY", "WEEK", "MONTH")),
    },
    "logs": {"retention_days": OneOf(LOG_RETENTION_DAYS)},
    "notifications": {"emails": Emails()},
}
TOP_KEYS: dict[str, Check] = {
    "stack": Text(r"[a-z][a-z0-9-]*[a-z0-9]", "a stack name: lowercase letters, digits and dashes"),
    "target": OneOf(("local", "aws")),
    "region": Text(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "an AWS region code such as us-east-1"),
    "architecture": OneOf(ARCHITECTURES),
}


def check_table(data: Mapping[str, Any], source: str, *, in_stage: bool = False) -> None:
    """Raise a one-line UserError for the first unknown key, wrong type or out-of-range value."""
    for key, value in data.items():
        if key in TOP_KEYS:
            _check(TOP_KEYS[key], value, source, key)
        elif key == "functions":
            _expect_table(value, source, key)
            for fn, settings in value.items():
                if fn not in FUNCTIONS:
                    _unknown(source, f"functions.{fn}", f"one of {', '.join(FUNCTIONS)}")
                _expect_table(settings, source, f"functions.{fn}")
                _check_section(settings, FUNCTION_KEYS, source, f"functions.{fn}")
        elif key in SECTIONS:
            _expect_table(value, source, key)
            _check_section(value, SECTIONS[key], source, key)
        elif key == "stages" and not in_stage:
            _expect_table(value, source, key)
            for stage, table in value.items():
                _expect_table(table, source, f"stages.{stage}")
                check_table(table, source, in_stage=True)
        else:
            known = [*TOP_KEYS, "functions", *SECTIONS] + ([] if in_stage else ["stages"])
            _unknown(source, key, "one of " + ", ".join(known))


def _check_section(data: Mapping[str, Any], checks: Mapping[str, Check], source: str, prefix: str) -> None:
    for key, value in data.items():
        if key not in checks:
            _unknown(source, f"{prefix}.{key}", "one of " + ", ".join(checks))
        _check(checks[key], value, source, f"{prefix}.{key}")


def _check(check: Check, value: Any, source: str, key: str) -> None:
    if not check(value):
        raise UserError(f"{source}: {key} = {_show(value)} is not allowed: use {check.allowed()}")


def _expect_table(value: Any, source: str, key: str) -> None:
    if not isinstance(value, dict):
        raise UserError(f"{source}: {key} must be a table ([{key}]), not {_show(value)}")


def _unknown(source: str, key: str, allowed: str) -> None:
    raise UserError(f"{source}: unknown key {key!r}: use {allowed}")


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- layering ---------------------------------------------------------------------------------
def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (lists included) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def from_table(data: Mapping[str, Any], source: str = "the defaults") -> StackConfig:
    """A StackConfig from a checked table (the file's top level merged with its stage)."""
    defaults = StackConfig()
    functions = {
        fn: dataclasses.replace(defaults.functions[fn], **(data.get("functions") or {}).get(fn, {})) for fn in FUNCTIONS
    }
    # [queue] batch_size -> queue_batch_size, and so on: the sections are flat fields of StackConfig.
    changes: dict[str, Any] = {
        f"{section}_{key}": value
        for section in ("queue", "stream", "api")
        for key, value in (data.get(section) or {}).items()
    }
    logs, notifications = data.get("logs") or {}, data.get("notifications") or {}
    if "architecture" in data:
        changes["architecture"] = data["architecture"]
    if "retention_days" in logs:
        changes["log_retention_days"] = logs["retention_days"]
    if "emails" in notifications:
        changes["notify_emails"] = tuple(notifications["emails"])
    config = dataclasses.replace(defaults, functions=functions, **changes)
    check_config(config, source)
    return config


def check_config(config: StackConfig, source: str) -> None:
    """Rules between settings, which no single key's range can say."""
    for fn, settings in config.functions.items():
        for name in settings.environment:
            if name in WIRING_ENV or name.startswith("AWS_"):
                raise UserError(
                    f"{source}: functions.{fn}.environment.{name} is not allowed: orderpoc sets "
                    f"{', '.join(WIRING_ENV)} itself, and Lambda reserves names starting with AWS_"
                )
    processor = config.functions["processor"].timeout
    if config.queue_visibility_timeout is not None and config.queue_visibility_timeout < 6 * processor:
        raise UserError(
            f"{source}: queue.visibility_timeout = {config.queue_visibility_timeout} is not allowed: use at least "
            f"{6 * processor} (6x functions.processor.timeout, as SQS recommends)"
        )
    if config.queue_batch_size > 10 and config.queue_batching_window < 1:
        raise UserError(
            f"{source}: queue.batch_size = {config.queue_batch_size} is not allowed with queue.batching_window = "
            f"{config.queue_batching_window}: SQS allows more than 10 only with a batching window of at least 1"
        )

"""Shared fixtures for in-process moto tests of resource kinds.

- `aws`: fake credentials in the environment and moto's `mock_aws()` active for the test.
- `clients`: an orderpoc `Clients` for `--target aws` in us-east-1 (moto intercepts every call).
- `ctx`: a resource `Context` for stack "orderpoc-test", account read from STS, tags
  {"orderpoc:stack": "orderpoc-test"}; everything passed to `ctx.say` lands in `ctx.messages`.
- `calls`: a `CallLog` recording every API call made through `clients` *after* it was requested.
  Use `calls.clear()` before the part under test, then e.g. `assert calls.mutating == []`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from orderpoc.aws import Clients, is_mutating
from orderpoc.resources.base import Context
from orderpoc.settings import TAG_KEY, Settings

STACK = "orderpoc-test"
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def clients(aws: None) -> Clients:
    return Clients(Settings(stack=STACK, target="aws", region=REGION))


@pytest.fixture
def ctx(clients: Clients) -> Context:
    messages: list[str] = []
    context = TestContext(
        clients=clients,
        account=clients.account_id(),
        region=REGION,
        stack=STACK,
        tags={TAG_KEY: STACK},
        say=messages.append,
        messages=messages,
    )
    return context


@dataclasses.dataclass
class TestContext(Context):
    """A Context that also exposes the progress messages it was given."""

    __test__ = False  # not a pytest test class
    messages: list[str] = dataclasses.field(default_factory=list)


class CallLog:
    """Every API call as (service, operation), e.g. ("sqs", "SetQueueAttributes")."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, model: Any, **kwargs: Any) -> None:  # botocore "before-call" hook
        self.calls.append((model.service_model.service_name, model.name))

    @property
    def names(self) -> list[str]:
        return [operation for _, operation in self.calls]

    @property
    def mutating(self) -> list[str]:
        return [operation for operation in self.names if is_mutating(operation)]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def calls(clients: Clients) -> CallLog:
    log = CallLog()
    clients.on("before-call", log)
    return log

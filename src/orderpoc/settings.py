"""Who and where: stack name rules, target, region, paths. Pure values, no AWS calls."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from orderpoc.errors import UserError

if TYPE_CHECKING:
    from orderpoc.stack_config import StackConfig

DEFAULT_STACK = "orderpoc"
DEFAULT_REGION = "us-east-1"
# Not LocalStack's 4566 (nor its 4510-4559), moto server's 5000, DynamoDB Local's 8000, ElasticMQ's 9324,
# MinIO's 9000, Azurite's 10000 or the 3000/4000/8080 of web dev servers: users run those beside this.
DEFAULT_LOCAL_PORT = 4780
TARGETS = ("local", "aws")
DEFAULT_LOCK_TIMEOUT = 60.0  # seconds a command waits for another one's lock (--lock-timeout)
TAG_KEY = "orderpoc:stack"

# The longest derived name is "{stack}-orders-dlq" (SQS: 80) or "{stack}-processor" (IAM role: 64,
# Lambda: 64); usage plan / API names are generous. 32 leaves room everywhere, including the
# "{stack}-processor-dlq-..." style names a future resource might add.
MAX_STACK_LEN = 32
_STACK_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
# An email address SNS can subscribe: one line, at most 254 characters (RFC 5321's path limit),
# a local part of at most 64 printable characters without spaces, a dotted domain of DNS labels.
MAX_EMAIL_LEN = 254
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)


def validate_stack(stack: str) -> str:
    if not (2 <= len(stack) <= MAX_STACK_LEN) or not _STACK_RE.match(stack) or "--" in stack:
        raise UserError(
            f"invalid stack name {stack!r}: use 2-{MAX_STACK_LEN} lowercase letters, digits and "
            "single dashes, starting with a letter and not ending with a dash"
        )
    return stack


def validate_region(region: str) -> str:
    from orderpoc.aws_session import known_regions  # deferred: settings stays cheap to import

    known = known_regions()
    if region not in known and not _REGION_RE.match(region or ""):
        raise UserError(f"unknown region {region!r}: use an AWS region code such as us-east-1")
    if region not in known:
        # Well-formed but not in botocore's list: a region newer than this botocore, or a typo.
        raise UserError(
            f"unknown region {region!r}: botocore {_botocore_version()} does not know it; "
            "check the spelling or upgrade boto3"
        )
    return region


def validate_email(address: str) -> str:
    """An address to subscribe to the topic; refused before any AWS call when it cannot be one."""
    shown = repr(address if len(address) <= 60 else address[:60] + "...")  # repr: stays one line
    if len(address) > MAX_EMAIL_LEN:
        raise UserError(f"invalid email address {shown}: {len(address)} characters, at most {MAX_EMAIL_LEN}")
    if not _EMAIL_RE.fullmatch(address):
        raise UserError(f"invalid email address {shown}: use one address such as ops@example.com")
    return address


def validate_endpoint_url(url: str) -> str:
    """An http(s) URL with a host: botocore fails late and obscurely on anything else."""
    if not _is_http_url(url):
        raise UserError(f"invalid --endpoint-url {url!r}: use an http(s) URL such as http://localhost:4566")
    return url


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(ch.isspace() for ch in url)


def _botocore_version() -> str:
    import botocore

    return botocore.__version__


@dataclass(frozen=True)
class Names:
    """Every physical name derives from the stack name, so resources can be found without state."""

    stack: str

    def _n(self, suffix: str) -> str:
        return f"{self.stack}-{suffix}"

    @property
    def table(self) -> str:
        return self._n("orders")

    @property
    def queue(self) -> str:
        return self._n("orders")

    @property
    def dlq(self) -> str:
        return self._n("orders-dlq")

    @property
    def topic(self) -> str:
        return self._n("order-events")

    @property
    def notifier_failures(self) -> str:
        """On-failure destination of the stream mapping (records the notifier could not handle)."""
        return self._n("notifier-failures")

    def function(self, fn: str) -> str:
        return self._n(fn)

    def role(self, fn: str) -> str:
        return self._n(fn)

    def log_group(self, fn: str) -> str:
        return f"/aws/lambda/{self.function(fn)}"

    @property
    def api(self) -> str:
        return self._n("api")

    @property
    def api_key(self) -> str:
        return self._n("key")

    @property
    def usage_plan(self) -> str:
        return self._n("plan")


@dataclass(frozen=True)
class Settings:
    stack: str = DEFAULT_STACK
    target: str = "local"
    region: str = DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None
    state_dir: Path = field(default_factory=lambda: Path(".orderpoc"))
    local_port: int = DEFAULT_LOCAL_PORT
    state_url: str | None = None  # s3://bucket/prefix; None: the file in state_dir
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    # What users tune (orderpoc.toml and its stage, else the defaults), and whose code is deployed:
    # a project's lambda_src/, or None for the built-in pipeline.
    config: StackConfig = field(default_factory=lambda: _default_config())
    source: Path | None = None
    stage: str | None = None

    def __post_init__(self) -> None:
        validate_stack(self.stack)
        if self.target not in TARGETS:
            raise UserError(f"unknown target {self.target!r}: use one of {', '.join(TARGETS)}")
        if not (1 <= self.local_port <= 65535):
            raise UserError(f"invalid local port {self.local_port}: use 1-65535")
        if self.endpoint_url is not None:
            validate_endpoint_url(self.endpoint_url)
        if self.lock_timeout < 0:
            raise UserError(f"invalid --lock-timeout {self.lock_timeout:g}: use 0 or more seconds")

    @property
    def code_dir(self) -> Path:
        from orderpoc.project import builtin_source

        return self.source or builtin_source()

    @property
    def names(self) -> Names:
        return Names(self.stack)

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.stack}

    @property
    def effective_endpoint(self) -> str | None:
        """The endpoint boto3 talks to: the embedded AWS for `local`, else --endpoint-url or None."""
        if self.target == "local":
            return self.endpoint_url or f"http://127.0.0.1:{self.local_port}"
        return self.endpoint_url

    @property
    def state_file(self) -> Path:
        return self.state_dir / f"{self.stack}.{self.target}.json"


def _default_config() -> StackConfig:
    from orderpoc.stack_config import StackConfig  # deferred: stack_config imports this module

    return StackConfig()

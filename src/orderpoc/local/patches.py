"""The few moto switches the embedded AWS needs. Checked against moto 5.2.1 (pinned in pyproject).

moto runs event sources *inside* the request that produces a record: SQS `Queue.add_message`
receives the message and invokes the mapped function, DynamoDB `StreamShard.add` and Kinesis
`Stream.put_record` invoke theirs, SNS `Subscription.publish` invokes lambda subscribers, and the
invocation itself (`LambdaFunction.invoke`) needs Docker. In orderpoc the pollers and the runtime
do that work as the Lambda service does, so every record must be handled once, by them:

1. `lambda_event_source_mappings` (an instance dict on Queue, Table, kinesis Stream, filled by
   create_event_source_mapping and read by the trigger loops) becomes a class-level data
   descriptor: reads give a fresh empty dict, writes are dropped. No trigger loop ever runs, and
   no moto function body is copied here, so the patch survives unrelated moto changes.
2. `Subscription.publish` for email/email-json/lambda goes to our delivery hook (outbox file, the
   runtime), after moto's own filter-policy check; every other protocol keeps moto's code.
3. `Subscription.private_key` is cached: moto generates a fresh RSA-2048 key for every SNS->SQS
   message (tens of ms each) only to sign a certificate nobody verifies. `get_post_data` (the
   notification document an SQS subscriber gets) then also built and signed a new X.509
   certificate per message (~1 ms of CPU) and kept its PEM in the backend forever (memory that
   grew with every notification): here the certificate is made once per region and key, and
   registered once under one `SigningCertURL`; each message still gets a real signature with that
   key, so the document is the same as moto's (and AWS's) in every field.
4. `LambdaFunction.invoke` (still reachable from moto internals such as log subscription filters)
   runs the function in our runtime instead of Docker.
5. moto's SQS asks "now?" once or twice per message on every send and receive (visibility, delay,
   queue attributes), each through a datetime round trip (utcnow -> epoch). With a backlog that
   made one SendMessage cost ~15 ms at 1,000 queued messages; `time.time()` gives the same value
   for "now" about ten times cheaper, keeping sends ~3 ms. Explicit datetimes still go to moto.
6. A failed delivery to one subscription (an SQS queue deleted under its subscription) is logged,
   not raised: moto would fail the whole Publish, and so every later order's notification; real
   SNS accepts the message and fails only that delivery.
7. S3's conditional writes are atomic in AWS: of two `PutObject If-None-Match: *` (or `If-Match:
   <ETag>`) on one key, exactly one wins and the other gets 412. moto 5.2.1 checks the condition
   and then stores the object as two steps with no lock between them (`S3Response.put_object`,
   `delete_object`), so two threads of the threaded server can both pass the check and both
   "win" a lock object. `atomic_s3_conditional_writes` runs each object PUT and DELETE under one
   process-wide lock, which is what S3 promises; it is applied here and by the in-process tests
   of orderpoc's S3 state store (tests/unit/test_state_s3.py shows the race without it).
8. Per-request work that gives the same answer every time is done once (profiled under load;
   routing by host is cached in routing.py): `camelcase_to_underscores` and
   `method_names_from_class` (inspect.getmembers over a whole response class, on every request)
   are memoized wherever moto imported them; the 52-character request id comes from
   `secrets` instead of 52 calls to random.choice; SQS's retention check per received message
   reads the queue's retention period instead of building every queue attribute (which counts
   the queue's messages) to pick one.
9. A DynamoDB `Scan` with `Select=COUNT` answers without `Items`, as DynamoDB does (moto's
   Query already does; its Scan rendered every matching item, ~2 ms of CPU per row, only for
   the SDK to drop them). The load test counts an order's rows this way after every run.
10. moto's response serializer works out the attribute names a member may be stored under once
   per shape and class instead of once per value (`moto_serialize.py`).
11. Every botocore model moto reads is parsed once per process, by one shared loader
   (`model_loader.py`): each of moto's loaders kept a copy of its own.
12. DynamoDB condition and filter expressions are parsed once per text (`moto_expressions.py`), and
   so is the response layer's own parse of them, made only to check the names and values used.
13. SendMessage to a standard queue no longer builds every queue attribute (`moto_sqs.py`).
14. moto keeps every model instance it ever made, in a list per class, for its dashboard
   (`BaseModel.instances_tracked`; only moto's reset API, which we do not serve, empties it): every
   SQS message, DynamoDB item, stream record and log event stayed in memory for the server's life,
   deleted or not, and every garbage collection walked them. `untrack_models` makes models as moto
   does, without the list.
15. The pipeline's hot JSON calls (PutItem, SendMessage, ReceiveMessage, ...) skip moto's
   model-driven walk of the request body where it would return what json.loads does
   (`moto_parse.py`); each receive's receipt handle is drawn at once (`moto_sqs.py`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from orderpoc.local import model_loader, moto_expressions, moto_parse, moto_serialize, moto_sqs

log = logging.getLogger("orderpoc.local")

CHECKED_MOTO_VERSION = "5.2.1"
HOOKED_PROTOCOLS = frozenset({"email", "email-json", "lambda"})

# (subscription, message, message_id, subject, message_attributes) -> None
DeliverHook = Callable[[Any, str, str, "str | None", dict[str, Any]], None]
# (function, payload bytes) -> (response payload bytes, function error or None)
InvokeHook = Callable[[Any, bytes], "tuple[bytes, str | None]"]

_applied = False


class _NeverTriggers:
    """Stands in for moto's per-source `lambda_event_source_mappings` dict (see point 1)."""

    def __get__(self, obj: Any, owner: Any = None) -> dict[str, Any]:
        return {}

    def __set__(self, obj: Any, value: Any) -> None:
        pass


def apply(deliver: DeliverHook, invoke: InvokeHook) -> None:
    """Install the switches once per process; the hooks are the server's notifier and runtime."""
    global _applied
    if _applied:
        return
    import moto
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models.table import Table
    from moto.kinesis.models import Stream
    from moto.sns.models import Subscription
    from moto.sqs.models import Queue

    if moto.__version__ != CHECKED_MOTO_VERSION:
        log.warning("moto %s: patches were checked against %s", moto.__version__, CHECKED_MOTO_VERSION)

    # moto's classes are patched in place: typed Any, as their declared types are what we replace.
    sources: tuple[Any, ...] = (Queue, Table, Stream)
    for cls in sources:
        cls.lambda_event_source_mappings = _NeverTriggers()

    _patch_subscription(Subscription, deliver)
    function_cls: Any = LambdaFunction
    function_cls.invoke = _make_invoke(invoke)
    _fast_clock()
    atomic_s3_conditional_writes()
    _speedups()
    _scan_count_without_items()
    moto_serialize.apply()
    model_loader.share()
    moto_expressions.apply()
    moto_sqs.apply()
    moto_parse.apply()
    untrack_models()
    _applied = True


def untrack_models() -> None:
    """BaseModel.__new__ without appending the instance to its class's `instances_tracked`."""
    from moto.core.common_models import BaseModel

    def __new__(cls: Any, *args: Any, **kwargs: Any) -> Any:
        return super(BaseModel, cls).__new__(cls)

    model_cls: Any = BaseModel
    model_cls.__new__ = staticmethod(__new__)


_s3_write_lock = threading.RLock()


def atomic_s3_conditional_writes() -> None:
    """Check and write of a conditional S3 object PUT/DELETE in one critical section (point 7)."""
    from moto.s3.responses import S3Response

    for name in ("put_object", "delete_object"):
        original = getattr(S3Response, name)
        if getattr(original, "_orderpoc_atomic", False):
            continue

        def atomic(self: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with _s3_write_lock:
                return _original(self, *args, **kwargs)

        atomic._orderpoc_atomic = True  # type: ignore[attr-defined]
        setattr(S3Response, name, functools.wraps(original)(atomic))


def _patch_subscription(subscription_cls: Any, deliver: DeliverHook) -> None:
    original = subscription_cls.publish
    signature = inspect.signature(original)

    @functools.wraps(original)
    def publish(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.protocol not in HOOKED_PROTOCOLS:
            try:
                return original(self, *args, **kwargs)
            except Exception:
                log.warning("SNS delivery to %s failed", self.endpoint, exc_info=True)
                return None
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        call = bound.arguments
        message, attributes = call["message"], call.get("message_attributes") or {}
        matcher = getattr(self, "_filter_policy_matcher", None)
        if matcher is not None and not matcher.matches(attributes, message):
            return None
        if call.get("message_structure") == "json":
            message = self._parse_message_structure(message, self.protocol)
        deliver(self, message, call["message_id"], call.get("subject"), attributes)
        return None

    subscription_cls.publish = publish
    original_private_key = subscription_cls.private_key
    cached_key = functools.cache(lambda: original_private_key(None))  # it never reads self
    subscription_cls.private_key = lambda self: cached_key()
    subscription_cls.get_post_data = _post_data_with_one_certificate(cached_key)


def _post_data_with_one_certificate(private_key: Callable[[], Any]) -> Callable[..., dict[str, Any]]:
    """Subscription.get_post_data (see point 3): the same document, one certificate per region."""
    import base64
    import uuid
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.x509.oid import NameOID
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.core.utils import iso_8601_datetime_with_milliseconds
    from moto.sns.models import sns_backends

    lock = threading.Lock()
    cert_urls: dict[str, str] = {}

    def cert_url(region: str) -> str:
        with lock:
            if region not in cert_urls:
                key = private_key()
                now = datetime.now(UTC)
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")]))
                    .issuer_name(
                        x509.Name(
                            [
                                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
                                x509.NameAttribute(NameOID.COMMON_NAME, "Amazon RSA 2048 M01"),
                            ]
                        )
                    )
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now)
                    .not_valid_after(now + timedelta(days=365))
                    .sign(key, hashes.SHA256())
                )
                name = f"SimpleNotificationService-{uuid.uuid4().hex}.pem"
                # Where moto serves the PEM from (the default account's backend, as moto does).
                sns_backends[DEFAULT_ACCOUNT_ID][region]._message_public_keys[name] = cert.public_bytes(
                    serialization.Encoding.PEM
                )
                cert_urls[region] = f"https://sns.{region}.amazonaws.com/{name}"
            return cert_urls[region]

    def get_post_data(
        self: Any, message: str, message_id: str, subject: str | None, message_attributes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        region = self.topic.sns_backend.region_name
        timestamp = iso_8601_datetime_with_milliseconds()
        signed = f"Message\n{message}\nMessageId\n{message_id}\nTimestamp\n{timestamp}\nTopicArn\n{self.topic.arn}\nType\nNotification\n"
        signature = private_key().sign(signed.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        post_data: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": self.topic.arn,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": "2",
            "Signature": base64.b64encode(signature).decode("utf-8"),
            "SigningCertURL": cert_url(region),
            "UnsubscribeURL": (f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}"),
        }
        if subject:
            post_data["Subject"] = subject
        if message_attributes:
            post_data["MessageAttributes"] = message_attributes
        return post_data

    return get_post_data


def _fast_clock() -> None:
    sqs_models: Any = importlib.import_module("moto.sqs.models")  # its module globals, patched
    unix_time, unix_time_millis = sqs_models.unix_time, sqs_models.unix_time_millis
    sqs_models.unix_time = lambda dt=None: time.time() if dt is None else unix_time(dt)
    sqs_models.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else unix_time_millis(dt)


def _speedups() -> None:
    import sys

    import moto.core.utils as core_utils
    import moto.utilities.aws_headers as aws_headers
    from moto.sqs.models import SQSBackend

    def request_id(headerdict: dict[str, Any] | None = None) -> str:
        req_id = secrets.token_hex(26).upper()  # 52 characters, as moto's
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = req_id
        return req_id

    replacements = {
        "camelcase_to_underscores": (
            core_utils.camelcase_to_underscores,
            functools.lru_cache(maxsize=4096)(core_utils.camelcase_to_underscores),
        ),
        "method_names_from_class": (
            core_utils.method_names_from_class,
            functools.lru_cache(maxsize=1024)(core_utils.method_names_from_class),
        ),
        "gen_amzn_requestid_long": (aws_headers.gen_amzn_requestid_long, request_id),
    }
    # Every module that did `from ... import` them holds its own reference: replace each.
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto") or module is None:
            continue
        for attr, (original, replacement) in replacements.items():
            if getattr(module, attr, None) is original:
                setattr(module, attr, replacement)

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()

    backend_cls: Any = SQSBackend
    backend_cls.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def _scan_count_without_items() -> None:
    """Scan with Select=COUNT returns Count and ScannedCount only (point 9)."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.scan

    @functools.wraps(original)
    def scan(self: Any) -> Any:
        result = original(self)
        if str(self.body.get("Select", "")).upper() == "COUNT":
            result.result.pop("Items", None)  # type: ignore[attr-defined]  # the DynamoResult dict
        return result

    handler_cls: Any = DynamoHandler
    handler_cls.scan = scan


def _make_invoke(invoke: InvokeHook) -> Callable[..., bytes]:
    def invoke_in_runtime(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
        payload, error = invoke(self, (body or "{}").encode() if isinstance(body, str) else body)
        if error:
            response_headers["x-amz-function-error"] = error
        return payload

    return invoke_in_runtime

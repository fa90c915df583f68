"""SNS deliveries moto does not make: email to a local outbox file, lambda to our runtime.

SNS -> SQS stays moto's own (Subscription.publish, in-process, filter policies honoured). Email
and email-json subscriptions are appended as JSON lines to `state_dir/local/outbox.jsonl`, which
`read_outbox` reads back (the CLI calls it without the emulator running). Lambda subscriptions are
invoked asynchronously with the SNS event shape, as SNS does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

OUTBOX_NAME = "outbox.jsonl"


class AsyncInvoker(Protocol):
    def invoke_async(self, fn: Any, payload: bytes) -> str: ...


def outbox_path(state_dir: Path) -> Path:
    return Path(state_dir) / "local" / OUTBOX_NAME


def read_outbox(state_dir: Path, limit: int = 10) -> list[dict[str, Any]]:
    """The last `limit` emails delivered locally, oldest first."""
    path = outbox_path(state_dir)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        tail = deque((line for line in lines if line.strip()), maxlen=max(limit, 0))
    mails = []
    for line in tail:
        try:
            mails.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a crash: skip it, keep the rest
            continue
    return mails


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Notifier:
    """The delivery hook patches.py installs on moto's SNS subscriptions."""

    def __init__(self, state_dir: Path, runtime: AsyncInvoker) -> None:
        self.outbox = outbox_path(state_dir)
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        self._runtime = runtime
        self._lock = threading.Lock()

    def deliver(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        attributes: dict[str, Any],
    ) -> None:
        if subscription.protocol == "lambda":
            self._to_lambda(subscription, message, message_id, subject, attributes)
            return
        body = message
        if subscription.protocol == "email-json":
            body = json.dumps(_envelope(subscription, message, message_id, subject, attributes))
        entry = {
            "timestamp": _now(),
            "topic": subscription.topic.arn,
            "endpoint": subscription.endpoint,
            "protocol": subscription.protocol,
            "subject": subject,
            "message": body,
            "message_id": message_id,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock, self.outbox.open("a", encoding="utf-8") as out:
            out.write(line)  # one write per line: readers never see half an entry

    def _to_lambda(
        self,
        subscription: Any,
        message: str,
        message_id: str,
        subject: str | None,
        attributes: dict[str, Any],
    ) -> None:
        from orderpoc.local import backends

        region = subscription.endpoint.split(":")[3]
        fn = backends.find_function(subscription.endpoint, region)
        if fn is None:
            return  # SNS drops deliveries to a missing function (after retries)
        sns = _envelope(subscription, message, message_id, subject, attributes)
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": subscription.arn,
                    "Sns": sns,
                }
            ]
        }
        self._runtime.invoke_async(fn, json.dumps(event).encode())


def _envelope(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    attributes: dict[str, Any],
) -> dict[str, Any]:
    """The SNS notification document (what email-json and lambda subscribers receive)."""
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": subscription.topic.arn,
        "Subject": subject,
        "Message": message,
        "Timestamp": _now(),
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertUrl": "EXAMPLE",
        "UnsubscribeUrl": f"http://127.0.0.1/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
        "MessageAttributes": {
            name: {"Type": value.get("Type") or value.get("DataType"), "Value": value.get("Value")}
            for name, value in attributes.items()
        },
    }

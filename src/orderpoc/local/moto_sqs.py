"""SendMessage to a standard queue without building every queue attribute (checked against moto 5.2.1).

moto's `SQSBackend.send_message` asks `queue.attributes.get("ContentBasedDeduplication")` once
per message. `Queue.attributes` builds every attribute to answer: it walks the queue's messages
three times (ApproximateNumberOfMessages, ...Delayed, ...NotVisible) and renders its policies, so
one send cost more the longer the backlog (the orders queue under load, the load test's probe
queue that SNS delivers to). ContentBasedDeduplication is a FIFO attribute, absent from a standard
queue's attributes, so for a standard queue the answer is always None: while this thread sends to
one, that queue's `attributes` is an empty dict, which gives the same None without the walk.
FIFO queues and every other reader of `attributes` get moto's full dict.

Each receive also gives the message a new receipt handle: 185 random lowercase letters, which moto
draws one `random.choice` at a time (~46 us, twice per order: the orders queue and the load test's
probe queue); `random.choices` draws the same kind of handle in a third of the time.
"""

from __future__ import annotations

import functools
import random
import string
import threading
from typing import Any

RECEIPT_HANDLE_LENGTH = 185
_sending = threading.local()  # .queue: the standard queue this thread is sending to
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    import moto.sqs.models as sqs_models

    queue_cls: Any = sqs_models.Queue
    backend_cls: Any = sqs_models.SQSBackend
    full = queue_cls.attributes

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(_sending, "queue", None) is self:
            return {}
        return full.fget(self)

    attributes.__wrapped__ = full  # type: ignore[attr-defined]  # moto's property
    queue_cls.attributes = property(attributes, full.fset, full.fdel, full.__doc__)
    original = backend_cls.send_message

    @functools.wraps(original)
    def send_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            return original(self, queue_name, *args, **kwargs)
        previous, _sending.queue = getattr(_sending, "queue", None), queue
        try:
            return original(self, queue_name, *args, **kwargs)
        finally:
            _sending.queue = previous

    backend_cls.send_message = send_message
    sqs_models.generate_receipt_handle = receipt_handle  # type: ignore[attr-defined]
    _applied = True


def receipt_handle() -> str:
    """What moto's generate_receipt_handle makes (185 random lowercase letters), drawn at once."""
    return "".join(random.choices(string.ascii_lowercase, k=RECEIPT_HANDLE_LENGTH))

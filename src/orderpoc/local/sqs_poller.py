"""An SQS event source mapping, run as the Lambda service runs it.

Each "lane" is one concurrent batch: long-poll up to BatchSize messages within
MaximumBatchingWindowInSeconds, drop (delete) those the filters reject, invoke, then delete what
succeeded. Lanes scale with the backlog, as Lambda's pollers do: one lane while it keeps up; a
full batch (messages are waiting) adds one, up to ScalingConfig.MaximumConcurrency (else the
runtime's worker bound); a lane whose receive emptied the queue (a short batch, or none) ends,
down to one. Lambda starts at five and keeps its pollers on its own hosts; here every lane is a
warm worker process (~45 MB) and CPU on the same machine, and batches grow fuller (fewer
invocations per message) when fewer lanes share the queue. Failed messages are left alone: they
come back after the queue's visibility timeout, and moto's receive moves them to the DLQ after the
redrive policy's maxReceiveCount, as SQS does.

It calls moto's SQS backend in-process (backends.sqs_*: ReceiveMessage, DeleteMessage,
ChangeMessageVisibility), so receive counts, visibility and the redrive to the DLQ are SQS's own,
not re-implemented here, without an HTTP round trip and a boto3 client per call in this process.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

from orderpoc.local import backends, filtering

log = logging.getLogger("orderpoc.local.sqs")

POLL_WAIT_SECONDS = 1  # long-poll in short slices so a disable/delete stops the lane promptly


class SqsPoller:
    def __init__(self, config: dict[str, Any], runtime: Any) -> None:
        self.config = config
        self._runtime = runtime
        self._stop = threading.Event()
        self.region, self.account, self.queue_name = backends.arn_parts(config["EventSourceArn"])
        scaling = config.get("ScalingConfig") or {}
        self.max_lanes = max(1, int(scaling.get("MaximumConcurrency") or runtime.max_workers))
        self.batch_size = int(config.get("BatchSize") or 10)
        self.window = float(config.get("MaximumBatchingWindowInSeconds") or 0)
        self.report_failures = "ReportBatchItemFailures" in (config.get("FunctionResponseTypes") or [])
        self.filters = filtering.compile_filters(config.get("FilterCriteria"))
        self._threads: list[threading.Thread] = []
        self._lanes_lock = threading.Lock()
        self._last_failure: str | None = None  # the kind of the last whole-batch failure (_say_failed)
        self.lanes = 0  # running now

    def start(self) -> None:
        self._add_lane()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        with self._lanes_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    # -- scaling --------------------------------------------------------------------------------

    def _add_lane(self) -> None:
        with self._lanes_lock:
            if self._stop.is_set() or self.lanes >= self.max_lanes:
                return
            self.lanes += 1
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(
                target=self._lane, name=f"sqs-{self.config['UUID'][:8]}-{len(self._threads)}", daemon=True
            )
            thread.start()  # under the lock: a thread not yet started is not alive, and the next
            self._threads.append(thread)  # call's pruning would drop it from join()'s list

    def _retire_lane(self) -> bool:
        """True when this idle lane should end: another one is left to keep polling."""
        with self._lanes_lock:
            if self.lanes <= 1:
                return False
            self.lanes -= 1
            return True

    # -- one lane -------------------------------------------------------------------------------

    def _lane(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                batch = self._gather()
                if batch and self._stop.is_set():
                    self._release(batch)  # stopped mid-receive: hand them back untouched
                elif batch:
                    backlog = len(batch) >= self.batch_size
                    if backlog:
                        self._add_lane()  # messages are waiting: take the next batch beside this one
                    self._process(batch)
                    if not backlog and self._retire_lane():
                        return  # this receive emptied the queue: the other lanes keep up
                elif self._retire_lane():
                    return
                failures = 0
            except Exception as exc:  # queue deleted, server shutting down...: back off, retry
                failures += 1
                if failures == 1:
                    log.warning("sqs mapping %s: %s", self.config["UUID"], exc)
                self._stop.wait(min(2.0**failures / 4, 30.0))

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        """A long poll that a stop ends before it takes anything.

        Each receive counts against the message's maxReceiveCount, so a stopped lane must not take a
        message only to hand it back: with five lanes each doing so in turn, an order that arrived
        just after the mapping was disabled reached its fifth receive and went to the DLQ. So the
        wait is on the queue (woken by a new message), and each receive is an instant one made only
        while the lane still runs."""
        count, deadline = max(1, min(10, count)), time.monotonic() + max(0, min(20, wait))
        while not self._stop.is_set():
            found = backends.sqs_receive(self.account, self.region, self.queue_name, count, 0)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            backends.sqs_wait(self.account, self.region, self.queue_name, min(0.5, remaining))
        return []

    def _gather(self) -> list[dict[str, Any]]:
        """One batch: long-poll for the first message, then fill up within the batching window.

        Each receive is a long poll that returns as soon as a message is there, so no loop spins.
        WaitTimeSeconds is whole seconds: the window's last fraction is slept out and then looked
        at once, instead of short-polling through it."""
        messages = self._receive(self.batch_size, POLL_WAIT_SECONDS)
        if not messages or self.window <= 0:
            return messages
        deadline = time.monotonic() + self.window
        while len(messages) < self.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if remaining < 1:
                if not self._stop.wait(remaining):
                    messages.extend(self._receive(self.batch_size - len(messages), 0))
                break
            messages.extend(self._receive(self.batch_size - len(messages), int(remaining)))
        return messages

    def _process(self, messages: list[dict[str, Any]]) -> None:
        wanted: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for record in map(self._record, messages):
            passes = filtering.passes(filtering.sqs_view(record), self.filters)
            (wanted if passes else dropped).append(record)
        self._delete(dropped)  # Lambda deletes messages its filters reject
        if not wanted:
            return
        result = self._runtime.invoke(
            self.config["FunctionArn"], json.dumps({"Records": wanted}).encode(), region=self.region
        )
        if not result.ok:  # the whole batch comes back after the visibility timeout
            self._say_failed(result, len(wanted))
            return
        self._last_failure = None
        failed = self._failed_ids(result, wanted) if self.report_failures else set()
        self._delete([r for r in wanted if r["messageId"] not in failed])

    def _say_failed(self, result: Any, count: int) -> None:
        """In the server log, once per kind of failure in a row: a batch that fails as a whole is
        seen again only after the queue's visibility timeout (minutes, for the stack's queue), so
        an order that shows up late can be traced to the invocation that failed."""
        why = result.error_type or result.function_error
        if why != self._last_failure:
            log.warning(
                "sqs mapping %s: invocation %s failed (%s): its %d messages come back after the visibility timeout",
                self.config["UUID"],
                result.request_id,
                why,
                count,
            )
        self._last_failure = why

    def _failed_ids(self, result: Any, records: list[dict[str, Any]]) -> set[str]:
        """Partial batch response; anything malformed fails the whole batch, as Lambda does."""
        everything = {r["messageId"] for r in records}
        try:
            response = result.json()
        except ValueError:
            return everything
        if response is None:
            return set()
        if not isinstance(response, dict):
            return everything
        items = response.get("batchItemFailures")
        if not items:  # null or empty: complete success
            return set()
        if not isinstance(items, list):
            return everything
        failed = set()
        for item in items:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not ident or ident not in everything:
                return everything
            failed.add(ident)
        return failed

    def _delete(self, records: list[dict[str, Any]]) -> None:
        backends.sqs_delete(self.account, self.region, self.queue_name, [r["receiptHandle"] for r in records])

    def _release(self, messages: list[dict[str, Any]]) -> None:
        backends.sqs_release(self.account, self.region, self.queue_name, [m["ReceiptHandle"] for m in messages])

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": message.get("Attributes") or {},
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": _b64(value.get("BinaryValue")),
                    "stringListValues": value.get("StringListValues") or [],
                    "binaryListValues": [_b64(v) for v in value.get("BinaryListValues") or []],
                    "dataType": value.get("DataType"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.config["EventSourceArn"],
            "awsRegion": self.region,
        }


def _b64(value: bytes | None) -> str | None:
    return base64.b64encode(value).decode() if value is not None else None

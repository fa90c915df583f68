"""A DynamoDB Streams event source mapping, run as the Lambda service runs it.

One thread per mapping (moto keeps one shard per stream), reading in-process from the shard at a
checkpoint: FilterCriteria drop records before batching; a failed batch is retried with backoff,
split in halves first when BisectBatchOnFunctionError is set; ReportBatchItemFailures moves the
checkpoint to the first failed record; after MaximumRetryAttempts the batch's failure record goes
to DestinationConfig.OnFailure and the poller moves on; so do records older than
MaximumRecordAgeInSeconds, without an invocation. The checkpoint survives a disable/enable.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from orderpoc.local import backends, filtering

log = logging.getLogger("orderpoc.local.streams")

IDLE_WAIT = 0.1  # Lambda polls a shard about four times a second; a little faster locally
MAX_BACKOFF = 2.0


class StreamPoller:
    def __init__(self, config: dict[str, Any], runtime: Any, checkpoints: dict[str, int], previous: Any = None) -> None:
        self.config = config
        self._previous = previous  # the poller this one replaces: it may still be mid-batch
        self._runtime = runtime
        self._checkpoints = checkpoints  # shared with the supervisor, by mapping UUID
        self._stop = threading.Event()
        self.uuid: str = config["UUID"]
        self.arn: str = config["EventSourceArn"]
        self.region = backends.arn_parts(self.arn)[0]
        self.batch_size = int(config.get("BatchSize") or 100)
        self.window = float(config.get("MaximumBatchingWindowInSeconds") or 0)
        retries = config.get("MaximumRetryAttempts")
        self.max_retries = -1 if retries is None else int(retries)  # -1: until the record expires
        max_age = config.get("MaximumRecordAgeInSeconds")
        self.max_age = -1 if max_age is None else int(max_age)  # -1: records never expire
        self.bisect = bool(config.get("BisectBatchOnFunctionError"))
        self.report_failures = "ReportBatchItemFailures" in (config.get("FunctionResponseTypes") or [])
        self.on_failure = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self.filters = filtering.compile_filters(config.get("FilterCriteria"))
        self._thread = threading.Thread(target=self._loop, name=f"ddb-{self.uuid[:8]}", daemon=True)

    def start(self) -> None:
        shard = backends.stream_shard(self.arn)
        if shard is not None:  # position now, so LATEST means "from when the mapping was seen"
            self._position(shard)
        self._thread.start()

    def _position(self, shard: Any) -> int:
        if self.uuid not in self._checkpoints:
            self._checkpoints[self.uuid] = backends.stream_start(
                shard, self.config.get("StartingPosition") or "TRIM_HORIZON"
            )
        return self._checkpoints[self.uuid]

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        if self._previous is not None:  # one reader per checkpoint, or records would run twice
            self._previous.join()
            self._previous = None
        last_error = ""
        while not self._stop.is_set():
            try:
                if not self._poll_once():
                    self._stop.wait(IDLE_WAIT)
                last_error = ""
            except Exception as exc:  # function deleted, throttled...: retry from the checkpoint
                if repr(exc) != last_error:
                    log.warning("stream mapping %s: %r", self.uuid, exc, exc_info=not last_error)
                    last_error = repr(exc)
                self._stop.wait(1.0)

    def _poll_once(self) -> bool:
        shard = backends.stream_shard(self.arn)
        if shard is None:  # stream disabled or table deleted: nothing to read
            return False
        records = backends.read_stream(shard, self._position(shard), self.batch_size, self.arn)
        if records and len(records) < self.batch_size and self.window > 0:
            self._stop.wait(self.window)  # batching window: let the batch fill up
            records = backends.read_stream(shard, self._checkpoints[self.uuid], self.batch_size, self.arn)
        if not records:
            return False
        if self.max_age >= 0:
            cutoff = time.time() - self.max_age
            expired = [r for r in records if r["dynamodb"].get("ApproximateCreationDateTime", cutoff) < cutoff]
            if expired:  # in sequence order, so a prefix: report and skip it
                self._send_failure(expired, None, 0, "RecordAgeExceeded")
                self._advance(expired[-1])
                return True
        wanted = [r for r in records if filtering.passes(r, self.filters)]
        if wanted:
            self._deliver(wanted)
        if not self._stop.is_set():
            self._advance(records[-1])
        return True

    def _advance(self, record: dict[str, Any]) -> None:
        position = int(record["dynamodb"]["SequenceNumber"]) + 1
        self._checkpoints[self.uuid] = max(self._checkpoints[self.uuid], position)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke until every record is done (processed or sent to the on-failure destination)."""
        pending = [records]
        while pending and not self._stop.is_set():
            part = pending.pop(0)
            retries = 0
            while not self._stop.is_set():
                result = self._runtime.invoke(
                    self.config["FunctionArn"], json.dumps({"Records": part}).encode(), region=self.region
                )
                failed_from = self._failed_from(result, part)
                if failed_from is None:
                    self._advance(part[-1])
                    break
                if failed_from > 0:  # checkpoint up to the first failed record, retry from it
                    self._advance(part[failed_from - 1])
                    part = part[failed_from:]
                if self.bisect and not result.ok and len(part) > 1:
                    half = len(part) // 2  # splitting does not count against the retry quota
                    pending[0:0] = [part[:half], part[half:]]
                    break
                if 0 <= self.max_retries <= retries:
                    self._send_failure(part, result, retries + 1, "RetryAttemptsExhausted")
                    self._advance(part[-1])
                    break
                retries += 1
                self._stop.wait(min(0.1 * 2**retries, MAX_BACKOFF))

    def _failed_from(self, result: Any, part: list[dict[str, Any]]) -> int | None:
        """None when the batch succeeded, else the index of the first record to retry."""
        if not result.ok:
            return 0
        if not self.report_failures:
            return None
        try:
            response = result.json()
        except ValueError:
            return 0
        if response is None:
            return None
        items: Any = response.get("batchItemFailures") if isinstance(response, dict) else "invalid"
        if not items:
            return None
        sequence = [r["dynamodb"]["SequenceNumber"] for r in part]
        try:
            return min(sequence.index(item["itemIdentifier"]) for item in items)
        except (TypeError, KeyError, ValueError):  # malformed: the whole batch failed
            return 0

    def _send_failure(self, part: list[dict[str, Any]], result: Any, attempts: int, condition: str) -> None:
        """The failure record Lambda sends on-failure destinations: batch coordinates, not records."""
        if not self.on_failure:
            log.warning("mapping %s dropped %d records: %s", self.uuid, len(part), condition)
            return
        shard = backends.stream_shard(self.arn)
        response_context: dict[str, Any] = {}
        if result is not None:
            response_context = {"statusCode": 200, "executedVersion": result.executed_version}
            if result.function_error:
                response_context["functionError"] = result.function_error
        record = {
            "requestContext": {
                "requestId": result.request_id if result is not None else str(uuid.uuid4()),
                "functionArn": self.config["FunctionArn"],
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": backends.shard_id(shard) if shard is not None else "",
                "startSequenceNumber": part[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": part[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _arrival(part[0]),
                "approximateArrivalOfLastRecord": _arrival(part[-1]),
                "batchSize": len(part),
                "streamArn": self.arn,
            },
        }
        try:
            backends.send_to_destination(self.on_failure, json.dumps(record))
        except Exception:
            log.exception("mapping %s: on-failure destination %s", self.uuid, self.on_failure)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _arrival(record: dict[str, Any]) -> str:
    seconds = record["dynamodb"].get("ApproximateCreationDateTime") or 0
    return _iso(datetime.fromtimestamp(float(seconds), UTC))

"""The Lambda runtime: run a function's uploaded code in warm workers, as the Lambda service does.

Every invocation (Invoke API, pollers, API front, SNS) comes here. The function is looked up in
moto at that moment, so a code or configuration update is picked up by the next invocation: it
gets a new pool and the old workers are retired.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderpoc.local import backends, lambda_logs
from orderpoc.local.lambda_logs import InvocationLog
from orderpoc.local.pools import Pool, PoolRetired
from orderpoc.local.worker_process import WorkerDied, WorkerTimeout, environment

log = logging.getLogger("orderpoc.local.runtime")

ASYNC_RETRY_DELAYS = (1.0, 2.0)  # Lambda retries async invocations twice (after ~1 and ~2 min)
IDLE_SECONDS = 600.0  # a function's last warm worker: interactive use stays warm
SURPLUS_IDLE_SECONDS = 30.0  # the others, which a burst of load started


class FunctionNotFound(Exception):
    pass


@dataclass
class InvokeResult:
    request_id: str
    payload: bytes
    executed_version: str = "$LATEST"
    function_error: str | None = None  # "Unhandled", like X-Amz-Function-Error
    error_type: str | None = None
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.function_error is None

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


class LambdaRuntime:
    def __init__(self, endpoint: str, max_workers: int = 4) -> None:
        self.endpoint = endpoint
        self.max_workers = max_workers
        self._pools: dict[str, Pool] = {}  # by qualified function ARN
        self._lock = threading.Lock()
        self._root = Path(tempfile.mkdtemp(prefix="orderpoc-lambda-"))
        self._async = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-async")
        self._closed = threading.Event()

    # -- entry points ---------------------------------------------------------------------------

    def invoke(self, ref: str, payload: bytes, *, region: str, qualifier: str | None = None) -> InvokeResult:
        fn = backends.find_function(ref, region, qualifier)
        if fn is None:
            raise FunctionNotFound(ref)
        return self.invoke_function(fn, payload)

    def invoke_async(self, fn: Any, payload: bytes) -> str:
        """InvocationType=Event: queue it, retry twice on error (sooner than Lambda), return at once."""
        request_id = str(uuid.uuid4())
        self._async.submit(self._run_async, fn, payload)
        return request_id

    def invoke_for_moto(self, fn: Any, payload: bytes) -> tuple[bytes, str | None]:
        """The hook patches.py gives moto, so nothing it invokes internally goes to Docker."""
        result = self.invoke_function(fn, payload)
        return result.payload, result.function_error

    def invoke_function(self, fn: Any, payload: bytes) -> InvokeResult:
        config = backends.function_config(fn)
        request_id = str(uuid.uuid4())
        if not config["runtime"].startswith("python"):
            return _failure(
                request_id,
                config,
                {
                    "errorType": "Runtime.InvalidRuntime",
                    "errorMessage": f"orderpoc local runs Python functions only, not {config['runtime']!r}",
                },
            )
        while True:
            try:
                pool = self._pool(fn, config)
            except zipfile.BadZipFile:
                return _failure(
                    request_id,
                    config,
                    {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": "the function's code is not a zip"},
                )
            try:
                return self._run(pool, config, request_id, payload)
            except PoolRetired:
                config = backends.function_config(fn)

    # -- housekeeping ---------------------------------------------------------------------------

    def sweep(self) -> None:
        """Retire pools of deleted or changed functions; recycle long-idle workers."""
        with self._lock:
            pools = list(self._pools.items())
        for slot, pool in pools:
            cfg = pool.config
            fn = backends.find_function(cfg["arn"], cfg["region"], cfg["version"])
            if fn is None or backends.function_config(fn) != cfg:
                with self._lock:
                    if self._pools.get(slot) is pool:
                        del self._pools[slot]
                pool.retire()
            else:
                pool.reap_idle(IDLE_SECONDS, SURPLUS_IDLE_SECONDS)

    def shutdown(self) -> None:
        self._async.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._closed.set()
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.retire(kill_busy=True)
        shutil.rmtree(self._root, ignore_errors=True)

    # -- internals ------------------------------------------------------------------------------

    def _pool(self, fn: Any, config: dict[str, Any]) -> Pool:
        slot = f"{config['arn']}#{config['version']}"
        with self._lock:
            if self._closed.is_set():  # shutting down: never start a worker again
                raise RuntimeError("the Lambda runtime is shut down")
            pool = self._pools.get(slot)
            if pool is not None and pool.config == config:
                return pool
            if pool is not None:
                pool.retire()
            pool = Pool(
                config,
                backends.function_code(fn),
                self._root / uuid.uuid4().hex,
                lambda code_dir, stream: environment(config, code_dir, stream, self.endpoint, self._root),
                self.max_workers,
            )
            self._pools[slot] = pool
            return pool

    def _run(self, pool: Pool, config: dict[str, Any], request_id: str, payload: bytes) -> InvokeResult:
        worker, ready = pool.acquire()
        invocation = InvocationLog(request_id, config["version"])
        started = time.perf_counter()
        answer: dict[str, Any] = {}
        try:
            answer = self._call(worker, ready, invocation, config, request_id, payload)
        finally:
            pool.release(worker, reusable=bool(answer.get("handled")))
        invocation.output(answer.get("logs") or "")
        error = answer.get("error")
        if error and not answer.get("timeout"):
            invocation.error(error)
        invocation.finish(
            (time.perf_counter() - started) * 1000,
            config["memory"],
            int(answer.get("maxRssMb") or 0),
            worker.init_ms if worker.invocations <= 1 else None,
        )
        try:
            lambda_logs.write(
                config["account"],
                config["region"],
                f"/aws/lambda/{config['name']}",
                worker.log_stream,
                invocation.lines,
            )
        except Exception:  # logging must never fail an invocation
            log.exception("could not write logs of %s", config["name"])
        if error:
            result = _failure(request_id, config, error)
        else:
            result = InvokeResult(request_id, answer["payload"].encode(), config["version"])
        result.log_tail = invocation.tail()
        return result

    @staticmethod
    def _call(
        worker: Any,
        ready: dict[str, Any] | None,
        invocation: InvocationLog,
        config: dict[str, Any],
        request_id: str,
        payload: bytes,
    ) -> dict[str, Any]:
        """The worker's answer ({"payload"} or {"error"}, with "logs"), timeouts and exits included."""
        if ready is not None:
            invocation.output(ready.get("logs") or "")
            if not ready["ready"]:
                return {"error": ready["error"]}
        timeout = config["timeout"]
        try:
            answer = worker.call(
                {
                    "requestId": request_id,
                    "event": (payload or b"{}").decode(),
                    "timeoutMs": timeout * 1000,
                    "invokedArn": config["arn"],
                },
                timeout=timeout,
            )
            answer["handled"] = True  # the handler ran to the end, error or not: stay warm
            return answer
        except WorkerTimeout:
            invocation.timed_out(timeout)
            return {
                "timeout": True,
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
                },
            }
        except WorkerDied as exc:
            message = f"RequestId: {request_id} Error: {exc}"
            invocation.lines.append(message)
            return {"error": {"errorType": "Runtime.ExitError", "errorMessage": message}}

    def _run_async(self, fn: Any, payload: bytes) -> None:
        for delay in (*ASYNC_RETRY_DELAYS, None):
            if self._closed.is_set():
                return
            try:
                if self.invoke_function(fn, payload).ok:
                    return
            except Exception:
                log.exception("async invocation of %s failed", getattr(fn, "function_name", fn))
            if delay is None or self._closed.wait(delay):
                return


def _failure(request_id: str, config: dict[str, Any], error: dict[str, Any]) -> InvokeResult:
    body = {
        "errorMessage": error.get("errorMessage", ""),
        "errorType": error.get("errorType", "Unhandled"),
        "requestId": request_id,
        "stackTrace": error.get("stackTrace") or [],
    }
    return InvokeResult(request_id, json.dumps(body).encode(), config["version"], "Unhandled", body["errorType"])

"""One warm Lambda execution environment: import the handler once, then serve invocations.

Run as a script (`python -I function_host.py CODE_DIR HANDLER`), never imported: it must stay cheap to
start, so it imports only the standard library pieces the Lambda Python runtime has loaded anyway;
anything heavier (boto3) is the handler's own business.

Protocol, one JSON object per line: requests arrive on stdin, answers go to the *original* stdout,
which we keep for ourselves before pointing fd 1 at stderr (the emulator log), so stray writes by
native code cannot corrupt the protocol. Python-level output (print, logging) is captured per
invocation and returned with the answer, for the function's log stream.
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class _Capture(io.TextIOBase):
    """sys.stdout and sys.stderr of the function: one buffer keeps their interleaving."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def take(self) -> str:
        parts, self.parts = self.parts, []
        return "".join(parts)

    encoding = "utf-8"


class Context:
    """The Lambda context object, with the attributes and methods handlers commonly use."""

    def __init__(self, request: dict[str, Any], deadline: float) -> None:
        self.aws_request_id: str = request["requestId"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn: str = request.get("invokedArn", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.time()) * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _error(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


def _load(handler: str) -> tuple[Any, dict[str, Any] | None]:
    module_name, _, function_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        return None, _error(exc, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except ImportError as exc:
        return None, _error(exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:  # an exception at import time is an init error, like Lambda's
        return None, _error(exc)
    function = getattr(module, function_name, None)
    if not callable(function):
        return None, {
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "errorType": "Runtime.HandlerNotFound",
            "stackTrace": [],
        }
    return function, None


def _max_rss_mb() -> int:
    """Peak memory of this process ("Max Memory Used"). VmHWM, not ru_maxrss: Linux carries the
    latter over from the parent across fork+exec, which would report the server's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def main() -> None:
    code_dir, handler = sys.argv[1], sys.argv[2]
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)

    capture = _Capture()
    sys.stdout = sys.stderr = capture
    request_id = _RequestIdFilter()
    root = logging.getLogger()
    log_handler = logging.StreamHandler(capture)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    log_handler.setFormatter(formatter)
    log_handler.terminator = ""
    log_handler.addFilter(request_id)
    root.addHandler(log_handler)

    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    function, init_error = _load(handler)
    # What the handler imported (boto3: ~100k objects) lives as long as the worker: kept out of
    # the garbage collector's older collections, which would otherwise walk it again and again.
    gc.freeze()
    ready = {"ready": init_error is None, "error": init_error, "logs": capture.take()}
    answers.write(json.dumps(ready) + "\n")
    answers.flush()
    if init_error is not None:
        return

    for line in requests:
        request = json.loads(line)
        request_id.request_id = request["requestId"]
        deadline = time.time() + request["timeoutMs"] / 1000
        answer: dict[str, Any] = {}
        try:
            result = function(json.loads(request["event"]), Context(request, deadline))
            try:
                answer["payload"] = json.dumps(result)
            except (TypeError, ValueError) as exc:
                answer["error"] = _error(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}")
        except Exception as exc:
            answer["error"] = _error(exc)
        answer["logs"] = capture.take()
        answer["maxRssMb"] = _max_rss_mb()
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

"""Helpers for the Lambda resource tests (test_res_lambda.py, test_res_event_source.py).

Their fixtures (`role_arn`, `function`) are in conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from typing import Any

FUNCTION = "orderpoc-test-processor"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def make_zip(body: str = "def handler(e, c):\n    return e\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("index.py", date_time=(2020, 1, 1, 0, 0, 0))
        zf.writestr(info, body)
    return buf.getvalue()


def sha256_b64(data: bytes) -> str:
    """Lambda's CodeSha256: base64 of the raw sha256 digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def function_desired(ctx: Any, role_arn: str, code: bytes | None = None, **overrides: Any) -> dict[str, Any]:
    code = code if code is not None else make_zip()
    return {
        "role_arn": role_arn,
        "handler": "index.handler",
        "runtime": "python3.12",
        "timeout": 10,
        "memory": 256,
        "environment": {"ORDERS_TABLE": "orderpoc-test-orders"},
        "code_sha256": sha256_b64(code),
        "_zip": code,
        "description": "test function",
        "tags": dict(ctx.tags),
        **overrides,
    }

"""Helpers for the Lambda resource tests (test_res_lambda.py, test_res_event_source.py).

Import with tests/unit on sys.path, as test_fn_intake does with fn_fixtures.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest

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


@pytest.fixture
def role_arn(ctx: Any) -> str:
    """moto's create_function checks that the role exists in the same account."""
    iam = ctx.clients("iam")
    return iam.create_role(RoleName=FUNCTION, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def function(ctx: Any, role_arn: str) -> dict[str, str]:
    """An existing function, created straight with boto3; returns {"name", "arn"}."""
    conf = ctx.clients("lambda").create_function(
        FunctionName=FUNCTION,
        Role=role_arn,
        Runtime="python3.12",
        Handler="index.handler",
        Code={"ZipFile": make_zip()},
    )
    return {"name": FUNCTION, "arn": conf["FunctionArn"]}

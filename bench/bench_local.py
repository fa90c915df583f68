"""Warm Lambda invoke overhead of the embedded AWS, against a plain in-process call.

    python bench/bench_local.py [--n 500]

Starts the emulator on a free port in a temporary state dir, creates one small function, warms it,
then times (median of n):
  in-process   the same handler called directly in this process (the floor)
  raw HTTP     POST .../invocations over a kept-alive http.client connection
  boto3        lambda.invoke (what resource modules and the CLI use)
and prints each with its ratio to the in-process call and the overhead in milliseconds, plus the
cold start (create -> first answer) and a concurrent throughput figure. Stops everything at exit.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import statistics
import sys
import tempfile
import time
import types
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from orderpoc.local import lifecycle

HANDLER = """
import json
def handler(event, context):
    order = event.get("order") or {}
    return {"statusCode": 200, "body": json.dumps({"id": order.get("id"), "total": sum(order.get("items", []))})}
"""
EVENT = {"order": {"id": "o-1", "items": [1, 2, 3]}}


def _median_ms(call: Callable[[], Any], n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="invocations per measurement")
    n = parser.parse_args().n

    module = types.ModuleType("bench_handler")
    exec(HANDLER, module.__dict__)
    context = types.SimpleNamespace(aws_request_id="x", get_remaining_time_in_millis=lambda: 3000)
    in_process = _median_ms(lambda: module.handler(EVENT, context), n * 20)

    state_dir, port = Path(tempfile.mkdtemp(prefix="orderpoc-bench-")), _free_port()
    status = lifecycle.start(state_dir, port)
    try:
        kw = {
            "region_name": "us-east-1",
            "endpoint_url": status.endpoint,
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        session = boto3.session.Session()
        iam, lam = session.client("iam", **kw), session.client("lambda", **kw)
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", HANDLER)
        lam.create_function(
            FunctionName="bench",
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
        )
        payload = json.dumps(EVENT).encode()
        started = time.perf_counter()
        lam.invoke(FunctionName="bench", Payload=payload)
        cold = (time.perf_counter() - started) * 1000

        conn = http.client.HTTPConnection("127.0.0.1", port)

        def raw_invoke() -> None:
            conn.request(
                "POST",
                "/2015-03-31/functions/bench/invocations",
                body=payload,
                headers={"Content-Type": "application/json"},
            )
            conn.getresponse().read()

        for _ in range(20):
            raw_invoke()
        raw = _median_ms(raw_invoke, n)
        via_boto3 = _median_ms(lambda: lam.invoke(FunctionName="bench", Payload=payload)["Payload"].read(), n)

        total = n * 2
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: lam.invoke(FunctionName="bench", Payload=payload)["Payload"].read(), range(total)))
        throughput = total / (time.perf_counter() - started)
    finally:
        lifecycle.stop(state_dir, port)

    print(f"warm invoke overhead, median of {n} (in-process call = 1x)")
    print(f"  in-process call   {in_process * 1000:9.1f} us   1x")
    for name, value in (("raw HTTP invoke", raw), ("boto3 invoke", via_boto3)):
        print(f"  {name:<16} {value:9.2f} ms   {value / in_process:,.0f}x   overhead {value - in_process:.2f} ms")
    print(f"cold start (first invoke after create): {cold:.0f} ms")
    print(f"concurrent boto3 invokes (8 threads, up to 4 warm workers): {throughput:.0f}/s")


if __name__ == "__main__":
    sys.exit(main())

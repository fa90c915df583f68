"""End-to-end orders per second through the local pipeline (API -> intake -> SQS -> processor ->
DynamoDB -> stream -> notifier -> SNS), at a few concurrency levels, median of several runs each,
reported against concurrency 1 measured in the same run.

    python bench/bench_orders.py [--orders 200] [--runs 3] [--levels 1,4,8,16]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
from pathlib import Path

from orderpoc import app, stack
from orderpoc.load import run_load
from orderpoc.local import lifecycle
from orderpoc.probe import find_endpoints, subscribed
from orderpoc.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--levels", default="1,4,8,16")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    state_dir = Path(tempfile.mkdtemp(prefix="orderpoc-bench-"))
    port = free_port()
    settings = Settings(stack="bench", state_dir=state_dir, local_port=port)
    lifecycle.start(state_dir, port)
    rows = []
    try:
        app.up(settings, lambda event: None)
        with app.open_session(settings, lock=False) as session:
            endpoints = find_endpoints(session.ctx, settings.names, session.clients.endpoint_url, stack.STAGE)
            with subscribed(session.ctx, settings.names, endpoints.topic_arn) as subscription:
                for level in levels:
                    results = [
                        run_load(
                            session.ctx,
                            endpoints,
                            subscription,
                            count=args.orders,
                            concurrency=level,
                            rate=None,
                            timeout=300,
                            on_progress=lambda hop, n: None,
                        )
                        for _ in range(args.runs)
                    ]
                    assert all(r.ok for r in results), [r.as_json() for r in results if not r.ok]
                    rows.append(
                        (
                            level,
                            statistics.median(r.orders_per_second for r in results),
                            statistics.median(r.latencies["accepted"]["p50"] for r in results),
                            statistics.median(r.latencies["notified"]["p50"] for r in results),
                        )
                    )
    finally:
        lifecycle.stop(state_dir, port)
    baseline = rows[0][1]
    print(f"{args.orders} orders per run, median of {args.runs} runs; every order stored and notified once")
    print(f"{'concurrency':>11}{'orders/s':>10}{'vs c=1':>8}{'accept p50 ms':>15}{'notify p50 ms':>15}")
    for level, ops, accept, notify in rows:
        print(f"{level:>11}{ops:>10.1f}{ops / baseline:>7.2f}x{accept * 1000:>15.0f}{notify * 1000:>15.0f}")


if __name__ == "__main__":
    main()

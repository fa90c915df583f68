"""End-to-end orders through the local pipeline (API -> intake -> SQS -> processor -> DynamoDB ->
stream -> notifier -> SNS), with what the embedded AWS spends on them: CPU seconds of its whole
process group (server and Lambda workers) per order, and its memory.

Each run starts a fresh emulator, deploys the stack, warms it up (100 orders, not counted), then
measures one steady-state run, then `down`s the stack and measures memory again:

    python bench/bench_orders.py                          # closed loop: 3000 orders, 8 senders
    python bench/bench_orders.py --rate 50 --seconds 60   # fixed rate: 50 orders/s for 60 s
    python bench/bench_orders.py --baseline REF           # also REF's tree, A B A B ..., ratios

With --baseline, the same runs are made with the code of git revision REF (checked out into a
temporary worktree, run with the same interpreter), alternating with this tree's, and the ratios
this/REF are taken pair by pair: the machine's speed drifts, a pair's two runs share it. Quote
medians and ratios; on a shared machine the absolute figures move from run to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WARMUP_ORDERS = 100
BENCH_API_RATE = 1000.0  # requests/s the bench's API allows (the stack's default: 100)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the emulator's process group, from /proc -------------------------------------------------


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # field 5 (pgrp), counted after the ")"
                pids.append(int(entry))
    return pids


def group_cpu_seconds(pgid: int) -> float:
    """utime+stime of every live process in the group, plus the reaped children of each
    (cutime+cstime: workers that exited were waited for by the server)."""
    ticks = 0
    for pid in _group(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / CLK_TCK


def _health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_orderpoc/health", timeout=5) as response:
        return dict(json.load(response))


def settled_after_down(port: int, before: dict[str, Any], timeout: float = 10.0) -> None:
    """Wait for the emulator to settle after `down`: the look it takes 2 s after the last request
    (a collection, and a restart in place when it holds nothing: the generation goes up). `before`
    is its health right after `down`: a pause of 2 s inside a slow `down` has a look of its own. A
    tree without restarts (no generation in its health) is given the 3 s that used to be waited."""
    if "generation" not in before:
        time.sleep(3)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)  # health checks are not work: they do not keep the server from going idle
        health = _health(port)
        if health["generation"] > before["generation"] or health["recycling"]["looks"] > before["recycling"]["looks"]:
            return


def queue_depths(sqs: Any, names: Any) -> dict[str, dict[str, str]]:
    """Messages waiting and in flight on the orders queue and its DLQ."""
    wanted = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return {
        name: sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=wanted)[
            "Attributes"
        ]
        for name in (names.queue, names.dlq)
    }


def own_cpu_seconds(pid: int) -> float:
    """utime+stime of one process alone (the server, without its workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def group_rss_mb(pgid: int) -> tuple[float, float]:
    """(server RSS, server + workers RSS) in MB."""
    return rss_mb(pgid), sum(rss_mb(pid) for pid in _group(pgid))


class PeakRss(threading.Thread):
    def __init__(self, pgid: int) -> None:
        super().__init__(daemon=True)
        self.pgid, self.peak, self._done = pgid, (0.0, 0.0), threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            server, group = group_rss_mb(self.pgid)
            self.peak = (max(self.peak[0], server), max(self.peak[1], group))

    def stop(self) -> tuple[float, float]:
        self._done.set()
        self.join()
        return self.peak


# -- one measured run (in a child process, so it can run another tree's code) -----------------


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    from orderpoc import app, stack, stack_session
    from orderpoc.load import run_load
    from orderpoc.local import lifecycle
    from orderpoc.probe import find_endpoints, subscribed
    from orderpoc.settings import Settings

    state_dir = Path(tempfile.mkdtemp(prefix="orderpoc-bench-"))
    port = free_port()
    settings = Settings(stack="bench", state_dir=state_dir, local_port=port)
    # The stack's own API throttle (100 requests/s, burst 200) would answer 429 once the emulator
    # keeps up with more: the bench measures the emulator, so its API is throttled far above that.
    settings = dataclasses.replace(
        settings, config=dataclasses.replace(settings.config, api_throttle_rate=BENCH_API_RATE, api_throttle_burst=2000)
    )
    pgid = lifecycle.start(state_dir, port).pid
    assert pgid is not None
    count = int(args.rate * args.seconds) if args.rate else args.orders
    try:
        app.up(settings, lambda event: None)
        with stack_session.open_session(settings, lock=False) as session:
            endpoints = find_endpoints(session.ctx, settings.names, session.clients.endpoint_url, stack.STAGE)
            with subscribed(session.ctx, settings.names, endpoints.topic_arn) as subscription:

                def load(n: int, rate: float | None) -> Any:
                    return run_load(
                        session.ctx,
                        endpoints,
                        subscription,
                        count=n,
                        concurrency=args.concurrency,
                        rate=rate,
                        timeout=120,
                        on_progress=lambda hop, k: None,
                    )

                load(WARMUP_ORDERS, None)  # cold starts, first-use imports, pools
                time.sleep(2)
                idle = group_rss_mb(pgid)
                peak = PeakRss(pgid)
                peak.start()
                cpu0, own0, wall0 = group_cpu_seconds(pgid), own_cpu_seconds(pgid), time.monotonic()
                result = load(count, args.rate)
                cpu, own = group_cpu_seconds(pgid) - cpu0, own_cpu_seconds(pgid) - own0
                wall = time.monotonic() - wall0
                loaded = peak.stop()
                # where missing orders are, before down takes it all away
                queues = None if result.ok else queue_depths(session.clients("sqs"), settings.names)
        app.down(settings, lambda event: None)
        settled_after_down(port, _health(port))
        after_down = group_rss_mb(pgid)
    finally:
        lifecycle.stop(state_dir, port)
    return {
        "ok": result.ok,
        "queues": queues,
        "orders": result.notified,
        "duplicates": result.duplicates,
        "missing": result.missing,
        "seconds": result.seconds,
        "orders_per_second": result.orders_per_second,
        "cpu_ms_per_order": 1000 * cpu / max(result.notified, 1),
        "server_cpu_ms_per_order": 1000 * own / max(result.notified, 1),
        "cpu_cores": cpu / wall,
        "latency": result.latencies,
        "rss_idle": idle,
        "rss_peak": loaded,
        "rss_after_down": after_down,
    }


def spawn(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One run in a child interpreter whose orderpoc comes from `tree` (its src/ first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args.passthrough]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise SystemExit(f"run with {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_tree(ref: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="orderpoc-baseline-")) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref], check=True, capture_output=True
    )
    return path


# -- report -----------------------------------------------------------------------------------


def _med(runs: list[dict[str, Any]], key: Any) -> float:
    return statistics.median(key(r) for r in runs)


FIGURES: list[tuple[str, Any, str]] = [
    ("orders/s", lambda r: r["orders_per_second"], "{:.1f}"),
    ("CPU ms/order", lambda r: r["cpu_ms_per_order"], "{:.2f}"),
    ("  of which the server process", lambda r: r["server_cpu_ms_per_order"], "{:.2f}"),
    ("CPU cores busy", lambda r: r["cpu_cores"], "{:.2f}"),
    ("accepted p50 ms", lambda r: 1000 * r["latency"]["accepted"]["p50"], "{:.0f}"),
    ("accepted p99 ms", lambda r: 1000 * r["latency"]["accepted"]["p99"], "{:.0f}"),
    ("stored p50 ms", lambda r: 1000 * r["latency"]["stored"]["p50"], "{:.0f}"),
    ("stored p99 ms", lambda r: 1000 * r["latency"]["stored"]["p99"], "{:.0f}"),
    ("notified p50 ms", lambda r: 1000 * r["latency"]["notified"]["p50"], "{:.0f}"),
    ("notified p99 ms", lambda r: 1000 * r["latency"]["notified"]["p99"], "{:.0f}"),
    ("RSS idle MB (server / +workers)", lambda r: r["rss_idle"], "{:.0f} / {:.0f}"),
    ("RSS peak MB (server / +workers)", lambda r: r["rss_peak"], "{:.0f} / {:.0f}"),
    ("RSS after down MB", lambda r: r["rss_after_down"], "{:.0f} / {:.0f}"),
]


def _value(runs: list[dict[str, Any]], key: Any, fmt: str) -> str:
    first = key(runs[0])
    if isinstance(first, list | tuple):
        return fmt.format(*(statistics.median(key(r)[i] for r in runs) for i in range(len(first))))
    return fmt.format(_med(runs, key))


def report(args: argparse.Namespace, this: list[dict[str, Any]], base: list[dict[str, Any]] | None) -> None:
    mode = (
        f"fixed rate {args.rate:g} orders/s for {args.seconds:g} s ({int(args.rate * args.seconds)} orders)"
        if args.rate
        else f"closed loop, {args.orders} orders, {args.concurrency} concurrent senders"
    )
    lengths = ", ".join(f"{r['seconds']:.0f}" for r in this)
    print(f"{mode}; median of {len(this)} runs (measured part {lengths} s each, after {WARMUP_ORDERS} warm-up orders)")
    for runs in (this, base or []):
        for r in runs:
            assert r["ok"] and r["duplicates"] == 0, r
    print("every order stored and notified, none duplicated, in every run")
    header = f"{'':34}{'this tree':>16}"
    if base:
        header += f"{'baseline ' + args.baseline:>22}{'ratio (pairs)':>16}"
    print(header)
    for name, key, fmt in FIGURES:
        line = f"{name:34}{_value(this, key, fmt):>16}"
        if base:
            line += f"{_value(base, key, fmt):>22}"
            first = key(this[0])
            if not isinstance(first, list | tuple):
                ratios = [key(a) / key(b) for a, b in zip(this, base, strict=True) if key(b)]
                line += f"{statistics.median(ratios):>15.2f}x" if ratios else ""
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3000, help="closed loop: orders per run (default 3000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent senders (default 8)")
    parser.add_argument("--rate", type=float, help="fixed rate: orders per second")
    parser.add_argument("--seconds", type=float, default=60, help="fixed rate: length of a run (default 60)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", metavar="REF", help="git revision to compare against, run for run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rate and args.concurrency < args.rate / 2:
        args.concurrency = int(args.rate / 2)  # enough senders that a slow answer never delays the next
    if args.child:
        print(json.dumps(one_run(args)))
        return
    args.passthrough = [
        "--orders",
        str(args.orders),
        "--concurrency",
        str(args.concurrency),
        "--seconds",
        str(args.seconds),
    ]
    if args.rate:
        args.passthrough += ["--rate", str(args.rate)]
    base_tree = baseline_tree(args.baseline) if args.baseline else None
    this: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    try:
        for _ in range(args.runs):
            if base_tree is not None:
                base.append(spawn(base_tree, args))
            this.append(spawn(ROOT, args))
    finally:
        if base_tree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
    report(args, this, base or None)


if __name__ == "__main__":
    main()

"""How long `up` takes on the embedded AWS: parallel engine vs the same engine one resource at a
time (what a shell script of AWS CLI calls does), and a no-op rerun. Median of several runs each,
measured in the same run so the ratio survives a noisy machine.

    python bench/bench_up.py [--runs 3] [--latency-ms 0,50]

--latency-ms adds that much to every API call (a before-send hook), to model the round trip to a
real AWS region: the embedded AWS answers in about a millisecond, which hides what parallelism buys.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
from pathlib import Path

from orderpoc import app
from orderpoc.aws import Clients
from orderpoc.local import lifecycle
from orderpoc.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", default="0,50")
    args = parser.parse_args()
    for latency in [float(ms) / 1000 for ms in args.latency_ms.split(",")]:
        measure(args.runs, latency)


_ORIGINAL_INIT = Clients.__init__


def with_latency(latency: float) -> None:
    original = _ORIGINAL_INIT

    def init(self, settings):  # every client the app builds waits `latency` before each request
        original(self, settings)
        if latency:
            self.on("before-send", lambda **_: time.sleep(latency))

    Clients.__init__ = init  # type: ignore[method-assign]


def measure(runs: int, latency: float) -> None:
    with_latency(latency)
    state_dir = Path(tempfile.mkdtemp(prefix="orderpoc-bench-"))
    port = free_port()
    lifecycle.start(state_dir, port)
    results: dict[str, list[float]] = {"serial up (1 worker)": [], "parallel up (8 workers)": [], "no-op rerun": []}
    try:
        for run in range(runs):
            for label, workers in (("serial up (1 worker)", 1), ("parallel up (8 workers)", 8)):
                settings = Settings(stack=f"bench{run}w{workers}", state_dir=state_dir, local_port=port)
                results[label].append(timed(lambda s=settings, w=workers: app.up(s, lambda e: None, max_workers=w)))
                if workers == 8:
                    results["no-op rerun"].append(timed(lambda s=settings: app.up(s, lambda e: None)))
                app.down(settings, lambda e: None)
    finally:
        lifecycle.stop(state_dir, port)
    baseline = statistics.median(results["serial up (1 worker)"])
    print(f"\n+{latency * 1000:.0f} ms per API call; median of {runs} runs each")
    print(f"{'case':<26}{'median s':>10}{'vs serial':>11}")
    for label, values in results.items():
        median = statistics.median(values)
        print(f"{label:<26}{median:>10.2f}{median / baseline:>10.2f}x")


if __name__ == "__main__":
    main()

"""How long `up` takes on the embedded AWS: parallel engine vs the same engine one resource at a
time (what a shell script of AWS CLI calls does), and a no-op rerun. Median of several runs each,
measured in the same run so the ratio survives a noisy machine.

    python bench/bench_up.py [--runs 3] [--latency-ms 0,50]

--latency-ms adds that much to every API call (a before-send hook), to model the round trip to a
real AWS region: the embedded AWS answers in about a millisecond, which hides what parallelism buys.
--free-identity leaves the identity call (sts:GetCallerIdentity) out of it: the most that
overlapping that call with the plan's finds could take off a fresh up.

It also reports the parallel up against its dependency graph's critical path: each resource weighs
what its own apply took in that run (the engine's start -> done event), and the path is the
heaviest chain of depends_on. The ratio up / critical path is what the engine adds on top of the
unavoidable chain: opening the session, the read-only plan walk before the apply, scheduling.
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
from orderpoc.engine_types import Event
from orderpoc.local import lifecycle
from orderpoc.settings import Settings
from orderpoc.stack_session import declared_specs


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
    parser.add_argument("--free-identity", action="store_true", help="no added latency on the identity call")
    args = parser.parse_args()
    for latency in [float(ms) / 1000 for ms in args.latency_ms.split(",")]:
        measure(args.runs, latency, args.free_identity)


_ORIGINAL_INIT = Clients.__init__


def is_identity_call(request) -> bool:
    return request is not None and "Action=GetCallerIdentity" in str(request.body or "")


def with_latency(latency: float, free_identity: bool = False) -> None:
    original = _ORIGINAL_INIT

    def wait(request=None, **_) -> None:
        if not (free_identity and is_identity_call(request)):
            time.sleep(latency)

    def init(self, settings):  # every client the app builds waits `latency` before each request
        original(self, settings)
        if latency:  # the emulator stands for a remote AWS: the engine plans as it would for one
            self.remote = True
            self.on("before-send", wait)

    Clients.__init__ = init  # type: ignore[method-assign]


def critical_path(deps: dict[str, tuple[str, ...]], seconds: dict[str, float]) -> tuple[float, list[str]]:
    """The heaviest chain through the graph, and its resources (first to last)."""
    best: dict[str, tuple[float, list[str]]] = {}

    def through(key: str) -> tuple[float, list[str]]:
        if key not in best:
            heaviest = max((through(dep) for dep in deps[key]), default=(0.0, []))
            best[key] = (heaviest[0] + seconds.get(key, 0.0), [*heaviest[1], key])
        return best[key]

    return max((through(key) for key in deps), default=(0.0, []))


def timed_up(settings: Settings, workers: int) -> tuple[float, float, list[str]]:
    """(wall seconds of the whole up, its critical path in seconds, the path)"""
    took: dict[str, float] = {}

    def on_event(event: Event) -> None:
        if event.phase == "done":
            took[event.key] = event.elapsed

    wall = timed(lambda: app.up(settings, on_event, max_workers=workers))
    deps = {spec.key: spec.depends_on for spec in declared_specs(settings)}
    path_seconds, path = critical_path(deps, took)
    return wall, path_seconds, path


def measure(runs: int, latency: float, free_identity: bool = False) -> None:
    with_latency(latency, free_identity)
    state_dir = Path(tempfile.mkdtemp(prefix="orderpoc-bench-"))
    port = free_port()
    lifecycle.start(state_dir, port)
    results: dict[str, list[float]] = {"serial up (1 worker)": [], "parallel up (8 workers)": [], "no-op rerun": []}
    ratios: list[float] = []
    paths: list[float] = []
    path: list[str] = []
    try:
        for run in range(runs):
            for label, workers in (("serial up (1 worker)", 1), ("parallel up (8 workers)", 8)):
                settings = Settings(stack=f"bench{run}w{workers}", state_dir=state_dir, local_port=port)
                wall, path_seconds, chain = timed_up(settings, workers)
                results[label].append(wall)
                if workers == 8:
                    ratios.append(wall / path_seconds)
                    paths.append(path_seconds)
                    path = chain
                    results["no-op rerun"].append(timed(lambda s=settings: app.up(s, lambda e: None)))
                app.down(settings, lambda e: None)
    finally:
        lifecycle.stop(state_dir, port)
    baseline = statistics.median(results["serial up (1 worker)"])
    free = " (none on the identity call)" if free_identity and latency else ""
    print(f"\n+{latency * 1000:.0f} ms per API call{free}; median of {runs} runs each")
    print(f"{'case':<26}{'median s':>10}{'vs serial':>11}")
    for label, values in results.items():
        median = statistics.median(values)
        print(f"{label:<26}{median:>10.2f}{median / baseline:>10.2f}x")
    print(f"{'critical path':<26}{statistics.median(paths):>10.2f}   ({' -> '.join(path)})")
    print(
        f"parallel up / its critical path: median {statistics.median(ratios):.2f}x "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()

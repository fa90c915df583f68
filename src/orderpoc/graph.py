"""Run jobs over a dependency graph: each node starts as soon as its dependencies succeeded.

The critical path, not the sum of the nodes, sets the wall time. A node whose dependency failed
is skipped (never started), so a failure never cascades into half-configured resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any


class CycleError(ValueError):
    pass


@dataclass
class Outcome:
    ok: bool
    value: Any = None
    error: BaseException | None = None
    skipped: bool = False


def topological(deps: Mapping[str, tuple[str, ...]]) -> list[str]:
    order: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            raise CycleError(f"dependency cycle through {node!r}")
        visiting.add(node)
        for dep in deps[node]:
            visit(dep)
        visiting.discard(node)
        done.add(node)
        order.append(node)

    for node in deps:
        visit(node)
    return order


def reverse(deps: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Dependents become dependencies: for deleting in reverse order."""
    rev: dict[str, list[str]] = {node: [] for node in deps}
    for node, parents in deps.items():
        for parent in parents:
            rev[parent].append(node)
    return {node: tuple(children) for node, children in rev.items()}


def run(
    deps: Mapping[str, tuple[str, ...]],
    job: Callable[[str, Mapping[str, Any]], Any],
    *,
    max_workers: int = 8,
    on_skip: Callable[[str], None] | None = None,
) -> dict[str, Outcome]:
    """Call job(node, values_of_its_deps) for every node, in parallel where the graph allows."""
    topological(deps)  # fail fast on cycles or unknown names
    outcomes: dict[str, Outcome] = {}
    pending = dict(deps)
    running: dict[Future[Any], str] = {}

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        while pending or running:
            for node in list(pending):
                parents = pending[node]
                if any(p in outcomes and not outcomes[p].ok for p in parents):
                    outcomes[node] = Outcome(ok=False, skipped=True)
                    del pending[node]
                    if on_skip:
                        on_skip(node)
                elif all(p in outcomes for p in parents):
                    values = {p: outcomes[p].value for p in parents}
                    running[pool.submit(job, node, values)] = node
                    del pending[node]
            if not running:
                continue  # only skips happened this round; re-scan
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                node = running.pop(future)
                error = future.exception()
                outcomes[node] = (
                    Outcome(ok=True, value=future.result()) if error is None else Outcome(ok=False, error=error)
                )
    return outcomes


def concurrently(*calls: Callable[[], Any], max_workers: int = 4) -> list[Any]:
    """Run independent calls at once and return their results in order; the first failure is raised
    as itself (callers tell "already exists" from other errors by the exception)."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def run_or_raise(
    deps: Mapping[str, tuple[str, ...]], job: Callable[[str, Mapping[str, Any]], Any], *, max_workers: int = 4
) -> dict[str, Any]:
    """run(), then the values by node; a failed node's exception is raised as itself (the first in
    the graph's order), after every node that could run has run."""
    outcomes = run(deps, job, max_workers=max_workers)
    for node in topological(deps):
        error = outcomes[node].error
        if error is not None:
            raise error
    return {node: outcome.value for node, outcome in outcomes.items()}

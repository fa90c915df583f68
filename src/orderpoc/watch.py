"""`up --watch`: notice saved changes to a project's code, requirements or settings, and redeploy.

Polling, not inotify: it works the same on every OS and filesystem (network mounts, containers),
and a stat of a few dozen files every 200 ms costs nothing. A change is acted on once the files
have stopped changing for one interval, because editors save in several steps.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orderpoc.errors import EngineError, UserError

if TYPE_CHECKING:
    from orderpoc.engine_types import Event
    from orderpoc.settings import Settings

Fingerprint = frozenset[tuple[str, int, int]]
INTERVAL = 0.2


def watched_files(source: Path, config: Path | None) -> list[Path]:
    """Everything a deploy reads from the project: the code, the requirements and orderpoc.toml."""
    files = [p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return files + ([config] if config else [])


def fingerprint(files: Iterable[Path]) -> Fingerprint:
    marks = set()
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted between the listing and the stat
            continue
        marks.add((str(path), stat.st_mtime_ns, stat.st_size))
    return frozenset(marks)


def watch(
    files: Callable[[], Iterable[Path]],
    redeploy: Callable[[], None],
    *,
    on_error: Callable[[Exception], None],
    stop: threading.Event | None = None,
    interval: float = INTERVAL,
    baseline: Fingerprint | None = None,
) -> None:
    """Call redeploy() after each settled change until stop is set (or Ctrl-C).

    A UserError or EngineError from redeploy (a syntax error in orderpoc.toml, a requirement without
    a wheel, a function AWS refused) is reported through on_error and the watch goes on: the next
    save may fix it.
    """
    stop = stop or threading.Event()
    # The files as the last deploy read them: taken before that deploy, an edit saved during it is
    # not lost.
    deployed = baseline if baseline is not None else fingerprint(files())
    seen = deployed
    while not stop.wait(interval):
        current = fingerprint(files())
        if current != seen:  # still changing: wait for it to settle
            seen = current
            continue
        if current == deployed:
            continue
        deployed = current
        try:
            redeploy()
        except (UserError, EngineError) as exc:
            on_error(exc)


def project_root(settings: Settings) -> Path:
    if settings.source is None:
        raise UserError("--watch needs a project to watch: create one with `orderpoc init`, then run it there")
    return settings.source.parent


def project_files(settings: Settings) -> list[Path]:
    from orderpoc.project import CONFIG_FILE

    root = project_root(settings)
    return watched_files(root / "lambda_src", root / CONFIG_FILE)


@dataclass
class Redeploy:
    """What one redeploy changed: resource key -> action, with the fields that drove it."""

    changes: dict[str, str]
    seconds: float


def watch_project(
    settings: Settings,
    on_redeploy: Callable[[Redeploy], None],
    on_error: Callable[[Exception], None],
    *,
    stop: threading.Event | None = None,
    baseline: Fingerprint | None = None,
) -> None:
    """Redeploy the project's stack whenever its code, requirements or orderpoc.toml settle on a change.

    The settings file is read again each time (its stack, target and region stay those the watch
    started with: the state is pinned to them). `up` itself updates only what differs, so a code edit
    to one handler updates that one function.
    """
    from orderpoc import app, project

    root = project_root(settings)

    def redeploy() -> None:
        fresh = dataclasses.replace(settings, config=project.load(root).stack_config(settings.stage))
        details: dict[str, str] = {}

        def track(event: Event) -> None:
            if event.phase == "done" and event.action not in ("unchanged", "ok"):
                details[event.key] = f"{event.action} ({event.detail})" if event.detail else event.action

        started = time.monotonic()
        app.up(fresh, track)  # the stack's email list stays the recorded one
        on_redeploy(Redeploy(details, time.monotonic() - started))

    watch(lambda: project_files(settings), redeploy, on_error=on_error, stop=stop, baseline=baseline)

"""up --watch: a settled change triggers exactly one redeploy; errors are reported, watching goes on."""

from __future__ import annotations

import threading
from pathlib import Path

from orderpoc import watch
from orderpoc.errors import UserError


class Steps(threading.Event):
    """A stop event whose wait() runs one scripted step per poll, so no test sleeps."""

    def __init__(self, steps: list) -> None:
        super().__init__()
        self.steps = steps

    def wait(self, timeout: float | None = None) -> bool:
        if not self.steps:
            return True
        self.steps.pop(0)()
        return False


def test_a_settled_change_redeploys_once(tmp_path: Path) -> None:
    code = tmp_path / "processor.py"
    code.write_text("v1")
    deploys: list[str] = []

    def edit(text: str):
        return lambda: code.write_text(text)

    noop = lambda: None  # noqa: E731
    steps = Steps([noop, edit("v2 first half"), edit("v2"), noop, noop, noop, edit("v3"), noop, noop])
    watch.watch(
        lambda: watch.watched_files(tmp_path, None),
        lambda: deploys.append(code.read_text()),
        on_error=lambda exc: deploys.append(f"error {exc}"),
        stop=steps,
    )
    assert deploys == ["v2", "v3"]  # not "v2 first half": it had not settled; nothing for unchanged polls


def test_an_error_is_reported_and_watching_goes_on(tmp_path: Path) -> None:
    config = tmp_path / "orderpoc.toml"
    config.write_text("ok")
    outcomes: list[str] = []

    def redeploy() -> None:
        if config.read_text() == "broken":
            raise UserError("orderpoc.toml: not valid TOML")
        outcomes.append("deployed")

    steps = Steps([lambda: config.write_text("broken"), lambda: None, lambda: config.write_text("fixed"), lambda: None])
    watch.watch(lambda: [config], redeploy, on_error=lambda exc: outcomes.append(str(exc)), stop=steps)
    assert outcomes == ["orderpoc.toml: not valid TOML", "deployed"]


def test_deleted_and_added_files_count_as_changes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a")
    before = watch.fingerprint(watch.watched_files(tmp_path, None))
    (tmp_path / "b.py").write_text("b")
    added = watch.fingerprint(watch.watched_files(tmp_path, None))
    (tmp_path / "a.py").unlink()
    removed = watch.fingerprint(watch.watched_files(tmp_path, None))
    assert len({before, added, removed}) == 3
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "b.pyc").write_text("x")
    assert watch.fingerprint(watch.watched_files(tmp_path, None)) == removed

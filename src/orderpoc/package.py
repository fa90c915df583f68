"""Deterministic zips of a lambda_src/ folder: same sources, same bytes, same sha256.

Each function's zip holds its own handler file, the shared (non-handler) modules, and the packages
its requirements install (orderpoc.dependencies), so editing one handler changes only that
function's CodeSha256 and `up` updates only that function.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orderpoc import dependencies
from orderpoc.errors import UserError
from orderpoc.project import PACKAGE_MARKER, builtin_source

if TYPE_CHECKING:
    from orderpoc.settings import Settings

FUNCTIONS = ("intake", "processor", "notifier")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build-time leaks into bytes
# Lambda's limits for a zip uploaded directly, and for the function's unzipped code.
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024


@dataclass(frozen=True)
class Package:
    function: str
    zip_bytes: bytes

    @property
    def sha256(self) -> str:
        """Base64 sha256 of the zip, the form Lambda reports as CodeSha256."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()

    @property
    def handler(self) -> str:
        return f"{self.function}.handler"


def source_dir() -> Path:
    return builtin_source()


def files_for(function: str, src: Path) -> list[Path]:
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}")
    if not (src / f"{function}.py").is_file():
        raise UserError(f"{src / (function + '.py')} is missing: every project needs the {function} handler")
    others = {f"{name}.py" for name in FUNCTIONS if name != function}
    others.add(PACKAGE_MARKER)
    chosen = sorted(p for p in src.glob("*.py") if p.name not in others)
    for path in chosen:
        _check_regular(path)
    return chosen


def _check_regular(path: Path) -> None:
    """A zip takes the project's own files: a link could carry any file of this machine (a link
    named passwd.py put /etc/passwd into every function)."""
    if path.is_symlink():
        raise UserError(f"{path} is a symbolic link: a function's zip takes the project's own files only; copy it in")
    if not path.is_file():
        raise UserError(f"{path} is not a regular file: a function's zip takes .py files only; rename or move it")


def _dependency_files(folder: Path | None) -> Iterator[tuple[str, Path]]:
    if folder is None:
        return
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and not relative.startswith(".orderpoc-"):
            yield relative, path


def build(function: str, src: Path | None = None, deps: Path | None = None) -> Package:
    src = src or source_dir()
    entries = [(path.name, path) for path in files_for(function, src)]
    entries += [(name, path) for name, path in _dependency_files(deps) if name not in {e[0] for e in entries}]
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in entries:
            data = path.read_bytes()
            unzipped += len(data)
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the build machine
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    package = Package(function, buffer.getvalue())
    _check_size(package, unzipped)
    return package


def build_all(src: Path | None = None, *, target: str = "local", architecture: str = "x86_64") -> dict[str, Package]:
    """Every function's zip, with its requirements installed for the target's runtime."""
    src = src or source_dir()
    platform = dependencies.Platform.for_target(target, architecture)
    return {
        fn: build(fn, src, dependencies.installed(dependencies.requirements_for(fn, src), platform)) for fn in FUNCTIONS
    }


def _check_size(package: Package, unzipped: int) -> None:
    mb = 1024 * 1024
    if len(package.zip_bytes) > MAX_ZIPPED:
        raise UserError(
            f"the {package.function} function's zip is {len(package.zip_bytes) / mb:.1f} MB: Lambda takes at most "
            f"{MAX_ZIPPED // mb} MB uploaded directly; trim its requirements"
        )
    if unzipped > MAX_UNZIPPED:
        raise UserError(
            f"the {package.function} function's code is {unzipped / mb:.1f} MB unzipped: Lambda allows at most "
            f"{MAX_UNZIPPED // mb} MB; trim its requirements"
        )


def for_settings(settings: Settings) -> dict[str, Package]:
    """The zips of the code a command deploys: the project's, else the built-in pipeline's."""
    return build_all(settings.code_dir, target=settings.target, architecture=settings.config.architecture)


class Lazy(Mapping[str, Package]):
    """The packages, built on first use (status reads them to compare CodeSha256; down never does)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, Package] | None = None
        self._lock = threading.Lock()  # the engine's threads ask at once: build once

    def _all(self) -> dict[str, Package]:
        with self._lock:
            if self._built is None:
                self._built = for_settings(self.settings)
            return self._built

    def __getitem__(self, function: str) -> Package:
        return self._all()[function]

    def __iter__(self) -> Iterator[str]:
        return iter(FUNCTIONS)

    def __len__(self) -> int:
        return len(FUNCTIONS)

"""Deterministic zips of lambda_src/: same sources, same bytes, same sha256.

Each function's zip holds its own handler file plus the shared (non-handler) modules, so editing
one handler changes only that function's CodeSha256 and `up` updates only that function.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

FUNCTIONS = ("intake", "processor", "notifier")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build-time leaks into bytes


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
    return Path(str(resources.files("orderpoc") / "lambda_src"))


def files_for(function: str, src: Path) -> list[Path]:
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}")
    others = {f"{name}.py" for name in FUNCTIONS if name != function}
    return sorted(p for p in src.glob("*.py") if p.name not in others)


def build(function: str, src: Path | None = None) -> Package:
    src = src or source_dir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files_for(function, src):
            info = zipfile.ZipInfo(path.name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the build machine
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return Package(function, buffer.getvalue())


def build_all(src: Path | None = None) -> dict[str, Package]:
    return {fn: build(fn, src) for fn in FUNCTIONS}

"""Third-party packages for the functions: requirements installed as wheels for the Lambda runtime.

`lambda_src/requirements.txt` is for every function, `lambda_src/requirements-NAME.txt` adds to one.
They are installed with pip as binary wheels only (no builds, no setup.py run on this machine) for
the runtime's platform: CPython 3.12 on manylinux for the function's architecture on AWS; on the
local target, for the interpreter the embedded runtime runs the functions with.

The installed tree is cached by the hash of the requirements and the platform, so a rerun installs
nothing and the zip stays byte-identical (the CodeSha256 skip holds).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orderpoc.errors import UserError

LAMBDA_PYTHON = "3.12"
_MANYLINUX = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64", "aarch64": "manylinux2014_aarch64"}
_DONE = ".orderpoc-complete"


@dataclass(frozen=True)
class Platform:
    python: str  # "3.12"
    tag: str  # a pip --platform tag

    @classmethod
    def for_target(cls, target: str, architecture: str) -> Platform:
        if target == "local":
            local = _MANYLINUX.get(platform.machine(), "manylinux2014_x86_64")
            return cls(f"{sys.version_info.major}.{sys.version_info.minor}", local)
        return cls(LAMBDA_PYTHON, _MANYLINUX[architecture])


def requirements_for(function: str, source: Path) -> list[str]:
    """The requirement lines of the shared file and the function's own, comments and blanks dropped."""
    lines: list[str] = []
    for name in ("requirements.txt", f"requirements-{function}.txt"):
        path = source / name
        if path.is_file():
            for line in path.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    if line.startswith(("-e", "--editable", "-r", "--requirement", "-c", "--constraint")):
                        raise UserError(f"{path}: {line!r} is not supported: list packages (name and version) only")
                    lines.append(line)
    return lines


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orderpoc" / "deps"


def installed(requirements: list[str], target: Platform) -> Path | None:
    """The folder holding the installed requirements (from the cache when it has them); None if none."""
    if not requirements:
        return None
    key = hashlib.sha256("\n".join([target.python, target.tag, *requirements]).encode()).hexdigest()[:24]
    folder = cache_root() / key
    if (folder / _DONE).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    try:
        _pip_install(requirements, target, staging)
        (staging / _DONE).write_text("\n".join(requirements) + "\n")
        try:
            staging.rename(folder)
        except OSError:  # another command installed the same set meanwhile: use theirs
            if not (folder / _DONE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _pip_install(requirements: list[str], target: Platform, into: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--target", str(into), "--only-binary=:all:", "--no-compile",
        "--implementation", "cp", "--python-version", target.python, "--platform", target.tag,
        *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = [line for line in result.stderr.splitlines() if line.strip() and "WARNING" not in line]
        last = reason[-1] if reason else f"pip exited {result.returncode}"
        raise UserError(
            f"could not install the functions' requirements ({', '.join(requirements)}) as binary wheels for "
            f"Python {target.python} {target.tag}: {last.strip()}"
        )

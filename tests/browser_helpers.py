"""Headless Chromium for the tests that must see a page really render (Debian's chromium package).

Absent Chromium skips those tests with the reason, except on CI (`CI` set, as `.ci/run` does,
which also installs it): there a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# As the machine needs them: no sandbox as root, no GPU, and no background connections (the network
# is closed, and Chromium would otherwise keep trying), in a fresh profile.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-extensions",
)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("chromium is required on CI (.ci/run installs Debian's package)")
    pytest.skip("chromium is not installed (apt-get install chromium); these tests render pages in it")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="orderpoc-chromium-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def dump_dom(page: Path) -> str:
    """The page's DOM after it loaded and its scripts ran."""
    return _run("--dump-dom", page.resolve().as_uri()).stdout


def screenshot(page: Path, png: Path, width: int, height: int) -> Path:
    _run(f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri())
    return png


def ink(png: Path) -> tuple[float, int]:
    """(share of pixels that are not white, how many distinct colours): 0 and 1 for a blank page."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
        white = sum(count for count, colour in colours if colour == (255, 255, 255))
        total = rgb.width * rgb.height
    return (total - white) / total, len(colours)

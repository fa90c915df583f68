"""The pictures through the real CLI: the live diagram against the embedded AWS."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.e2e
SVG_NS = "{http://www.w3.org/2000/svg}"


def _states(picture: str) -> dict[str, str]:
    root = ET.fromstring(picture)
    return {g.get("data-key"): g.get("data-state") for g in root.iter(f"{SVG_NS}g") if g.get("class") == "resource"}


def test_live_diagram_shows_an_out_of_band_deletion_as_missing(cli, deployed):
    healthy = cli.run("diagram", "--live")
    states = _states(healthy.stdout)
    assert len(states) == 21 and set(states.values()) == {"ok"}
    assert "messages 0" in healthy.stdout and "items " in healthy.stdout  # queue depths, item count

    cli.client("logs").delete_log_group(logGroupName="/aws/lambda/e2e-notifier")
    try:
        broken = cli.run("diagram", "--live", check=False)
        assert broken.returncode == 1, broken.stderr
        states = _states(broken.stdout)
        assert states["logs:notifier"] == "missing"
        assert states["queue"] == "ok"
        text = cli.run("diagram", "--live", "--format", "text", check=False).stdout
        assert "/aws/lambda/e2e-notifier  [missing]" in text
    finally:
        cli.run("up")  # converge again for the tests that share this stack
    assert set(_states(cli.run("diagram", "--live").stdout).values()) == {"ok"}

"""The pictures through the real CLI: the live diagram against the embedded AWS."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import pytest
from tests import browser_helpers as browser

pytestmark = pytest.mark.e2e
SVG_NS = "{http://www.w3.org/2000/svg}"
HOPS = ("accepted", "stored", "notified")


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


# -- in a real browser ---------------------------------------------------------------------------
# Checks the diagram as laid out by Chromium: every resource box drawn, inside the picture, none
# overlapping another, every edge a drawn line. The SVG has no script of its own (README viewers
# block them anyway), so this harness page inlines it and writes what it measured into the DOM.
DIAGRAM_CHECK = """
<pre id="check"></pre><script>
var errors = [];
window.addEventListener("error", function (e) { errors.push(String(e.message)); });
var root = document.querySelector("svg"), view = root.viewBox.baseVal;
var boxes = Array.prototype.map.call(document.querySelectorAll("g.resource"), function (g) {
  var b = g.querySelector("rect").getBBox(), name = g.querySelector("text.name");
  return {key: g.dataset.key, x: b.x, y: b.y, w: b.width, h: b.height,
          name: name.textContent, nameWidth: name.getComputedTextLength()};
});
var overlaps = [];
boxes.forEach(function (a, i) { boxes.slice(i + 1).forEach(function (b) {
  if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) overlaps.push([a.key, b.key]);
}); });
var outside = boxes.filter(function (b) {
  return b.x < 0 || b.y < 0 || b.x + b.w > view.width || b.y + b.h > view.height;
}).map(function (b) { return b.key; });
var clipped = boxes.filter(function (b) { return b.nameWidth > b.w; }).map(function (b) { return b.key; });
var edges = {};
Array.prototype.forEach.call(document.querySelectorAll("path.edge"), function (p) {
  var role = p.getAttribute("class").split(" ")[1];
  edges[role] = (edges[role] || 0) + (p.getTotalLength() > 10 ? 1 : 0);
});
document.getElementById("check").textContent = JSON.stringify(
  {boxes: boxes, overlaps: overlaps, outside: outside, clipped: clipped, edges: edges, errors: errors});
</script>
"""


def _measured(dom: str, element_id: str) -> dict:
    match = re.search(rf'<pre id="{element_id}"[^>]*>(.*?)</pre>', dom, re.S)
    assert match, f"#{element_id} not in the rendered page: its script did not run"
    return json.loads(html.unescape(match.group(1)))


def test_the_diagram_renders_in_chromium(cli, tmp_path):
    picture = tmp_path / "stack.svg"
    cli.run("diagram", "--out", str(picture))  # the declared stack: no endpoint needed
    page = tmp_path / "diagram.html"
    page.write_text(f"<!DOCTYPE html><html><body>{picture.read_text()}{DIAGRAM_CHECK}</body></html>")
    measured = _measured(browser.dump_dom(page), "check")
    assert measured["errors"] == []
    assert len(measured["boxes"]) == 21
    assert {b["name"] for b in measured["boxes"]} >= {"e2e-orders", "e2e-orders-dlq", "e2e-notifier-failures"}
    assert all(b["w"] > 50 and b["h"] > 20 and b["nameWidth"] > 0 for b in measured["boxes"])
    assert measured["overlaps"] == [] and measured["outside"] == [] and measured["clipped"] == []
    assert measured["edges"]["data"] == 9 and measured["edges"]["side"] == 2
    assert measured["edges"]["dependency"] >= 21

    root = ET.fromstring(picture.read_text())
    shot = browser.screenshot(picture, tmp_path / "stack.png", int(root.get("width")), int(root.get("height")))
    inked, colours = browser.ink(shot)
    assert inked > 0.1 and colours > 100, (inked, colours)


def test_a_300_order_report_renders_a_chart_per_hop_in_chromium(cli, deployed, tmp_path):
    report = tmp_path / "r.html"
    run = cli.run("send-test-order", "--count", "300", "--timeout", "120", "--report", str(report), check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"report: {report}" in run.stdout
    dom = browser.dump_dom(report)
    measured = _measured(dom, "render-check")
    assert measured["errors"] == []
    charts = {chart["id"]: chart for chart in measured["charts"]}
    expected = {"throughput", "backlog"} | {f"{kind}-{hop}" for hop in HOPS for kind in ("latency", "distribution")}
    assert set(charts) == expected
    for chart in charts.values():
        assert chart["width"] > 300 and chart["height"] > 150, chart
        assert chart["marks"] > 0 and chart["drawn"] == chart["marks"], chart
    assert "PASS" in dom and "300 orders" in dom

    shot = browser.screenshot(report, tmp_path / "r.png", 1240, 2400)
    inked, colours = browser.ink(shot)
    assert inked > 0.03 and colours > 100, (inked, colours)

"""send-test-order --report: one self-contained HTML page of a load run (no network, no CDN).

Orders per second over the run, each hop's latency over time and its distribution, the run's
settings and its verdict. The charts are inline SVG drawn here (orderpoc.charts); a few lines of
script only check, in the browser, that every chart laid out and drew its marks, and write that
result into the page (#render-check) for a test to read.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from orderpoc import charts
from orderpoc.load import LoadResult, percentile

HOPS = ("accepted", "stored", "notified")  # as orderpoc.trace.HOPS
HOP_MEANING = {
    "accepted": "the API answered 202 (intake enqueued the order)",
    "stored": "the order is in the table (processor)",
    "notified": "its OrderCreated event reached the topic (notifier)",
}
BACKLOG_POINTS = 200  # samples of the backlog lines over the run
TIME_BINS = 20  # latency-over-time percentile lines: one point per twentieth of the sending time

_CHECK_SCRIPT = """
(function () {
  var errors = [];
  window.addEventListener("error", function (event) { errors.push(String(event.message)); });
  function check() {
    var charts = Array.prototype.map.call(document.querySelectorAll("svg.chart"), function (chart) {
      var box = chart.getBoundingClientRect(), marks = chart.querySelectorAll(".mark"), drawn = 0;
      Array.prototype.forEach.call(marks, function (mark) {
        var b = mark.getBBox();
        if (b.width > 0 || b.height > 0) { drawn += 1; }
      });
      return {id: chart.id, width: Math.round(box.width), height: Math.round(box.height),
              marks: marks.length, drawn: drawn};
    });
    document.getElementById("render-check").textContent = JSON.stringify({charts: charts, errors: errors});
  }
  check();
  window.addEventListener("load", check);
})();
"""

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; color: #263238; margin: 24px auto; max-width: 1180px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 6px; }
.muted { color: #78909c; font-size: 13px; }
.verdict { font-size: 18px; font-weight: bold; padding: 10px 14px; border-radius: 8px; margin: 16px 0; }
.pass { background: #e8f5e9; color: #2e7d32; } .fail { background: #ffebee; color: #c62828; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
td, th { padding: 3px 12px 3px 0; text-align: left; } th { color: #546e7a; font-weight: normal; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: 12px; }
.bad { color: #c62828; font-weight: bold; }
"""


def _ms(samples: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(sent, latency * 1000) for sent, latency in samples]


def _arrivals(result: LoadResult) -> dict[str, list[float]]:
    """Per hop, when each order reached it (seconds into the run), in order; "sent" too."""
    ends = {hop: sorted(sent + latency for sent, latency in result.timeline.get(hop, [])) for hop in HOPS}
    return {"sent": sorted(sent for sent, _ in result.timeline.get("accepted", [])), **ends}


def backlog(result: LoadResult, points: int = BACKLOG_POINTS) -> dict[str, list[tuple[float, float]]]:
    """Orders between two hops over the run: the queue's backlog, then the notifier's."""
    arrivals = _arrivals(result)
    last = max((values[-1] for values in arrivals.values() if values), default=0.0)
    times = [last * i / (points - 1) for i in range(points)]
    pairs = {"sent, not yet stored": ("sent", "stored"), "stored, not yet notified": ("stored", "notified")}
    return {
        name: [(t, bisect_right(arrivals[a], t) - bisect_right(arrivals[b], t)) for t in times]
        for name, (a, b) in pairs.items()
    }


def throughput(result: LoadResult, bin_seconds: float | None = None) -> dict[str, list[tuple[float, float]]]:
    """Per hop: orders reaching it per second, in bins over the run (bin centre, rate)."""
    ends = {hop: values for hop, values in _arrivals(result).items() if hop in HOPS}
    last = max((t for values in ends.values() for t in values), default=0.0)
    width = bin_seconds or max(1.0, math.ceil(last / 60))
    bins = max(1, math.ceil(last / width + 1e-9))
    series = {}
    for hop, values in ends.items():
        counts = [0] * bins
        for value in values:
            counts[min(bins - 1, int(value / width))] += 1
        series[hop] = [((i + 0.5) * width, n / width) for i, n in enumerate(counts)]
    return series


def latency_bands(
    samples: Sequence[tuple[float, float]], bins: int = TIME_BINS
) -> dict[str, list[tuple[float, float]]]:
    """p50 and p99 of the latency of the orders sent in each slice of the run."""
    if not samples:
        return {"p50": [], "p99": []}
    last = max(sent for sent, _ in samples)
    width = last / bins if last > 0 else 1.0
    slices: dict[int, list[float]] = {}
    for sent, latency in samples:
        slices.setdefault(min(bins - 1, int(sent / width)), []).append(latency)
    bands: dict[str, list[tuple[float, float]]] = {"p50": [], "p99": []}
    for index in sorted(slices):
        for name in bands:
            value = percentile(slices[index], float(name[1:]))
            bands[name].append(((index + 0.5) * width, value or 0.0))
    return bands


def verdict(result: LoadResult) -> tuple[bool, list[tuple[str, Any, bool]]]:
    """(passed, rows of (what, figure, is it a failure)) — lost and duplicated fail, repeats do not."""
    lost = max(result.missing.values(), default=0)
    rejected = sum(result.rejected.values())
    rows = [
        ("sent", result.sent, False),
        ("accepted (202)", result.accepted, False),
        ("rejected", dict(result.rejected) or 0, rejected > 0),
        ("stored", result.stored, False),
        ("notified", result.notified, False),
        (
            "lost (never stored / never notified)",
            f"{result.missing.get('stored', 0)} / {result.missing.get('notified', 0)}",
            lost > 0,
        ),
        ("duplicated (stored twice)", result.duplicates, result.duplicates > 0),
        ("repeated notifications (at-least-once, deduped by orderId)", result.duplicate_notifications, False),
        ("throughput", f"{result.orders_per_second:.1f} orders/s over {result.seconds:.1f} s", False),
    ]
    return result.ok, rows


def _table(rows: Sequence[tuple[str, Any]], bad: frozenset[str] = frozenset()) -> str:
    body = "".join(
        f'<tr><th>{escape(str(k))}</th><td class="n{" bad" if k in bad else ""}">{escape(str(v))}</td></tr>'
        for k, v in rows
    )
    return f"<table>{body}</table>"


def render(result: LoadResult, settings: Mapping[str, Any]) -> str:
    passed, rows = verdict(result)
    bad = frozenset(what for what, _, failing in rows if failing)
    summary = (
        "PASS: every accepted order stored exactly once and notified"
        if passed
        else "FAIL: " + ", ".join(sorted(bad))
        if bad
        else "FAIL"
    )
    run_end = max((s for values in result.timeline.values() for s, _ in values), default=0.0)
    sections = [
        "<h2>Orders per second</h2>",
        '<p class="muted">When orders reached each hop, in bins over the run.</p>',
        charts.lines(
            "throughput",
            "orders per second reaching each hop",
            throughput(result),
            "seconds into the run",
            "orders / s",
        ),
        "<h2>Backlog</h2>",
        '<p class="muted">Orders waiting between hops over the run: a line that keeps rising is a hop '
        "that cannot keep up.</p>",
        charts.lines("backlog", "orders waiting between hops", backlog(result), "seconds into the run", "orders"),
    ]
    percentiles = []
    for hop in HOPS:
        samples = _ms(result.timeline.get(hop, []))
        values = [latency for _, latency in samples]
        marks = {name: (v * 1000 if v is not None else None) for name, v in result.latencies.get(hop, {}).items()}
        percentiles.append((hop, len(values), *(f"{v:.0f}" if v is not None else "-" for v in marks.values())))
        sections += [
            f'<h2 id="hop-{hop}">{escape(hop)}</h2>',
            f'<p class="muted">{escape(HOP_MEANING[hop])}; latency from the POST, {len(values)} orders.</p>',
            '<div class="row">',
            charts.scatter(
                f"latency-{hop}",
                f"{hop}: latency over the run",
                samples,
                latency_bands(samples),
                "sent at, seconds into the run",
                "ms",
                x_high=run_end or None,
            ),
            charts.histogram(f"distribution-{hop}", f"{hop}: latency distribution", values, marks, "ms"),
            "</div>",
        ]
    head = "".join(f"<th>{h}</th>" for h in ("hop", "orders", "p50 ms", "p90 ms", "p99 ms"))
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{escape(str(c))}</td>' for c in row) + "</tr>" for row in percentiles
    )
    title = f"orderpoc load run: {result.sent} orders, {'pass' if passed else 'FAIL'}"
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may load from elsewhere: the page is the whole report.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">orderpoc send-test-order --count {escape(str(settings.get("count", result.sent)))} '
        f"--report: every order followed from its POST to its notification.</p>",
        f'<div class="verdict {"pass" if passed else "fail"}" id="verdict">{escape(summary)}</div>',
        '<div class="row"><div><h2>Verdict</h2>',
        _table([(what, figure) for what, figure, _ in rows], bad),
        "</div><div><h2>Settings</h2>",
        _table([(k, v if v is not None else "-") for k, v in settings.items()]),
        "</div><div><h2>Latency percentiles</h2>",
        f"<table><tr>{head}</tr>{body}</table></div></div>",
        *sections,
        '<pre id="render-check" hidden></pre>',
        f'<script type="application/json" id="run-data">{_json_for_script(result, settings)}</script>',
        f"<script>{_CHECK_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(page) + "\n"


def _json_for_script(result: LoadResult, settings: Mapping[str, Any]) -> str:
    """The run's figures, for whoever wants to reuse them; '</' is escaped so it cannot end the tag."""
    data = {"settings": dict(settings), "result": result.as_json()}
    return json.dumps(data, default=str, sort_keys=True).replace("</", "<\\/")

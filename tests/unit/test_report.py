"""send-test-order --report: one self-contained page with the run's charts, settings and verdict."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from orderpoc import charts, report
from orderpoc.cli import main
from orderpoc.load import _summarise, _Tracker

SETTINGS = {"stack": "orderpoc", "target": "local", "count": 4, "concurrency": 2, "rate": "unlimited"}


def _result(stored: list[str], notified: Counter, sent: list[str]):
    tracker = _Tracker()
    for index, oid in enumerate(sent):
        tracker.sent_at[oid] = 100.0 + index  # monotonic clock: the run started at 100
        tracker.hops["accepted"][oid] = 0.02 + index / 100
        tracker.ids_by_key[f"k{index}"] = oid
    tracker.hops["stored"] = {oid: 0.5 + i / 10 for i, oid in enumerate(stored)}
    tracker.hops["notified"] = {oid: 1.0 + i / 10 for i, oid in enumerate(notified)}
    tracker.notifications = notified
    return _summarise(tracker, len(sent), 100.0)


def test_the_timeline_is_per_order_from_the_runs_start():
    result = _result(["a", "b"], Counter({"a": 1, "b": 1}), ["a", "b"])
    assert result.timeline["accepted"] == [(0.0, 0.02), (1.0, 0.03)]
    assert result.timeline["stored"] == [(0.0, 0.5), (1.0, 0.6)]


def test_a_passing_run_has_a_chart_per_hop_and_its_settings():
    page = report.render(_result(["a", "b"], Counter({"a": 1, "b": 2}), ["a", "b"]), SETTINGS)
    ids = re.findall(r'<svg [^>]*id="([^"]+)"', page)
    assert ids == ["throughput", "backlog"] + [f"{k}-{hop}" for hop in report.HOPS for k in ("latency", "distribution")]
    assert "PASS" in page and "concurrency" in page and "unlimited" in page
    assert re.search(r"repeated notifications[^<]*</th><td[^>]*>1<", page)


def test_a_lost_order_fails_the_verdict():
    page = report.render(_result(["a"], Counter({"a": 1}), ["a", "b"]), SETTINGS)
    assert 'class="verdict fail"' in page and "FAIL: lost" in page


def test_the_page_loads_nothing_from_elsewhere():
    page = report.render(_result(["a"], Counter({"a": 1}), ["a"]), SETTINGS)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert "default-src 'none'" in page  # and the browser is told so
    assert re.findall(r"https?://[^\s\"'<]+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg ")


def test_throughput_counts_arrivals_per_second():
    result = _result(["a", "b"], Counter({"a": 1, "b": 1}), ["a", "b"])
    series = report.throughput(result, bin_seconds=1.0)
    assert sum(rate for _, rate in series["stored"]) == 2  # 0.5 s and 1.6 s: one per bin
    assert [rate for _, rate in series["stored"]][:2] == [1.0, 1.0]


def test_backlog_counts_orders_between_hops():
    # a: sent 0, stored 0.5, notified 1.0; b: sent 1, stored 1.6, notified 2.1
    result = _result(["a", "b"], Counter({"a": 1, "b": 1}), ["a", "b"])
    lines = report.backlog(result, points=22)  # every 0.1 s from 0 to 2.1
    queue = dict(lines["sent, not yet stored"])
    notifier = dict(lines["stored, not yet notified"])
    assert queue[0.0] == 1 and queue[0.5] == 0 and queue[1.0] == 1 and queue[2.1] == 0
    assert notifier[0.5] == 1 and notifier[1.0] == 0 and notifier[2.1] == 0


def test_nice_axis_rounds_up_to_a_round_step():
    assert charts.nice_axis(87).ticks == (0, 20, 40, 60, 80, 100)
    assert charts.nice_axis(0.0).high > 0


def test_many_orders_are_thinned_in_the_scatter_not_in_the_histogram():
    points = [(i / 100, 1.0 + i % 7) for i in range(10_000)]
    chart = charts.scatter("x", "t", points, {}, "s", "ms")
    assert 'data-points="3334"' in chart  # every third order, evenly
    bars = charts.histogram("h", "t", [p[1] for p in points], {}, "ms")
    assert sum(int(n) for n in re.findall(r'data-count="(\d+)"', bars)) == 10_000


def test_histogram_markers_say_their_own_value():
    bars = charts.histogram("h", "t", [10.0, 20.0, 990.0], {"p50": 20.0, "p99": 990.0}, "ms")
    assert ">p50 20<" in bars and ">p99 990<" in bars
    assert 'text-anchor="end"' in bars  # p99 sits at the right edge: its label goes left of it


@pytest.mark.parametrize("extra", [[], ["--invalid"]])
def test_report_without_a_load_run_is_one_line_exit_2(capsys, tmp_path, extra):
    with pytest.raises(SystemExit) as exit_info:
        main(["send-test-order", "--report", str(tmp_path / "r.html"), *extra])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--report charts a load run" in err
    assert not (tmp_path / "r.html").exists()

"""Output that reads well anywhere: narrow terminals, pipes, the load run's rate warning and
histograms, the status table at 80 columns."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from orderpoc import ui, ui_lines, ui_orders, ui_stacks
from orderpoc.engine_types import Report
from orderpoc.load import _summarise, _Tracker
from orderpoc.logs import LogLine


@pytest.fixture
def screen(monkeypatch):
    def make(width: int) -> Console:
        console = Console(width=width, record=True, file=io.StringIO(), highlight=False, soft_wrap=True)
        # Patched where it is looked up: each printer's module, and ui's for fitted_table's width.
        for module in (ui, ui_lines, ui_orders):
            monkeypatch.setattr(module, "console", console)
        return console

    return make


def test_the_achieved_send_rate_is_measured_and_a_shortfall_warned(screen):
    tracker = _Tracker()
    tracker.send_starts = [100.0 + i * 0.5 for i in range(11)]  # 10 intervals in 5 s: 2 orders/s
    result = _summarise(tracker, 11, 100.0, rate=10.0)
    assert result.send_rate == pytest.approx(2.0) and result.below_rate
    assert result.as_json()["send_rate"] == 2.0 and result.as_json()["requested_rate"] == 10.0
    assert not _summarise(tracker, 11, 100.0, rate=2.05).below_rate  # within the 5% slack
    assert not _summarise(tracker, 11, 100.0).below_rate  # no --rate: nothing to fall short of

    result.latencies = {hop: {"p50": None, "p90": None, "p99": None} for hop in ui_orders.HOPS}
    console = screen(80)
    ui_orders.print_load(result, 11, 1)
    assert "warning: the senders reached 2.0 orders/s, below the requested 10/s" in console.export_text()


def test_a_load_run_ends_with_a_latency_histogram_per_hop(screen):
    console = screen(80)
    timeline = {"stored": [(0.0, v / 1000) for v in (10, 20, 20, 30, 30, 30, 90)], "notified": []}
    ui_orders.print_latency_histograms(timeline, bins=5)
    text = console.export_text()
    assert "stored: latency in ms, 7 orders" in text and "notified" not in text  # no values: no picture
    rows = [line for line in text.splitlines() if " ms" in line and "latency" not in line]
    assert len(rows) == 5
    counts = [int(row.split()[-1]) if row.split()[-1].isdigit() else 0 for row in rows]
    assert counts == [1, 5, 0, 0, 1]  # bins of 20 ms from 0 to 100 (a round axis above 90)
    bars = [row.count("█") for row in rows]
    assert bars[1] > bars[0] == bars[4] > 0 and bars[2] == bars[3] == 0
    assert max(len(line) for line in text.splitlines()) <= 80


def test_status_fits_80_columns_with_names_whole_and_drift_under_it(screen):
    console = screen(80)
    reports = [
        Report(
            "esm:processor",
            "event_source_mapping",
            "orderpoc-processor|orderpoc-orders",
            "drifted",
            {"uuid": "0b6f2c1e-aaaa-bbbb-cccc-1234567890ab"},
            ["Enabled: false -> true"],
            {"state": "Disabled"},
        ),
        Report("topic", "sns_topic", "orderpoc-order-events", "ok", {}, [], {"subscriptions": 0, "pending": 0}),
    ]
    console.print(ui_stacks.status_table(reports))
    lines = console.export_text().splitlines()
    table = [line for line in lines if not line.startswith("esm:processor:")]
    assert max(len(line.rstrip()) for line in table) <= 80
    assert any("orderpoc-processor|orderpoc-orders" in line for line in lines)  # whole, one line
    assert "subscriptions=0" in "\n".join(lines)  # figures kept: the id went first
    assert "esm:processor: Enabled: false -> true" in lines


def test_long_lines_are_never_cut_mid_word(screen):
    console = screen(40)
    message = '{"fn":"processor","orderId":"a2719c03-3095-54d5-b25c-183dde3afdd2","outcome":"stored"}'
    ui_lines.print_log_line(LogLine(1_796_196_588_635, "processor", message, "s", "1"))
    ui_lines.print_up_closing("http://127.0.0.1:4780/restapis/abcdefghij/v1/_user_request_", " --state-dir /tmp/x")
    text = console.export_text()
    assert message in text  # one line, the terminal wraps it
    assert "http://127.0.0.1:4780/restapis/abcdefghij/v1/_user_request_" in text
    assert "orderpoc outputs --show-key --state-dir /tmp/x" in text


def test_drift_reads_the_same_from_text_or_structured_items():
    assert (
        ui_stacks.drift_text(["a: 1 -> 2", {"field": "b", "live": False, "desired": True}])
        == "a: 1 -> 2; b: False -> True"
    )

"""Load-mode accounting: what counts as lost, duplicated, or merely notified twice."""

from __future__ import annotations

from collections import Counter

from orderpoc.load import _summarise, _Tracker, percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (50.0, 90.0, 99.0)
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0


def tracker_with(stored: list[str], notified: Counter, sent: list[str], keys: dict[str, str]) -> _Tracker:
    tracker = _Tracker()
    for index, oid in enumerate(sent):
        tracker.sent_at[oid] = float(index)
        tracker.hops["accepted"][oid] = 0.01
    tracker.hops["stored"] = {oid: 0.5 for oid in stored}
    tracker.hops["notified"] = {oid: 1.0 for oid in notified}
    tracker.notifications = notified
    tracker.ids_by_key = keys
    return tracker


def test_a_missing_hop_fails_the_run():
    result = _summarise(tracker_with(["a"], Counter({"a": 1}), ["a", "b"], {"k1": "a", "k2": "b"}), 2, 0.0)
    assert result.missing == {"stored": 1, "notified": 1}
    assert not result.ok


def test_a_repeated_notification_is_reported_but_not_a_failure():
    result = _summarise(tracker_with(["a"], Counter({"a": 2}), ["a"], {"k1": "a"}), 1, 0.0)
    assert result.duplicate_notifications == 1 and result.duplicates == 0
    assert result.ok


def test_two_keys_one_order_is_a_duplicate():
    result = _summarise(tracker_with(["a"], Counter({"a": 1}), ["a"], {"k1": "a", "k2": "a"}), 2, 0.0)
    assert result.duplicates == 1
    assert not result.ok

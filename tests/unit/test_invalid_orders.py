"""--invalid only passes when it has proved that nothing was stored."""

from __future__ import annotations

from orderpoc import invalid_orders
from orderpoc.http_client import Response


class NoTable:
    def clients(self, service):
        raise AssertionError("the table must not be read when the sentinel was rejected")


def test_a_rejected_sentinel_leaves_the_result_unverified(monkeypatch):
    monkeypatch.setattr(invalid_orders, "post_order", lambda *a, **k: Response(503, {}, '{"message": "busy"}', 0.01))
    assert invalid_orders._stored_after_sentinel(NoTable(), None, "invalid-x", timeout=1) is None


class NeverStored:
    def clients(self, service):
        return self

    def get_item(self, **kwargs):
        return {}


def test_a_sentinel_never_stored_leaves_the_result_unverified(monkeypatch):
    monkeypatch.setattr(invalid_orders, "post_order", lambda *a, **k: Response(202, {}, '{"orderId": "o-1"}', 0.01))
    endpoints = type("E", (), {"table": "t"})()
    assert invalid_orders._stored_after_sentinel(NeverStored(), endpoints, "invalid-x", timeout=0.3) is None

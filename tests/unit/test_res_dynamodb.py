"""DynamoDB table kind against in-process moto."""

from __future__ import annotations

import boto3
import pytest

from orderpoc.errors import ResourceError
from orderpoc.resources.base import Change
from orderpoc.resources.dynamodb import table

NAME = "orderpoc-test-orders"


@pytest.fixture
def restreamable(monkeypatch):
    """moto 5.2.1 refuses to enable a stream on a table that ever had one; AWS allows it once the
    old stream is disabled. Forget the old stream label on enable-after-disable, as AWS does."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.update_table_streams

    def update_table_streams(self, table, spec):
        if not (table.stream_specification or {}).get("StreamEnabled"):
            table.latest_stream_label = None
        original(self, table, spec)

    monkeypatch.setattr(DynamoDBBackend, "update_table_streams", update_table_streams)


def desired(ctx, **over) -> dict:
    return {
        "hash_key": "orderId",
        "billing_mode": "PAY_PER_REQUEST",
        "stream_view_type": "NEW_IMAGE",
        "tags": dict(ctx.tags),
        **over,
    }


def test_find_nothing(ctx):
    assert table.find(ctx, NAME, desired(ctx)) is None


def test_create_find_rerun_is_free(ctx, calls):
    want = desired(ctx)
    created = table.create(ctx, NAME, want)
    assert "waiting for table ACTIVE" in ctx.messages
    assert created.outputs["arn"] == f"arn:aws:dynamodb:us-east-1:{ctx.account}:table/{NAME}"
    assert created.outputs["name"] == NAME and created.outputs["stream_arn"].startswith(
        created.outputs["arn"] + "/stream/"
    )
    calls.clear()
    live = table.find(ctx, NAME, want)
    assert live.outputs == created.outputs and live.config == want
    assert table.drift(live, want) == []
    assert calls.mutating == []


def test_stream_view_type_and_tag_drift_fixed(ctx, calls, restreamable):
    created = table.create(ctx, NAME, desired(ctx, stream_view_type="KEYS_ONLY"))
    ctx.clients("dynamodb").tag_resource(
        ResourceArn=created.outputs["arn"], Tags=[{"Key": "orderpoc:stack", "Value": "x"}]
    )
    want = desired(ctx)
    live = table.find(ctx, NAME, want)
    changes = table.drift(live, want)
    assert changes == [
        Change("stream_view_type", "KEYS_ONLY", "NEW_IMAGE"),
        Change("tags.orderpoc:stack", "x", "orderpoc-test"),
    ]
    assert table.forced_by(changes) == [] and table.outputs_changed_by(changes) == {"stream_arn"}
    calls.clear()
    updated = table.update(ctx, NAME, live, want)
    # Disable then enable: a stream's view type cannot be changed in place.
    assert calls.mutating == ["UpdateTable", "UpdateTable", "TagResource"]
    assert table.drift(updated, want) == []
    assert updated.outputs["stream_arn"] and updated.outputs["stream_arn"] != created.outputs["stream_arn"]


def test_stream_disabled_out_of_band(ctx, restreamable):
    table.create(ctx, NAME, desired(ctx))
    ctx.clients("dynamodb").update_table(TableName=NAME, StreamSpecification={"StreamEnabled": False})
    want = desired(ctx)
    live = table.find(ctx, NAME, want)
    assert live.outputs["stream_arn"] is None
    assert table.drift(live, want) == [Change("stream_view_type", None, "NEW_IMAGE")]
    assert table.drift(table.update(ctx, NAME, live, want), want) == []


def test_hash_key_change_is_refused(ctx):
    table.create(ctx, NAME, desired(ctx))
    want = desired(ctx, hash_key="id")
    live = table.find(ctx, NAME, want)
    assert table.drift(live, want) == [Change("hash_key", "orderId", "id")]
    assert table.forced_by(table.drift(live, want)) == ["hash_key"]  # the engine replaces the table
    with pytest.raises(ResourceError, match="orderpoc down"):
        table.update(ctx, NAME, live, want)


def test_point_in_time_recovery_optional(ctx, calls):
    want = desired(ctx, point_in_time_recovery=True)
    table.create(ctx, NAME, want)
    live = table.find(ctx, NAME, want)
    assert live.config["point_in_time_recovery"] is True and table.drift(live, want) == []
    calls.clear()
    table.find(ctx, NAME, desired(ctx))
    assert "DescribeContinuousBackups" not in calls.names  # not asked for, not read
    off = desired(ctx, point_in_time_recovery=False)
    live = table.find(ctx, NAME, off)
    assert table.drift(live, off) == [Change("point_in_time_recovery", True, False)]
    table.update(ctx, NAME, live, off)
    assert table.drift(table.find(ctx, NAME, off), off) == []


def test_figures(ctx):
    live = table.create(ctx, NAME, desired(ctx))
    ctx.clients("dynamodb").put_item(TableName=NAME, Item={"orderId": {"S": "o-1"}})
    assert table.figures(ctx, live) == {"items": 1}


@pytest.mark.parametrize("recorded", [False, True])
def test_delete(ctx, recorded):
    created = table.create(ctx, NAME, desired(ctx))
    assert table.delete(ctx, NAME, created.outputs if recorded else None) is True
    assert table.find(ctx, NAME, desired(ctx)) is None
    assert table.delete(ctx, NAME, None) is False


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def test_a_retried_delete_that_meets_the_table_deleting_waits_for_it(ctx):
    """DeleteTable carried out, its answer lost: the retry hears "in use" while the table is DELETING."""
    table.create(ctx, NAME, desired(ctx))
    deleting = {"describes": 1}

    def delete_then_refuse(**kwargs):
        boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=NAME)  # carried out
        error = {"Code": "ResourceInUseException", "Message": f"Table is being deleted: {NAME}"}
        return _Http(400), {"Error": error}

    def still_deleting(**kwargs):
        if deleting["describes"]:
            deleting["describes"] -= 1
            return _Http(200), {"Table": {"TableName": NAME, "TableStatus": "DELETING"}}
        return None

    ctx.clients.on("before-call.dynamodb.DeleteTable", delete_then_refuse)
    ctx.clients.on("before-call.dynamodb.DescribeTable", still_deleting)
    assert table.delete(ctx, NAME, None) is True
    assert table.find(ctx, NAME, desired(ctx)) is None


def test_a_table_in_use_for_another_reason_is_an_error(ctx):
    table.create(ctx, NAME, desired(ctx))

    def refuse(**kwargs):
        return _Http(400), {"Error": {"Code": "ResourceInUseException", "Message": "Table is being updated"}}

    ctx.clients.on("before-call.dynamodb.DeleteTable", refuse)
    with pytest.raises(Exception, match="ResourceInUseException"):
        table.delete(ctx, NAME, None)

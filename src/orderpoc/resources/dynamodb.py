"""DynamoDB table with a stream: the order store, and the source of the notifier's events.

Encryption at rest is always on in DynamoDB; without an SSESpecification it uses the AWS-owned key,
which costs nothing and needs no key policy. That default is deliberate, so it is not configured.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from orderpoc.aws_errors import error_code, unless_not_found
from orderpoc.errors import ResourceError
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource
from orderpoc.resources.util import changed_tags, dict_to_tags, tags_to_dict

# Waiter defaults poll every 20 s; a new on-demand table is usually ACTIVE within seconds.
_WAIT = {"Delay": 2, "MaxAttempts": 150}


class Table(Resource):
    kind = "dynamodb_table"
    replace_on = frozenset({"hash_key"})  # a table's key schema is fixed at creation

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"arn": ctx.arn("dynamodb", f"table/{name}"), "name": name, "stream_arn": UNKNOWN}

    def outputs_changed_by(self, changes: list[Change]) -> set[str]:
        return {"stream_arn"} if any(c.field == "stream_view_type" for c in changes) else set()

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        ddb = ctx.clients("dynamodb")
        table = unless_not_found(lambda: ddb.describe_table(TableName=name)["Table"])
        if table is None:
            return None
        stream = table.get("StreamSpecification") or {}
        config: Config = {
            "hash_key": next((k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH"), None),
            "billing_mode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
            "stream_view_type": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            "tags": tags_to_dict(ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags")),
        }
        if "point_in_time_recovery" in desired:  # optional: only read when asked for
            backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            status = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
            config["point_in_time_recovery"] = status == "ENABLED"
        # LatestStreamArn outlives a disabled stream (readable for 24 h): only an enabled one counts.
        stream_arn = table.get("LatestStreamArn") if stream.get("StreamEnabled") else None
        outputs = {"arn": table["TableArn"], "name": name, "stream_arn": stream_arn}
        return Live(outputs, config)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        _check_billing(name, desired)
        ddb = ctx.clients("dynamodb")
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": desired["hash_key"], "AttributeType": "S"}],
            KeySchema=[{"AttributeName": desired["hash_key"], "KeyType": "HASH"}],
            BillingMode=desired["billing_mode"],
            StreamSpecification=_stream(desired["stream_view_type"]),
            Tags=dict_to_tags(desired["tags"]),
        )
        self._wait_active(ctx, name)
        if desired.get("point_in_time_recovery"):
            self._set_pitr(ctx, name, True)
        return self._found(ctx, name, desired)

    def adopt(self, ctx: Context, name: str, desired: Config) -> Live | None:
        # A table made by a create whose answer was lost may still be CREATING: updates would fail.
        if self.find(ctx, name, desired) is None:
            return None
        self._wait_active(ctx, name)
        return self.find(ctx, name, desired)

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        have = live.config
        if have["hash_key"] != desired["hash_key"]:
            raise ResourceError(
                name,
                f"the table's key is {have['hash_key']!r}, not {desired['hash_key']!r}; a key cannot be "
                "changed in place: run `orderpoc down` (this deletes the table's data) and then `up`",
            )
        _check_billing(name, desired)
        ddb = ctx.clients("dynamodb")
        if have["billing_mode"] != desired["billing_mode"]:
            ddb.update_table(TableName=name, BillingMode=desired["billing_mode"])
            self._wait_active(ctx, name)
        if have["stream_view_type"] != desired["stream_view_type"]:
            # A stream's view type is fixed: switching means disabling it, then enabling a new one.
            if have["stream_view_type"] is not None:
                ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
                self._wait_active(ctx, name)
            if desired["stream_view_type"] is not None:
                ddb.update_table(TableName=name, StreamSpecification=_stream(desired["stream_view_type"]))
                self._wait_active(ctx, name)
        if (
            "point_in_time_recovery" in desired
            and have.get("point_in_time_recovery") != desired["point_in_time_recovery"]
        ):
            self._set_pitr(ctx, name, desired["point_in_time_recovery"])
        tags = changed_tags(desired["tags"], have["tags"])
        if tags:
            ddb.tag_resource(ResourceArn=live.outputs["arn"], Tags=dict_to_tags(tags))
        return self._found(ctx, name, desired)

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        ddb = ctx.clients("dynamodb")
        try:
            if unless_not_found(lambda: ddb.delete_table(TableName=name)) is None:  # ResourceNotFoundException
                return False
        except botocore.exceptions.ClientError as exc:
            # A retried DeleteTable whose first attempt was carried out: "in use" while DELETING.
            if error_code(exc) != "ResourceInUseException" or _status(ctx, name) != "DELETING":
                raise
        ctx.say("waiting for the table to be deleted")
        ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=_WAIT)
        return True

    def figures(self, ctx: Context, live: Live) -> dict[str, Any]:
        # ItemCount is refreshed by DynamoDB about every six hours: an estimate, not a live count.
        table = ctx.clients("dynamodb").describe_table(TableName=live.outputs["name"])["Table"]
        return {"items": int(table.get("ItemCount", 0))}

    @staticmethod
    def _wait_active(ctx: Context, name: str) -> None:
        ctx.say("waiting for table ACTIVE")
        ctx.clients("dynamodb").get_waiter("table_exists").wait(TableName=name, WaiterConfig=_WAIT)

    @staticmethod
    def _set_pitr(ctx: Context, name: str, enabled: bool) -> None:
        ctx.clients("dynamodb").update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled}
        )

    def _found(self, ctx: Context, name: str, desired: Config) -> Live:
        live = self.find(ctx, name, desired)  # DescribeTable is the source of the new stream ARN
        if live is None:
            raise ResourceError(name, "the table vanished right after it was written")
        return live


def _status(ctx: Context, name: str) -> str | None:
    table = unless_not_found(lambda: ctx.clients("dynamodb").describe_table(TableName=name)["Table"])
    return None if table is None else str(table.get("TableStatus"))


def _stream(view_type: str | None) -> dict[str, Any]:
    return {"StreamEnabled": True, "StreamViewType": view_type} if view_type else {"StreamEnabled": False}


def _check_billing(name: str, desired: Config) -> None:
    if desired["billing_mode"] != "PAY_PER_REQUEST":
        raise ResourceError(name, f"billing mode {desired['billing_mode']!r} is not supported: use PAY_PER_REQUEST")


table = Table()

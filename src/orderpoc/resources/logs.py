"""CloudWatch Logs log group, created ahead of its function so it gets a retention period and tags.

(Left to Lambda, the group would be created on first invocation with "never expire" and no tags.)
"""

from __future__ import annotations

from typing import Any

from orderpoc.aws_errors import unless_not_found
from orderpoc.resources.base import Config, Context, Live, Outputs, Resource
from orderpoc.resources.util import changed_tags, paginate


class LogGroup(Resource):
    kind = "log_group"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"arn": ctx.arn("logs", f"log-group:{name}"), "name": name}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        logs = ctx.clients("logs")
        # The name is a prefix filter: "/aws/lambda/x" also lists "/aws/lambda/x-y", so match exactly.
        groups = paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=name)
        group = next((g for g in groups if g["logGroupName"] == name), None)
        if group is None:
            return None
        arn = _arn(group)
        config = {"retention_days": group.get("retentionInDays"), "tags": self._tags(ctx, arn)}
        return Live({"arn": arn, "name": name}, config)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        logs = ctx.clients("logs")
        logs.create_log_group(logGroupName=name, tags=desired["tags"])
        if desired["retention_days"] is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=desired["retention_days"])
        arn = ctx.arn("logs", f"log-group:{name}")
        return Live(
            {"arn": arn, "name": name}, {"retention_days": desired["retention_days"], "tags": dict(desired["tags"])}
        )

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        logs = ctx.clients("logs")
        retention = desired["retention_days"]
        if retention != live.config["retention_days"]:
            if retention is None:  # None means "never expire"
                logs.delete_retention_policy(logGroupName=name)
            else:
                logs.put_retention_policy(logGroupName=name, retentionInDays=retention)
        tags = changed_tags(desired["tags"], live.config["tags"])
        if tags:
            logs.tag_resource(resourceArn=live.outputs["arn"], tags=tags)
        return Live(live.outputs, {"retention_days": retention, "tags": {**live.config["tags"], **tags}})

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        # None: ResourceNotFoundException
        return unless_not_found(lambda: ctx.clients("logs").delete_log_group(logGroupName=name)) is not None

    @staticmethod
    def _tags(ctx: Context, arn: str) -> dict[str, str]:
        return dict(ctx.clients("logs").list_tags_for_resource(resourceArn=arn).get("tags", {}))


def _arn(group: dict[str, Any]) -> str:
    """The group's ARN without the ":*" suffix describe_log_groups' "arn" carries (tag APIs reject it)."""
    arn = group.get("logGroupArn") or group["arn"]
    return arn[:-2] if arn.endswith(":*") else arn


log_group = LogGroup()

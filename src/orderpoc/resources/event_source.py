"""Event source mappings: Lambda polling an SQS queue or a DynamoDB stream.

Kind "event_source_mapping", named f"{function_name}|{source_name}" (queue or table name) so it is
found without state: list the function's mappings, match the source ARN by that name. The desired
config uses boto3's parameter names directly.
"""

from __future__ import annotations

import json
from typing import Any

from orderpoc import aws
from orderpoc.aws import (
    CONFLICT_BUDGET,
    IAM_BUDGET,
    is_already_exists,
    pending_change,
    pending_iam_or_change,
    unless_not_found,
    wait_out,
)
from orderpoc.errors import ResourceError
from orderpoc.idempotent import create_once
from orderpoc.resources.base import Config, Context, Live, Outputs, Resource, diff_config
from orderpoc.resources.util import paginate, recorded_or_found, say_retry

# What update_event_source_mapping accepts; anything else (EventSourceArn, StartingPosition...) is
# fixed at creation, so drift there means delete and recreate.
UPDATABLE = frozenset(
    {
        "FunctionName",
        "Enabled",
        "BatchSize",
        "FilterCriteria",
        "MaximumBatchingWindowInSeconds",
        "DestinationConfig",
        "MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "ParallelizationFactor",
        "SourceAccessConfigurations",
        "TumblingWindowInSeconds",
        "FunctionResponseTypes",
        "ScalingConfig",
        "DocumentDBEventSourceConfig",
        "KMSKeyArn",
        "MetricsConfig",
        "ProvisionedPollerConfig",
    }
)
_STEADY = ("Enabled", "Disabled")
_WAIT_SECONDS = 300.0  # SQS mappings can take a minute or two to create or delete on AWS


def _split(name: str) -> tuple[str, str]:
    function_name, _, source_name = name.partition("|")
    return function_name, source_name


def _matches(arn: str, source_name: str) -> bool:
    if arn.split(":")[2:3] == ["sqs"]:
        return arn.endswith(f":{source_name}")
    return f":table/{source_name}/stream/" in arn


def _observed(mapping: dict[str, Any]) -> Config:
    config = {k: v for k, v in mapping.items() if k != "ResponseMetadata"}
    config["FunctionName"] = mapping["FunctionArn"].split(":")[6]
    config["Enabled"] = mapping.get("State") not in ("Disabled", "Disabling")
    return config


def _normal(config: Config) -> Config:
    """Filter patterns are JSON text: compare them parsed, not by spacing or key order."""
    filters = (config.get("FilterCriteria") or {}).get("Filters")
    if not filters:
        return config
    parsed = []
    for f in filters:
        try:
            parsed.append({**f, "Pattern": json.loads(f["Pattern"])})
        except (KeyError, TypeError, ValueError):
            parsed.append(f)
    return {**config, "FilterCriteria": {**config["FilterCriteria"], "Filters": parsed}}


def _live(mapping: dict[str, Any]) -> Live:
    outputs = {"uuid": mapping["UUID"]}
    if mapping.get("EventSourceMappingArn"):
        outputs["arn"] = mapping["EventSourceMappingArn"]
    return Live(outputs=outputs, config=_observed(mapping))


class EventSourceMapping(Resource):
    kind = "event_source_mapping"

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        function_name, source_name = _split(name)
        client = ctx.clients("lambda")
        mappings = unless_not_found(
            lambda: list(
                paginate(
                    client,
                    "list_event_source_mappings",
                    "EventSourceMappings",
                    FunctionName=function_name,
                )
            )
        )
        if mappings is None:
            return None
        found = [m for m in mappings if _matches(m["EventSourceArn"], source_name) and m.get("State") != "Deleting"]
        # The exact source first: a stale mapping on an old stream of the same table also matches.
        found.sort(key=lambda m: m["EventSourceArn"] != desired.get("EventSourceArn"))
        return _live(found[0]) if found else None

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        single_shot = ctx.clients("lambda", single_shot=True)
        params = {k: v for k, v in desired.items() if not k.startswith("_")}

        def found_uuid() -> str | None:
            live = self.find(ctx, name, desired)
            return None if live is None else str(live.outputs["uuid"])

        def awaiting(exc: BaseException) -> str | None:
            # "already exists" while find sees none: the previous mapping on this source is Deleting.
            if is_already_exists(exc) and found_uuid() is None:
                return "the previous mapping on this source to be deleted"
            return pending_iam_or_change(exc)

        # The role's new SQS/stream permissions can lag behind IAM ("The provided execution role does
        # not have permissions to call ReceiveMessage on SQS", "Cannot access stream ...").
        uuid = wait_out(
            lambda: create_once(
                lambda: str(single_shot.create_event_source_mapping(**params)["UUID"]),
                found_uuid,
                on_wait=say_retry(ctx, name),
            ),
            awaiting=awaiting,
            budget=IAM_BUDGET,
            name=name,
            say=ctx.say,
        )
        return _live(self._wait(ctx, name, uuid, lambda m: m is not None and m["State"] in _STEADY))

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        want, have = _normal(desired), _normal(live.config)
        changed = [k for k in want if not k.startswith("_") and diff_config({k: want[k]}, have)]
        fixed = [k for k in changed if k not in UPDATABLE]
        if fixed:
            ctx.say(f"{name}: {', '.join(fixed)} cannot be updated in place; recreating the mapping")
            self.delete(ctx, name, live.outputs)
            return self.create(ctx, name, desired)
        uuid = live.outputs["uuid"]
        # Conflict (ResourceInUseException): the mapping is still Creating/Updating.
        wait_out(
            lambda: ctx.clients("lambda").update_event_source_mapping(UUID=uuid, **{k: desired[k] for k in changed}),
            awaiting=pending_iam_or_change,
            budget=IAM_BUDGET,
            name=name,
            say=ctx.say,
        )
        return _live(self._wait(ctx, name, uuid, lambda m: m is not None and m["State"] in _STEADY))

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        uuid = recorded_or_found(self, ctx, name, outputs, "uuid")
        if uuid is None:
            return False
        client = ctx.clients("lambda")
        # Read first: moto answers 200 to deleting an unknown UUID; on AWS it is one cheap call.
        if self._get(ctx, uuid) is None:
            return False
        deleted = unless_not_found(
            lambda: wait_out(
                lambda: client.delete_event_source_mapping(UUID=uuid),
                awaiting=pending_change,
                budget=CONFLICT_BUDGET,
                name=name,
                say=ctx.say,
            )
        )
        if deleted is None:
            return False
        self._wait(ctx, name, uuid, lambda m: m is None or m["State"] != "Deleting")
        return True

    def drift(self, live: Live, desired: Config) -> list[str]:
        problems = diff_config(_normal(desired), _normal(live.config))
        return [
            p
            + (
                " (cannot be updated in place: the mapping is recreated)"
                if p.split(":", 1)[0].split(".")[0] not in UPDATABLE
                else ""
            )
            for p in problems
        ]

    def figures(self, ctx: Context, live: Live) -> dict[str, Any]:
        mapping = self._get(ctx, live.outputs["uuid"])
        if mapping is None:
            return {"state": "missing"}
        figures = {"state": mapping.get("State")}
        if mapping.get("LastProcessingResult"):
            figures["last_result"] = mapping["LastProcessingResult"]
        return figures

    def _get(self, ctx: Context, uuid: str) -> dict[str, Any] | None:
        return unless_not_found(lambda: ctx.clients("lambda").get_event_source_mapping(UUID=uuid))

    def _wait(self, ctx: Context, name: str, uuid: str, done: Any) -> dict[str, Any]:
        """Poll with capped backoff until done(mapping or None); bounded by _WAIT_SECONDS."""
        deadline = aws.clock.now() + _WAIT_SECONDS
        delay = 0.5
        while True:
            mapping = self._get(ctx, uuid)
            if done(mapping):
                return mapping or {}
            state = mapping.get("State") if mapping else "gone"
            if aws.clock.now() > deadline:
                raise ResourceError(name, f"event source mapping stuck in state {state}")
            ctx.say(f"waiting for event source mapping {name} (state {state})")
            aws.clock.sleep(delay)
            delay = min(delay * 2, 5.0)


mapping = EventSourceMapping()

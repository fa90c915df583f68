"""Event source mappings: Lambda polling an SQS queue or a DynamoDB stream.

Kind "event_source_mapping", named f"{function_name}|{source_name}" (queue or table name) so it is
found without state: list the function's mappings, match the source ARN by that name. The config
holds boto3's parameters in snake_case (batch_size, filter_criteria.filters...), converted at the call.
Fields update_event_source_mapping does not take (event_source_arn, starting_position...) are fixed
at creation: a change there is a replace.
"""

from __future__ import annotations

import json
from typing import Any

from orderpoc import aws_retry
from orderpoc.aws_errors import is_already_exists, pending_change, pending_iam_or_change, unless_not_found
from orderpoc.aws_retry import CONFLICT_BUDGET, IAM_BUDGET, wait_out
from orderpoc.errors import ResourceError
from orderpoc.idempotent import create_once
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource, diff_config
from orderpoc.resources.util import from_aws, paginate, recorded_or_found, say_retry, to_aws

# What update_event_source_mapping accepts; anything else is fixed at creation.
UPDATABLE = frozenset(
    {
        "function_name",
        "enabled",
        "batch_size",
        "filter_criteria",
        "maximum_batching_window_in_seconds",
        "destination_config",
        "maximum_record_age_in_seconds",
        "bisect_batch_on_function_error",
        "maximum_retry_attempts",
        "parallelization_factor",
        "source_access_configurations",
        "tumbling_window_in_seconds",
        "function_response_types",
        "scaling_config",
        "document_db_event_source_config",
        "kms_key_arn",
        "metrics_config",
        "provisioned_poller_config",
    }
)
# boto3 names that are not the plain PascalCase of the snake_case key
_SPECIAL = {"kms_key_arn": "KMSKeyArn", "document_db_event_source_config": "DocumentDBEventSourceConfig"}
_STEADY = ("Enabled", "Disabled")
_WAIT_SECONDS = 300.0  # SQS mappings can take a minute or two to create or delete on AWS


def _split(name: str) -> tuple[str, str]:
    function_name, _, source_name = name.partition("|")
    return function_name, source_name


def _matches(arn: str, source_name: str) -> bool:
    if arn.split(":")[2:3] == ["sqs"]:
        return arn.endswith(f":{source_name}")
    return f":table/{source_name}/stream/" in arn


def _params(config: Config) -> dict[str, Any]:
    """The config -> boto3's parameter names."""
    return to_aws({k: v for k, v in config.items() if not k.startswith("_")}, special=_SPECIAL)


def _observed(mapping: dict[str, Any]) -> Config:
    config: Config = from_aws({k: v for k, v in mapping.items() if k != "ResponseMetadata"})
    config["function_name"] = mapping["FunctionArn"].split(":")[6]
    config["enabled"] = mapping.get("State") not in ("Disabled", "Disabling")
    return config


def _normal(config: Config) -> Config:
    """Filter patterns are JSON text: compare them parsed, not by spacing or key order."""
    filters = (config.get("filter_criteria") or {}).get("filters")
    if not filters:
        return config
    parsed = []
    for f in filters:
        try:
            parsed.append({**f, "pattern": json.loads(f["pattern"])})
        except (KeyError, TypeError, ValueError):
            parsed.append(f)
    return {**config, "filter_criteria": {**config["filter_criteria"], "filters": parsed}}


def _live(mapping: dict[str, Any]) -> Live:
    outputs = {"uuid": mapping["UUID"]}
    if mapping.get("EventSourceMappingArn"):
        outputs["arn"] = mapping["EventSourceMappingArn"]
    return Live(outputs=outputs, config=_observed(mapping))


class EventSourceMapping(Resource):
    kind = "event_source_mapping"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"uuid": UNKNOWN, "arn": UNKNOWN}

    def forced_by(self, changes: list[Change]) -> list[str]:
        return [c.field for c in changes if c.top not in UPDATABLE]

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
        found.sort(key=lambda m: m["EventSourceArn"] != desired.get("event_source_arn"))
        return _live(found[0]) if found else None

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        single_shot = ctx.clients("lambda", single_shot=True)
        params = _params(desired)

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
        """Only the updatable fields; the engine replaces the mapping when a fixed one changed."""
        changed = {c.top for c in self.drift(live, desired)}
        fixed = changed - UPDATABLE
        if fixed:
            raise ResourceError(name, f"{', '.join(sorted(fixed))} cannot be updated in place: replace the mapping")
        uuid = live.outputs["uuid"]
        params = _params({k: desired[k] for k in desired if k in changed})
        # Conflict (ResourceInUseException): the mapping is still Creating/Updating.
        wait_out(
            lambda: ctx.clients("lambda").update_event_source_mapping(UUID=uuid, **params),
            awaiting=pending_iam_or_change,
            budget=IAM_BUDGET,
            name=name,
            say=ctx.say,
        )
        return _live(self._wait(ctx, name, uuid, lambda m: m is not None and m["State"] in _STEADY))

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        uuid = recorded_or_found(self, ctx, name, outputs, "uuid")
        return uuid is not None and self._get(ctx, uuid) is not None

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

    def drift(self, live: Live, desired: Config) -> list[Change]:
        return diff_config(_normal(desired), _normal(live.config))

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
        deadline = aws_retry.clock.now() + _WAIT_SECONDS
        delay = 0.5
        while True:
            mapping = self._get(ctx, uuid)
            if done(mapping):
                return mapping or {}
            state = mapping.get("State") if mapping else "gone"
            if aws_retry.clock.now() > deadline:
                raise ResourceError(name, f"event source mapping stuck in state {state}")
            ctx.say(f"waiting for event source mapping {name} (state {state})")
            aws_retry.clock.sleep(delay)
            delay = min(delay * 2, 5.0)


mapping = EventSourceMapping()

"""The order pipeline as Specs: which resources, what each depends on, how each is configured.

Every name derives from the stack name; every ARN another resource needs comes from the outputs of
the resource it depends on, so the graph, not hard-coded strings, wires the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orderpoc import policies
from orderpoc.engine_types import Builder, Spec, config_hash
from orderpoc.package import Package
from orderpoc.resources import apigateway, awslambda, dynamodb, event_source, iam, logs, sns, sqs
from orderpoc.resources.base import Config, Context, Outputs, Resource
from orderpoc.schema import ORDER_MODEL
from orderpoc.settings import Names
from orderpoc.stack_config import FUNCTIONS, WIRING_ENV, StackConfig

RUNTIME = "python3.12"
STAGE = "v1"
MAX_RECEIVE_COUNT = 5


# The botocore services the resource kinds call, and the tagging API the leftover search asks.
SERVICES = ("sqs", "dynamodb", "sns", "logs", "iam", "lambda", "apigateway", "resourcegroupstaggingapi")

# Every kind the stack uses, by name: what the state records but the stack no longer declares is
# still deleted by its kind.
KINDS: dict[str, Resource] = {
    r.kind: r
    for r in (
        sqs.queue,
        dynamodb.table,
        sns.topic,
        sns.subscription,
        logs.log_group,
        iam.role,
        awslambda.function,
        awslambda.permission,
        event_source.mapping,
        apigateway.rest_api,
        apigateway.stage,
        apigateway.api_key,
        apigateway.usage_plan,
    )
}


def email_key(address: str) -> str:
    return f"email:{address}"


def may_be_ours(stack: str) -> Callable[[str, str, Mapping[str, Any]], bool]:
    """Whether a state entry could be this stack's: every name derives from the stack's (a log
    group's from its function's), a subscription is on the stack's topic. A state copied from
    another stack and edited records that stack's names."""

    def check(kind: str, name: str, outputs: Mapping[str, Any]) -> bool:
        if kind == sns.subscription.kind:  # named by its address; a pending one has no ARN to delete by
            return f":{stack}-" in str(outputs.get("arn") or f":{stack}-")
        return kind == apigateway.stage.kind or name.startswith((f"{stack}-", f"/aws/lambda/{stack}-"))

    return check


def build_specs(
    ctx: Context,
    names: Names,
    packages: Mapping[str, Package],
    notify_emails: Sequence[str] = (),
    *,
    config: StackConfig | None = None,
) -> list[Spec]:
    """The pipeline's Specs, configured by `config` (what users tune; the defaults when None)."""
    config = config or StackConfig()
    tags = dict(ctx.tags)
    specs: list[Spec] = []

    def add(key: str, resource: Resource, name: str, build: Builder, *depends_on: str) -> None:
        specs.append(Spec(key, resource, name, build, tuple(depends_on)))

    # -- storage and messaging: no dependencies, created in parallel -------------------------
    add("dlq", sqs.queue, names.dlq, lambda d: _queue_config(tags, retention=1209600))
    add("failures", sqs.queue, names.notifier_failures, lambda d: _queue_config(tags, retention=1209600))
    add(
        "queue",
        sqs.queue,
        names.queue,
        lambda d: _queue_config(
            tags,
            retention=345600,
            visibility=config.visibility_timeout,
            redrive={"dead_letter_target_arn": d["dlq"]["arn"], "max_receive_count": MAX_RECEIVE_COUNT},
        ),
        "dlq",
    )
    add(
        "table",
        dynamodb.table,
        names.table,
        lambda d: {
            "hash_key": "orderId",
            "billing_mode": "PAY_PER_REQUEST",
            "stream_view_type": "NEW_IMAGE",
            "tags": tags,
        },
    )
    # Encrypted at rest with the AWS-managed SNS key: its key policy lets this account's principals use
    # it through SNS, so publishers need no KMS statement of their own.
    add("topic", sns.topic, names.topic, lambda d: {"kms_master_key_id": "alias/aws/sns", "tags": tags})

    # One subscription per address of the stack's email setting (`up --notify-email`).
    def subscription_config(address: str) -> Builder:
        return lambda d: {"topic_arn": d["topic"]["arn"], "protocol": "email", "endpoint": address}

    for address in notify_emails:
        add(email_key(address), sns.subscription, address, subscription_config(address), "topic")

    # -- one log group, role and function per Lambda function -------------------------------
    for fn in FUNCTIONS:
        add(
            f"logs:{fn}",
            logs.log_group,
            names.log_group(fn),
            lambda d: {"retention_days": config.log_retention_days, "tags": tags},
        )
    add(
        "role:intake",
        iam.role,
        names.role("intake"),
        lambda d: _role(
            ctx,
            tags,
            policies.intake_policy(
                queue_arn=d["queue"]["arn"],
                table_arn=d["table"]["arn"],
                log_group_arn=d["logs:intake"]["arn"],
            ),
        ),
        "queue",
        "table",
        "logs:intake",
    )
    add(
        "role:processor",
        iam.role,
        names.role("processor"),
        lambda d: _role(
            ctx,
            tags,
            policies.processor_policy(
                queue_arn=d["queue"]["arn"],
                table_arn=d["table"]["arn"],
                log_group_arn=d["logs:processor"]["arn"],
            ),
        ),
        "queue",
        "table",
        "logs:processor",
    )
    add(
        "role:notifier",
        iam.role,
        names.role("notifier"),
        lambda d: _role(
            ctx,
            tags,
            policies.notifier_policy(
                stream_arn=d["table"]["stream_arn"],
                table_arn=d["table"]["arn"],
                topic_arn=d["topic"]["arn"],
                failure_queue_arn=d["failures"]["arn"],
                log_group_arn=d["logs:notifier"]["arn"],
            ),
        ),
        "table",
        "topic",
        "failures",
        "logs:notifier",
    )

    def function_config(fn: str) -> Builder:
        def build(d: Mapping[str, Outputs]) -> Config:
            settings, package = config.functions[fn], packages[fn]
            wiring = {
                "ORDERS_QUEUE_URL": d["queue"]["url"],
                "ORDERS_TABLE": d["table"]["name"],
                "ORDER_EVENTS_TOPIC_ARN": d["topic"]["arn"],
            }
            assert set(wiring) == set(WIRING_ENV)
            return {
                "role_arn": d[f"role:{fn}"]["arn"],
                "handler": package.handler,
                "runtime": RUNTIME,
                "timeout": settings.timeout,
                "memory": settings.memory,
                "description": settings.description,
                "environment": {**settings.environment, **wiring},
                "architecture": config.architecture,
                "reserved_concurrency": settings.reserved_concurrency,
                "code_sha256": package.sha256,
                "_zip": package.zip_bytes,
                "tags": tags,
            }

        return build

    for fn in FUNCTIONS:
        add(
            f"fn:{fn}",
            awslambda.function,
            names.function(fn),
            function_config(fn),
            f"role:{fn}",
            f"logs:{fn}",
            "queue",
            "table",
            "topic",
        )

    # -- event source mappings --------------------------------------------------------------
    add(
        "esm:processor",
        event_source.mapping,
        f"{names.function('processor')}|{names.queue}",
        lambda d: {
            "function_name": d["fn:processor"]["name"],
            "event_source_arn": d["queue"]["arn"],
            "enabled": True,
            "batch_size": config.queue_batch_size,
            "maximum_batching_window_in_seconds": config.queue_batching_window,
            "function_response_types": ["ReportBatchItemFailures"],
            "scaling_config": {"maximum_concurrency": 5},
        },
        "fn:processor",
        "queue",
    )
    add(
        "esm:notifier",
        event_source.mapping,
        f"{names.function('notifier')}|{names.table}",
        lambda d: {
            "function_name": d["fn:notifier"]["name"],
            "event_source_arn": d["table"]["stream_arn"],
            "enabled": True,
            "starting_position": "TRIM_HORIZON",
            "batch_size": config.stream_batch_size,
            "maximum_batching_window_in_seconds": config.stream_batching_window,
            "filter_criteria": {"filters": [{"pattern": '{"eventName": ["INSERT"]}'}]},
            "maximum_retry_attempts": config.stream_retries,
            "bisect_batch_on_function_error": True,
            "maximum_record_age_in_seconds": 3600,
            "function_response_types": ["ReportBatchItemFailures"],
            "destination_config": {"on_failure": {"destination": d["failures"]["arn"]}},
        },
        "fn:notifier",
        "table",
        "failures",
    )

    # -- the API ------------------------------------------------------------------------------
    def api_config(d: Mapping[str, Outputs]) -> Config:
        fn_arn = d["fn:intake"]["arn"]
        return {
            "description": f"orderpoc order API ({ctx.stack})",
            "endpoint_type": "REGIONAL",
            "tags": tags,
            "integration_uri": (
                f"arn:{ctx.partition}:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations"
            ),
            "model": {"name": "Order", "content_type": "application/json", "schema": ORDER_MODEL},
            "validator": {"name": "body-and-params", "validate_body": True, "validate_parameters": True},
            # API Gateway's default 400 only says "Invalid request body"; say why.
            "gateway_responses": {
                "BAD_REQUEST_BODY": {
                    "status_code": "400",
                    "templates": {
                        "application/json": '{"message": "Invalid request body: $context.error.validationErrorString"}',
                    },
                }
            },
            "routes": [
                {
                    "path": "/order",
                    "method": "POST",
                    "api_key_required": True,
                    "validate": True,
                    "model": "Order",
                    "request_parameters": {},
                },
                {
                    "path": "/order/{orderId}",
                    "method": "GET",
                    "api_key_required": True,
                    "validate": True,
                    "model": None,
                    "request_parameters": {"method.request.path.orderId": True},
                },
            ],
        }

    add("api", apigateway.rest_api, names.api, api_config, "fn:intake")
    add(
        "permission",
        awslambda.permission,
        f"{names.function('intake')}|apigateway-invoke",
        lambda d: {
            "function_name": d["fn:intake"]["name"],
            "statement_id": "apigateway-invoke",
            "action": "lambda:InvokeFunction",
            "principal": "apigateway.amazonaws.com",
            # Only this API, only its stage, only the /order routes may invoke intake.
            "source_arn": f"{d['api']['execute_arn']}/{STAGE}/*/order*",
        },
        "fn:intake",
        "api",
    )
    add(
        "stage",
        apigateway.stage,
        STAGE,
        lambda d: {
            "rest_api_id": d["api"]["id"],
            "revision": config_hash(api_config(d)),
            "description": f"orderpoc {ctx.stack} {STAGE}",
            "tags": tags,
        },
        "api",
        "fn:intake",
        "permission",
    )
    add(
        "key",
        apigateway.api_key,
        names.api_key,
        lambda d: {
            "enabled": True,
            "description": f"orderpoc {ctx.stack} client key",
            "tags": tags,
        },
    )
    add(
        "plan",
        apigateway.usage_plan,
        names.usage_plan,
        lambda d: {
            "api_stages": [{"api_id": d["api"]["id"], "stage": STAGE}],
            "throttle": {"rate_limit": float(config.api_throttle_rate), "burst_limit": config.api_throttle_burst},
            "quota": {"limit": config.api_quota_limit, "period": config.api_quota_period}
            if config.api_quota_limit
            else None,
            "api_key_ids": [d["key"]["id"]],
            "description": f"orderpoc {ctx.stack} usage plan",
            "tags": tags,
        },
        "api",
        "stage",
        "key",
    )
    return specs


def _queue_config(
    tags: dict[str, str], *, retention: int, visibility: int = 30, redrive: dict[str, Any] | None = None
) -> Config:
    config: Config = {
        "message_retention_period": retention,
        "visibility_timeout": visibility,
        "sqs_managed_sse_enabled": True,  # SSE with the SQS-managed key
        "tags": tags,
    }
    if redrive:
        config["redrive_policy"] = redrive
    return config


def _role(ctx: Context, tags: dict[str, str], policy: dict[str, Any]) -> Config:
    return {
        "trust_policy": policies.lambda_trust(ctx.account),
        "policy_name": "least-privilege",
        "policy": policy,
        "tags": tags,
    }

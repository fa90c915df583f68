"""Acceptance: up, describe every resource, rerun (zero mutating calls), change one handler, down.

Runs the real app code against moto in-process (target aws with fake credentials), so it checks
provisioning as AWS would see it, in seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orderpoc import app, package, stack
from orderpoc.aws import Clients
from orderpoc.aws_calls import is_mutating
from orderpoc.settings import Settings

STACK = "acc"


@pytest.fixture
def aws_env(app_calls, monkeypatch, tmp_path):
    calls = app_calls
    src = tmp_path / "lambda_src"
    shutil.copytree(package.source_dir(), src)  # a project's own copy of the code, as `init` makes
    return calls, src, Settings(stack=STACK, target="aws", state_dir=tmp_path / "state", source=src)


def mutating(calls):
    return [(service, op) for service, op, _ in calls if is_mutating(op) and op != "AssumeRole"]


def test_up_rerun_change_down(aws_env):
    calls, src, settings = aws_env
    session, result = app.up(settings, lambda event: None)
    assert result.invoke_url and set(result.actions.values()) == {"create"}
    ctx = session.ctx
    c = session.clients
    names = settings.names

    # --- IAM: one role per function, trusted by Lambda only, scoped policies --------------------
    for fn in stack.FUNCTIONS:
        role = c("iam").get_role(RoleName=names.role(fn))["Role"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
        policy_names = c("iam").list_role_policies(RoleName=names.role(fn))["PolicyNames"]
        doc = c("iam").get_role_policy(RoleName=names.role(fn), PolicyName=policy_names[0])["PolicyDocument"]
        for statement in doc["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in resources and all(r.startswith("arn:aws:") for r in resources)
            assert all("*" not in action for action in actions)
        assert c("iam").list_attached_role_policies(RoleName=names.role(fn))["AttachedPolicies"] == []
    queue_arn = ctx.arn("sqs", names.queue)
    intake_doc = json.dumps(c("iam").get_role_policy(RoleName=names.role("intake"), PolicyName="least-privilege"))
    assert queue_arn in intake_doc and "dynamodb:PutItem" not in intake_doc

    # --- SQS: SSE, redrive to the DLQ, visibility timeout >= 6x the processor's timeout ---------
    queue_url = c("sqs").get_queue_url(QueueName=names.queue)["QueueUrl"]
    attrs = c("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["SqsManagedSseEnabled"] == "true"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == ctx.arn("sqs", names.dlq) and int(redrive["maxReceiveCount"]) == 5
    processor = c("lambda").get_function_configuration(FunctionName=names.function("processor"))
    assert int(attrs["VisibilityTimeout"]) >= 6 * processor["Timeout"]

    # --- DynamoDB: key, on-demand, stream with new images -------------------------------------
    table = c("dynamodb").describe_table(TableName=names.table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "orderId", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}

    # --- SNS: encrypted at rest --------------------------------------------------------------------
    topic_attrs = c("sns").get_topic_attributes(TopicArn=ctx.arn("sns", names.topic))["Attributes"]
    assert topic_attrs["KmsMasterKeyId"] == "alias/aws/sns"

    # --- Lambda: env wiring and mappings --------------------------------------------------------
    intake = c("lambda").get_function_configuration(FunctionName=names.function("intake"))
    assert intake["Environment"]["Variables"]["ORDERS_QUEUE_URL"] == queue_url
    mappings = {m["EventSourceArn"]: m for m in c("lambda").list_event_source_mappings()["EventSourceMappings"]}
    sqs_map = mappings[queue_arn]
    assert sqs_map["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and sqs_map["BatchSize"] == 10
    stream_map = mappings[table["LatestStreamArn"]]
    assert json.loads(stream_map["FilterCriteria"]["Filters"][0]["Pattern"]) == {"eventName": ["INSERT"]}
    assert stream_map["BisectBatchOnFunctionError"] is True and stream_map["MaximumRetryAttempts"] == 3
    assert stream_map["DestinationConfig"]["OnFailure"]["Destination"] == ctx.arn("sqs", names.notifier_failures)

    # --- API: key required on every method, validator with the Order model ---------------------
    api_id = session.state.outputs("api")["id"]
    validators = c("apigateway").get_request_validators(restApiId=api_id)["items"]
    assert validators and validators[0]["validateRequestBody"] is True
    methods = [
        (r["path"], m)
        for r in c("apigateway").get_resources(restApiId=api_id, embed=["methods"])["items"]
        for m in r.get("resourceMethods", {})
    ]
    assert sorted(methods) == [("/order", "POST"), ("/order/{orderId}", "GET")]
    for path, method in methods:
        resource_id = next(
            r["id"] for r in c("apigateway").get_resources(restApiId=api_id)["items"] if r["path"] == path
        )
        described = c("apigateway").get_method(restApiId=api_id, resourceId=resource_id, httpMethod=method)
        assert described["apiKeyRequired"] is True and described["requestValidatorId"] == validators[0]["id"]
    plan = next(p for p in c("apigateway").get_usage_plans()["items"] if p["name"] == names.usage_plan)
    assert plan["apiStages"] == [{"apiId": api_id, "stage": stack.STAGE}]
    assert "value" not in json.dumps(session.state.data)  # the API key value never reaches the state file

    # --- rerun: nothing changed, nothing mutated ----------------------------------------------
    calls.clear()
    _, again = app.up(settings, lambda event: None)
    assert mutating(calls) == []
    assert set(again.actions.values()) == {"unchanged"}

    # --- one handler edited: only that function's code is updated -----------------------------
    (src / "intake.py").write_text((src / "intake.py").read_text() + "\n# edited\n")
    calls.clear()
    _, changed = app.up(settings, lambda event: None)
    assert mutating(calls) == [("lambda", "UpdateFunctionCode")]
    assert [p["FunctionName"] for s, op, p in calls if op == "UpdateFunctionCode"] == [names.function("intake")]
    assert [k for k, a in changed.actions.items() if a != "unchanged"] == ["fn:intake"]

    # --- down: nothing of the stack remains ---------------------------------------------------
    down = app.down(settings, lambda event: None)
    assert down.leftovers == []
    assert not settings.state_file.exists()
    assert c("sqs").list_queues(QueueNamePrefix=STACK).get("QueueUrls", []) == []
    assert [t for t in c("dynamodb").list_tables()["TableNames"] if t.startswith(STACK)] == []
    assert [f for f in c("lambda").list_functions()["Functions"] if f["FunctionName"].startswith(STACK)] == []
    assert c("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert [r for r in c("iam").list_roles()["Roles"] if r["RoleName"].startswith(STACK)] == []
    assert c("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{STACK}")["logGroups"] == []
    assert [t for t in c("sns").list_topics()["Topics"] if STACK in t["TopicArn"]] == []
    assert c("apigateway").get_rest_apis()["items"] == []
    assert c("apigateway").get_api_keys()["items"] == []
    assert c("apigateway").get_usage_plans()["items"] == []


def test_down_without_state_file_finds_everything_by_name(aws_env):
    calls, src, settings = aws_env
    app.up(settings, lambda event: None)
    settings.state_file.unlink()
    assert app.down(settings, lambda event: None).leftovers == []
    clients = Clients(settings)
    assert clients("sqs").list_queues(QueueNamePrefix=STACK).get("QueueUrls", []) == []
    assert clients("apigateway").get_rest_apis()["items"] == []


def test_lost_state_file_rerun_creates_nothing_twice(aws_env):
    calls, src, settings = aws_env
    app.up(settings, lambda event: None)
    settings.state_file.unlink()
    calls.clear()
    _, again = app.up(settings, lambda event: None)
    assert mutating(calls) == []
    assert set(again.actions.values()) == {"unchanged"}
    assert Path(settings.state_file).exists()

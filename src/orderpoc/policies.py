"""Least-privilege IAM documents built from exact ARNs: no "*" action, no "*" resource."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def _doc(*statements: Doc) -> Doc:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(sid: str, actions: list[str], resources: list[str]) -> Doc:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources)}


def lambda_trust(account: str) -> Doc:
    """Only the Lambda service, and only on behalf of this account (confused-deputy guard)."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
    )


def _logs(log_group_arn: str) -> Doc:
    # The log group is created by `up` (with a retention period), so no logs:CreateLogGroup.
    return _allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"])


def intake_policy(*, queue_arn: str, table_arn: str, log_group_arn: str) -> Doc:
    return _doc(
        _allow("EnqueueOrders", ["sqs:SendMessage"], [queue_arn]),
        _allow("ReadOrders", ["dynamodb:GetItem"], [table_arn]),
        _logs(log_group_arn),
    )


def processor_policy(*, queue_arn: str, table_arn: str, log_group_arn: str) -> Doc:
    return _doc(
        _allow(
            "ConsumeOrders",
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
            [queue_arn],
        ),
        _allow("StoreOrders", ["dynamodb:PutItem"], [table_arn]),
        _logs(log_group_arn),
    )


def notifier_policy(
    *, stream_arn: str, table_arn: str, topic_arn: str, failure_queue_arn: str, log_group_arn: str
) -> Doc:
    return _doc(
        _allow(
            "ReadOrderStream",
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [stream_arn],
        ),
        # ListStreams is authorised on the table's stream path, not on one stream ARN.
        _allow("ListOrderStreams", ["dynamodb:ListStreams"], [f"{table_arn}/stream/*"]),
        _allow("PublishOrderEvents", ["sns:Publish"], [topic_arn]),
        _allow("ReportFailedRecords", ["sqs:SendMessage"], [failure_queue_arn]),
        _logs(log_group_arn),
    )

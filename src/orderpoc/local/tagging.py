"""GetResources without importing every service moto knows (checked against moto 5.2.1).

moto's tagging API (`moto.resourcegroupstaggingapi.models`) imports ~45 services at module
level and its GetResources instantiates the backend of each: ~170 MB of the emulator's memory,
paid on the first `up` or `down` (both sweep by tag), for services orderpoc never uses. A service
whose moto package was never imported has no resources, so while every service that walk visits
and that this process has loaded is one of SERVED, the answer is the walk over SERVED alone:
the same blocks in moto's order, its tag filters, its paging (ResourcesPerPage, TagsPerPage).
Anything else (another walked service in use, moto's tagging module already loaded, a token
this module did not issue, another parameter) goes to moto.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

CHECKED_MOTO_VERSION = "5.2.1"
TAGGING_MODELS = "moto.resourcegroupstaggingapi.models"
PARAMETERS = frozenset({"TagFilters", "ResourceTypeFilters", "ResourcesPerPage", "TagsPerPage", "PaginationToken"})

# Every other service moto 5.2.1's GetResources visits (its models' imports, athena, cloudformation).
OTHERS_WALKED = frozenset(
    {
        "acm",
        "appsync",
        "athena",
        "backup",
        "clouddirectory",
        "cloudformation",
        "cloudfront",
        "comprehend",
        "connectcampaigns",
        "directconnect",
        "dms",
        "ec2",
        "ecs",
        "efs",
        "elasticache",
        "elasticbeanstalk",
        "elb",
        "elbv2",
        "emr",
        "firehose",
        "fsx",
        "glacier",
        "glue",
        "kafka",
        "kinesisanalyticsv2",
        "kms",
        "lexv2models",
        "quicksight",
        "rds",
        "redshift",
        "sagemaker",
        "secretsmanager",
        "servicecatalog",
        "sesv2",
        "ssm",
        "stepfunctions",
        "swf",
        "vpclattice",
        "workspaces",
        "workspacesweb",
    }
)

Tags = list[dict[str, str]]
Resource = dict[str, Any]

_pages: dict[str, list[Resource]] = {}
_lock = threading.Lock()


def servable(params: dict[str, Any]) -> bool:
    """True when the walk over SERVED gives exactly moto's answer (see the module doc)."""
    import moto

    if moto.__version__ != CHECKED_MOTO_VERSION or TAGGING_MODELS in sys.modules:
        return False
    if not set(params) <= PARAMETERS:
        return False
    token = params.get("PaginationToken")
    if token:
        with _lock:
            if token not in _pages:
                return False
    return not any(f"moto.{name}" in sys.modules for name in OTHERS_WALKED)


def get_resources(account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    """moto's GetResources answer, for a request `servable` accepted."""
    token = params.get("PaginationToken")
    if token:
        with _lock:
            pending = _pages.pop(token)
    else:
        pending = list(_walk(account, region, params.get("TagFilters") or [], params.get("ResourceTypeFilters") or []))
    page, rest = _page(pending, int(params.get("ResourcesPerPage", 50)), int(params.get("TagsPerPage", 100)))
    new_token = None
    if rest:
        new_token = str(uuid.uuid4())
        with _lock:
            _pages[new_token] = rest
    return {"ResourceTagMappingList": page, "PaginationToken": new_token}


def _page(resources: list[Resource], per_page: int, tags_per_page: int) -> tuple[list[Resource], list[Resource]]:
    """moto's paging: stop before the resource that would reach either limit."""
    page: list[Resource] = []
    tags = 0
    for index, resource in enumerate(resources):
        if len(page) >= per_page or tags + len(resource["Tags"]) >= tags_per_page:
            return page, resources[index:]
        page.append(resource)
        tags += len(resource["Tags"])
    return page, []


def _tag_filter(tag_filters: list[dict[str, Any]]) -> Callable[[Tags], bool]:
    """moto's: every filter matches some tag; a filter is a key, with one or several values."""

    def one(tag_filter: dict[str, Any], tag: dict[str, str]) -> bool:
        values = tag_filter.get("Values", [])
        if tag["Key"] != tag_filter["Key"]:
            return False
        return not values or tag["Value"] in values

    return lambda tags: all(any(one(f, tag) for tag in tags) for f in tag_filters)


def _as_tags(tags: dict[str, str]) -> Tags:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _backend(module: str, name: str, account: str, region: str) -> Any:
    loaded = sys.modules.get(module)
    return None if loaded is None else getattr(loaded, name)[account][region]


def _walk(account: str, region: str, tag_filters: list[dict[str, Any]], types: list[str]) -> Iterator[Resource]:
    """moto's blocks for the SERVED services, in moto's order, each with moto's own conditions."""
    matches = _tag_filter(tag_filters)

    def wanted(*names: str) -> bool:
        return not types or any(name in types for name in names)

    def tagged(arn: str, tags: Tags) -> Iterator[Resource]:
        if tags and matches(tags):
            yield {"ResourceARN": arn, "Tags": tags}

    from moto.utilities.utils import get_partition

    s3 = _backend("moto.s3.models", "s3_backends", account, get_partition(region))  # one per partition
    if s3 is not None and wanted("s3", "s3:bucket"):
        for bucket in s3.buckets.values():
            yield from tagged(bucket.arn, s3.tagger.list_tags_for_resource(bucket.arn)["Tags"])
    cloudwatch = _backend("moto.cloudwatch.models", "cloudwatch_backends", account, region)
    if cloudwatch is not None:
        for kind, source, arn_tail in (
            ("cloudwatch:alarm", cloudwatch.alarms, "alarm:{}"),
            ("cloudwatch:insight-rule", cloudwatch.insight_rules, "insight-rule/{}"),
        ):
            if wanted("cloudwatch", kind):
                for resource in source.values():
                    arn = f"arn:{get_partition(region)}:cloudwatch:{region}:{account}:{arn_tail.format(resource.name)}"
                    yield from tagged(arn, _as_tags(cloudwatch.list_tags_for_resource(arn)))
    events = _backend("moto.events.models", "events_backends", account, region)
    if events is not None and wanted("events", "events:event-bus"):
        for bus in events.event_buses.values():
            yield from tagged(bus.arn, events.tagger.list_tags_for_resource(bus.arn)["Tags"])
    logs = _backend("moto.logs.models", "logs_backends", account, region)
    if logs is not None and wanted("logs", "logs:loggroup"):
        for group in logs.groups.values():
            yield from tagged(group.arn, _as_tags(logs.list_tags_for_resource(group.arn)))
    sqs = _backend("moto.sqs.models", "sqs_backends", account, region)
    if sqs is not None and wanted("sqs", "sqs:queue"):
        for queue in sqs.queues.values():
            yield from tagged(queue.queue_arn, _as_tags(queue.tags))
    sns = _backend("moto.sns.models", "sns_backends", account, region)
    if sns is not None and wanted("sns"):
        for topic in sns.topics.values():
            yield from tagged(topic.arn, _as_tags(topic._tags))
    awslambda = _backend("moto.awslambda.models", "lambda_backends", account, region)
    if awslambda is not None and wanted("lambda", "lambda:function"):
        for function in awslambda.list_functions():
            yield from tagged(function.function_arn, _as_tags(function.tags))
    dynamodb = _backend("moto.dynamodb.models", "dynamodb_backends", account, region)
    if dynamodb is not None and wanted("dynamodb", "dynamodb:table"):
        for table in dynamodb.tables.values():
            yield from tagged(table.table_arn, table.tags)


def response_class() -> Any:
    """A moto response class for the tagging API whose GetResources is served here when it can
    be; its account and region come from the request as moto reads them."""
    from moto.core.responses import BaseResponse

    class TaggingResponse(BaseResponse):
        def __init__(self) -> None:
            super().__init__(service_name="resourcegroupstaggingapi")

        def get_resources(self) -> str:
            return json.dumps(get_resources(self.current_account, self.region, json.loads(self.body or "{}")))

    return TaggingResponse

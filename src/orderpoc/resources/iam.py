"""IAM role with one inline policy: the execution role of one Lambda function."""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import unquote

from orderpoc.aws_errors import unless_not_found
from orderpoc.resources.base import Change, Config, Context, Live, Outputs, Resource, diff_config
from orderpoc.resources.util import changed_tags, dict_to_tags, paginate, tags_to_dict

# Elements where IAM treats "x" and ["x"] alike and order does not matter.
_LIST_ELEMENTS = ("Action", "NotAction", "Resource", "NotResource")


def _as_sorted_list(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def normalise_policy(doc: Any) -> Any:
    """A policy document in one canonical form, so equal documents compare equal.

    Accepts a dict or a (URL-encoded) JSON string. Statement becomes a list; Action/Resource (and
    their Not- forms), Principal values and Condition values become sorted lists. Nothing else.
    """
    if doc is None:
        return None
    if isinstance(doc, str):
        doc = json.loads(unquote(doc) if doc.lstrip().startswith("%") else doc)
    doc = dict(doc)
    statements = doc.get("Statement", [])
    doc["Statement"] = [_normalise_statement(s) for s in (statements if isinstance(statements, list) else [statements])]
    return doc


def _normalise_statement(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    for key in _LIST_ELEMENTS:
        if key in out:
            out[key] = _as_sorted_list(out[key])
    for key in ("Principal", "NotPrincipal"):
        if isinstance(out.get(key), dict):
            out[key] = {k: _as_sorted_list(v) for k, v in out[key].items()}
    if isinstance(out.get("Condition"), dict):
        out["Condition"] = {
            op: {k: _as_sorted_list(v) for k, v in block.items()} for op, block in out["Condition"].items()
        }
    return out


class IamRole(Resource):
    kind = "iam_role"

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        iam = ctx.clients("iam")
        role = unless_not_found(lambda: iam.get_role(RoleName=name)["Role"])
        if role is None:
            return None
        policy = unless_not_found(
            lambda: iam.get_role_policy(RoleName=name, PolicyName=desired["policy_name"])["PolicyDocument"]
        )
        config = {
            "trust_policy": normalise_policy(role["AssumeRolePolicyDocument"]),
            "policy_name": desired["policy_name"] if policy is not None else None,
            "policy": normalise_policy(policy),
            "tags": tags_to_dict(role.get("Tags")),
        }
        return Live({"arn": role["Arn"], "name": role["RoleName"]}, config)

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"arn": f"arn:{ctx.partition}:iam::{ctx.account}:role/{name}", "name": name}

    def drift(self, live: Live, desired: Config) -> list[Change]:
        wanted = {
            **desired,
            "trust_policy": normalise_policy(desired["trust_policy"]),
            "policy": normalise_policy(desired["policy"]),
        }
        return diff_config(wanted, live.config)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        iam = ctx.clients("iam")
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(desired["trust_policy"]),
            Tags=dict_to_tags(desired["tags"]),
        )["Role"]
        self._put_policy(ctx, name, desired)
        # IAM is eventually consistent; Lambda still may not assume the role for a while (the
        # function kind retries that), but at least every IAM endpoint knows the role.
        iam.get_waiter("role_exists").wait(RoleName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        return self._written({"arn": role["Arn"], "name": role["RoleName"]}, desired)

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        iam = ctx.clients("iam")
        have = live.config
        if normalise_policy(desired["trust_policy"]) != have["trust_policy"]:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(desired["trust_policy"]))
        if have["policy_name"] != desired["policy_name"] or normalise_policy(desired["policy"]) != have["policy"]:
            self._put_policy(ctx, name, desired)
            # Least privilege: an inline policy under another name (renamed, hand-added) goes.
            for other in list(paginate(iam, "list_role_policies", "PolicyNames", RoleName=name)):
                if other != desired["policy_name"]:
                    iam.delete_role_policy(RoleName=name, PolicyName=other)
        tags = changed_tags(desired["tags"], have["tags"])
        if tags:
            iam.tag_role(RoleName=name, Tags=dict_to_tags(tags))
        return self._written(live.outputs, desired, have["tags"])

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        return unless_not_found(lambda: ctx.clients("iam").get_role(RoleName=name)) is not None

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        return unless_not_found(lambda: _delete_role(ctx.clients("iam"), name)) is not None

    @staticmethod
    def _put_policy(ctx: Context, name: str, desired: Config) -> None:
        ctx.clients("iam").put_role_policy(
            RoleName=name, PolicyName=desired["policy_name"], PolicyDocument=json.dumps(desired["policy"])
        )

    @staticmethod
    def _written(outputs: Outputs, desired: Config, tags: dict[str, str] | None = None) -> Live:
        """What the role now is, from what was written (IAM reads may lag behind writes)."""
        config = {
            "trust_policy": normalise_policy(desired["trust_policy"]),
            "policy_name": desired["policy_name"],
            "policy": normalise_policy(desired["policy"]),
            "tags": {**(tags or {}), **desired["tags"]},
        }
        return Live(outputs, config)


def _delete_role(iam: Any, name: str) -> dict[str, Any]:
    """Delete the role and, first, its policies: a role cannot be deleted while it has any."""
    # Each step may be a retry whose first attempt was carried out: "no such entity" is done.
    for policy in list(paginate(iam, "list_role_policies", "PolicyNames", RoleName=name)):
        unless_not_found(functools.partial(iam.delete_role_policy, RoleName=name, PolicyName=policy))
    attached = list(paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name))
    for policy in attached:
        unless_not_found(functools.partial(iam.detach_role_policy, RoleName=name, PolicyArn=policy["PolicyArn"]))
    return iam.delete_role(RoleName=name)  # the response: a dict, never None


role = IamRole()

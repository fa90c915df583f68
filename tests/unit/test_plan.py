"""`plan` and `up` share one walk: what plan prints is what up does, for every kind of change.

The whole stack on moto (target aws): a fresh plan creates 21 resources without one mutating call;
out-of-band edits are each named with their action and field; up takes exactly those actions; email
subscriptions are a stack setting whose removed addresses are swept.
"""

from __future__ import annotations

from orderpoc import app, stack
from orderpoc.resources.base import Change
from orderpoc.state import State


def planned(settings, **kwargs) -> dict[str, str]:
    return {step.key: step.action for step in app.plan(settings, **kwargs).plan.steps}


def applied(settings, **kwargs) -> dict[str, str]:
    return app.up(settings, lambda event: None, **kwargs)[1].actions


def test_fresh_plan_lists_21_creates_without_a_mutating_call(app_moto):
    calls, settings = app_moto
    result = app.plan(settings)
    assert calls.mutating == []
    assert not settings.state_file.exists()  # nor a state file
    assert [s.action for s in result.plan.steps] == ["create"] * 21
    assert result.plan.counts == {"create": 21, "update": 0, "replace": 0, "delete": 0, "forget": 0, "unchanged": 0}
    # what only exists after creation is marked so; what derives from the name is shown
    steps = {s.key: s for s in result.plan.steps}
    assert steps["queue"].outputs["url"] == "(known after up)"
    assert steps["queue"].outputs["arn"] == f"arn:aws:sqs:us-east-1:{result.account}:acc-orders"
    assert steps["api"].outputs["id"] == "(known after up)"
    assert applied(settings) == {s.key: s.action for s in result.plan.steps}
    calls.clear()
    assert set(planned(settings).values()) == {"unchanged"}
    assert calls.mutating == []


def _edit_out_of_band(session) -> None:
    """Queue visibility timeout, function memory, the stream mapping's batch size (in place) and its
    starting position (fixed: a replace), one API method and one log group deleted."""
    c, names = session.clients, session.settings.names
    sqs = c("sqs")
    sqs.set_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=names.queue)["QueueUrl"], Attributes={"VisibilityTimeout": "31"}
    )
    c("lambda").update_function_configuration(FunctionName=names.function("processor"), MemorySize=512)
    lam = c("lambda")
    processor_map = lam.list_event_source_mappings(FunctionName=names.function("processor"))["EventSourceMappings"][0]
    lam.update_event_source_mapping(UUID=processor_map["UUID"], BatchSize=5)
    stream_map = lam.list_event_source_mappings(FunctionName=names.function("notifier"))["EventSourceMappings"][0]
    lam.delete_event_source_mapping(UUID=stream_map["UUID"])
    keep = ("EventSourceArn", "BatchSize", "FilterCriteria", "MaximumRetryAttempts", "DestinationConfig")
    lam.create_event_source_mapping(
        FunctionName=names.function("notifier"), StartingPosition="LATEST", **{k: stream_map[k] for k in keep}
    )
    apigw = c("apigateway")
    api_id = session.state.outputs("api")["id"]
    resource = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/order/{orderId}")
    apigw.delete_method(restApiId=api_id, resourceId=resource["id"], httpMethod="GET")
    c("logs").delete_log_group(logGroupName=names.log_group("intake"))


def test_out_of_band_edits_are_planned_then_applied_exactly(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None)
    _edit_out_of_band(session)
    calls.clear()
    result = app.plan(settings)
    assert calls.mutating == []
    steps = {s.key: s for s in result.plan.steps if s.action != "unchanged"}
    assert {k: s.action for k, s in steps.items()} == {
        "queue": "update",
        "fn:processor": "update",
        "esm:processor": "update",
        "esm:notifier": "replace",
        "api": "update",
        "logs:intake": "create",
    }
    assert steps["queue"].changes == [Change("visibility_timeout", 31, 180)]
    assert steps["fn:processor"].changes == [Change("memory", 512, 256)]
    assert steps["esm:processor"].changes == [Change("batch_size", 5, settings.config.queue_batch_size)]
    assert steps["esm:notifier"].forced_by == ["starting_position"]
    assert Change("starting_position", "LATEST", "TRIM_HORIZON") in steps["esm:notifier"].changes
    assert [c.field for c in steps["api"].changes] == ["routes.GET /order/{orderId}"]
    assert steps["api"].changes[0].live is None
    assert result.plan.counts == {"create": 1, "update": 4, "replace": 1, "delete": 0, "forget": 0, "unchanged": 15}

    done = applied(settings)
    assert done == {s.key: s.action for s in result.plan.steps}  # plan and actions agree, every kind
    assert set(planned(settings).values()) == {"unchanged"}


def test_removed_email_is_planned_as_delete_and_swept(app_moto):
    calls, settings = app_moto
    session, first = app.up(settings, lambda e: None, notify_emails=["a@example.com"])
    key = stack.email_key("a@example.com")
    assert first.actions[key] == "create"
    assert planned(settings)[key] == "unchanged"  # without the option the recorded list is kept
    assert applied(settings)[key] == "unchanged"
    calls.clear()
    plan = app.plan(settings, notify_emails=[]).plan
    assert [(s.key, s.action) for s in plan.steps if s.action != "unchanged"] == [(key, "delete")]
    assert calls.mutating == []
    assert applied(settings, notify_emails=[]) == {**{k: "unchanged" for k in first.actions if k != key}, key: "delete"}
    topic_arn = session.state.outputs("topic")["arn"]
    subs = session.clients("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert subs == []
    state = State.load(settings.state_file)
    assert key not in state.resources and state.data["notify_emails"] == []
    assert set(planned(settings).values()) == {"unchanged"}


def test_several_addresses_and_a_legacy_email_entry_are_kept(app_moto):
    calls, settings = app_moto
    app.up(settings, lambda e: None, notify_emails=["a@example.com", "b@example.com"])
    state = State.load(settings.state_file)
    # a state file from before the setting: one "email" entry and no recorded list
    state.data.pop("notify_emails")
    state.data["resources"]["email"] = state.data["resources"].pop(stack.email_key("a@example.com"))
    state.data["resources"].pop(stack.email_key("b@example.com"))
    state._write()
    steps = app.plan(settings).plan.steps
    actions = {step.key: step.action for step in steps}
    assert actions[stack.email_key("a@example.com")] == "unchanged" and "email" not in actions
    assert stack.email_key("b@example.com") not in actions  # not recorded: not declared
    # the legacy list is [a@]: b@, subscribed to the stack's topic but not on it, is a leftover
    assert [(s.kind, s.name, s.action) for s in steps if s.key.startswith("tagged:")] == [
        ("sns_subscription", "b@example.com", "delete")
    ]


def test_after_a_lost_state_the_topics_addresses_are_kept_until_a_list_is_given(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None, notify_emails=["a@example.com"])
    topic_arn = session.state.outputs("topic")["arn"]
    sns = session.clients("sns")

    def subscribed() -> list[str]:
        return sorted(s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"])

    settings.state_file.unlink()
    assert set(applied(settings).values()) == {"unchanged"}  # the list is unknown: a@ is left alone
    assert subscribed() == ["a@example.com"] and "notify_emails" not in State.load(settings.state_file).data
    done = applied(settings, notify_emails=["b@example.com"])  # the list is given: a@ is not on it
    assert done[stack.email_key("b@example.com")] == "create"
    [swept] = [key for key, action in done.items() if action == "delete"]
    assert swept.startswith(f"tagged:{topic_arn}:")  # a@'s subscription
    assert subscribed() == ["b@example.com"]
    settings.state_file.unlink()  # lost again: b@, on the list given now, is adopted
    assert set(applied(settings, notify_emails=["b@example.com"]).values()) == {"unchanged"}
    emptied = applied(settings, notify_emails=[])
    assert [action for key, action in emptied.items() if action != "unchanged"] == ["delete"]
    assert subscribed() == []


def test_plan_destroy_lists_what_down_deletes(app_moto):
    calls, settings = app_moto
    app.up(settings, lambda e: None)
    calls.clear()
    plan = app.plan(settings, destroy=True).plan
    assert calls.mutating == []
    assert [s.action for s in plan.steps] == ["delete"] * 21
    assert plan.steps[0].key == "plan"  # dependents first, as down deletes them
    down = app.down(settings, lambda e: None)
    assert down.leftovers == [] and down.actions == {s.key: "delete" for s in plan.steps}


def _record_extra_queue(session, settings, name: str) -> str:
    """A queue the state records but the stack does not declare (as a later version dropped it)."""
    sqs = session.clients("sqs")
    url = sqs.create_queue(QueueName=name, tags={"orderpoc:stack": settings.stack})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    state = State.load(settings.state_file)
    state.record("old-queue", {"kind": "sqs_queue", "name": name, "outputs": {"url": url, "arn": arn, "name": name}})
    return url


def test_a_recorded_orphan_deleted_by_hand_is_forgotten_as_planned(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None, notify_emails=["a@example.com"])
    url = _record_extra_queue(session, settings, "acc-old")
    session.clients("sqs").delete_queue(QueueUrl=url)  # out of band
    sub_arn = session.state.outputs(stack.email_key("a@example.com"))["arn"]
    session.clients("sns").unsubscribe(SubscriptionArn=sub_arn)  # out of band too
    calls.clear()
    result = app.plan(settings, notify_emails=[])
    assert calls.mutating == []
    orphans = {s.key: s.action for s in result.plan.steps if s.action != "unchanged"}
    assert orphans == {"old-queue": "forget", stack.email_key("a@example.com"): "forget"}
    assert result.plan.pending and not result.plan.destructive  # a change to the state, not to AWS
    assert result.plan.counts["delete"] == 0 and result.plan.counts["forget"] == 2
    done = applied(settings, notify_emails=[])
    assert {k: done[k] for k in orphans} == orphans  # up reports what plan said
    assert "old-queue" not in State.load(settings.state_file).resources
    assert set(planned(settings).values()) == {"unchanged"}


def test_a_recorded_orphan_that_exists_is_deleted_as_planned(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None)
    _record_extra_queue(session, settings, "acc-old")
    assert planned(settings)["old-queue"] == "delete"
    assert applied(settings)["old-queue"] == "delete"
    assert session.clients("sqs").list_queues(QueueNamePrefix="acc-old").get("QueueUrls", []) == []
    assert set(planned(settings).values()) == {"unchanged"}


def test_a_state_copied_from_another_stack_and_edited_leaves_that_stack_standing(app_moto):
    """bb's state under aa's name with its stack field edited to aa: aa's down deletes aa's."""
    import dataclasses
    import json

    calls, aa = app_moto
    bb = dataclasses.replace(aa, stack="bb")
    app.up(aa, lambda e: None)
    app.up(bb, lambda e: None, notify_emails=["ops@example.com"])
    copied = json.loads(bb.state_file.read_text())
    copied["stack"] = aa.stack
    aa.state_file.write_text(json.dumps(copied))
    down = app.down(aa, lambda e: None)
    # the copied email list declares bb's address for aa too: its entry is bb's, so not deleted by it
    assert {k: a for k, a in down.actions.items() if a != "delete"} == {"email:ops@example.com": "absent"}
    assert down.leftovers == []
    assert {k: a for k, a in planned(bb).items() if a != "unchanged"} == {}  # every one of bb's resources still stands

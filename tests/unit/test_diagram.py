"""`orderpoc diagram`: drawn from the Specs `up` walks, with the data path read off their configs."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orderpoc import diagram_draw, diagram_order
from orderpoc.cli import main
from orderpoc.cli.diagram_command import FORMATS
from orderpoc.diagram import ENTRY, build_model
from orderpoc.engine_types import Report
from orderpoc.settings import Settings
from orderpoc.stack_session import declared_specs

DOCS_SVG = Path(__file__).resolve().parents[2] / "docs" / "stack.svg"
SVG_NS = "{http://www.w3.org/2000/svg}"
PATH = ["client", "api", "fn:intake", "queue", "esm:processor", "fn:processor", "table", "esm:notifier", "fn:notifier"]


@pytest.fixture
def specs():
    return declared_specs(Settings())


def test_every_spec_is_a_node_and_every_dependency_an_edge(specs):
    model = build_model(specs, "orderpoc")
    assert [n.key for n in model.nodes] == [s.key for s in specs]
    assert len(model.nodes) == 21
    assert {(e.source, e.target) for e in model.of_role("dependency")} == {
        (s.key, dep) for s in specs for dep in s.depends_on
    }


def test_the_data_path_is_read_off_the_configs(specs):
    model = build_model(specs, "orderpoc")
    assert model.path == [*PATH, "topic"]
    steps = [(e.source, e.target) for _, e in diagram_order.numbered_data_edges(model)]
    assert steps == list(zip(model.path, model.path[1:], strict=False))
    assert {(e.source, e.target, e.label) for e in model.of_role("side")} == {
        ("queue", "dlq", "after 5 receives"),
        ("esm:notifier", "failures", "on failure"),
    }
    labels = {(e.source, e.target): e.label for e in model.of_role("data")}
    assert labels[(ENTRY, "api")] == "POST /order"
    assert labels[("fn:processor", "table")] == "dynamodb:PutItem"


def test_rewiring_a_mapping_redraws_the_path(specs):
    """No hand-kept list: point the processor's mapping at the DLQ and the picture follows."""
    rewired = []
    for spec in specs:
        if spec.key == "esm:processor":
            original = spec.build

            def build(d, original=original):
                return {**original({**d, "queue": d["dlq"]}), "EventSourceArn": d["dlq"]["arn"]}

            spec = dataclasses.replace(spec, build=build, depends_on=(*spec.depends_on, "dlq"))
        rewired.append(spec)
    edges = {(e.source, e.target) for e in build_model(rewired, "orderpoc").of_role("data")}
    assert ("dlq", "esm:processor") in edges and ("queue", "esm:processor") not in edges


def test_snake_case_config_keys_read_the_same(specs):
    """Resource kinds may spell config keys either way (EventSourceArn or event_source_arn), nest or not."""

    def snake(value):
        if isinstance(value, dict):
            return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): snake(v) for k, v in value.items()}
        return value

    def flat(config):  # SQS attributes as top-level keys, the redrive policy one of them
        return snake({**config.pop("attributes", {}), **config})

    snaked = [
        dataclasses.replace(s, build=lambda d, b=s.build: flat(b(d)))
        if s.kind in ("event_source_mapping", "sqs_queue")
        else s
        for s in specs
    ]
    assert build_model(snaked, "orderpoc").edges == build_model(specs, "orderpoc").edges


def test_svg_names_every_resource_and_parses(specs):
    picture = diagram_draw.render(build_model(specs, "orderpoc"), "svg")
    root = ET.fromstring(picture)
    groups = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "resource"]
    assert sorted(g.get("data-key") for g in groups) == sorted(s.key for s in specs)
    for spec in specs:
        assert f">{spec.name}<" in picture
    data = [p for p in root.iter(f"{SVG_NS}path") if p.get("class") == "edge data"]
    assert [p.get("data-step") for p in data] == [str(n) for n in range(1, 10)]


def test_live_colours_each_resource_and_shows_figures(specs):
    reports = [Report(s.key, s.kind, s.name, "ok") for s in specs]
    reports[[s.key for s in specs].index("queue")].figures = {"messages": 7, "in_flight": 2}
    reports[[s.key for s in specs].index("logs:notifier")].state = "missing"
    reports[[s.key for s in specs].index("topic")].state = "drifted"
    reports[[s.key for s in specs].index("topic")].drift = [
        {"field": "kms_master_key_id", "live": None, "desired": "k"}
    ]
    reports[[s.key for s in specs].index("dlq")].state = "drifted"
    reports[[s.key for s in specs].index("dlq")].drift = ["attributes.VisibilityTimeout: 30 -> 60"]  # text drift too
    model = build_model(specs, "orderpoc", reports)
    picture = diagram_draw.render(model, "svg")
    root = ET.fromstring(picture)
    states = {g.get("data-key"): g.get("data-state") for g in root.iter(f"{SVG_NS}g") if g.get("class") == "resource"}
    assert states["logs:notifier"] == "missing" and states["queue"] == "ok" and states["topic"] == "drifted"
    assert "messages 7, in_flight 2" in picture
    assert "drifted · kms_master_key_id<" in picture and "drifted · attributes.VisibilityTimeout<" in picture
    assert "18 ok" in picture and "1 missing" in picture and "2 drifted" in picture
    text = diagram_draw.render(model, "text")
    assert re.search(r"logs:notifier .* \[missing\]", text)
    assert "class n_logs_notifier missing" in diagram_draw.render(model, "mermaid")


def test_mermaid_is_a_flowchart_with_one_style_per_link(specs):
    mermaid = diagram_draw.render(build_model(specs, "orderpoc"), "mermaid")
    assert mermaid.startswith("flowchart LR\n")
    links = [line for line in mermaid.splitlines() if re.match(r"\s+n_\S+ (==>|-\.->|-->)", line)]
    styles = [line for line in mermaid.splitlines() if line.strip().startswith("linkStyle")]
    assert len(links) == len(styles) == 9 + 2 + sum(len(s.depends_on) for s in specs)
    assert all(f"subgraph n_{svc}" in mermaid for svc in ("SQS", "Lambda", "API_Gateway", "IAM"))


def test_the_cli_knows_every_format():
    assert FORMATS == diagram_draw.FORMATS


def test_the_readme_picture_is_up_to_date(specs):
    """docs/stack.svg is what `orderpoc diagram` draws today; regenerate it when the stack changes."""
    fresh = diagram_draw.render(build_model(specs, "orderpoc"), "svg")
    assert DOCS_SVG.read_text() == fresh, "docs/stack.svg is stale: run `orderpoc diagram --out docs/stack.svg`"


def test_declared_diagram_needs_no_endpoint(capsys, monkeypatch, tmp_path):
    """No emulator is started and no AWS call made: the port points at nothing, no credentials."""
    monkeypatch.setenv("ORDERPOC_LOCAL_PORT", "9")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    state = tmp_path / "state"
    out = tmp_path / "d.svg"
    with pytest.raises(SystemExit) as exit_info:
        main(["diagram", "--state-dir", str(state), "--target", "aws", "--out", str(out)])
    assert exit_info.value.code == 0
    assert "21 resources" in capsys.readouterr().out
    assert out.read_text().startswith("<svg")
    assert not state.exists()


def test_an_unwritable_out_is_one_line_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["diagram", "--out", str(tmp_path / "no" / "such" / "dir" / "d.svg")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: cannot write") and len(err.strip().splitlines()) == 1


def test_inside_a_project_the_diagram_is_of_that_stack(capsys, monkeypatch, tmp_path):
    """Its stack name and settings (here the processor's batch size), without building its zips."""
    from orderpoc import package, project

    monkeypatch.delenv("ORDERPOC_STACK", raising=False)
    monkeypatch.delenv("ORDERPOC_PROJECT", raising=False)
    project.init(tmp_path)
    (tmp_path / "orderpoc.toml").write_text('stack = "shop"\n[queue]\nbatch_size = 7\n')
    monkeypatch.chdir(tmp_path)

    def no_build(*args, **kwargs):
        raise AssertionError("a picture must not package the code")

    monkeypatch.setattr(package, "build_all", no_build)
    with pytest.raises(SystemExit) as exit_info:
        main(["diagram", "--format", "text"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "shop-orders-dlq" in out and "orderpoc-" not in out
    assert "queue -> esm:processor  (poll, batch 7)" in out


def test_a_live_pictures_drift_names_the_fields() -> None:
    from orderpoc import diagram
    from orderpoc.resources.base import Change

    drift = [Change("visibility_timeout", 5, 180), {"field": "memory"}, "batch_size: 5 -> 10"]
    assert diagram._drift_text(drift) == "visibility_timeout, memory, batch_size"

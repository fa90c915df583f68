"""Projects: finding orderpoc.toml, checking it, layering stages, `init`, and dependencies in zips."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from orderpoc import dependencies, package, project, stack_config
from orderpoc.cli import main
from orderpoc.errors import UserError


def write_project(root: Path, toml: str) -> Path:
    project.init(root)
    (root / "orderpoc.toml").write_text(toml)
    return root


# -- finding -------------------------------------------------------------------------------------
def test_no_project_means_the_builtin_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERPOC_PROJECT", raising=False)
    found = project.find(start=tmp_path)
    assert found.root is None and found.source == project.builtin_source()
    assert (found.source / "processor.py").is_file()


def test_project_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERPOC_PROJECT", raising=False)
    write_project(tmp_path, 'stack = "shop"\n')
    deep = tmp_path / "lambda_src" / "nested"
    deep.mkdir()
    found = project.find(start=deep)
    assert found.root == tmp_path.resolve()
    assert found.source == tmp_path.resolve() / "lambda_src"
    assert found.resolved(None)["stack"] == "shop"


def test_explicit_project_must_hold_a_config(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not an orderpoc project"):
        project.find(explicit=tmp_path)


# -- checking ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("colour = 'blue'\n", "unknown key 'colour'"),
        (
            "[functions.processor]\nmemory = 100\n",
            "functions.processor.memory = 100 is not allowed: use a whole number from 128 to 10240",
        ),
        ("[functions.processor]\nmemory = '512'\n", "functions.processor.memory = '512' is not allowed"),
        ("[functions.processor]\nmemory = true\n", "functions.processor.memory = True is not allowed"),
        ("[functions.cleaner]\nmemory = 512\n", "unknown key 'functions.cleaner'"),
        ("[queue]\nvisibility_timeout = 60\n", "queue.visibility_timeout = 60 is not allowed: use at least 180"),
        ("[queue]\nbatch_size = 50\n", "SQS allows more than 10 only with a batching window"),
        ("[logs]\nretention_days = 13\n", "logs.retention_days = 13 is not allowed: use one of 1, 3, 5"),
        ("[notifications]\nemails = ['not-an-email']\n", "notifications.emails"),
        ("[stages.prod.functions.processor]\nmemory = 99999\n", "functions.processor.memory = 99999"),
        ("[stages.prod]\nstages = {}\n", "unknown key 'stages'"),
        ("stack = [1]\n", "stack = [1] is not allowed"),
        ("this is not toml\n", "not valid TOML"),
        ("queue = 3\n", "queue must be a table"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    write_project(tmp_path, toml)
    with pytest.raises(UserError) as err:
        project.load(tmp_path)
    text = str(err.value)
    assert message in text and str(tmp_path / "orderpoc.toml") in text and "\n" not in text


def test_a_bad_file_exits_2_at_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_project(tmp_path, "[functions.processor]\nmemory = 100\n")
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--project", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "functions.processor.memory" in err and "Traceback" not in err


# -- layering ------------------------------------------------------------------------------------
def test_stage_overrides_the_top_level_and_gets_its_own_stack(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        'stack = "shop"\n[functions.processor]\nmemory = 384\ntimeout = 20\n'
        "[stages.prod.functions.processor]\nmemory = 512\n"
        '[stages.eu]\nstack = "shop-europe"\nregion = "eu-west-1"\n',
    )
    found = project.load(tmp_path)
    prod = found.stack_config("prod")
    assert prod.functions["processor"].memory == 512
    assert prod.functions["processor"].timeout == 20  # kept from the top level
    assert prod.functions["intake"].memory == 256  # the default
    assert prod.visibility_timeout == 120  # 6x the processor's timeout
    assert found.resolved("prod")["stack"] == "shop-prod"
    assert found.resolved("eu")["stack"] == "shop-europe"
    assert found.stack_config(None).functions["processor"].memory == 384
    with pytest.raises(UserError, match="unknown stage 'qa': use one of eu, prod"):
        found.resolved("qa")


def test_defaults_match_an_empty_file(tmp_path: Path) -> None:
    write_project(tmp_path, "")
    assert project.load(tmp_path).stack_config(None) == stack_config.StackConfig()


def test_the_template_init_writes_is_valid_and_means_the_defaults(tmp_path: Path) -> None:
    project.init(tmp_path, stack="shop")
    config = project.load(tmp_path).stack_config(None)
    assert config == stack_config.StackConfig()


# -- init ----------------------------------------------------------------------------------------
def test_init_writes_a_project_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "shop"
    with pytest.raises(SystemExit) as exit_:
        main(["init", str(target)])
    assert exit_.value.code == 0
    names = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert names == [
        "README.md", "lambda_src/intake.py", "lambda_src/notifier.py", "lambda_src/orderlib.py",
        "lambda_src/orderschema.py", "lambda_src/processor.py", "lambda_src/requirements.txt", "orderpoc.toml",
    ]  # fmt: skip
    assert 'stack = "shop"' in (target / "orderpoc.toml").read_text()
    (target / "lambda_src" / "processor.py").write_text("# mine\n")
    with pytest.raises(SystemExit) as again:
        main(["init", str(target)])
    assert again.value.code == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (target / "lambda_src" / "processor.py").read_text() == "# mine\n"  # nothing touched
    with pytest.raises(SystemExit) as forced:
        main(["init", str(target), "--force"])
    assert forced.value.code == 0
    assert (target / "lambda_src" / "processor.py").read_bytes() == (
        project.builtin_source() / "processor.py"
    ).read_bytes()


# -- packages ------------------------------------------------------------------------------------
def test_project_code_is_what_gets_packaged(tmp_path: Path) -> None:
    project.init(tmp_path)
    (tmp_path / "lambda_src" / "helpers.py").write_text("VALUE = 1\n")
    built = package.build_all(tmp_path / "lambda_src")
    with zipfile.ZipFile(__import__("io").BytesIO(built["processor"].zip_bytes)) as archive:
        assert "helpers.py" in archive.namelist() and "intake.py" not in archive.namelist()


def test_requirements_lines(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# shared\ninflection==0.5.1  # inline comment\n\n")
    (tmp_path / "requirements-processor.txt").write_text("six\n")
    assert dependencies.requirements_for("processor", tmp_path) == ["inflection==0.5.1", "six"]
    assert dependencies.requirements_for("intake", tmp_path) == ["inflection==0.5.1"]
    (tmp_path / "requirements.txt").write_text("-e .\n")
    with pytest.raises(UserError, match="not supported"):
        dependencies.requirements_for("intake", tmp_path)


def test_requirements_are_installed_once_and_zips_stay_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project.init(tmp_path / "p")
    src = tmp_path / "p" / "lambda_src"
    (src / "requirements-processor.txt").write_text("inflection==0.5.1\n")
    first = package.build_all(src, target="aws")
    with zipfile.ZipFile(__import__("io").BytesIO(first["processor"].zip_bytes)) as archive:
        names = archive.namelist()
    assert "inflection/__init__.py" in names or "inflection.py" in names
    assert not any(n.endswith(".pyc") or n.startswith(".orderpoc-") for n in names)
    assert first["intake"] == package.build_all(src, target="aws")["intake"]  # no requirements: no deps

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip ran although the requirements were cached")

    monkeypatch.setattr(dependencies.subprocess, "run", no_pip)
    again = package.build_all(src, target="aws")
    assert again["processor"].sha256 == first["processor"].sha256


def test_a_requirement_without_a_wheel_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="could not install the functions' requirements"):
        dependencies.installed(
            ["orderpoc-no-such-package-4711==1.0"], dependencies.Platform("3.12", "manylinux2014_x86_64")
        )
    assert not any((tmp_path / "cache" / "orderpoc" / "deps").iterdir())  # no half-installed cache entry


def test_zip_size_limits_are_checked_before_any_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project.init(tmp_path)
    (tmp_path / "lambda_src" / "blob.py").write_bytes(b"#" + bytes(range(256)) * 4000)
    monkeypatch.setattr(package, "MAX_UNZIPPED", 100_000)
    with pytest.raises(UserError, match="MB unzipped: Lambda allows at most"):
        package.build("processor", tmp_path / "lambda_src")
    monkeypatch.setattr(package, "MAX_UNZIPPED", 10**9)
    monkeypatch.setattr(package, "MAX_ZIPPED", 1000)
    with pytest.raises(UserError, match="zip is .* MB: Lambda takes at most"):
        package.build("processor", tmp_path / "lambda_src")


def test_a_missing_handler_is_named(tmp_path: Path) -> None:
    project.init(tmp_path)
    (tmp_path / "lambda_src" / "notifier.py").unlink()
    with pytest.raises(UserError, match="notifier.py is missing"):
        package.build_all(tmp_path / "lambda_src")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda src: (src / "passwd.py").symlink_to("/etc/passwd"), "passwd.py is a symbolic link"),
        (lambda src: (src / "dangling.py").symlink_to(src / "nowhere"), "dangling.py is a symbolic link"),
        (lambda src: (src / "dir.py").mkdir(), "dir.py is not a regular file"),
    ],
)
def test_a_zip_takes_only_the_projects_own_regular_files(tmp_path: Path, make: Any, message: str) -> None:
    project.init(tmp_path)
    make(tmp_path / "lambda_src")
    with pytest.raises(UserError, match=message):
        package.build_all(tmp_path / "lambda_src")

"""Configs (YAML + ``--set`` overrides) and the ``bert2dnn`` CLI: one-line errors, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import Field

from bert2dnn_ray import cli
from bert2dnn_ray.config import Strict, apply_overrides, build, load_config, read_yaml, to_yaml
from bert2dnn_ray.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


class Inner(Strict):
    name: str
    batch_size: int = Field(32, ge=1)


class Outer(Strict):
    epochs: int = 3
    rate: float = 0.1
    tags: list[str] = Field(default_factory=list)
    items: list[Inner] = Field(default_factory=list)
    sub: Inner = Inner(name="default")


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# config.py


def test_load_config_yaml_and_overrides(tmp_path):
    p = _write(tmp_path / "c.yaml", {"epochs": 5, "items": [{"name": "a"}, {"name": "b", "batch_size": 8}]})
    cfg = load_config(Outer, p)
    assert cfg.epochs == 5 and cfg.rate == 0.1
    assert [(i.name, i.batch_size) for i in cfg.items] == [("a", 32), ("b", 8)]

    cfg = load_config(
        Outer,
        p,
        ["epochs=7", "rate=1e-3", "sub.batch_size=4", "items.1.batch_size=64", "tags=[x, y]", "sub.name= z "],
    )
    assert cfg.epochs == 7
    assert cfg.rate == pytest.approx(1e-3)  # YAML value: parsed as a float, not the string "1e-3"
    assert cfg.sub == Inner(name="z", batch_size=4)
    assert cfg.items[1].batch_size == 64 and cfg.items[0].batch_size == 32
    assert cfg.tags == ["x", "y"]
    # the file's data is never mutated by overrides
    assert read_yaml(p)["items"][1]["batch_size"] == 8


def test_load_config_without_file_uses_defaults():
    cfg = load_config(Outer, None, ["epochs=1"])
    assert cfg.epochs == 1 and cfg.sub.name == "default" and cfg.items == []


def test_overrides_are_applied_in_order_with_lists():
    data = {"items": [{"name": "a"}]}
    # a whole list first, then an item of it: the item override must see the new list
    out = apply_overrides(data, ["items=[{name: q}, {name: r}]", "items.1.batch_size=9"])
    assert out["items"] == [{"name": "q"}, {"name": "r", "batch_size": 9}]
    # and the other way round: the later whole-list value wins
    out = apply_overrides(data, ["items.0.batch_size=9", "items=[{name: q}]"])
    assert out["items"] == [{"name": "q"}]
    # the last index may be one past the end: append
    out = apply_overrides(data, ["items.1={name: b}", "tags.0=x"])
    assert out["items"] == [{"name": "a"}, {"name": "b"}] and out["tags"] == ["x"]
    assert data == {"items": [{"name": "a"}]}  # input untouched


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("epochs", "expected KEY=VALUE"),
        ("=3", "empty key"),
        ("sub..name=x", "empty key"),
        ("items.5.name=x", "index 5 out of range for 'items'"),
        ("items.name=x", "'items' is a list"),
        ("items.0.name.x=1", "'items.0.name' is not a section"),  # used to be a TypeError traceback
        ("epochs.x=1", "'epochs' is not a section"),
    ],
)
def test_bad_overrides_are_one_line_config_errors(override, fragment):
    with pytest.raises(ConfigError) as ei:
        apply_overrides({"epochs": 3, "items": [{"name": "a"}]}, [override])
    msg = str(ei.value)
    assert fragment in msg and override in msg and "\n" not in msg


def test_validation_errors_name_the_key_and_file(tmp_path):
    p = _write(tmp_path / "c.yaml", {"epochs": "many"})
    with pytest.raises(ConfigError) as ei:
        load_config(Outer, p)
    msg = str(ei.value)
    assert msg.startswith(f"{p}: ") and "key 'epochs'" in msg and "'many'" in msg and "\n" not in msg

    with pytest.raises(ConfigError, match=r"unknown key 'sub\.bogus'"):
        load_config(Outer, None, ["sub.bogus=1"])
    with pytest.raises(ConfigError, match=r"missing required key 'items\.0\.name'"):
        load_config(Outer, None, ["items=[{batch_size: 2}]"])
    with pytest.raises(ConfigError, match=r"key 'items\.0\.batch_size'.*greater than or equal to 1"):
        load_config(Outer, None, ["items=[{name: a}]", "items.0.batch_size=0"])
    with pytest.raises(ConfigError, match=r"^config: "):
        build(Outer, {"epochs": [1]})


def test_read_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        read_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml line \d+: not valid YAML"):
        read_yaml(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        read_yaml(top)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"epochs: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"binary\.yaml: cannot read config file"):  # was a traceback
        read_yaml(binary)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert read_yaml(empty) == {}


def test_to_yaml_round_trips():
    cfg = load_config(Outer, None, ["items=[{name: a}]", "rate=0.5"])
    assert Outer.model_validate(yaml.safe_load(to_yaml(cfg))) == cfg


# ------------------------------------------------------------------------------------------------
# cli.py (in process: fast)


def test_every_command_has_a_config_with_keys():
    for cmd in cli.COMMANDS:
        _, cls = cli._load(cmd)
        lines = cli.describe(cls)
        assert lines and all(line.startswith("  ") for line in lines)
    _, label_cls = cli._load("label")
    text = "\n".join(cli.describe(label_cls))
    assert "num_actors (int; default 1)" in text
    assert "temperatures (list[float]; default [1.0, 2.0])" in text
    assert "stack.method (mean|weighted|logreg; default 'mean')" in text


def test_cli_print_config_applies_list_overrides(tmp_path, capsys):
    p = _write(
        tmp_path / "label.yaml",
        {"teachers": [{"name": "a", "path": "/m/a"}, {"name": "b", "path": "/m/b"}], "temperatures": [1.0]},
    )
    rc = cli.main(
        [
            "label",
            "--config",
            str(p),
            "--set",
            "teachers.0.batch_size=64",
            "-s",
            "num_actors=3",
            "--set",
            "temperatures.1=4",
            "--address",
            "ray://head:10001",
            "--print-config",
        ]
    )
    assert rc == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert [t["batch_size"] for t in out["teachers"]] == [64, 128]
    assert out["num_actors"] == 3 and out["temperatures"] == [1.0, 4.0]
    assert out["address"] == "ray://head:10001"


def test_cli_address_is_ignored_by_stages_without_ray(capsys):
    # evaluate/export have no `address` key; --address used to make them fail with "unknown key"
    assert cli.main(["export", "--address", "auto", "--set", "onnx=false", "--print-config"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["onnx"] is False and "address" not in out


def test_cli_config_error_is_one_line_exit_2(tmp_path, capsys):
    assert cli.main(["train", "--set", "epochs=zero"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bert2dnn train: error: ") and "'epochs'" in err[0]


def test_cli_output_that_cannot_be_created_is_one_line_exit_2(tmp_path, capsys):
    """Was a traceback and exit 1: an output directory under a file cannot be created."""
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    args = ["--set", f"input={tmp_path}", "--set", f"output_dir={blocker}/out", "--set", "variants=1"]
    assert cli.main(["augment", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a_file/out: cannot create the output directory" in err[0], err


def test_cli_other_os_errors_are_one_line(monkeypatch, capsys):
    from bert2dnn_ray import augment

    def full(cfg):
        raise OSError(28, "No space left on device", "/runs/x/part-0.parquet")

    monkeypatch.setattr(augment, "run", full)
    assert cli.main(["augment"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bert2dnn augment: error: [Errno 28] No space left on device: '/runs/x/part-0.parquet'"]


# ------------------------------------------------------------------------------------------------
# cli through a subprocess (python -m bert2dnn_ray): each costs ~1-2 s of imports, so few.


def _bert2dnn(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bert2dnn_ray", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def label_yaml(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cli") / "label.yaml"
    return _write(p, {"teachers": [{"name": "a", "path": "/m/a"}], "num_actors": 2})


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--set", "bogus_key=1"], "unknown key 'bogus_key'"),
        (["--set", "num_actors=lots"], "key 'num_actors'"),
        (["--set", "teachers.0.batch_size=big"], "key 'teachers.0.batch_size'"),
        (["--set", "num_actors"], "--set 'num_actors'"),
        (["--config", "/nonexistent/dir/cfg.yaml"], "/nonexistent/dir/cfg.yaml"),
        (["--set", "temperatures=[0]"], "every temperature must be > 0"),
        (["--set", "temperatures=[2, -1]"], "every temperature must be > 0"),
    ],
)
def test_cli_subprocess_errors(label_yaml, args, fragment):
    if "--config" not in args:
        args = ["--config", str(label_yaml), *args]
    r = _bert2dnn("label", *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and fragment in lines[0]
    assert r.stdout == ""


def test_cli_subprocess_print_config(label_yaml):
    r = _bert2dnn(
        "label",
        "-c",
        str(label_yaml),
        "--set",
        "teachers.0.batch_size=64",
        "--set",
        "chunk_rows=10",
        "--print-config",
    )
    assert r.returncode == 0, r.stderr
    out = yaml.safe_load(r.stdout)
    assert out["teachers"][0] == {
        "name": "a",
        "path": "/m/a",
        "max_length": 128,
        "batch_size": 64,
        "dtype": "auto",
        "weight": 1.0,
        "batch_invariant": False,
    }
    assert out["chunk_rows"] == 10 and out["num_actors"] == 2


def test_cli_subprocess_help_lists_config_keys():
    r = _bert2dnn("label", "--help")
    assert r.returncode == 0, r.stderr
    for key in (
        "num_actors",
        "temperatures",
        "teachers",
        "stack.method",
        "chunk_rows",
        "--set",
        "--print-config",
        "teachers.N.max_length (int; default 128)",  # a list's items are described key by key
        "teachers.N.dtype (auto|fp32|bf16|fp16",
    ):
        assert key in r.stdout, key


def test_changed_settings_compares_nested_settings_key_by_key():
    from bert2dnn_ray.rundir import changed_settings

    old = {"epochs": 3, "model": {"embedding_dim": 64, "hidden": [8]}}
    # A key new since the output was written (model.encoder) is not a change; a changed one is
    # named by its path.
    new = {"epochs": 3, "model": {"embedding_dim": 64, "hidden": [8], "encoder": "bag"}, "seed": 1}
    assert changed_settings(old, new) == []
    new["model"]["hidden"] = [16]
    assert changed_settings(old, new) == [("model.hidden", [8], [16])]
    assert changed_settings({"model": None}, {"model": {"a": 1}}) == [("model", None, {"a": 1})]

"""``pipeline.resolve``: every stage's paths filled under <runs_dir>/<name>, user values kept (no running)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bert2dnn_ray.config import load_config
from bert2dnn_ray.errors import ConfigError
from bert2dnn_ray.pipeline import STAGES, PipelineConfig, resolve
from bert2dnn_ray.synthetic import label_names

ROOT = Path(__file__).resolve().parents[1]


def _cfg(tmp_path: Path, *overrides: str) -> PipelineConfig:
    return load_config(PipelineConfig, None, [f"runs_dir={tmp_path / 'runs'}", "name=exp", *overrides])


def test_defaults_fill_every_stage_under_the_run_dir(tmp_path):
    cfg = _cfg(tmp_path)
    r = resolve(cfg)
    run = tmp_path / "runs" / "exp"
    data = run / "data"
    assert r["run_dir"] == str(run)
    assert r["data"].output_dir == str(data) and r["data"].source == "synthetic"

    ft = r["finetune"]
    assert (ft.train, ft.dev, ft.output_dir) == (
        str(data / "train.parquet"),
        str(data / "dev.parquet"),
        str(run / "teachers"),
    )
    names = label_names(cfg.data.synthetic.task)
    assert ft.label_names == names

    lb = r["label"]
    assert lb.input == str(data / "unlabeled.parquet") and lb.output_dir == str(run / "soft_labels")
    assert [(t.name, t.path) for t in lb.teachers] == [
        (t.name, str(run / "teachers" / t.name)) for t in ft.teachers
    ]
    assert [t.max_length for t in lb.teachers] == [t.max_length for t in ft.teachers]
    assert lb.columns.id == "id"  # the synthetic unlabeled set has an id column

    tr = r["train"]
    assert tr.soft_labels == str(run / "soft_labels") and tr.dev == str(data / "dev.parquet")
    assert tr.output_dir == str(run / "student")
    assert (
        tr.run.storage_path == str((run / "_checkpoints").resolve())
        and Path(tr.run.storage_path).is_absolute()
    )
    assert tr.label_names == names

    ev = r["evaluate"]
    assert ev.test == str(data / "test.parquet") and ev.student == str(run / "student")
    assert ev.output == str(run / "eval.json") and ev.teachers == lb.teachers

    ex = r["export"]
    assert ex.student == str(run / "student") and ex.output_dir == str(run / "export")

    # every path-like value of every stage lies under the run directory
    for stage in STAGES:
        section = r[stage]
        for key in ("train", "dev", "test", "input", "output_dir", "soft_labels", "student", "output"):
            value = getattr(section, key, None)
            if isinstance(value, str):
                assert Path(value).resolve().is_relative_to(run.resolve()), (stage, key, value)
    assert not (tmp_path / "runs").exists()  # resolve() creates nothing


def test_query_title_task_uses_pair_columns(tmp_path):
    r = resolve(_cfg(tmp_path, "data.synthetic.task=query_title"))
    cols = r["finetune"].columns
    assert (cols.text, cols.pair) == ("query", "title")
    assert (r["label"].columns.text, r["label"].columns.pair, r["label"].columns.id) == (
        "query",
        "title",
        "id",
    )
    assert (r["train"].columns.text, r["train"].columns.pair) == ("query", "title")
    assert r["train"].dev_columns.pair == "title" and r["evaluate"].columns.pair == "title"


def test_user_values_are_kept(tmp_path):
    cfg = _cfg(
        tmp_path,
        "data.output_dir=/data/gen",
        "finetune.output_dir=/models/t",
        "finetune.columns={text: q, label: y}",
        "label.output_dir=/soft",
        "label.teachers=[{name: big, path: /hub/big, batch_size: 8}]",
        "label.stack.method=logreg",
        "train.output_dir=/stu",
        "train.dev=/my/dev.parquet",
        "evaluate.output=/e.json",
        "export.output_dir=/served",
        "address=ray://head:10001",
    )
    r = resolve(cfg)
    assert r["data"].output_dir == "/data/gen"
    assert r["finetune"].output_dir == "/models/t"
    assert (r["finetune"].columns.text, r["finetune"].columns.label) == ("q", "y")
    assert r["label"].output_dir == "/soft" and r["train"].soft_labels == "/soft"
    assert [(t.name, t.path, t.batch_size) for t in r["label"].teachers] == [("big", "/hub/big", 8)]
    assert r["evaluate"].teachers == r["label"].teachers
    # a logreg stacker is fitted on the dev set unless one is given
    assert r["label"].stack.dev == str(tmp_path / "runs" / "exp" / "data" / "dev.parquet")
    assert r["train"].output_dir == "/stu" and r["train"].dev == "/my/dev.parquet"
    assert r["evaluate"].student == "/stu" and r["export"].student == "/stu"
    assert r["evaluate"].output == "/e.json" and r["export"].output_dir == "/served"
    for stage in ("finetune", "label", "train"):
        assert r[stage].address == "ray://head:10001"
    # the input config is not modified
    assert cfg.label.input is None and cfg.train.soft_labels is None


def test_files_source(tmp_path):
    files = ["data.source=files", "data.train=/d/train.tsv", "data.dev=/d/dev.tsv", "data.test=/d/test.tsv"]
    with pytest.raises(ConfigError) as ei:
        resolve(_cfg(tmp_path, *files))
    assert "data.unlabeled" in str(ei.value) and "\n" not in str(ei.value)

    cfg = _cfg(
        tmp_path,
        *files,
        "data.unlabeled=/d/unlabeled/*.txt",
        "data.columns={text: sentence, label: label}",
        "data.label_names=[neg, pos]",
    )
    r = resolve(cfg)
    assert r["data"].source == "files"
    assert (r["finetune"].train, r["finetune"].dev) == ("/d/train.tsv", "/d/dev.tsv")
    assert r["finetune"].columns.text == "sentence" and r["finetune"].label_names == ["neg", "pos"]
    assert r["label"].input == "/d/unlabeled/*.txt"
    assert r["label"].columns.text == "sentence" and r["label"].columns.id is None
    assert r["evaluate"].test == "/d/test.tsv"
    assert r["train"].label_names == ["neg", "pos"]
    # outputs still go under the run directory
    assert r["label"].output_dir == str(tmp_path / "runs" / "exp" / "soft_labels")


def test_smoke_config_validates():
    cfg = load_config(PipelineConfig, ROOT / "jobs" / "configs" / "smoke.yaml")
    assert cfg.name == "smoke" and cfg.stages == list(STAGES)
    assert cfg.data.synthetic.task == "query_category" and cfg.data.synthetic.num_unlabeled == 12000
    assert [t.name for t in cfg.finetune.teachers] == ["minilm"] and cfg.finetune.teachers[0].max_length == 32
    assert cfg.label.temperatures == [1.0, 2.0] and cfg.label.teachers == []
    assert cfg.train.model.hidden == [256, 128, 64] and cfg.train.featurizer.num_buckets == 131072
    r = resolve(cfg)
    assert r["run_dir"] == str(Path("runs", "smoke"))
    assert r["label"].teachers[0].path == str(Path("runs", "smoke", "teachers", "minilm"))
    assert r["train"].temperature in r["label"].temperatures  # the student's target column will exist


def test_runs_dir_uri_fills_every_stage_with_uris():
    """runs_dir on shared object storage: every stage's paths (and Ray Train's storage) are URIs."""
    cfg = load_config(PipelineConfig, None, ["runs_dir=s3://bucket/runs", "name=exp"])
    r = resolve(cfg)
    run = "s3://bucket/runs/exp"
    assert r["run_dir"] == run
    assert r["data"].output_dir == f"{run}/data"
    assert r["finetune"].train == f"{run}/data/train.parquet"
    assert r["finetune"].output_dir == f"{run}/teachers"
    assert [t.path for t in r["label"].teachers] == [f"{run}/teachers/minilm"]
    assert (r["label"].input, r["label"].output_dir) == (
        f"{run}/data/unlabeled.parquet",
        f"{run}/soft_labels",
    )
    assert (r["train"].output_dir, r["train"].run.storage_path) == (f"{run}/student", f"{run}/_checkpoints")
    assert (r["evaluate"].output, r["export"].output_dir) == (f"{run}/eval.json", f"{run}/export")


def test_augment_section_adds_copies_and_a_second_soft_label_set(tmp_path):
    none = resolve(_cfg(tmp_path))
    assert none["augment"] is None and none["label_augmented"] is None
    r = resolve(_cfg(tmp_path, "augment.variants=3"))
    run, data = tmp_path / "runs" / "exp", tmp_path / "runs" / "exp" / "data"
    aug = r["augment"]
    assert aug.variants == 3 and aug.input == str(data / "train.parquet")
    assert aug.output_dir == str(run / "augmented")
    assert aug.exclude == [str(data / "dev.parquet"), str(data / "test.parquet")]  # never a dev/test text
    al = r["label_augmented"]
    assert al.input == str(run / "augmented" / "data") and al.output_dir == str(run / "soft_augmented")
    assert (al.columns.text, al.columns.id, al.keep_columns) == ("text", "id", [])
    assert al.teachers == r["label"].teachers and al.temperatures == r["label"].temperatures
    assert r["train"].soft_labels == [str(run / "soft_labels"), str(run / "soft_augmented")]
    pairs = resolve(_cfg(tmp_path, "augment.variants=2", "data.synthetic.task=query_title"))
    assert (pairs["augment"].columns.text, pairs["augment"].columns.pair) == ("query", "title")
    assert pairs["label_augmented"].columns.pair == "title"
    with pytest.raises(ConfigError, match=r"augment: .*\('query', None\); name them alike"):
        resolve(_cfg(tmp_path, "augment.variants=2", "data.unlabeled_columns.text=query"))


def test_teacher_specs_from_finetune():
    """One conversion of fine-tuned teachers to label/evaluate specs: the pipeline's (each teacher's
    training max_length) and the SST-2 recipe's (the label section's keys over every teacher)."""
    from bert2dnn_ray.teacher import FinetuneConfig
    from bert2dnn_ray.teachers import specs_from_finetune

    ft = FinetuneConfig.model_validate(
        {
            "output_dir": "runs/t",
            "teachers": [{"name": "a", "max_length": 64}, {"name": "b", "max_length": 32}],
        }
    )
    specs = specs_from_finetune(ft)
    assert [(s.name, s.path, s.max_length, s.batch_size, s.dtype) for s in specs] == [
        ("a", str(Path("runs/t/a")), 64, 128, "auto"),
        ("b", str(Path("runs/t/b")), 32, 128, "auto"),
    ]
    over = specs_from_finetune(ft, {"max_length": 128, "batch_size": 16, "dtype": "bf16"})
    assert [(s.path, s.max_length, s.batch_size, s.dtype) for s in over] == [
        (str(Path("runs/t/a")), 128, 16, "bf16"),
        (str(Path("runs/t/b")), 128, 16, "bf16"),
    ]
    uri = FinetuneConfig.model_validate({"output_dir": "s3://bucket/t"})
    assert [s.path for s in specs_from_finetune(uri)] == ["s3://bucket/t/minilm"]

"""The whole pipeline: data → teachers → (augment) → soft labels → student → evaluation → export.

Each stage's section is that stage's own config; paths left unset are filled in under the run
directory ``<runs_dir>/<name>/``. Stages that already finished are skipped, so running the
same command again resumes where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from . import augment as augment_mod
from . import data as data_mod
from . import evaluate as evaluate_mod
from . import export as export_mod
from . import io
from . import label as label_mod
from . import stages as registry
from . import teacher as teacher_mod
from .config import Strict
from .errors import ConfigError
from .progress import log
from .student import train as train_mod
from .synthetic import label_names
from .synthetic import stage as data_stage
from .teachers import specs_from_finetune

STAGES = registry.PIPELINE_STEPS


class DataSection(data_stage.DataConfig):
    """Where the pipeline's data comes from: generated (synthetic) or your own files."""

    train: str | None = Field(None, description="labeled training set (source=files)")
    dev: str | None = Field(None, description="labeled dev set (source=files)")
    test: str | None = Field(None, description="held-out labeled test set (source=files)")
    unlabeled: str | None = Field(None, description="unlabeled transfer set (source=files)")
    columns: data_mod.Columns = data_mod.Columns()
    unlabeled_columns: data_mod.Columns | None = Field(
        None, description="columns of the unlabeled set (default: columns)"
    )
    label_names: list[str] | None = None


class PipelineConfig(Strict):
    name: str = Field("default", description="run name: outputs go to <runs_dir>/<name>/")
    runs_dir: str = Field(
        "runs", description="local/shared path, or a URI (s3://, gs://) every node can reach"
    )
    address: str | None = Field(None, description="Ray cluster address (default RAY_ADDRESS or local)")
    stages: list[Literal[registry.PIPELINE_STEPS]] = Field(
        default_factory=lambda: list(STAGES), description="stages to run, in pipeline order"
    )
    data: DataSection = DataSection()
    finetune: teacher_mod.FinetuneConfig = teacher_mod.FinetuneConfig()
    augment: augment_mod.AugmentConfig | None = Field(
        None,
        description="perturbed copies of the labeled train set (never a dev or test text), soft-labeled "
        "like the unlabeled set; the student trains on both. null: none (the augment stage is skipped)",
    )
    label: label_mod.LabelConfig = label_mod.LabelConfig()
    train: train_mod.TrainConfig = train_mod.TrainConfig()
    evaluate: evaluate_mod.EvalConfig = evaluate_mod.EvalConfig()
    export: export_mod.ExportConfig = export_mod.ExportConfig()


def _fill(section: Strict, **defaults: Any) -> Any:
    """Copy of ``section`` with every field that is unset (None / empty) given ``defaults``."""
    update = {k: v for k, v in defaults.items() if getattr(section, k) in (None, [], {})}
    return section.model_validate({**section.model_dump(), **update})


def _augment_stages(
    cfg: PipelineConfig,
    run_dir: str,
    paths: dict[str, str],
    cols: data_mod.Columns,
    lb: label_mod.LabelConfig,
) -> tuple[augment_mod.AugmentConfig | None, label_mod.LabelConfig | None]:
    """The augment stage's config and the label config of its output (None, None: no augment)."""
    if cfg.augment is None:
        return None, None
    aug = _fill(
        cfg.augment,
        input=paths["train"],
        output_dir=io.join(run_dir, "augmented"),
        exclude=[paths["dev"], paths["test"]],
    )
    if "columns" not in cfg.augment.model_fields_set:
        aug = aug.model_copy(update={"columns": data_mod.Columns(text=cols.text, pair=cols.pair, id=cols.id)})
    have = (aug.columns.text, aug.columns.pair)
    if have != (lb.columns.text, lb.columns.pair):
        raise ConfigError(
            f"augment: the copies have the labeled set's text columns {have} but the unlabeled set's are "
            f"{(lb.columns.text, lb.columns.pair)}; name them alike (data.unlabeled_columns) so that the "
            "student trains on both"
        )
    aug_lb = lb.model_copy(
        update={
            "input": io.join(aug.output_dir, "data"),
            "output_dir": io.join(run_dir, "soft_augmented"),
            "columns": data_mod.Columns(text=aug.columns.text, pair=aug.columns.pair, id="id"),
            "keep_columns": [],
        }
    )
    return aug, aug_lb


def resolve(cfg: PipelineConfig) -> dict[str, Any]:
    """Fill every stage config's paths from the run directory; return them by stage."""
    # A local path or a URI (s3://, gs://) that every node of the cluster can reach.
    run_dir = io.join(cfg.runs_dir, cfg.name)
    d = cfg.data
    if d.source == "synthetic":
        data_dir = io.join(run_dir, "data")
        paths = {k: io.join(data_dir, f"{k}.parquet") for k in ("train", "dev", "test", "unlabeled")}
        scfg = d.synthetic
        names = d.label_names or label_names(scfg.task)
        cols = (
            d.columns
            if "columns" in d.model_fields_set
            else (
                data_mod.Columns(text="query", pair="title")
                if scfg.task == "query_title"
                else data_mod.Columns()
            )
        )
        data_cfg = d.model_copy(update={"output_dir": d.output_dir or data_dir})
    else:
        # Each step needs its own files: a daily run (label, train, evaluate, export) has no train set.
        needs = {
            "finetune": ("train", "dev"),
            "label": ("unlabeled",),
            "train": ("dev",),
            "evaluate": ("test",),
        }
        wanted = [k for step in cfg.stages for k in needs.get(step, ())]
        if cfg.export.gate is not None and cfg.export.gate.baseline and "export" in cfg.stages:
            wanted.append("test")
        missing = [k for k in ("train", "dev", "test", "unlabeled") if k in wanted and not getattr(d, k)]
        if missing:
            raise ConfigError(f"data.{missing[0]} is required when data.source is 'files'")
        paths = {k: getattr(d, k) for k in ("train", "dev", "test", "unlabeled")}
        names, cols, data_cfg = d.label_names, d.columns, d
    ucols = d.unlabeled_columns or cols.model_copy(
        update={"id": "id" if d.source == "synthetic" else cols.id}
    )

    ft = _fill(
        cfg.finetune,
        train=paths["train"],
        dev=paths["dev"],
        output_dir=io.join(run_dir, "teachers"),
        label_names=names,
        address=cfg.address,
    )
    if "columns" not in cfg.finetune.model_fields_set:
        ft = ft.model_copy(update={"columns": cols})
    lb = _fill(
        cfg.label,
        input=paths["unlabeled"],
        output_dir=io.join(run_dir, "soft_labels"),
        teachers=specs_from_finetune(ft),
        address=cfg.address,
    )
    if "columns" not in cfg.label.model_fields_set:
        lb = lb.model_copy(update={"columns": ucols})
    if lb.stack.method == "logreg" and not lb.stack.dev:
        lb = lb.model_copy(update={"stack": lb.stack.model_copy(update={"dev": paths["dev"]})})
    aug, aug_lb = _augment_stages(cfg, run_dir, paths, cols, lb)
    tr = _fill(
        cfg.train,
        soft_labels=lb.output_dir if aug_lb is None else [lb.output_dir, aug_lb.output_dir],
        dev=paths["dev"],
        output_dir=io.join(run_dir, "student"),
        label_names=names,
        address=cfg.address,
    )
    checkpoints = (
        io.join(run_dir, "_checkpoints")
        if io.is_uri(run_dir)
        else str(Path(run_dir, "_checkpoints").resolve())
    )
    tr = tr.model_copy(update={"run": _fill(tr.run, storage_path=checkpoints)})
    if "columns" not in cfg.train.model_fields_set:
        tr = tr.model_copy(
            update={
                "columns": data_mod.Columns(text=lb.columns.text, pair=lb.columns.pair),
                "dev_columns": cols,
            }
        )
    ev = _fill(
        cfg.evaluate,
        test=paths["test"],
        teachers=lb.teachers,
        student=tr.output_dir,
        soft_labels=lb.output_dir,
        output=io.join(run_dir, "eval.json"),
    )
    if "columns" not in cfg.evaluate.model_fields_set:
        ev = ev.model_copy(update={"columns": cols})
    ex = _fill(cfg.export, student=tr.output_dir, output_dir=io.join(run_dir, "export"))
    if ex.gate is not None:
        gate = _fill(ex.gate, test=paths["test"])
        if "columns" not in ex.gate.model_fields_set:
            gate = gate.model_copy(update={"columns": cols})
        ex = ex.model_copy(update={"gate": gate})
    return {
        "run_dir": run_dir,
        "data": data_cfg,
        "finetune": ft,
        "augment": aug,
        "label": lb,
        "label_augmented": aug_lb,
        "train": tr,
        "evaluate": ev,
        "export": ex,
    }


def run(cfg: PipelineConfig) -> dict[str, Any]:
    stages = resolve(cfg)
    run_dir: str = stages["run_dir"]
    from .config import to_yaml

    io.write_text(io.join(run_dir, "pipeline.yaml"), to_yaml(cfg))
    log("pipeline", f"run '{cfg.name}' -> {run_dir} (stages: {', '.join(cfg.stages)})")
    # Each step's configs, run in order; a step with none has nothing to do in this run.
    todo: dict[str, list[tuple[str, Any]]] = {
        "data": [("data", stages["data"])] if cfg.data.source == "synthetic" else [],
        "augment": [("augment", stages["augment"])] if stages["augment"] is not None else [],
        "label": [("label", stages["label"])]
        + ([("label_augmented", stages["label_augmented"])] if stages["label_augmented"] is not None else []),
    }
    results: dict[str, Any] = {}
    t_all = time.perf_counter()
    for step in registry.PIPELINE_STEPS:
        if step not in cfg.stages:
            continue
        t0 = time.perf_counter()
        log("pipeline", f"== {step} ==")
        runs = todo.get(step, [(step, stages[step])])
        if not runs:
            log("pipeline", f"no {step} section: nothing to do")
        mod, _ = registry.BY_NAME[step].load()
        for key, step_cfg in runs:
            results[key] = mod.run(step_cfg)
        log("pipeline", f"{step} finished in {time.perf_counter() - t0:.1f}s")
    log("pipeline", f"all stages finished in {time.perf_counter() - t_all:.1f}s; outputs in {run_dir}")
    return results

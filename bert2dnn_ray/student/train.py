"""Student training, the driver: check the inputs, fit the student data-parallel with Ray Train, save
the best epoch as a servable artifact.

``run(TrainConfig)``: the soft labels and the dev set are checked first (:mod:`.inputs`); a finished
student made with the same recipe is returned as it is, one made with another is refused
(:mod:`bert2dnn_ray.rundir`). Every worker runs :func:`.loop.train_loop` on its shard (the loss,
:mod:`.loss`). At the end the best epoch (by dev accuracy) is written to ``output_dir``
(:mod:`.artifact`); running the same config again after a kill resumes from the last checkpoint.
"""

from __future__ import annotations

import os
from typing import Any

from .. import data as data_mod
from .. import io
from ..errors import ConfigError
from ..featurizer import FeaturizerConfig
from ..progress import log
from ..rundir import changed_settings, fresh_run, mark_done, skip_if_done
from ..runtime import init_ray, torch_threads, torch_trainer
from . import inputs, resume
from .config import RunOptions, TrainConfig, settings
from .loop import train_loop

__all__ = ["RunOptions", "TrainConfig", "run"]


def _check_init(cfg: TrainConfig, num_labels: int) -> None:
    """``init_from`` must be a student of this run's shape: same featurizer, network and classes."""
    from .artifact import read_meta

    _, meta = read_meta(cfg.init_from)

    def flat(fcfg: FeaturizerConfig, mcfg: Any) -> dict[str, Any]:
        return {**{f"featurizer.{k}": v for k, v in fcfg.model_dump().items()}, **mcfg.model_dump()}

    have = flat(meta["featurizer"], meta["model"])
    want = flat(cfg.featurizer, cfg.model.model_copy(update={"num_labels": num_labels}))
    want.pop("dropout")  # a training setting, not a shape
    diff = [f"{k}: {a!r} there, {b!r} here" for k, a, b in changed_settings(have, want)]
    if diff:
        raise ConfigError(f"train.init_from: {cfg.init_from} is another shape of student ({'; '.join(diff)})")


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Train the student on ``soft_labels``; save the best epoch to ``output_dir``."""
    import ray.train
    from safetensors.torch import load_file

    from .artifact import save_student
    from .model import StudentNet

    if not cfg.soft_labels:
        raise ConfigError("train.soft_labels is required (output_dir of the label stage)")
    if not cfg.output_dir:
        raise ConfigError("train.output_dir is required")
    done = skip_if_done("train", cfg.output_dir, settings(cfg), force=cfg.force, record="metrics.json")
    if done is not None:
        return done
    src = inputs.find(cfg)
    num_labels = src.num_labels
    dev = None
    if cfg.dev:
        d = data_mod.load_labeled(cfg.dev, cfg.dev_columns or cfg.columns, num_labels)
        dev = {"texts": d.texts, "pairs": d.pairs, "labels": d.labels.tolist()}
    label_names = cfg.label_names or src.manifest.get("label_names") or [str(i) for i in range(num_labels)]
    if len(label_names) != num_labels:
        raise ConfigError(f"train.label_names has {len(label_names)} names for {num_labels} classes")
    if cfg.init_from:
        _check_init(cfg, num_labels)
    io.make_dirs(io.parent(cfg.output_dir))

    init_ray(cfg.address)
    opts = cfg.run
    storage = opts.storage_path or io.join(io.parent(cfg.output_dir), "_checkpoints")
    if "://" not in storage:
        storage = os.path.abspath(storage)
    if cfg.force:
        fresh_run(storage, opts.run_name)
    ds, cached = inputs.dataset(cfg, src)
    # Deterministic input: the same blocks reach the same worker in the same order on every run,
    # so a resumed epoch skips exactly the batches it trained before the failure, and two runs
    # of one config see the same data. (Locality-aware sharding would trade that for less
    # cross-node traffic; the student's rows are small.)
    datasets, resume_at = {"train": ds}, None
    if not cached:  # streamed and resumed mid-epoch: the epoch's files trained before are skipped
        at = resume.point(io.join(storage, opts.run_name))
        left = inputs.remaining(cfg, src, at, cfg.num_workers) if at else None
        if left is not None:
            datasets["resume"], resume_at = left
    ingest = ray.train.DataConfig.default_ingest_options()
    ingest.preserve_order = True
    threads = torch_threads(opts.torch_threads)
    if not opts.use_gpu:
        threads = max(1, threads // cfg.num_workers)
    trainer = torch_trainer(
        train_loop,
        {
            "cfg": cfg.model_dump(),
            "num_labels": num_labels,
            "rows": src.rows,
            "soft_col": src.soft_col,
            "soft_temperature": src.soft_temperature,
            "dev": dev,
            "threads": threads,
            "resume": resume_at,
            # Workers run in another directory: a local path is made absolute.
            "init_from": cfg.init_from
            and (cfg.init_from if io.is_uri(cfg.init_from) else os.path.abspath(cfg.init_from)),
        },
        name=opts.run_name,
        storage_path=storage,
        num_workers=cfg.num_workers,
        use_gpu=opts.use_gpu,
        cpus_per_worker=opts.cpus_per_worker,
        keep_checkpoints=opts.keep_checkpoints,
        max_failures=opts.max_failures,
        datasets=datasets,
        dataset_config=ray.train.DataConfig(execution_options=ingest, enable_shard_locality=False),
    )
    log(
        "train",
        f"student: {src.rows} soft-labeled rows ({src.soft_col}"
        + (f" / T={src.soft_temperature:g}, softmaxed" if src.from_logits else "")
        + f"), {num_labels} classes, {cfg.epochs} epochs, "
        f"{cfg.num_workers} worker(s), buckets {cfg.featurizer.num_buckets}",
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError("student training produced no checkpoint")
    with result.checkpoint.as_directory() as d:
        state = io.read_json(os.path.join(d, "state.json"))
        bp = os.path.join(d, "best.safetensors")
        weights = load_file(bp if os.path.exists(bp) else os.path.join(d, "model.safetensors"))
    mcfg = cfg.model.model_copy(update={"num_labels": num_labels})
    model = StudentNet(mcfg, cfg.featurizer.num_buckets)
    model.load_state_dict(weights)
    best = state["history"][state["best_epoch"]] if state["best_epoch"] >= 0 else state["history"][-1]
    metrics = {
        "best_epoch": state["best_epoch"],
        "best": best,
        "history": state["history"],
        "global_step": state["global_step"],
        "resumed_at_steps": state.get("resumed_at_steps", []),
        "resume_skipped": state.get("resume_skipped", []),
        "soft_label_column": src.soft_col,
        "soft_label_temperature": src.soft_temperature,
        "train_rows": src.rows,
        "cached_in_object_store": cached,
        "settings": settings(cfg),
    }
    with io.staged_dir(cfg.output_dir) as local_out:  # a URI output is written here, then uploaded
        save_student(
            local_out,
            model.eval(),
            cfg.featurizer,
            mcfg,
            label_names,
            metrics=metrics,
            extra={
                "text_columns": {"text": cfg.columns.text, "pair": cfg.columns.pair},
                "temperature": cfg.temperature,
                "target": cfg.target,
            },
        )
    mark_done(cfg.output_dir, {"dev_accuracy": best.get("dev_accuracy")})
    if opts.prune_checkpoints:
        fresh_run(storage, opts.run_name)
        log("train", f"student: pruned the run's checkpoints under {io.join(storage, opts.run_name)}")
    log(
        "train",
        f"student: best epoch {state['best_epoch'] + 1}, dev accuracy {best.get('dev_accuracy', float('nan')):.4f}, "
        f"{state['global_step']} steps -> {cfg.output_dir}",
    )
    return metrics

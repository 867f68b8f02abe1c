"""The label stage's driver: check, plan, run the actor pool over the unfinished chunks, commit.

``run(cfg)`` is resumable and idempotent: a complete output made with the same settings is returned
as it is; one made with other settings is refused (``force: true`` starts over); a partial one is
resumed, its committed chunks skipped. One run at a time holds the output (:mod:`.lease`).
"""

from __future__ import annotations

import posixpath
import time
from typing import Any

from .. import io, softlabels
from ..data import load_labeled
from ..errors import ConfigError
from ..progress import log
from ..rundir import refuse_other_settings, skip_if_done
from ..stacking import fit_logreg, mean, weighted
from ..teachers import TeacherRunner, model_num_labels
from . import dedup
from .actor import ATTEMPT
from .config import LabelConfig, settings
from .lease import Lease
from .manifest import commit_manifest, summarize
from .plan import PLAN, SIGNATURE, check_columns, chunks_of, load_or_make
from .pool import label_chunks

SETTINGS = "_settings.json"
# What a labeling run writes under its output directory (``force`` removes exactly these).
OUTPUTS = (
    softlabels.DATA_DIR,
    softlabels.QUARANTINE_DIR,
    "_chunks",
    "_dedup",
    ATTEMPT,
    softlabels.MANIFEST,
    softlabels.STACKER,
    SIGNATURE,
    PLAN,
    SETTINGS,
    "_SUCCESS.json",
)


def validate(cfg: LabelConfig) -> int:
    """Everything that can be checked before work starts; returns the number of classes."""
    if not cfg.input:
        raise ConfigError("label.input is required (unlabeled texts)")
    if not cfg.output_dir:
        raise ConfigError("label.output_dir is required")
    if not cfg.teachers:
        raise ConfigError("label.teachers: at least one teacher is required")
    if cfg.store and cfg.dedup == "none":
        raise ConfigError(
            "label.store looks up each distinct text: set label.dedup to join (one output row per input row) "
            "or distinct (one per distinct text)"
        )
    names = [t.name for t in cfg.teachers]
    if len(set(names)) != len(names) or softlabels.STACKED in names:
        raise ConfigError(f"label.teachers: names must be unique and not 'stacked' (got {names})")
    ks = {t.name: model_num_labels(t, cfg.trust_remote_code) for t in cfg.teachers}
    if len(set(ks.values())) != 1:
        raise ConfigError(f"label.teachers: teachers disagree on the number of classes {ks}")
    return next(iter(ks.values()))


def fit_stacker(cfg: LabelConfig, num_labels: int) -> dict[str, Any]:
    names = [t.name for t in cfg.teachers]
    if cfg.stack.method == "mean":
        return mean(names)
    if cfg.stack.method == "weighted":
        return weighted(names, [t.weight for t in cfg.teachers])
    if not cfg.stack.dev:
        raise ConfigError("label.stack.dev is required for stack.method=logreg (a labeled dev set)")
    cols = cfg.columns.model_copy(update={"label": cfg.stack.label_column})
    dev = load_labeled(cfg.stack.dev, cols, num_labels)
    log("label", f"fitting logreg stacker on {len(dev)} dev rows")
    feats = [
        TeacherRunner(t, "cpu", cfg.trust_remote_code).logits(dev.texts, dev.pairs)[0] for t in cfg.teachers
    ]
    stacker = fit_logreg(names, feats, dev.labels, cfg.stack.C)
    cv = stacker["cv_accuracy"]
    log(
        "label",
        "logreg stacker: "
        + (
            f"{cv:.4f} accuracy on held-out folds ({stacker['cv_folds']}-fold)"
            if cv is not None
            else "too few dev rows per class to cross-validate"
        )
        + f"; {stacker['fit_accuracy']:.4f} on the rows it was fitted on",
    )
    return stacker


def _stacker(cfg: LabelConfig, num_labels: int) -> dict[str, Any]:
    path = io.join(cfg.output_dir, softlabels.STACKER)
    if io.exists(path):
        return io.read_json(path)
    stacker = fit_stacker(cfg, num_labels)
    io.write_json(path, stacker)
    return stacker


def _clear(output_dir: str) -> None:
    """Remove what a labeling run wrote under ``output_dir`` (``force``), nothing else."""
    import pyarrow.fs as pafs

    fs, root = io.filesystem(output_dir)
    for name in OUTPUTS:
        path = posixpath.join(root, name)
        kind = fs.get_file_info(path).type
        if kind == pafs.FileType.Directory:
            fs.delete_dir(path)
        elif kind == pafs.FileType.File:
            fs.delete_file(path)


def _start(cfg: LabelConfig) -> None:
    """A fresh output records its settings; a partial one must have been started with the same."""
    path = io.join(cfg.output_dir, SETTINGS)
    now = settings(cfg)
    if io.exists(path):
        refuse_other_settings("label", cfg.output_dir, io.read_json(path), now)
    else:
        io.write_json(path, now)


def run(cfg: LabelConfig) -> dict[str, Any]:
    """Label ``input`` into ``output_dir``; resumable. Returns the manifest."""
    num_labels = validate(cfg)
    io.make_dirs(cfg.output_dir)
    with Lease(cfg.output_dir):
        done = skip_if_done(
            "label", cfg.output_dir, settings(cfg), force=cfg.force, record=softlabels.MANIFEST
        )
        if done is not None:
            return done
        if cfg.force:
            _clear(cfg.output_dir)
        _start(cfg)
        plan = load_or_make(cfg, num_labels, PLAN if cfg.dedup == "none" else dedup.INPUT_PLAN)
        check_columns(cfg, plan)
        stacker = _stacker(cfg, num_labels)
        if cfg.dedup != "none":
            return dedup.run(cfg, plan, stacker)
        t0 = time.perf_counter()
        done = label_chunks(cfg, plan, stacker)
        manifest = commit_manifest(
            cfg, summarize(cfg, chunks_of(plan), stacker, time.perf_counter() - t0, done)
        )
    log(
        "label",
        f"done: {manifest['input_rows']} input rows = {manifest['labeled_rows']} labeled + "
        f"{manifest['quarantined_rows']} quarantined ({manifest['truncated_rows']} truncated) -> {cfg.output_dir}",
    )
    return manifest

"""Run-directory bookkeeping shared by every stage: done markers, recorded settings, skip or refuse.

A stage's output directory (a path or a URI) is *complete* once ``_SUCCESS.json`` is in it. The
stage records the settings that made the output in a JSON file of the output (``metrics.json``,
``manifest.json``...). Run again, a stage calls :func:`skip_if_done` first:

* not complete, or ``force``: it returns None and the stage does its work;
* complete with the same settings: it returns the recorded JSON and the stage returns it as is
  (re-running a pipeline skips finished stages);
* complete with other settings: :class:`ConfigError` naming every changed setting, because
  whatever was made from that output would silently be stale too.

Ray Train runs (checkpoints under ``storage_path/run_name``) are forgotten by :func:`fresh_run`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from . import io
from .errors import ConfigError
from .runtime import log

SUCCESS = "_SUCCESS.json"


def mark_done(out_dir: str | Path, info: dict[str, Any]) -> None:
    """Mark a stage's output directory (a path or a URI) complete."""
    info = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **info}
    io.write_json(io.join(str(out_dir), SUCCESS), info)


def is_done(out_dir: str | Path) -> bool:
    return io.exists(io.join(str(out_dir), SUCCESS))


def changed_settings(
    old: dict[str, Any], new: dict[str, Any], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """``(key, old value, new value)`` for each key of ``new`` that ``old`` has with another value;
    nested settings (``model``: {...}) are compared key by key, as ``model.embedding_dim``. Keys
    missing from ``old`` (an output from before a setting existed) are not compared."""
    out: list[tuple[str, Any, Any]] = []
    for k, v in new.items():
        if k not in old:
            continue
        if isinstance(v, dict) and isinstance(old[k], dict):
            out += changed_settings(old[k], v, f"{prefix}{k}.")
        elif old[k] != v:
            out.append((f"{prefix}{k}", old[k], v))
    return out


def refuse_other_settings(
    stage: str, out_dir: str | Path, written: dict[str, Any], now: dict[str, Any]
) -> None:
    """A complete output made with other settings is not this run's output: refuse to skip to it."""
    diff = [f"{k}: {a!r} -> {b!r}" for k, a, b in changed_settings(written, now)]
    if diff:
        raise ConfigError(
            f"{stage}: {out_dir} was written with other settings ({'; '.join(diff)}); set force=true to "
            "redo it, then redo whatever was made from it"
        )


def skip_if_done(
    stage: str,
    out_dir: str,
    settings: dict[str, Any],
    *,
    force: bool,
    record: str,
    key: str = "settings",
) -> dict[str, Any] | None:
    """The recorded JSON of a complete ``out_dir`` made with these ``settings`` (skip the stage),
    or None (do the work). ``record`` is the output's JSON file that holds the settings under
    ``key``. Other settings: :class:`ConfigError` naming them."""
    if force or not is_done(out_dir):
        return None
    done = io.read_json(io.join(out_dir, record))
    refuse_other_settings(stage, out_dir, done.get(key, {}), settings)
    log(stage, f"{out_dir} is complete (force=true to redo it)")
    return done


def fresh_run(storage_path: str, run_name: str) -> None:
    """Forget a Ray Train run's checkpoints: the next ``fit`` starts from scratch (``force``), or
    a finished run stops holding them (``prune_checkpoints``)."""
    if io.is_uri(storage_path):
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(storage_path.rstrip("/") + "/" + run_name)
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)
    else:
        shutil.rmtree(os.path.join(storage_path, run_name), ignore_errors=True)

"""Bookkeeping of a labeling output: which chunks are committed, and the manifest that completes it.

``manifest.json`` is written last, once every input row is accounted for (labeled or quarantined)
and the temp files a killed writer left are gone; it records the ``settings`` that made the output,
so a later run skips to it only with the same settings (:mod:`bert2dnn_ray.rundir`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from .. import io, softlabels
from ..progress import log
from ..rundir import mark_done
from .actor import CHUNKS_DIR
from .config import LabelConfig, settings


def committed(output_dir: str) -> dict[str, dict[str, Any]]:
    """The stats of every committed chunk under ``output_dir``, by chunk id."""
    return {s["chunk_id"]: s for s in io.read_json_dir(io.join(output_dir, CHUNKS_DIR))}


def wall_seconds(stats: list[dict[str, Any]]) -> float | None:
    """Wall-clock seconds during which some actor was labeling one of these committed chunks.

    The union of the chunks' ``[started_at, finished_at]`` intervals, over every run that
    committed one: parallel actors are not counted twice, and the idle time between a run and its
    resume is not counted at all. ``None`` when a chunk lacks its times (an older version's).
    """
    spans = [(s.get("started_at"), s.get("finished_at")) for s in stats]
    if any(a is None or b is None for a, b in spans):
        return None
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return round(total, 3)


def summarize(
    cfg: LabelConfig,
    chunks: list[dict[str, Any]],
    stacker: dict[str, Any],
    seconds: float,
    done: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Totals over the committed chunks (``done``, else read from ``cfg.output_dir``); every
    chunk must be committed."""
    done = committed(cfg.output_dir) if done is None else done
    missing = [c["chunk_id"] for c in chunks if c["chunk_id"] not in done]
    if missing:
        raise RuntimeError(
            f"label: {len(missing)} chunks did not complete (first {missing[0]}); run again to resume"
        )
    stats = [done[c["chunk_id"]] for c in chunks]
    reasons: Counter = Counter()
    teachers: dict[str, dict[str, Any]] = {}
    for s in stats:
        reasons.update(s["quarantine_reasons"])
        for name, ts in s["teachers"].items():
            agg = teachers.setdefault(name, {"truncated": 0, "class_counts": None, "seconds": 0.0})
            agg["truncated"] += ts["truncated"]
            agg["seconds"] += ts.get("seconds", 0.0)  # chunks committed by an older version lack it
            if ts["class_counts"]:
                cc = np.asarray(ts["class_counts"])
                agg["class_counts"] = (
                    cc if agg["class_counts"] is None else np.asarray(agg["class_counts"]) + cc
                ).tolist()
    labeled = sum(s["labeled_rows"] for s in stats)
    for agg in teachers.values():  # inference time summed over the actors, and its rate per actor
        agg["rows_per_s"] = round(labeled / agg["seconds"], 1) if agg["seconds"] > 0 else None
        agg["seconds"] = round(agg["seconds"], 3)
    return {
        "input": cfg.input,
        "chunks": len(chunks),
        "input_rows": sum(s["input_rows"] for s in stats),
        "labeled_rows": labeled,
        "quarantined_rows": sum(s["quarantined_rows"] for s in stats),
        "quarantine_reasons": dict(reasons),
        "truncated_rows": sum(s["truncated_rows"] for s in stats),
        "teachers": {t.name: {**t.model_dump(), **teachers.get(t.name, {})} for t in cfg.teachers},
        "temperatures": cfg.temperatures,
        "stacking": {k: v for k, v in stacker.items() if k not in ("coef", "intercept")},
        "columns": cfg.columns.model_dump(),
        "label_seconds_this_run": seconds,
        "labeling_wall_seconds": wall_seconds(stats),
        "actor_peak_rss_bytes": max((p for s in stats if (p := s.get("actor_peak_rss_bytes"))), default=None),
        "files": sorted(softlabels.part_file(c["chunk_id"]) for c in chunks),
        "dedup": cfg.dedup,
    }


def commit_manifest(cfg: LabelConfig, manifest: dict[str, Any]) -> dict[str, Any]:
    """Check that every input row is accounted for, remove the temp files a killed run left behind,
    then write ``manifest.json`` (with the run's settings) and the done marker: the output is complete."""
    if cfg.dedup == "distinct":
        assert manifest["input_rows"] == manifest["distinct_input_rows"] + manifest["quarantined_rows"]
    else:
        assert manifest["input_rows"] == manifest["labeled_rows"] + manifest["quarantined_rows"]
    stale = io.remove_temp_files(cfg.output_dir)
    if stale:
        log("label", f"removed {stale} temp file(s) that a killed run left in {cfg.output_dir}")
    manifest = {**manifest, "settings": settings(cfg)}
    io.write_json(io.join(cfg.output_dir, softlabels.MANIFEST), manifest)
    mark_done(cfg.output_dir, {"rows": manifest["labeled_rows"]})
    return manifest

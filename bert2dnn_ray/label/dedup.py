"""Exact de-duplication for the labeling stage (``label.dedup: distinct | join``), on Ray Data's hash
shuffle.

Query logs are heavy-tailed: most rows repeat a popular text. Each distinct normalised text
(text + pair, named by a stable hash of both, ``text_key``) is labeled once:

1. **distinct**: the input's read units are read and prepared by the same read tasks as labeling
   without dedup (normalised; bad rows quarantined and counted); Ray Data groups the rows by key
   (``groupby``, a hash shuffle into ``dedup_partitions`` partitions) and counts them. The distinct
   texts go to ``_dedup/distinct-<attempt>/`` (one file per partition block) and
   ``_dedup/distinct.json`` commits them, each partition's block in a random order
   (:func:`shuffled`);
2. **label**: the distinct texts are labeled by the usual chunked, resumable actor pool (with
   ``distinct`` into the output itself: one row per distinct text, ``row_id`` = ``text_key``, with
   its ``count``);
   with ``label.store``, the distinct texts are first looked up in the store (:mod:`.store`):
   those found are copied from it (``reused-<attempt>/``), only the others are labeled, and their
   labels are then added to the store;
3. **join** (``join`` only): the input is read and prepared again and Ray Data joins it with the
   labels on the key (a hash join into ``dedup_partitions`` partitions), into
   ``data/join-<attempt>/``: one row per input row, as without dedup, again each block in a
   random order. The manifest, written last, lists those files.

Order: a hash shuffle keeps the input's order within a partition, so its output would follow the
input (a log sorted by time or market, a corpus by source or class: IMDB's test negatives first),
and so would the labels, written chunk by chunk in the order of the distinct texts. Each output
block is put in a random order before it is written (:func:`shuffled`). A partition is a random
sample of the input, so when it is one block (``dedup_partitions`` auto keeps ~1M short texts
within Ray Data's 128 MiB block size) the output's first rows are a random sample too, and a
trainer's shuffle buffer or a ``max_rows`` prefix reads a mix; a larger partition comes out as
several blocks, each from one stretch of the input, mixed within.

Resume: labeling (2) resumes chunk by chunk. A shuffle phase (1, 3) is the unit of resume for the
rest: one killed before its commit runs again from its start (its partial files, under another
attempt's directory, are never read, and are removed when the output is complete), so the output
holds every input row exactly once. Ray Data's shuffles keep no state across runs, so a partition
cannot be the unit; re-reading and hashing the input costs little next to labeling it.

Bounds: each partition is reduced by one Ray task (Ray 2.60's hash shuffle, ``SHUFFLE_V2``), which
asks for memory sized to it; ``dedup_partitions`` (auto: about one per million input rows) bounds
each one's share. A task lost with its node is run again by Ray. Each phase writes about one file
per partition, whatever the number of chunks.
"""

from __future__ import annotations

import hashlib
import math
import posixpath
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .. import io, softlabels
from ..errors import Bert2dnnError
from ..progress import log
from ..runtime import init_ray
from . import store as label_store
from .config import LabelConfig
from .lease import Lease
from .manifest import commit_manifest, summarize
from .plan import chunks_of, load_or_make
from .pool import label_chunks, raise_reported, read_options
from .rows import prepared_chunks

KEY = "text_key"
DISTINCT = "_dedup/distinct.json"
INPUT_PLAN = "_dedup/input_plan.json"
ERRORS = "_dedup/errors"
ROWS_PER_PARTITION = 1_000_000  # dedup_partitions: auto


def keys(texts: list[str], pairs: list[str] | None) -> list[str]:
    if pairs is None:
        return [hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in texts]
    return [hashlib.blake2b(f"{t}\x1f{p}".encode(), digest_size=8).hexdigest() for t, p in zip(texts, pairs)]


def keyed_rows(
    batch: pa.Table, cfg_dict: dict[str, Any], columns: list[str] | None, quarantine: bool
) -> Iterator[pa.Table]:
    """Ray Data task: the prepared rows of read units, with their ``text_key`` (only ``columns`` and
    the key, when given). A user-facing error is written to ``_dedup/errors/`` (the task succeeds,
    so Ray does not retry it) and raised by the driver after the phase (:func:`_raise_errors`)."""
    cfg = LabelConfig.model_validate(cfg_dict)
    texts, pair = cfg.columns.text, cfg.columns.pair
    for unit in batch.to_pylist():
        try:
            for _, good, _ in prepared_chunks(cfg, unit, set(), quarantine=quarantine):
                k = keys(good[texts].to_pylist(), good[pair].to_pylist() if pair else None)
                good = good.append_column(KEY, pa.array(k, pa.string()))
                yield good.select([*columns, KEY]) if columns else good
        except Bert2dnnError as e:
            err = {"error": str(e), "error_type": type(e).__name__}
            io.write_json(io.join(cfg.output_dir, ERRORS, f"{unit['chunks'][0]['chunk_id']}.json"), err)


def shuffled(block: pa.Table) -> pa.Table:
    """Ray Data task: a shuffle phase's output block in a random order, the same whatever order its
    rows arrived in (rows of one key, a join's, keep theirs): sorted by key, then permuted, seeded
    by its smallest key (see "Order" above)."""
    if block.num_rows < 2:
        return block
    block = block.sort_by(KEY)
    seed = int(block[KEY][0].as_py(), 16)
    return block.take(np.random.default_rng(seed).permutation(block.num_rows))


def _prepared(cfg: LabelConfig, plan: dict[str, Any], columns: list[str] | None, quarantine: bool):
    import ray.data

    _clear_errors(cfg)
    units = plan["units"]
    ds = ray.data.from_items(units, override_num_blocks=len(units))
    return ds.map_batches(
        keyed_rows,
        batch_size=1,
        batch_format="pyarrow",
        fn_kwargs={"cfg_dict": cfg.model_dump(), "columns": columns, "quarantine": quarantine},
        **read_options(cfg),
    )


def _clear_errors(cfg: LabelConfig) -> None:
    fs, path = io.filesystem(io.join(cfg.output_dir, ERRORS))
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)


def _raise_errors(cfg: LabelConfig) -> None:
    """Raise the first user-facing error a read task of the last phase reported."""
    errors = io.list_files(io.join(cfg.output_dir, ERRORS), ".json")
    if errors:
        raise_reported(io.read_json(errors[0]))


def partitions(cfg: LabelConfig, plan: dict[str, Any]) -> int:
    if cfg.dedup_partitions != "auto":
        return int(cfg.dedup_partitions)
    rows = sum(c["rows"] if c["rows"] >= 0 else plan["chunk_rows"] for c in chunks_of(plan))
    return max(2, math.ceil(rows / ROWS_PER_PARTITION))


def _distinct(cfg: LabelConfig, plan: dict[str, Any], parts: int) -> dict[str, Any]:
    """Phase 1 (see the module docstring): the committed distinct texts, made now if not yet."""
    path = io.join(cfg.output_dir, DISTINCT)
    if io.exists(path):
        return io.read_json(path)
    t0 = time.perf_counter()
    rel = f"_dedup/distinct-{uuid.uuid4().hex[:12]}"
    rows = _prepared(cfg, plan, cfg.columns.texts, quarantine=True)
    grouped = rows.groupby([KEY, *cfg.columns.texts], num_partitions=parts).count()
    grouped = grouped.rename_columns({"count()": "count"})
    grouped.map_batches(shuffled, batch_size=None, batch_format="pyarrow").write_parquet(
        io.join(cfg.output_dir, rel)
    )
    _raise_errors(cfg)
    files = io.list_files(io.join(cfg.output_dir, rel))
    info = {
        "dir": rel,
        "files": [posixpath.basename(f) for f in files],
        "distinct_rows": io.parquet_rows(files),
        "valid_rows": io.parquet_rows(files, "count"),
        "partitions": parts,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    io.write_json(path, info)
    log(
        "label",
        f"dedup: {info['valid_rows']:,} rows, {info['distinct_rows']:,} distinct texts ({len(files)} files)",
    )
    return info


def _join(cfg: LabelConfig, plan: dict[str, Any], label_files: list[str], parts: int) -> list[str]:
    """Phase 3: every input row with its text's labels; the files written, relative to the output."""
    import ray.data

    fs, first = io.filesystem(label_files[0])
    names = pq.read_schema(first, filesystem=fs).names
    label_cols = [c for c in names if softlabels.is_label_column(c) or c == softlabels.TRUNCATED]
    labels = ray.data.read_parquet(label_files, columns=[softlabels.ROW_ID, *label_cols])
    labels = labels.rename_columns({softlabels.ROW_ID: KEY})
    rows = _prepared(cfg, plan, None, quarantine=False)
    joined = rows.join(labels, join_type="inner", num_partitions=parts, on=(KEY,))
    rel = f"{softlabels.DATA_DIR}/join-{uuid.uuid4().hex[:12]}"
    joined = joined.map_batches(shuffled, batch_size=None, batch_format="pyarrow")
    joined.drop_columns([KEY]).write_parquet(io.join(cfg.output_dir, rel))
    _raise_errors(cfg)
    return [f"{rel}/{posixpath.basename(f)}" for f in io.list_files(io.join(cfg.output_dir, rel))]


def _quarantine(cfg: LabelConfig) -> tuple[int, dict[str, int]]:
    """Rows set aside by the read tasks, and their reasons (from the quarantine files)."""
    reasons: Counter = Counter()
    for f in io.list_files(io.join(cfg.output_dir, softlabels.QUARANTINE_DIR)):
        fs, p = io.filesystem(f)
        with fs.open_input_file(p) as fh:
            col = pq.read_table(fh, columns=[softlabels.REASON])[softlabels.REASON]
        reasons.update(r.split(":")[0] for r in col.to_pylist())
    return sum(reasons.values()), dict(reasons)


def _remove_stale(cfg: LabelConfig, keep: set[str]) -> None:
    """Attempt directories of the shuffle phases that the output does not use (killed attempts)."""
    stale = (
        ("_dedup", "distinct-"),
        ("_dedup", "reuse-"),
        ("_dedup", "reused-"),
        (softlabels.DATA_DIR, "join-"),
        (softlabels.DATA_DIR, "reused-"),
    )
    for parent, prefix in stale:
        fs, path = io.filesystem(io.join(cfg.output_dir, parent))
        for info in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
            name = posixpath.basename(info.path)
            if (
                info.type == pafs.FileType.Directory
                and name.startswith(prefix)
                and f"{parent}/{name}" not in keep
            ):
                fs.delete_dir(info.path)


def run(cfg: LabelConfig, plan: dict[str, Any], stacker: dict[str, Any]) -> dict[str, Any]:
    """Label ``plan``'s input with dedup (see the module docstring), reusing the labels of
    ``label.store`` when it is set (:mod:`.store`); returns the manifest."""
    t0 = time.perf_counter()
    init_ray(cfg.address)
    parts = partitions(cfg, plan)
    log("label", f"dedup ({cfg.dedup}): {len(plan['units'])} read units, {parts} hash partitions")
    distinct = _distinct(cfg, plan, parts)
    if cfg.store is None:
        return _finish(cfg, plan, stacker, parts, distinct, None, t0)
    fp, record = label_store.fingerprint(cfg, stacker)
    st = label_store.Store(cfg.store, fp)
    st.init(record)
    with Lease(st.dir, "label store"):
        hits_parent = softlabels.DATA_DIR if cfg.dedup == "distinct" else "_dedup"
        reuse = label_store.lookup(cfg, st, distinct, parts, hits_parent)
        return _finish(cfg, plan, stacker, parts, distinct, (st, reuse), t0)


def _label_distinct(
    cfg: LabelConfig, plan: dict[str, Any], stacker: dict[str, Any], input_rel: str | None, label_dir: str
) -> dict[str, Any]:
    """Phase 2: label the distinct texts under ``input_rel`` (None: there are none to label)."""
    if input_rel is None:
        return {
            "labeled_rows": 0,
            "truncated_rows": 0,
            "files": [],
            "teachers": {t.name: t.model_dump() for t in cfg.teachers},
            "labeling_wall_seconds": 0.0,
            "actor_peak_rss_bytes": None,
            "stacking": {k: v for k, v in stacker.items() if k not in ("coef", "intercept")},
        }
    dcfg = cfg.model_copy(
        update={
            "input": io.join(cfg.output_dir, input_rel),
            "output_dir": label_dir,
            "columns": cfg.columns.model_copy(update={"id": KEY}),
            "keep_columns": [*cfg.keep_columns, "count"]
            if "count" not in cfg.keep_columns
            else cfg.keep_columns,
            "dedup": "none",
            "chunk_rows": plan["chunk_rows"],  # the input plan's, resolved
        }
    )
    dplan = load_or_make(dcfg, 0)
    done = label_chunks(dcfg, dplan, stacker)
    return summarize(dcfg, chunks_of(dplan), stacker, 0.0, done)


def _reuse_record(
    reuse: dict[str, Any], st: label_store.Store, lab: dict[str, Any], valid: int
) -> dict[str, Any]:
    """The manifest's ``reuse`` section: what came from the store, what the teachers labeled, and
    the teacher time that saved (reused texts x teacher seconds per labeled text, this run's or,
    when it labeled none, the store's)."""
    wall = lab.get("labeling_wall_seconds") or 0.0
    labeled = lab["labeled_rows"]
    rate = wall / labeled if labeled and wall else st.teacher_seconds_per_row()
    total = reuse["hit_rows"] + labeled
    return {
        "store": st.dir,
        "fingerprint": st.fp,
        "store_rows_before": reuse["store_rows"],
        "reused_distinct": reuse["hit_rows"],
        "labeled_distinct": labeled,
        "reused_fraction": reuse["hit_rows"] / total if total else 0.0,
        "reused_rows": reuse["hit_input_rows"],
        "labeled_input_rows": valid - reuse["hit_input_rows"],
        "teacher_seconds": round(wall, 3),
        "teacher_seconds_saved": None if rate is None else round(rate * reuse["hit_rows"], 3),
        "lookup_seconds": reuse["seconds"],
    }


def _finish(
    cfg: LabelConfig,
    plan: dict[str, Any],
    stacker: dict[str, Any],
    parts: int,
    distinct: dict[str, Any],
    reused: tuple[label_store.Store, dict[str, Any]] | None,
    t0: float,
) -> dict[str, Any]:
    """Phases 2 and 3: label what is left to label, add it to the store, write the output."""
    label_dir = cfg.output_dir if cfg.dedup == "distinct" else io.join(cfg.output_dir, "_dedup", "labels")
    st, reuse = reused if reused is not None else (None, None)
    lab = _label_distinct(cfg, plan, stacker, reuse["misses_dir"] if reuse else distinct["dir"], label_dir)
    hit_files: list[str] = reuse["hits_files"] if reuse else []
    if st is not None:
        files = [io.join(label_dir, f) for f in lab["files"]]
        st.commit(cfg, reuse, files, parts, lab.get("labeling_wall_seconds"))
    quarantined, reasons = _quarantine(cfg)
    valid = distinct["valid_rows"]
    distinct_rows = lab["labeled_rows"] + (reuse["hit_rows"] if reuse else 0)
    base = {
        "input": cfg.input,
        "chunks": len(chunks_of(plan)),
        "input_rows": valid + quarantined,
        "quarantined_rows": quarantined,
        "quarantine_reasons": reasons,
        "distinct_rows": distinct_rows,
        "distinct_input_rows": valid,
        "dedup_ratio": 1.0 - distinct_rows / valid if valid else 0.0,
        "dedup": cfg.dedup,
        "dedup_partitions": parts,
        "teachers": lab["teachers"],
        "labeling_wall_seconds": lab.get("labeling_wall_seconds"),
        "actor_peak_rss_bytes": lab.get("actor_peak_rss_bytes"),
        "temperatures": cfg.temperatures,
        "stacking": lab["stacking"],
        "columns": cfg.columns.model_dump(),
    }
    if st is not None:
        base["reuse"] = _reuse_record(reuse, st, lab, valid)
    keep = {distinct["dir"]} | {posixpath.dirname(f) for f in hit_files}
    if reuse and reuse["misses_dir"]:
        keep.add(posixpath.dirname(reuse["misses_dir"]))
    if cfg.dedup == "distinct":
        manifest = {
            **base,
            "labeled_rows": distinct_rows,
            "truncated_rows": lab["truncated_rows"] + (reuse["hit_truncated"] if reuse else 0),
            "files": lab["files"] + hit_files,
        }
    else:
        # 3. join the labels back to every row
        label_files = [io.join(label_dir, f) for f in lab["files"]]
        files = _join(cfg, plan, label_files + [io.join(cfg.output_dir, f) for f in hit_files], parts)
        rows = io.parquet_rows([io.join(cfg.output_dir, f) for f in files])
        if rows != valid:
            raise RuntimeError(
                f"label: the join wrote {rows} rows for {valid} input rows; run again to redo it"
            )
        manifest = {**base, "labeled_rows": rows, "truncated_rows": None, "files": files}
        keep |= {posixpath.dirname(f) for f in files}
    manifest["label_seconds_this_run"] = time.perf_counter() - t0
    _remove_stale(cfg, keep)
    manifest = commit_manifest(cfg, manifest)
    reused_msg = ""
    if st is not None:
        r = manifest["reuse"]
        reused_msg = (
            f"; {r['reused_distinct']:,} reused from the label store, {r['labeled_distinct']:,} labeled "
            f"(about {r['teacher_seconds_saved'] or 0:,.1f} teacher seconds saved)"
        )
    log(
        "label",
        f"dedup ({cfg.dedup}): {manifest['input_rows']} input rows, {quarantined} quarantined, "
        f"{distinct_rows} distinct texts (dedup ratio {manifest['dedup_ratio']:.1%}){reused_msg}; "
        f"{manifest['labeled_rows']} output rows -> {cfg.output_dir}",
    )
    return manifest

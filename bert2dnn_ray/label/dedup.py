"""Exact de-duplication for the labeling stage (``label.dedup: distinct | join``).

Query logs are heavy-tailed: most rows repeat a popular text. Each distinct normalised text
(text + pair) is labeled once:

1. **partition** — every input chunk is read, normalised and quarantined exactly as without
   dedup, and its good rows are written to ``_dedup/partitions/p<k>/`` by a stable hash of the
   text (Ray tasks; a chunk is committed by ``_dedup/_chunks/<chunk>.json``);
2. **distinct** — each partition is grouped by text into ``_dedup/distinct/p<k>.parquet`` with
   the text's ``count`` and its ``text_key`` (Ray tasks, one per partition);
3. **label** — the distinct texts are labeled by the usual actor pool. With ``distinct`` that
   is the output: one row per distinct text, ``row_id`` = ``text_key``, plus ``count``;
4. **join** (``join`` only) — each partition's rows get the labels of their text back
   (``data/part-p<k>.parquet``: one row per input row, as without dedup).

Every phase skips work it already committed, so a killed run resumes.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .. import io, softlabels
from ..errors import Bert2dnnError
from ..progress import log
from ..runtime import init_ray
from .actor import error_result
from .config import LabelConfig
from .manifest import commit_manifest, summarize
from .plan import plan_chunks
from .pool import label_chunks, raise_reported
from .rows import prepare_rows

KEY = "text_key"


def _keys(texts: list[str], pairs: list[str] | None) -> list[str]:
    if pairs is None:
        return [hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in texts]
    return [hashlib.blake2b(f"{t}\x1f{p}".encode(), digest_size=8).hexdigest() for t, p in zip(texts, pairs)]


def _list(uri: str, suffix: str = "") -> list[str]:
    fs, path = io.filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    scheme = uri.split("://", 1)[0] + "://" if "://" in uri else ""
    return sorted(
        scheme + i.path
        for i in infos
        if i.type == pafs.FileType.File
        and i.path.endswith(suffix)
        and not posixpath.basename(i.path).startswith(".")
    )


def _read_all(uris: list[str]) -> pa.Table:
    tables = []
    for u in uris:
        fs, path = io.filesystem(u)
        with fs.open_input_file(path) as f:
            tables.append(pq.read_table(f))
    return pa.concat_tables(tables)


def _partition_task(batch: pa.Table, cfg_dict: dict[str, Any], parts: int) -> pa.Table:
    cfg = LabelConfig.model_validate(cfg_dict)
    cols = cfg.columns
    dd = io.join(cfg.output_dir, "_dedup")
    out = []
    for spec in batch.to_pylist():
        try:
            good, stats = prepare_rows(cfg, spec)
        except Bert2dnnError as e:  # reported, not retried by Ray
            out.append(json.dumps(error_result(spec["chunk_id"], e)))
            continue
        texts = good[cols.text].to_pylist()
        pairs = good[cols.pair].to_pylist() if cols.pair else None
        keys = _keys(texts, pairs)
        part = np.fromiter((int(k[:8], 16) % parts for k in keys), dtype=np.int64, count=len(keys))
        good = good.append_column(KEY, pa.array(keys, pa.string()))
        for k in np.unique(part):
            sel = pa.array(np.nonzero(part == k)[0], pa.int64())
            io.write_parquet_atomic(
                good.take(sel), io.join(dd, "partitions", f"p{k:05d}", f"c{spec['chunk_id']}.parquet")
            )
        stats["valid_rows"] = good.num_rows
        io.write_json(io.join(dd, "_chunks", f"{spec['chunk_id']}.json"), stats)
        out.append(json.dumps(stats))
    return pa.table({"stats": out})


def _distinct_task(batch: pa.Table, cfg_dict: dict[str, Any], chunk_rows: int) -> pa.Table:
    cfg = LabelConfig.model_validate(cfg_dict)
    cols = cfg.columns
    dd = io.join(cfg.output_dir, "_dedup")
    out = []
    for k in batch["partition"].to_pylist():
        files = _list(io.join(dd, "partitions", f"p{k:05d}"), ".parquet")
        rows = _read_all(files) if files else None
        group = [KEY, *cols.texts]
        if rows is None or rows.num_rows == 0:
            distinct = pa.table({c: pa.array([], pa.string()) for c in group}).append_column(
                "count", pa.array([], pa.int64())
            )
        else:
            distinct = rows.group_by(group).aggregate([("row_id", "count")]).rename_columns([*group, "count"])
            distinct = distinct.sort_by(KEY)
        io.write_parquet_atomic(
            distinct, io.join(dd, "distinct", f"p{k:05d}.parquet"), row_group_size=chunk_rows
        )
        out.append(distinct.num_rows)
    return pa.table({"distinct": out})


def _join_task(
    batch: pa.Table, cfg_dict: dict[str, Any], label_dir: str, by_file: dict[str, list[str]]
) -> pa.Table:
    cfg = LabelConfig.model_validate(cfg_dict)
    dd = io.join(cfg.output_dir, "_dedup")
    out = []
    for k in batch["partition"].to_pylist():
        files = _list(io.join(dd, "partitions", f"p{k:05d}"), ".parquet")
        n = 0
        if files:
            rows = _read_all(files)
            labels = _read_all(
                [io.join(label_dir, softlabels.part_file(c)) for c in by_file[f"p{k:05d}.parquet"]]
            )
            idx = pc.index_in(rows[KEY], value_set=labels[softlabels.ROW_ID])
            assert idx.null_count == 0, f"partition {k}: rows without labels"
            label_cols = [c for c in labels.column_names if c not in rows.column_names and c != "count"]
            picked = labels.select(label_cols).take(idx)
            joined = rows.drop_columns([KEY])
            for name in label_cols:
                joined = joined.append_column(name, picked[name])
            io.write_parquet_atomic(joined, io.join(cfg.output_dir, softlabels.part_file(f"p{k:05d}")))
            n = joined.num_rows
        io.write_json(io.join(dd, "_join", f"p{k:05d}.json"), {"rows": n})
        out.append(n)
    return pa.table({"rows": out})


def _map(items: list[dict[str, Any]], fn, **kwargs) -> list[dict[str, Any]]:
    import ray.data

    if not items:
        return []
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(fn, batch_size=1, batch_format="pyarrow", fn_kwargs=kwargs, num_cpus=0.5)
    rows = list(ds.iter_rows())
    for row in rows:
        if "stats" in row:
            raise_reported(json.loads(row["stats"]))
    return rows


def run(cfg: LabelConfig, chunks: list[dict[str, Any]], stacker: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    dd = io.join(cfg.output_dir, "_dedup")
    init_ray(cfg.address)
    cfg_dict = cfg.model_dump()
    parts = cfg.dedup_partitions

    # 1. partition
    done = {posixpath.basename(u)[:-5] for u in _list(io.join(dd, "_chunks"), ".json")}
    pending = [{**c, "row_groups": list(c["row_groups"])} for c in chunks if c["chunk_id"] not in done]
    log("label", f"dedup: partitioning {len(pending)} of {len(chunks)} chunks into {parts} hash partitions")
    _map(pending, _partition_task, cfg_dict=cfg_dict, parts=parts)
    part_stats = [json.loads(io.read_text(u)) for u in _list(io.join(dd, "_chunks"), ".json")]

    # 2. distinct texts per partition (one file each, row groups of chunk_rows for labeling)
    have = {posixpath.basename(u) for u in _list(io.join(dd, "distinct"), ".parquet")}
    todo = [{"partition": k} for k in range(parts) if f"p{k:05d}.parquet" not in have]
    _map(todo, _distinct_task, cfg_dict=cfg_dict, chunk_rows=cfg.chunk_rows)

    # 3. label the distinct texts
    label_dir = cfg.output_dir if cfg.dedup == "distinct" else io.join(dd, "labels")
    dcfg = cfg.model_copy(
        update={
            "input": io.join(dd, "distinct"),
            "output_dir": label_dir,
            "columns": cfg.columns.model_copy(update={"id": KEY}),
            "keep_columns": [*cfg.keep_columns, "count"]
            if "count" not in cfg.keep_columns
            else cfg.keep_columns,
            "dedup": "none",
        }
    )
    dchunks, _ = plan_chunks(dcfg)
    label_chunks(dcfg, dchunks, stacker)
    lab = summarize(dcfg, dchunks, stacker, 0.0)
    valid = sum(s["valid_rows"] for s in part_stats)
    distinct_rows = lab["labeled_rows"]
    quarantined = sum(s["quarantined_rows"] for s in part_stats)
    reasons: dict[str, int] = {}
    for s in part_stats:
        for r, c in s["quarantine_reasons"].items():
            reasons[r] = reasons.get(r, 0) + c
    base = {
        "input": cfg.input,
        "chunks": len(chunks),
        "input_rows": sum(s["input_rows"] for s in part_stats),
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
    if cfg.dedup == "distinct":
        manifest = {
            **base,
            "labeled_rows": distinct_rows,
            "truncated_rows": lab["truncated_rows"],
            "files": lab["files"],
            "label_seconds_this_run": time.perf_counter() - t0,
        }
    else:
        # 4. join the labels back to every row
        by_file: dict[str, list[str]] = {}
        for c in dchunks:
            by_file.setdefault(c["name"], []).append(c["chunk_id"])
        joined = {posixpath.basename(u)[:-5] for u in _list(io.join(dd, "_join"), ".json")}
        todo = [{"partition": k} for k in range(parts) if f"p{k:05d}" not in joined]
        _map(todo, _join_task, cfg_dict=cfg_dict, label_dir=label_dir, by_file=by_file)
        files = sorted(
            f"{softlabels.DATA_DIR}/{posixpath.basename(u)}"
            for u in _list(io.join(cfg.output_dir, softlabels.DATA_DIR), ".parquet")
        )
        rows = sum(json.loads(io.read_text(u))["rows"] for u in _list(io.join(dd, "_join"), ".json"))
        manifest = {
            **base,
            "labeled_rows": rows,
            "truncated_rows": None,
            "files": files,
            "label_seconds_this_run": time.perf_counter() - t0,
        }
    manifest = commit_manifest(cfg, manifest)
    log(
        "label",
        f"dedup ({cfg.dedup}): {manifest['input_rows']} input rows, {quarantined} quarantined, "
        f"{distinct_rows} distinct texts labeled (dedup ratio {manifest['dedup_ratio']:.1%}); "
        f"{manifest['labeled_rows']} output rows -> {cfg.output_dir}",
    )
    return manifest

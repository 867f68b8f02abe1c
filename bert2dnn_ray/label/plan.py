"""Planning: the input becomes a deterministic list of *read units*, each with its *chunks*.

A chunk is the unit of labeling and of resume (one part file, committed on its own); a read unit is
what one CPU task reads to make its chunks:

* Parquet: consecutive row groups up to ``chunk_rows`` rows are one unit and one chunk; a row group
  larger than ``chunk_rows`` is one unit (read once) cut into several chunks (slices of it);
* a line format (text, JSONL, CSV/TSV): byte ranges of about ``chunk_rows`` lines, one unit and one
  chunk each, which own the lines that start in them (:mod:`bert2dnn_ray.lines`); a compressed file
  cannot be split and is one unit, read whole.

``chunk_rows: auto`` sizes chunks for parts of about 128 MB (so a 300M-row input makes hundreds of
parts, not thousands), but gives every actor at least a few chunks of a small input. The plan, with
the chunk size it resolved, is saved in ``_plan.json`` at the first run and reused by every resume:
chunk ids and row ids never change under a resumed run, whatever its actor count.
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

from .. import io, tables
from ..errors import ConfigError, DataError
from ..progress import log
from .config import LabelConfig

PLAN = "_plan.json"
PLAN_VERSION = 2
SIGNATURE = "_input_signature.json"  # what outputs of plan version 1 recorded
PART_BYTES = 128 * 2**20  # output part size chunk_rows: auto aims at
MIN_CHUNK_ROWS = 1000
CHUNKS_PER_ACTOR = 4  # chunk_rows: auto gives each actor at least this many chunks of a small input


def output_row_bytes(cfg: LabelConfig, num_labels: int, text_bytes: float) -> float:
    """Bytes of one output row: its id and text, and float32 logits and probabilities of every
    teacher and of the stacked label."""
    floats = num_labels * (len(cfg.teachers) + 1) * (1 + len(cfg.temperatures))
    return 24 + text_bytes + 4 * floats


def _line_bytes(fs, path: str) -> float:
    """Average bytes per line, from the file's first MiB."""
    with fs.open_input_stream(path) as f:
        head = f.read(1 << 20)
    return len(head) / max(1, head.count(b"\n"))


def _files(cfg: LabelConfig) -> tuple[Any, list[dict[str, Any]], str, str]:
    """The input's files with what planning needs of each (metadata and a MiB of each line file)."""
    import pyarrow.fs as pafs

    fs, files = tables.resolve_files(cfg.input)
    _, root = io.filesystem(cfg.input)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        root = posixpath.dirname(files[0])
    scheme = cfg.input.split("://", 1)[0] + "://" if "://" in cfg.input else ""
    out = []
    for path in files:
        info = fs.get_file_info(path)
        rec: dict[str, Any] = {"path": path, "size": info.size, "format": tables.file_format(path)}
        if rec["format"] == "parquet":
            rec["row_groups"], rec["text_bytes"] = tables.parquet_layout(fs, path, cfg.columns.texts)
            rec["rows"] = sum(rec["row_groups"])
        else:
            rec["line_bytes"] = _line_bytes(fs, path)
            rec["rows"] = (
                info.size / rec["line_bytes"] * (4 if tables.is_compressed(path) else 1)  # an estimate
            )
            rec["text_bytes"] = rec["line_bytes"]
        out.append(rec)
    return fs, out, root, scheme


def resolve_chunk_rows(cfg: LabelConfig, files: list[dict[str, Any]], num_labels: int) -> int:
    if cfg.chunk_rows != "auto":
        return int(cfg.chunk_rows)
    rows = sum(f["rows"] for f in files)
    text = sum(f["text_bytes"] * f["rows"] for f in files) / max(1.0, rows)
    per_part = PART_BYTES / output_row_bytes(cfg, num_labels, text)
    share = math.ceil(rows / (CHUNKS_PER_ACTOR * cfg.num_actors))
    return int(max(MIN_CHUNK_ROWS, min(per_part, share)))


def make_plan(cfg: LabelConfig, num_labels: int) -> dict[str, Any]:
    """The plan of ``cfg.input``: read units and their chunks (metadata and a MiB per line file only)."""
    fs, files, root, scheme = _files(cfg)
    chunk_rows = resolve_chunk_rows(cfg, files, num_labels)
    units: list[dict[str, Any]] = []
    n_chunks = 0

    def unit(rec, **kw) -> dict[str, Any]:
        return {
            "uri": scheme + rec["path"],
            "name": posixpath.relpath(rec["path"], root),
            "format": rec["format"],
            **kw,
        }

    def chunk(**kw) -> dict[str, Any]:
        nonlocal n_chunks
        n_chunks += 1
        return {"chunk_id": f"{n_chunks - 1:06d}", **kw}

    for rec in files:
        if rec["format"] == "parquet":
            cur: list[int] = []
            cur_rows = offset = start = 0
            for gi, n in enumerate(rec["row_groups"]):
                if cur and cur_rows + n > chunk_rows:
                    units.append(unit(rec, row_groups=cur, chunks=[chunk(row_offset=start, rows=cur_rows)]))
                    start, cur, cur_rows = offset, [], 0
                if n > chunk_rows:  # one read of the row group, cut into chunks
                    slices = [
                        chunk(row_offset=offset + s0, rows=min(chunk_rows, n - s0), slice=s0)
                        for s0 in range(0, n, chunk_rows)
                    ]
                    units.append(unit(rec, row_groups=[gi], chunks=slices))
                    offset += n
                    start = offset
                    continue
                cur.append(gi)
                cur_rows += n
                offset += n
            if cur:
                units.append(unit(rec, row_groups=cur, chunks=[chunk(row_offset=start, rows=cur_rows)]))
        elif tables.is_compressed(rec["path"]):
            log(
                "label",
                f"{unit(rec)['name']} is compressed: one task reads it whole (split it, or use Parquet, to read in parallel)",
            )
            units.append(unit(rec, byte_range=None, chunks=[chunk(rows=-1)]))
        else:
            target = chunk_rows * rec["line_bytes"]
            n = max(1, round(rec["size"] / target)) if rec["size"] else 1
            for i in range(n):
                a, b = rec["size"] * i // n, rec["size"] * (i + 1) // n
                units.append(unit(rec, byte_range=[a, b], chunks=[chunk(rows=-1)]))
    signature = {"input": cfg.input, "files": [[f["path"], f["size"]] for f in files]}
    return {"version": PLAN_VERSION, "signature": signature, "chunk_rows": chunk_rows, "units": units}


def chunks_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every chunk of the plan, with its unit's file (``uri``, ``name``), in chunk-id order."""
    return [{**c, "uri": u["uri"], "name": u["name"]} for u in plan["units"] for c in u["chunks"]]


def load_or_make(cfg: LabelConfig, num_labels: int, name: str = PLAN) -> dict[str, Any]:
    """The output's saved plan (``name``), when it was made for this input; else a new one, saved.
    An output that holds labels of another input is refused."""
    path = io.join(cfg.output_dir, name)
    if io.exists(path):
        saved = io.read_json(path)
        now = _signature(cfg)
        if saved.get("signature") != now:
            raise ConfigError(f"{cfg.output_dir}: holds labels of a different input; use a new output_dir")
        return saved
    old = io.join(cfg.output_dir, SIGNATURE)
    if io.exists(old) and io.read_json(old) != _signature(cfg):
        raise ConfigError(f"{cfg.output_dir}: holds labels of a different input; use a new output_dir")
    plan = make_plan(cfg, num_labels)
    io.write_json(path, plan)
    return plan


def _signature(cfg: LabelConfig) -> dict[str, Any]:
    fs, files = tables.resolve_files(cfg.input)
    return {"input": cfg.input, "files": [[p, fs.get_file_info(p).size] for p in files]}


def check_columns(cfg: LabelConfig, plan: dict[str, Any]) -> None:
    """Every column the run reads (text, pair, id, keep_columns) is in the input, checked on the
    first file's header before any work."""
    cols = cfg.columns
    wanted = cols.texts + ([cols.id] if cols.id else []) + list(cfg.keep_columns)
    fs, path = io.filesystem(plan["units"][0]["uri"])
    names = tables.peek_columns(fs, path)
    if names is None:  # plain text: one column, the text
        extra = [c for c in wanted if c != cols.text]
        if extra:
            raise ConfigError(
                f"{path}: a plain-text file has one column (the text, one per line), so "
                f"{extra[0]!r} cannot be read from it; use Parquet, JSONL or CSV/TSV for more columns"
            )
        return
    missing = [c for c in wanted if c not in names]
    if missing:
        what = "keep_columns" if missing[0] in cfg.keep_columns else "column"
        raise DataError(f"{path}: missing {what} {missing[0]!r} (has {names})")

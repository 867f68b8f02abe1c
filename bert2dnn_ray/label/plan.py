"""Planning: the input becomes a deterministic list of chunks, the unit of work and of resume.

A chunk is some row groups of one Parquet file (or a slice of one big row group), or one whole file
of a line format. Chunk ids follow the plan's order, so the same input and ``chunk_rows`` give the
same chunks on every run: a resumed run skips exactly the chunks committed before.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from .. import io, tables
from ..errors import ConfigError, DataError
from .config import LabelConfig

SIGNATURE = "_input_signature.json"


def plan_chunks(cfg: LabelConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Deterministic chunk list and an input signature (to refuse resuming onto other input)."""
    import pyarrow.fs as pafs

    fs, files = tables.resolve_files(cfg.input)
    _, root = io.filesystem(cfg.input)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        root = posixpath.dirname(files[0])
    scheme = cfg.input.split("://", 1)[0] + "://" if "://" in cfg.input else ""
    chunks: list[dict[str, Any]] = []
    sig_files = []
    for fi, path in enumerate(files):
        info = fs.get_file_info(path)
        sig_files.append([path, info.size])
        if tables.file_format(path) == "parquet":
            groups = tables.parquet_row_groups(fs, path)
            cur: list[int] = []
            cur_rows, offset, start = 0, 0, 0
            for gi, n in enumerate(groups):
                if cur and cur_rows + n > cfg.chunk_rows:
                    chunks.append(_chunk(fi, scheme, path, root, len(chunks), cur, start, cur_rows))
                    start, cur, cur_rows = offset, [], 0
                if n > cfg.chunk_rows:  # a big row group is split into slices of chunk_rows
                    for s0 in range(0, n, cfg.chunk_rows):
                        ln = min(cfg.chunk_rows, n - s0)
                        chunks.append(_chunk(fi, scheme, path, root, len(chunks), [gi], offset + s0, ln, s0))
                    offset += n
                    start = offset
                    continue
                cur.append(gi)
                cur_rows += n
                offset += n
            if cur:
                chunks.append(_chunk(fi, scheme, path, root, len(chunks), cur, start, cur_rows))
        else:
            chunks.append(_chunk(fi, scheme, path, root, len(chunks), [], 0, -1))
    return chunks, {"input": cfg.input, "files": sig_files}


def _chunk(
    fi: int,
    scheme: str,
    path: str,
    root: str,
    n: int,
    groups: list[int],
    start: int,
    rows: int,
    slice_start: int = -1,
) -> dict[str, Any]:
    """A unit of work: row groups of one file (or a slice of one big row group), or a whole file."""
    return {
        "chunk_id": f"{n:06d}",
        "uri": scheme + path,
        "name": posixpath.relpath(path, root),
        "file_index": fi,
        "row_groups": groups,
        "row_offset": start,
        "rows": rows,
        "slice_start": slice_start,
    }


def check_columns(cfg: LabelConfig, chunks: list[dict[str, Any]]) -> None:
    """Every column the run reads (text, pair, id, keep_columns) is in the input, checked on the
    first file's header before any work."""
    cols = cfg.columns
    wanted = cols.texts + ([cols.id] if cols.id else []) + list(cfg.keep_columns)
    fs, path = io.filesystem(chunks[0]["uri"])
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


def check_signature(cfg: LabelConfig, signature: dict[str, Any]) -> None:
    """The output holds labels of this input (files and sizes), or nothing yet."""
    sig_path = io.join(cfg.output_dir, SIGNATURE)
    if io.exists(sig_path):
        old = io.read_json(sig_path)
        if old != json.loads(json.dumps(signature)):
            raise ConfigError(f"{cfg.output_dir}: holds labels of a different input; use a new output_dir")
    else:
        io.write_json(sig_path, signature)

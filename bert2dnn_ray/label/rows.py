"""Reading a read unit (:mod:`.plan`) into its chunks' rows: ids, normalised text, the rows set aside.

A row is quarantined (``quarantine/part-<chunk>.parquet``, with its ``reason``) when a text column
is null, empty after normalisation, not valid UTF-8, not a string (JSONL), or its line is not JSON:
never dropped silently. A row's id is the ``columns.id`` value, else ``<file>:<row>`` for Parquet
(its row in its file) and ``<file>@<byte>`` for the line formats (its line's byte offset): the same
however the file is chunked.

A unit is read by a CPU task (:func:`read_task`), which hands each pending chunk's prepared rows to
the teacher actors as one Arrow IPC buffer (one row of a Ray Data block: a chunk is never split or
merged on its way).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import io, softlabels, tables
from ..errors import Bert2dnnError
from ..text import normalize_array
from .config import LabelConfig


def read_unit(cfg: LabelConfig, unit: dict[str, Any]) -> tables.ReadResult:
    """The unit's rows (text, pair, id and keep columns), the rows that cannot be used, and for the
    line formats each row's byte offset."""
    cols = cfg.columns
    text_cols = cols.texts
    wanted = text_cols + ([cols.id] if cols.id else []) + list(cfg.keep_columns)
    fs, path = io.filesystem(unit["uri"])
    if unit["format"] != "parquet":
        br = unit.get("byte_range")
        return tables.read_file(
            fs, path, columns=wanted, text_columns=text_cols, byte_range=tuple(br) if br else None
        )
    table = tables.read_parquet_rows(fs, path, unit["row_groups"], wanted)
    bad: dict[int, str] = {}
    for c in text_cols:
        arr, invalid = tables.decode_text_column(table[c])
        table = table.set_column(table.column_names.index(c), c, arr)
        for i in invalid:
            bad.setdefault(i, f"invalid_utf8:{c}")
    return tables.ReadResult(table, bad)


def chunk_part(res: tables.ReadResult, unit: dict[str, Any], chunk: dict[str, Any]) -> tables.ReadResult:
    """The rows of one chunk of a unit that was read (a slice of a big row group, or all of it)."""
    if chunk.get("slice") is None:
        return res
    first = unit["chunks"][0]["row_offset"]
    s0, n = chunk["row_offset"] - first, chunk["rows"]
    bad = {i - s0: r for i, r in res.bad_rows.items() if s0 <= i < s0 + n}
    return tables.ReadResult(res.table.slice(s0, n), bad)


def prepare_rows(
    cfg: LabelConfig, chunk: dict[str, Any], res: tables.ReadResult, quarantine: bool = True
) -> tuple[pa.Table, dict[str, Any]]:
    """Normalise one chunk's rows and set bad rows aside (see the module docstring).

    Returns the good rows (``row_id``, normalised text column(s), ``keep_columns``) and the
    chunk's stats (input, quarantined rows and their reasons).
    """
    cols = cfg.columns
    table = res.table
    n = table.num_rows
    rel = chunk["name"]
    if cols.id:
        row_ids = pc.cast(table[cols.id], pa.string()).combine_chunks()
    elif res.offsets is not None:
        row_ids = pc.binary_join_element_wise(
            pa.scalar(f"{rel}@"), pc.cast(pa.array(res.offsets), pa.string()), ""
        )
    else:
        start = chunk["row_offset"]
        row_ids = pa.array([f"{rel}:{i}" for i in range(start, start + n)], pa.string())
    reason = np.full(n, "", dtype=object)
    for i, why in res.bad_rows.items():
        reason[i] = why
    text_cols = cols.texts
    norm: dict[str, pa.Array] = {}
    for c in text_cols:
        raw = table[c].combine_chunks()
        nulls = np.asarray(raw.is_null().to_numpy(zero_copy_only=False))
        normed = normalize_array(raw)
        empty = np.asarray(
            pc.fill_null(pc.equal(pc.utf8_length(normed), 0), False).to_numpy(zero_copy_only=False)
        )
        for i in np.nonzero(nulls & (reason == ""))[0]:
            reason[i] = f"null:{c}"
        for i in np.nonzero(empty & (reason == ""))[0]:
            reason[i] = f"empty:{c}"
        norm[c] = normed
    bad = reason != ""
    good = pa.array(np.nonzero(~bad)[0], pa.int64())
    out: dict[str, Any] = {softlabels.ROW_ID: row_ids.take(good)}
    for c in text_cols:
        out[c] = norm[c].take(good)
    for c in cfg.keep_columns:
        out[c] = table[c].combine_chunks().take(good)
    if bad.any() and quarantine:
        bidx = pa.array(np.nonzero(bad)[0], pa.int64())
        q = {
            softlabels.ROW_ID: row_ids.take(bidx),
            softlabels.REASON: pa.array(list(reason[bad]), pa.string()),
            "source_file": pa.array([rel] * int(bad.sum()), pa.string()),
        }
        for c in text_cols:
            q[c] = table[c].combine_chunks().take(bidx)
        io.write_parquet_atomic(
            pa.table(q), io.join(cfg.output_dir, softlabels.quarantine_file(chunk["chunk_id"]))
        )
    stats = {
        "chunk_id": chunk["chunk_id"],
        "file": rel,
        "input_rows": n,
        "quarantined_rows": int(bad.sum()),
        "quarantine_reasons": dict(Counter(r.split(":")[0] for r in reason[bad])),
    }
    return pa.table(out), stats


def prepared_chunks(
    cfg: LabelConfig, unit: dict[str, Any], done: set[str], quarantine: bool = True
) -> Iterator[tuple[dict[str, Any], pa.Table, dict[str, Any]]]:
    """``(chunk, good rows, stats)`` of each chunk of ``unit`` not in ``done``, the unit read once
    (``quarantine``: write its bad rows to the quarantine, as the first read of a unit does)."""
    pending = [c for c in unit["chunks"] if c["chunk_id"] not in done]
    if not pending:
        return
    res = read_unit(cfg, unit)
    for c in pending:
        chunk = {**c, "uri": unit["uri"], "name": unit["name"]}
        good, stats = prepare_rows(cfg, chunk, chunk_part(res, unit, c), quarantine)
        yield chunk, good, stats


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def read_task(batch: pa.Table, cfg_dict: dict[str, Any], done: list[str]) -> Iterator[pa.Table]:
    """Ray Data task: read units, yield one row per pending chunk (its spec, prepared rows and stats),
    or a row that carries the user-facing error that stopped it."""
    cfg = LabelConfig.model_validate(cfg_dict)
    skip = set(done)
    for unit in batch.to_pylist():
        try:
            for chunk, good, stats in prepared_chunks(cfg, unit, skip):
                yield pa.table(
                    {
                        "chunk": [json.dumps(chunk)],
                        "rows": pa.array([to_ipc(good)], pa.large_binary()),
                        "stats": [json.dumps(stats)],
                    }
                )
        except Bert2dnnError as e:
            err = {"chunk_id": unit["chunks"][0]["chunk_id"], "error": str(e), "error_type": type(e).__name__}
            yield pa.table(
                {
                    "chunk": [json.dumps(err)],
                    "rows": pa.array([b""], pa.large_binary()),
                    "stats": [json.dumps(err)],
                }
            )

"""Reading one chunk: its rows, their ids and normalised text, and the rows set aside.

A row is quarantined (``quarantine/part-<chunk>.parquet``, with its ``reason``) when a text column
is null, empty after normalisation, not valid UTF-8, not a string (JSONL), or its line is not JSON:
never dropped silently. A row's id is the ``columns.id`` value, else ``<file>:<row>`` (its position
in its file, the same however the file is chunked).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import io, softlabels, tables
from ..text import normalize_array
from .config import LabelConfig


def read_chunk(cfg: LabelConfig, spec: dict[str, Any]) -> tables.ReadResult:
    """The chunk's rows (text, pair, id and keep columns), with the rows that cannot be used."""
    cols = cfg.columns
    text_cols = cols.texts
    wanted = text_cols + ([cols.id] if cols.id else []) + list(cfg.keep_columns)
    fs, path = io.filesystem(spec["uri"])
    if not spec["row_groups"]:
        return tables.read_file(fs, path, columns=wanted, text_columns=text_cols)
    table = tables.read_parquet_rows(fs, path, spec["row_groups"], wanted)
    if spec["slice_start"] >= 0:
        table = table.slice(spec["slice_start"], spec["rows"])
    bad: dict[int, str] = {}
    for c in text_cols:
        arr, invalid = tables.decode_text_column(table[c])
        table = table.set_column(table.column_names.index(c), c, arr)
        for i in invalid:
            bad.setdefault(i, f"invalid_utf8:{c}")
    return tables.ReadResult(table, bad)


def prepare_rows(cfg: LabelConfig, spec: dict[str, Any]) -> tuple[pa.Table, dict[str, Any]]:
    """Read one chunk, normalise its text, and set bad rows aside (see the module docstring).

    Returns the good rows (``row_id``, normalised text column(s), ``keep_columns``) and the
    chunk's stats (input, quarantined rows and their reasons).
    """
    cols = cfg.columns
    res = read_chunk(cfg, spec)
    table = res.table
    n = table.num_rows
    rel = spec["name"]
    if cols.id:
        row_ids = pc.cast(table[cols.id], pa.string()).combine_chunks()
    else:
        start = spec["row_offset"]
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
    if bad.any():
        bidx = pa.array(np.nonzero(bad)[0], pa.int64())
        q = {
            softlabels.ROW_ID: row_ids.take(bidx),
            softlabels.REASON: pa.array(list(reason[bad]), pa.string()),
            "source_file": pa.array([rel] * int(bad.sum()), pa.string()),
        }
        for c in text_cols:
            q[c] = table[c].combine_chunks().take(bidx)
        io.write_parquet_atomic(
            pa.table(q), io.join(cfg.output_dir, softlabels.quarantine_file(spec["chunk_id"]))
        )
    stats = {
        "chunk_id": spec["chunk_id"],
        "file": rel,
        "input_rows": n,
        "quarantined_rows": int(bad.sum()),
        "quarantine_reasons": dict(Counter(r.split(":")[0] for r in reason[bad])),
    }
    return pa.table(out), stats

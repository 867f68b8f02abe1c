"""The soft-label contract: what the label stage writes and the student's trainer reads.

A labeling output directory holds:

* ``data/part-*.parquet``: one row per labeled input row: ``row_id``, the text column(s)
  (normalised), ``truncated`` (some teacher saw the text cut at its ``max_length``), and for every
  teacher and for the stacked label (source ``stacked``):

  - ``<source>_logits``: float32 [K] (fixed-size list);
  - ``<source>_probs_t<T>``: softmax(logits / T) for each labeling temperature, float32 [K]
    (``T`` written as in :func:`temp_suffix`: 2.0 -> ``t2``, 0.5 -> ``t0p5``);

  plus the input's ``keep_columns``; with ``dedup: distinct`` also ``count``.
* ``manifest.json``: written last, once every input row is accounted for (labeled or
  quarantined); lists the part ``files`` and records the ``settings`` that made them.
* ``stacker.json``: how the teachers' logits were combined into ``stacked_logits``.
* ``quarantine/part-*.parquet``: the rows set aside, each with its ``reason``.

Label writes through these names and train reads through them; neither spells them itself.
"""

from __future__ import annotations

from typing import Any

from . import io
from .errors import DataError

MANIFEST = "manifest.json"
STACKER = "stacker.json"
DATA_DIR = "data"
QUARANTINE_DIR = "quarantine"
ROW_ID = "row_id"
TRUNCATED = "truncated"
STACKED = "stacked"
REASON = "reason"


def temp_suffix(t: float) -> str:
    """``t2``, ``t0p5``: a temperature as it appears in a column name."""
    return f"t{t:g}".replace(".", "p")


def logits_column(source: str) -> str:
    """The logits column of a teacher (its name) or of the stacked label (``stacked``)."""
    return f"{source}_logits"


def probs_column(source: str, temperature: float) -> str:
    """The probabilities column of ``source`` at ``temperature``."""
    return f"{source}_probs_{temp_suffix(temperature)}"


def is_label_column(name: str) -> bool:
    return "_probs_t" in name or name.endswith("_logits")


def part_file(chunk_id: str) -> str:
    """A part's path relative to the output directory."""
    return f"{DATA_DIR}/part-{chunk_id}.parquet"


def quarantine_file(chunk_id: str) -> str:
    return f"{QUARANTINE_DIR}/part-{chunk_id}.parquet"


def read_manifest(output_dir: str) -> dict[str, Any]:
    """The manifest of a completed labeling run (one-line error when there is none)."""
    path = io.join(output_dir, MANIFEST)
    if not io.exists(path):
        raise DataError(f"{output_dir}: no {MANIFEST}; run `bert2dnn label` first (or let it finish)")
    return io.read_json(path)


def files(output_dir: str) -> list[str]:
    """The part files of a completed labeling run, as paths or URIs."""
    return [io.join(output_dir, f) for f in read_manifest(output_dir)["files"]]


def read_stacker(output_dir: str) -> dict[str, Any] | None:
    """The stacker a labeling run combined its teachers with (None when it recorded none)."""
    path = io.join(output_dir, STACKER)
    return io.read_json(path) if io.exists(path) else None

"""Labeled data: loading and validating text/label sets, and helpers shared by the stages that read them.

The data stage that writes the embedded synthetic dataset is :mod:`bert2dnn_ray.synthetic.stage`;
loading labeled data never imports the generator.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import tables
from .config import Strict
from .errors import DataError
from .text import normalize


class Columns(Strict):
    """Column names of a labeled (or unlabeled) set."""

    text: str = "text"
    pair: str | None = None  # second text of a pair (e.g. product title); None for single texts
    label: str = "label"
    id: str | None = None

    @property
    def texts(self) -> list[str]:
        """The text column, then the pair column when there is one."""
        return [self.text] + ([self.pair] if self.pair else [])


@dataclass
class LabeledSet:
    texts: list[str]
    pairs: list[str] | None
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def digest(self) -> str:
        """What the rows are, wherever they were read from: their count and a sha256 of every text,
        pair and label (two copies of one file agree; any changed row does not)."""
        h = hashlib.sha256()
        for col in (self.texts, self.pairs or []):
            for t in col:
                h.update(t.encode("utf-8", "surrogatepass") + b"\x00")
            h.update(b"\x01")
        h.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        return f"{len(self)} rows, sha256 {h.hexdigest()[:16]}"


def _validate_labels(col: pa.ChunkedArray, uri: str, name: str, num_labels: int | None) -> np.ndarray:
    arr = col.combine_chunks()
    if arr.null_count:
        row = int(pc.index(pc.is_null(arr), True).as_py())
        raise DataError(f"{uri}: row {row}: label column {name!r} is missing (null)")
    if pa.types.is_integer(arr.type):
        labels = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)
    elif pa.types.is_floating(arr.type):
        f = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = np.nonzero(~np.isfinite(f) | (f != np.round(f)))[0]
        if len(bad):
            raise DataError(
                f"{uri}: row {bad[0]}: label {float(f[bad[0]])!r} in column {name!r} is not an integer"
            )
        labels = f.astype(np.int64)
    else:
        vals = arr.to_pylist()
        labels = np.empty(len(vals), dtype=np.int64)
        for i, v in enumerate(vals):
            try:
                labels[i] = _int_label(v)
            except (ValueError, OverflowError):
                raise DataError(f"{uri}: row {i}: label {v!r} in column {name!r} is not an integer") from None
    if len(labels) and labels.min() < 0:
        row = int(np.argmin(labels))
        raise DataError(f"{uri}: row {row}: label {labels[row]} in column {name!r} is negative")
    if num_labels is not None and len(labels) and labels.max() >= num_labels:
        row = int(np.argmax(labels))
        raise DataError(
            f"{uri}: row {row}: label {labels[row]} in column {name!r} is out of range 0..{num_labels - 1}"
        )
    return labels


def _int_label(v: object) -> int:
    """``"3"``, ``" 3 "`` and ``"3.0"`` → 3; anything else (``"abc"``, ``"1.5"``, ``True``) → ValueError."""
    s = str(v).strip()
    try:
        return int(s)
    except ValueError:
        f = float(s)  # raises ValueError for non-numbers
        if not math.isfinite(f) or f != round(f):
            raise ValueError(s) from None
        return int(f)


def load_labeled(uri: str, cols: Columns, num_labels: int | None = None) -> LabeledSet:
    """Read a labeled set, normalise its text, validate its labels (one-line errors)."""
    wanted = cols.texts + [cols.label]
    # Validated file by file, so that an error names the file and the row within it.
    parts = tables.read_tables(uri, columns=wanted, text_columns=[c for c in wanted if c != cols.label])
    if sum(t.num_rows for _, t in parts) == 0:
        raise DataError(f"{uri}: the labeled set is empty")
    labels, texts, pairs = [], [], []
    for path, table in parts:
        labels.append(_validate_labels(table[cols.label], path, cols.label, num_labels))
        texts += _texts(table[cols.text], path, cols.text)
        if cols.pair:
            pairs += _texts(table[cols.pair], path, cols.pair)
    return LabeledSet(texts, pairs if cols.pair else None, np.concatenate(labels), uri)


def _texts(col: pa.ChunkedArray, uri: str, name: str) -> list[str]:
    out = []
    for i, v in enumerate(col.to_pylist()):
        if v is None:
            raise DataError(f"{uri}: row {i}: text column {name!r} is missing (null)")
        out.append(normalize(v))
    return out


def split(ds: LabeledSet, fraction: float, seed: int) -> tuple[LabeledSet, LabeledSet]:
    """Seeded split into (rest, held_out) with ``fraction`` held out."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(ds))
    n_out = max(1, int(round(len(ds) * fraction)))
    out_idx, in_idx = np.sort(idx[:n_out]), np.sort(idx[n_out:])

    def take(ix: np.ndarray) -> LabeledSet:
        return LabeledSet(
            [ds.texts[i] for i in ix],
            [ds.pairs[i] for i in ix] if ds.pairs is not None else None,
            ds.labels[ix],
            ds.source,
        )

    return take(in_idx), take(out_idx)


def infer_num_labels(*sets: LabeledSet) -> int:
    return max([2] + [int(s.labels.max()) + 1 for s in sets if len(s)])


def check_trainable(ds: LabeledSet, num_labels: int) -> None:
    if len(ds) == 0:
        raise DataError(f"{ds.source}: the training set is empty")
    present = np.unique(ds.labels)
    if len(present) < 2:
        raise DataError(
            f"{ds.source}: the training set has only one class ({int(present[0])}); need at least two of {num_labels}"
        )


def group_by_length(
    window: dict[str, np.ndarray],
    batch_size: int,
    rng: np.random.Generator,
    text_keys: tuple[str, ...] = ("text", "pair"),
) -> list[dict[str, np.ndarray]]:
    """Cut a window of rows into batches of similar text length, in random batch order.

    Padding is to the longest text of a batch (and an LSTM steps through it), so grouping rows of
    similar length cuts the compute of a step several-fold on length-skewed data such as SST-2
    (like Hugging Face Trainer's ``group_by_length``); the shuffled window and batch order keep
    the gradient noise. A row's length is the characters of its ``text_keys`` columns (those the
    window has).
    """
    keys = [k for k in text_keys if k in window]
    n = len(window[keys[0]])
    lengths = np.zeros(n, dtype=np.int64)
    for k in keys:
        lengths += np.fromiter((len(t) for t in window[k]), dtype=np.int64, count=n)
    order = np.argsort(lengths, kind="stable")
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [
        {k: v[idx] for k, v in window.items()} for idx in (chunks[j] for j in rng.permutation(len(chunks)))
    ]

"""What the two runtimes of a student (PyTorch, :mod:`.serve`; onnxruntime, :mod:`.onnx`) share: the
artifact's meta, featurizer and labels, and checks of what a caller passes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArtifactError, DataError, one_line
from ..featurizer import Featurizer
from .artifact import DEFAULT_TEXT_FIELDS, METRICS_FILE


def probe_texts() -> list[str]:
    return ["", "hello world", "cheap red iphone case", "Straße über 10€ !!", "a " * 40]


def check_texts(texts: Sequence[str], pairs: Sequence[str] | None, batch_size: int) -> None:
    if isinstance(texts, str):
        raise DataError(
            "predict() takes a list of texts, got a single string; use predict_one() for one text"
        )
    if isinstance(pairs, str):
        raise DataError("predict() takes a list of pair texts, got a single string")
    if pairs is not None and len(pairs) != len(texts):
        raise DataError(f"predict(): {len(pairs)} pair texts for {len(texts)} texts; the counts must match")
    if int(batch_size) < 1:
        raise DataError(f"predict(): batch_size must be >= 1, got {batch_size}")


def padded(ids: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat ``(ids, offsets)`` -> padded ``ids`` [B, L] int64 and ``mask`` [B, L] float32."""
    n = len(offsets)
    lens = np.diff(np.append(offsets, len(ids)))
    width = max(int(lens.max()) if n else 0, 1)
    rows = np.repeat(np.arange(n), lens)
    cols = np.arange(len(ids)) - np.repeat(offsets, lens)
    pids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.float32)
    pids[rows, cols] = ids
    mask[rows, cols] = 1.0
    return pids, mask


class Servable:
    """What both runtimes share: the artifact's meta, featurizer and labels."""

    def __init__(
        self, featurizer: Featurizer, label_names: Sequence[str], meta: dict | None, path: Path | None
    ):
        self._featurizer = featurizer
        self._label_names = list(label_names)
        self._meta = meta or {}
        self._path = path

    @property
    def featurizer(self) -> Featurizer:
        return self._featurizer

    @property
    def label_names(self) -> list[str]:
        return list(self._label_names)

    @property
    def num_labels(self) -> int:
        return len(self._label_names)

    @property
    def path(self) -> Path | None:
        """The artifact directory (None for a student built in memory)."""
        return self._path

    @property
    def meta(self) -> dict[str, Any]:
        """``student.json`` as loaded (configs as objects)."""
        return self._meta

    @property
    def text_fields(self) -> dict[str, str | None]:
        return dict(self._meta.get("text_fields") or DEFAULT_TEXT_FIELDS)

    @property
    def temperature(self) -> float | None:
        return self._meta.get("temperature")

    @property
    def metrics(self) -> dict[str, Any] | None:
        """``metrics.json`` of the artifact, if any."""
        if self._path is None:
            return None
        p = self._path / METRICS_FILE
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{p}: unreadable metrics ({one_line(e)})") from None

    def __repr__(self) -> str:
        where = f" from {self._path}" if self._path else ""
        return f"{type(self).__name__}(labels={self._label_names}{where})"

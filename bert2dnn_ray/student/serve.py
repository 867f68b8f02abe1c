"""A student served by PyTorch on a CPU: :class:`Student` (load an artifact, predict a batch or one
text). One text of a bag student runs in NumPy (:class:`_NumpyForward`), the quickest path; the ONNX
export and its onnxruntime twin are :mod:`.onnx`."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ArtifactError, DataError
from ..featurizer import Featurizer
from .artifact import INT8_TOLERANCE, ONNX_OPSET, check_labels, load_model
from .model import StudentNet
from .servable import Servable, check_texts

PRECISIONS = ("float32", "bfloat16")  # Student.predict(precision=...)


class Student(Servable):
    """A student ready to serve: featurizer + :class:`StudentNet` (PyTorch, CPU)."""

    def __init__(
        self,
        model: StudentNet,
        featurizer: Featurizer,
        label_names: Sequence[str],
        meta: dict[str, Any] | None = None,
        path: Path | None = None,
    ):
        if model.num_buckets != featurizer.num_buckets:
            raise ArtifactError(
                f"model has {model.num_buckets} buckets but the featurizer has {featurizer.num_buckets}"
            )
        check_labels(label_names, model.num_labels, "Student")
        super().__init__(featurizer, label_names, meta, path)
        self._model = model
        self._fast: _NumpyForward | None = None
        self._dense_bf16: torch.nn.Module | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Student:
        """Load an artifact directory written by :func:`save_student` (verifying its checksum)."""
        d, meta, model = load_model(path)
        return cls(model, Featurizer(meta["featurizer"]), meta["label_names"], meta=meta, path=d)

    @property
    def model(self) -> StudentNet:
        return self._model

    def logits(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        batch_size: int = 4096,
        precision: str = "float32",
    ) -> np.ndarray:
        """Raw logits [N, K] float32 (``precision`` as in :meth:`predict`)."""
        return self._predict(texts, pairs, batch_size, probs=False, precision=precision)

    def predict(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        batch_size: int = 4096,
        precision: str = "float32",
    ) -> np.ndarray:
        """Class probabilities [N, K] float32 (softmax of the logits).

        ``precision="bfloat16"`` runs the dense layers in bfloat16 (the embedding bag, pooling
        and softmax stay float32) on a bfloat16 copy of their weights taken at the first such
        call. On CPUs with AMX or AVX-512 BF16 that is several times the float32 batch rate;
        elsewhere it is slower. Probabilities then differ from float32 by up to about 1e-2.
        """
        return self._predict(texts, pairs, batch_size, probs=True, precision=precision)

    def _predict(self, texts, pairs, batch_size: int, probs: bool, precision: str = "float32") -> np.ndarray:
        check_texts(texts, pairs, batch_size)
        if precision not in PRECISIONS:
            raise DataError(f"predict(): precision must be one of {list(PRECISIONS)}, got {precision!r}")
        n = len(texts)
        out = np.empty((n, self.num_labels), dtype=np.float32)
        feat = self._featurizer
        model = self._model
        dense = self._bf16_dense() if precision == "bfloat16" else None
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                chunk = texts[i : i + batch_size]
                pchunk = None if pairs is None else pairs[i : i + batch_size]
                ids, offsets = feat.batch(chunk, pchunk)
                if dense is None:
                    y = model(torch.from_numpy(ids), torch.from_numpy(offsets))
                else:
                    pooled = model.pool(torch.from_numpy(ids), torch.from_numpy(offsets))
                    y = dense(pooled.to(torch.bfloat16)).float()
                out[i : i + len(chunk)] = (torch.softmax(y, dim=-1) if probs else y).numpy()
        return out

    def _bf16_dense(self) -> torch.nn.Module:
        if self._dense_bf16 is None:
            layers: list[torch.nn.Module] = []
            for m in self._model.hidden:
                layers += [_copy_linear(m, torch.bfloat16), torch.nn.ReLU()]
            layers.append(_copy_linear(self._model.head, torch.bfloat16))
            self._dense_bf16 = torch.nn.Sequential(*layers).eval()
        return self._dense_bf16

    def predict_one(self, text: str, pair: str | None = None) -> np.ndarray:
        """Class probabilities [K] float32 of one text (or pair): the low-latency path.

        A bag student runs in NumPy on a snapshot of the weights taken at the first call (a handful
        of vector ops: no per-op framework dispatch), so a served student is read-only; a cnn or
        bilstm student runs in PyTorch (its ONNX export, :class:`OnnxStudent`, is quicker). Equal to
        ``predict([text])[0]`` up to float rounding (tested). For a one-thread server set
        ``OMP_NUM_THREADS=1`` (NumPy's BLAS) as well as ``torch.set_num_threads(1)``.
        """
        ids = self._featurizer.ids(text, pair)
        if self._model.reads_in_order:  # a cnn / bilstm student: PyTorch (OnnxStudent is faster)
            with torch.inference_mode():
                return torch.softmax(self._model.forward_one(torch.from_numpy(ids)), dim=-1)[0].numpy()
        if self._fast is None:
            self._fast = _NumpyForward(self._model)
        return self._fast(ids)

    # ------------------------------------------------------------------------------------- ONNX
    def export_onnx(self, path: str | os.PathLike | None = None, opset: int = ONNX_OPSET) -> Path:
        """Export to ONNX (inputs ``ids`` [B, L] int64 and ``mask`` [B, L] float32; outputs ``logits``
        and ``probs``), check onnxruntime against PyTorch, and return the file's path.

        By default writes ``model.onnx`` into the artifact directory and records it in
        ``student.json`` so :class:`OnnxStudent` can load it (:func:`.onnx.export_onnx`).
        """
        from .onnx import export_onnx

        return export_onnx(self, path, opset)

    def export_onnx_int8(
        self,
        check_texts: Sequence[str] = (),
        check_pairs: Sequence[str] | None = None,
        tolerance: float = INT8_TOLERANCE,
    ) -> dict[str, Any]:
        """Write ``model.int8.onnx``, the ONNX student with its dense layers quantized to int8, checked
        against PyTorch on the probe texts plus ``check_texts`` (:func:`.onnx.export_onnx_int8`)."""
        from .onnx import export_onnx_int8

        return export_onnx_int8(self, check_texts, check_pairs, tolerance)


def _copy_linear(m: torch.nn.Linear, dtype: torch.dtype) -> torch.nn.Linear:
    out = torch.nn.Linear(m.in_features, m.out_features, dtype=dtype)
    with torch.no_grad():
        out.weight.copy_(m.weight)
        out.bias.copy_(m.bias)
    return out.requires_grad_(False)


class _NumpyForward:
    """``StudentNet.forward_one`` + softmax in NumPy: bag sum, pooling scale, [x @ W + b, ReLU]*,
    head, softmax. Weights are copied once into contiguous float32 arrays laid out for ``x @ W``."""

    def __init__(self, model: StudentNet):
        def weights(m: torch.nn.Linear) -> tuple[np.ndarray, np.ndarray]:
            w, b = m.weight.detach().float().numpy(), m.bias.detach().float().numpy()
            return np.ascontiguousarray(w.T), b.copy()

        self.embedding = model.embedding.weight.detach().float().numpy().copy()
        self.layers = [weights(m) for m in model.hidden]
        self.head = weights(model.head)
        self.pooling = model.pooling

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        x = self.embedding.take(ids, axis=0).sum(axis=0)
        n = max(len(ids), 1)
        if self.pooling == "sqrtn":
            x /= np.float32(math.sqrt(n))
        elif self.pooling == "mean":
            x /= np.float32(n)
        for w, b in self.layers:
            x = x @ w
            x += b
            np.maximum(x, 0, out=x)
        y = x @ self.head[0]
        y += self.head[1]
        y -= y.max()
        np.exp(y, out=y)
        y /= y.sum()
        return y

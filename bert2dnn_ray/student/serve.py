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
        self._compiled: Any = None  # CompiledForward, or False where the path does not apply
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

        A bag student over word n-grams runs compiled (:mod:`.compiled`, numba: featurization,
        bag, dense layers and softmax in one native call; the first call compiles, about 2 s, then
        numba's on-disk cache serves later processes); other bag students, or a text pair, run in
        NumPy (a handful of vector ops); both use a snapshot of the weights taken at the first call,
        so a served student is read-only. A cnn or bilstm student runs in PyTorch (its ONNX export,
        :class:`OnnxStudent`, is quicker). Equal to ``predict([text])[0]`` up to float rounding
        (tested). ``BERT2DNN_COMPILED=0`` keeps the NumPy path. For a one-thread server set
        ``OMP_NUM_THREADS=1`` (NumPy's BLAS) as well as ``torch.set_num_threads(1)``.
        """
        if pair is None and self._compiled is not False:
            if self._compiled is None:
                self._compiled = self._build_compiled()
            if self._compiled is not False and isinstance(text, str):
                return self._compiled(text)
        ids = self._featurizer.ids(text, pair)
        if self._model.reads_in_order:  # a cnn / bilstm student: PyTorch (OnnxStudent is faster)
            with torch.inference_mode():
                return torch.softmax(self._model.forward_one(torch.from_numpy(ids)), dim=-1)[0].numpy()
        if self._fast is None:
            self._fast = _NumpyForward(self._model)
        return self._fast(ids)

    def _build_compiled(self) -> Any:
        from . import compiled

        if os.environ.get("BERT2DNN_COMPILED", "1") == "0" or not compiled.supports(
            self._featurizer, self._model
        ):
            return False
        if self._fast is None:
            self._fast = _NumpyForward(self._model)
        return compiled.CompiledForward(self._featurizer, self._fast)

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
    head, softmax. Weights are copied once into contiguous float32 arrays laid out for ``x @ W``.

    The bag and the first dense layer (the head, for a student without hidden layers) are linear,
    so where that layer is no wider than the embedding its weights are folded into the table:
    ``F = E @ W`` ([buckets, width], no larger than the copy of ``E`` it replaces), and a text costs
    one gather-and-sum of ``F`` rows instead of a gather of ``E`` rows and a matrix-vector product.
    A linear student (``hidden: []``) is then a table of per-feature logits, as fastText is."""

    def __init__(self, model: StudentNet):
        def weights(m: torch.nn.Linear) -> tuple[np.ndarray, np.ndarray]:
            w, b = m.weight.detach().float().numpy(), m.bias.detach().float().numpy()
            return np.ascontiguousarray(w.T), b.copy()

        embedding = model.embedding.weight.detach().float().numpy()
        layers = [weights(m) for m in model.hidden] + [weights(model.head)]
        w0, b0 = layers[0]
        self.folded = w0.shape[1] <= embedding.shape[1]
        if self.folded:
            self.table = np.ascontiguousarray(embedding @ w0)
            self.first_bias = b0
            layers = layers[1:]
        else:
            self.table = embedding.copy()
            self.first_bias = None
        self.layers, self.head = layers[:-1], layers[-1] if layers else None
        self.pooling = model.pooling

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        x = self.table.take(ids, axis=0).sum(axis=0)
        n = max(len(ids), 1)
        if self.pooling == "sqrtn":
            x /= np.float32(math.sqrt(n))
        elif self.pooling == "mean":
            x /= np.float32(n)
        if self.first_bias is not None:
            x += self.first_bias
            if self.head is None:  # the folded layer was the head
                return _softmax_inplace(x)
            np.maximum(x, 0, out=x)
        for w, b in self.layers:
            x = x @ w
            x += b
            np.maximum(x, 0, out=x)
        y = x @ self.head[0]
        y += self.head[1]
        return _softmax_inplace(y)


def _softmax_inplace(y: np.ndarray) -> np.ndarray:
    y -= y.max()
    np.exp(y, out=y)
    y /= y.sum()
    return y

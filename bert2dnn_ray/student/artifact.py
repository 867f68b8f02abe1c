"""The exported, servable student: a directory that holds everything needed to predict.

Layout::

    student.json        format "bert2dnn-student", format_version 1, featurizer + model configs,
                        num_buckets, label_names, text_fields, temperature, created_at, and the
                        sha256 of the weights (and of model.onnx once exported)
    model.safetensors   the StudentNet state dict (safetensors, never pickle)
    metrics.json        optional evaluation metrics
    model.onnx          optional, written by ``Student.export_onnx`` (padded ids + mask -> logits, probs)
    model.int8.onnx     optional, written by ``Student.export_onnx_int8``: model.onnx with the dense
                        layers' weights quantized to int8 (dynamic quantization, onnxruntime), for
                        CPU serving; ``OnnxStudent.load(path, precision="int8")`` runs it

Anything wrong with an artifact (missing file, corrupt or truncated weights, checksum mismatch,
unknown format version, weights that do not fit the config) raises :class:`ArtifactError` with one
line naming the path and the problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from .. import io
from ..config import format_validation_error
from ..errors import ArtifactError, DataError, one_line
from ..featurizer import Featurizer, FeaturizerConfig
from .model import StudentModelConfig, StudentNet, expected_shapes

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "META_FILE",
    "WEIGHTS_FILE",
    "METRICS_FILE",
    "ONNX_FILE",
    "ONNX_INT8_FILE",
    "save_student",
    "read_meta",
    "Student",
    "OnnxStudent",
]

FORMAT_NAME = "bert2dnn-student"
FORMAT_VERSION = 1
META_FILE = "student.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
ONNX_OPSET = 17
# OnnxStudent.load(precision=...) -> (file, student.json key)
ONNX_VARIANTS = {"float32": (ONNX_FILE, "onnx"), "int8": (ONNX_INT8_FILE, "onnx_int8")}
# int8 export: the largest |probability difference| from PyTorch allowed on the check texts
INT8_TOLERANCE = 0.02
DEFAULT_TEXT_FIELDS: dict[str, str | None] = {"text": "text", "pair": None}
PRECISIONS = ("float32", "bfloat16")  # Student.predict(precision=...)
_PROMOTED = ("text_fields", "text_columns", "temperature")  # keys of ``extra`` stored top-level


# ------------------------------------------------------------------------------------------ helpers
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    try:
        io.write_json(path, data)
    except (TypeError, ValueError) as e:
        raise ArtifactError(f"{path}: cannot write as JSON ({one_line(e)})") from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _as_config(cls, value, what: str):
    if isinstance(value, cls):
        return value
    try:
        return cls.model_validate(value)
    except ValidationError as e:
        raise ArtifactError(format_validation_error(e, what)) from None


def _check_labels(label_names: Sequence[str], num_labels: int, where: str) -> list[str]:
    if isinstance(label_names, str | bytes) or not hasattr(label_names, "__iter__"):
        raise ArtifactError(f"{where}: label_names must be a list of strings")
    names = list(label_names)
    if not all(isinstance(x, str) and x for x in names):
        raise ArtifactError(f"{where}: label_names must be non-empty strings, got {names!r}")
    names = [str(x) for x in names]  # plain str (e.g. from numpy.str_)
    if len(set(names)) != len(names):
        raise ArtifactError(f"{where}: label_names has duplicates: {names!r}")
    if len(names) != num_labels:
        raise ArtifactError(f"{where}: {len(names)} label_names for a model with {num_labels} outputs")
    return names


def _probe_texts() -> list[str]:
    return ["", "hello world", "cheap red iphone case", "Straße über 10€ !!", "a " * 40]


# --------------------------------------------------------------------------------------------- save
def save_student(
    path: str | os.PathLike,
    model: StudentNet,
    featurizer_cfg: FeaturizerConfig | Mapping[str, Any],
    model_cfg: StudentModelConfig | Mapping[str, Any],
    label_names: Sequence[str],
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    *,
    text_fields: Mapping[str, str | None] | None = None,
    temperature: float | None = None,
) -> Path:
    """Write a student artifact directory and return its path.

    ``text_fields`` (which input columns hold the text and the optional pair text; ``text_columns``
    is accepted as an alias) and ``temperature`` (the distillation temperature, informational) may
    also be passed inside ``extra`` under those keys; they are stored at the top level of
    ``student.json``, not under ``extra``. An existing artifact at ``path`` is overwritten, and a stale
    ``model.onnx`` is removed (re-export it with :meth:`Student.export_onnx`).
    """
    out = Path(path)
    fcfg = _as_config(FeaturizerConfig, featurizer_cfg, "featurizer config")
    mcfg = _as_config(StudentModelConfig, model_cfg, "model config")
    extra = dict(extra or {})
    if text_fields is None:
        text_fields = extra.get("text_fields", extra.get("text_columns", DEFAULT_TEXT_FIELDS))
    if temperature is None:
        temperature = extra.get("temperature")
    text_fields = dict(text_fields)
    if "text" not in text_fields:
        raise ArtifactError(f"{out}: text_fields needs a 'text' entry, got {text_fields!r}")
    if temperature is not None:
        temperature = float(temperature)
    if not isinstance(model, StudentNet):
        raise ArtifactError(f"{out}: save_student expects a StudentNet, got {type(model).__name__}")
    if model.num_buckets != fcfg.num_buckets:
        raise ArtifactError(
            f"{out}: the model has {model.num_buckets} embedding buckets but the featurizer "
            f"config has num_buckets={fcfg.num_buckets}"
        )
    labels = _check_labels(label_names, mcfg.num_labels, str(out))

    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    want = expected_shapes(mcfg, fcfg.num_buckets)
    _check_tensors(state, want, f"{out}: model")
    for name, t in state.items():
        if not _all_finite(t):
            raise ArtifactError(f"{out}: model weight '{name}' contains NaN or inf; refusing to save it")

    out.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    with io.atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "producer": FORMAT_NAME})
        digest = _sha256(tmp)
        size = tmp.stat().st_size
    for onnx_file, _ in ONNX_VARIANTS.values():
        (out / onnx_file).unlink(missing_ok=True)  # exported from older weights, if any
    if metrics is not None:
        _write_json(out / METRICS_FILE, dict(metrics))
    else:
        (out / METRICS_FILE).unlink(missing_ok=True)

    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_at": _now(),
        "featurizer": fcfg.model_dump(mode="json"),
        "model": mcfg.model_dump(mode="json"),
        "num_buckets": fcfg.num_buckets,
        "num_labels": mcfg.num_labels,
        "label_names": labels,
        "text_fields": text_fields,
        "temperature": temperature,
        "weights": {"file": WEIGHTS_FILE, "sha256": digest, "bytes": size},
        "metrics_file": METRICS_FILE if metrics is not None else None,
        "onnx": None,
        "onnx_int8": None,
        "torch_version": torch.__version__,
        "extra": {k: v for k, v in extra.items() if k not in _PROMOTED},
    }
    _write_json(out / META_FILE, meta)  # written last: its presence means "complete"
    return out


def _check_tensors(tensors: Mapping[str, torch.Tensor], want: Mapping[str, tuple[int, ...]], where: str):
    missing = [k for k in want if k not in tensors]
    unexpected = [k for k in tensors if k not in want]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:4]}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:4]}")
        raise ArtifactError(f"{where}: weights do not match the model config ({'; '.join(parts)})")
    for name, shape in want.items():
        got = tuple(tensors[name].shape)
        if got != tuple(shape):
            raise ArtifactError(
                f"{where}: weight '{name}' has shape {list(got)} but the config expects {list(shape)}"
            )


# --------------------------------------------------------------------------------------------- load
def _artifact_dir(path: str | os.PathLike) -> Path:
    if "://" in str(path):  # s3://, gs://...: a cached local copy (refreshed when it changes)
        try:
            path = io.localize(str(path))
        except DataError as e:
            raise ArtifactError(f"student artifact {e}") from None
    p = Path(path)
    if p.is_file() and p.name == META_FILE:
        p = p.parent
    if not p.exists():
        raise ArtifactError(f"{p}: student artifact not found (no such directory)")
    if not p.is_dir():
        raise ArtifactError(f"{p}: a student artifact is a directory, this is a file")
    if not (p / META_FILE).is_file():
        raise ArtifactError(f"{p}: not a student artifact ({META_FILE} is missing)")
    return p


def read_meta(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Read and validate ``student.json``: (artifact dir, meta dict with parsed configs).

    The returned dict has ``featurizer`` / ``model`` replaced by validated config objects.
    """
    d = _artifact_dir(path)
    mpath = d / META_FILE
    try:
        meta = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ArtifactError(
            f"{mpath}: not valid JSON ({e.msg}, line {e.lineno}); the file is corrupt"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{mpath}: cannot read ({one_line(e)})") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{mpath}: expected a JSON object at the top level")
    if meta.get("format") != FORMAT_NAME:
        raise ArtifactError(f"{mpath}: not a {FORMAT_NAME} artifact (format={meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ArtifactError(
            f"{mpath}: format_version {version!r} is not supported (this version reads {FORMAT_VERSION})"
        )
    for key in ("featurizer", "model", "label_names", "num_buckets", "weights"):
        if key not in meta:
            raise ArtifactError(f"{mpath}: missing key '{key}'")
    fcfg = _as_config(FeaturizerConfig, meta["featurizer"], f"{mpath} featurizer")
    mcfg = _as_config(StudentModelConfig, meta["model"], f"{mpath} model")
    if meta["num_buckets"] != fcfg.num_buckets:
        raise ArtifactError(
            f"{mpath}: num_buckets={meta['num_buckets']!r} but featurizer.num_buckets={fcfg.num_buckets}"
        )
    labels = _check_labels(meta["label_names"], mcfg.num_labels, str(mpath))
    w = meta["weights"]
    if not isinstance(w, dict) or not isinstance(w.get("sha256"), str) or not isinstance(w.get("file"), str):
        raise ArtifactError(f"{mpath}: 'weights' must record the weights 'file' and its 'sha256'")
    if Path(w["file"]).name != w["file"]:
        raise ArtifactError(f"{mpath}: weights file {w['file']!r} must be a plain file name")
    meta = dict(meta)
    meta["featurizer"] = fcfg
    meta["model"] = mcfg
    meta["label_names"] = labels
    meta.setdefault("text_fields", dict(DEFAULT_TEXT_FIELDS))
    meta.setdefault("temperature", None)
    return d, meta


def _load_weights(d: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    wpath = d / meta["weights"]["file"]
    if not wpath.is_file():
        raise ArtifactError(f"{wpath}: weights file is missing")
    try:
        data = wpath.read_bytes()  # one read: checksum, then tensors owned by torch (no mmap)
    except OSError as e:
        raise ArtifactError(f"{wpath}: cannot read ({one_line(e)})") from None
    got = hashlib.sha256(data).hexdigest()
    want = meta["weights"]["sha256"]
    if got != want:
        raise ArtifactError(
            f"{wpath}: sha256 mismatch (student.json records {want[:12]}..., the file has {got[:12]}...); "
            "the weights are corrupt, truncated or were replaced"
        )
    from safetensors.torch import load

    try:
        tensors = load(data)
    except Exception as e:  # safetensors raises its own error types for bad headers/sizes
        raise ArtifactError(f"{wpath}: unreadable safetensors file ({one_line(e)})") from None
    del data
    _check_tensors(tensors, expected_shapes(meta["model"], meta["num_buckets"]), str(wpath))
    out = {}
    for name, t in tensors.items():
        if not t.is_floating_point():
            raise ArtifactError(f"{wpath}: weight '{name}' has dtype {t.dtype}, expected a float type")
        t = t.to(torch.float32)
        if not _all_finite(t):
            raise ArtifactError(f"{wpath}: weight '{name}' contains NaN or inf")
        out[name] = t
    return out


def _all_finite(t: torch.Tensor) -> bool:
    # A float64 sum of float32 values cannot overflow, so it is finite iff every value is.
    return bool(torch.isfinite(t.sum(dtype=torch.float64)))


def _build_model(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> StudentNet:
    # Build on the meta device (no allocation or random init of the big embedding), then adopt
    # the loaded tensors as the parameters.
    with torch.device("meta"):
        model = StudentNet(meta["model"], meta["num_buckets"])
    model.load_state_dict(tensors, strict=True, assign=True)
    model.eval()
    return model


def _check_texts(texts: Sequence[str], pairs: Sequence[str] | None, batch_size: int) -> None:
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


def _padded(ids: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


class _Servable:
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


class Student(_Servable):
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
        _check_labels(label_names, model.num_labels, "Student")
        super().__init__(featurizer, label_names, meta, path)
        self._model = model
        self._fast: _NumpyForward | None = None
        self._dense_bf16: torch.nn.Module | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Student:
        """Load an artifact directory written by :func:`save_student` (verifying its checksum)."""
        d, meta = read_meta(path)
        tensors = _load_weights(d, meta)
        model = _build_model(meta, tensors)
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
        _check_texts(texts, pairs, batch_size)
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
        if self._model.encoder != "bag":  # a cnn / bilstm student: PyTorch (OnnxStudent is faster)
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
        ``student.json`` so :class:`OnnxStudent` can load it.
        """
        if path is None:
            if self._path is None:
                raise ArtifactError("export_onnx(): this student was not loaded from disk; pass a path")
            target = self._path / ONNX_FILE
        else:
            target = Path(path)
            if target.is_dir():
                target = target / ONNX_FILE
        with io.atomic_path(target) as tmp:
            _export(self._model, tmp, opset)
            session = _ort_session(tmp)
            self._verify_onnx(session, tmp)

        if self._path is not None and target.resolve() == (self._path / ONNX_FILE).resolve():
            read_meta(self._path)  # the artifact on disk is still valid before its meta is rewritten
            self._record("onnx", {"file": ONNX_FILE, "sha256": _sha256(target), "opset": opset})
        return target

    def _record(self, key: str, rec: dict[str, Any]) -> dict[str, Any]:
        """Record an exported file in ``student.json`` (with the weights it was made from)."""
        rec = {**rec, "weights_sha256": self._meta["weights"]["sha256"], "exported_at": _now()}
        raw = json.loads((self._path / META_FILE).read_text(encoding="utf-8"))
        raw[key] = rec
        _write_json(self._path / META_FILE, raw)
        self._meta[key] = rec
        return rec

    def _session_and_torch_probs(
        self, session, texts: Sequence[str], pairs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of ``texts`` from an onnxruntime session and from the PyTorch model."""
        ids, offsets = self._featurizer.batch(texts, pairs)
        pids, mask = _padded(ids, offsets)
        got = session.run(["probs"], {"ids": pids, "mask": mask})[0]
        with torch.inference_mode():
            want = torch.softmax(self._model(torch.from_numpy(ids), torch.from_numpy(offsets)), -1).numpy()
        return got, want

    def _verify_onnx(self, session, where: Path) -> None:
        got, want = self._session_and_torch_probs(session, _probe_texts())
        err = float(np.abs(got - want).max())
        if not err <= 1e-5:
            raise ArtifactError(f"{where}: ONNX export differs from PyTorch by {err:.3g} (> 1e-5)")

    def export_onnx_int8(
        self,
        check_texts: Sequence[str] = (),
        check_pairs: Sequence[str] | None = None,
        tolerance: float = INT8_TOLERANCE,
    ) -> dict[str, Any]:
        """Write ``model.int8.onnx``: the ONNX student with its dense layers quantized to int8.

        onnxruntime's dynamic quantization: each MatMul's weights become int8 (one scale per
        output channel), its input is quantized per batch at run time; the embedding table, the
        pooling and the softmax stay float32. On a CPU with VNNI / AMX int8 this runs the default
        1024-512-128-64 student several times faster than float32 (its 2.6 MB of float32 dense
        weights shrink to 0.66 MB, which stay in cache). Exports ``model.onnx`` first if needed.

        Checked before it is kept: on the probe texts plus ``check_texts`` (and ``check_pairs``
        for a pair student) the int8 probabilities may differ from PyTorch's by at most
        ``tolerance``; the measured difference and the argmax agreement are recorded in
        ``student.json`` (``onnx_int8``) and returned. The activations' scale is set per batch,
        so a text's probabilities move slightly (within the tolerance) with the batch it is in.
        """
        if self._path is None:
            raise ArtifactError("export_onnx_int8(): this student was not loaded from disk")
        if not tolerance > 0:
            raise ArtifactError(f"export_onnx_int8(): tolerance must be > 0, got {tolerance}")
        try:
            from onnxruntime.quantization import QuantType, quantize_dynamic
        except ImportError:  # pragma: no cover - onnxruntime is a declared dependency
            raise ArtifactError("onnxruntime.quantization is not available; install onnxruntime") from None
        texts = _probe_texts() + list(check_texts)
        pairs = None
        if self.text_fields.get("pair"):  # a pair student: check texts are paired with probes
            pairs = _probe_texts()[::-1] + list(check_pairs if check_pairs is not None else check_texts)
            if len(pairs) != len(texts):
                raise ArtifactError("export_onnx_int8(): check_pairs must match check_texts in length")
        d = self._path
        if not isinstance(self._meta.get("onnx"), dict) or not (d / ONNX_FILE).is_file():
            self.export_onnx()
        target = d / ONNX_INT8_FILE
        with io.atomic_path(target) as tmp:
            # The quantizer logs advice on the root logger ("consider pre-processing": a
            # no-op for this graph); keep it out of the user's logs without configuring them.
            muted = logging.root.manager.disable
            logging.disable(logging.WARNING)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    quantize_dynamic(
                        str(d / ONNX_FILE),
                        str(tmp),
                        op_types_to_quantize=["MatMul", "Gemm"],
                        weight_type=QuantType.QInt8,
                        per_channel=True,
                        # 7-bit weights: no int16 saturation in the u8 x s8 kernels of CPUs
                        # without VNNI (AVX2), so the check made here holds on any x86 server.
                        reduce_range=True,
                    )
                except Exception as e:
                    raise ArtifactError(f"{target}: int8 quantization failed ({one_line(e)})") from None
                finally:
                    logging.disable(muted)
            got, want = self._session_and_torch_probs(_ort_session(tmp), texts, pairs)
            err = float(np.abs(got - want).max())
            agree = float((got.argmax(1) == want.argmax(1)).mean())
            if not err <= tolerance:
                raise ArtifactError(
                    f"{target}: int8 probabilities differ from PyTorch by {err:.3g} (> {tolerance:g}) "
                    f"on {len(texts)} check texts; serve float32 (model.onnx) or raise the tolerance"
                )
        return self._record(
            "onnx_int8",
            {
                "file": ONNX_INT8_FILE,
                "sha256": _sha256(target),
                "quantization": "dynamic: MatMul weights int8 per channel (7-bit range), inputs uint8 per batch",
                "check_texts": len(texts),
                "max_abs_diff": err,
                "argmax_agreement": agree,
            },
        )


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


class _PaddedProbs(torch.nn.Module):
    def __init__(self, model: StudentNet):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor):
        logits = self.model.forward_padded(ids, mask)
        return logits, torch.softmax(logits, dim=-1)


def _export(model: StudentNet, target: Path, opset: int) -> None:
    wrapper = _PaddedProbs(model).eval()
    example = (torch.zeros((2, 3), dtype=torch.int64), torch.ones((2, 3), dtype=torch.float32))
    kwargs = dict(
        input_names=["ids", "mask"],
        output_names=["logits", "probs"],
        opset_version=opset,
        dynamic_axes={
            "ids": {0: "batch", 1: "length"},
            "mask": {0: "batch", 1: "length"},
            "logits": {0: "batch"},
            "probs": {0: "batch"},
        },
        do_constant_folding=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            try:
                # The TorchScript exporter needs no onnxscript and handles this graph (gather +
                # masked sum + MLP) exactly; newer torch defaults to the dynamo exporter.
                torch.onnx.export(wrapper, example, str(target), dynamo=False, **kwargs)
            except TypeError:  # a torch without the ``dynamo`` switch
                torch.onnx.export(wrapper, example, str(target), **kwargs)
            except Exception as e:
                raise ArtifactError(f"{target}: ONNX export failed ({one_line(e)})") from None


def _ort_session(path: Path, threads: int | None = None):
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - onnxruntime is a declared dependency
        raise ArtifactError("onnxruntime is not installed; it is needed to run model.onnx") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:  # e.g. 1 for a one-core server; None: onnxruntime's default pool
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ArtifactError(f"{path}: onnxruntime cannot load the model ({one_line(e)})") from None


class OnnxStudent(_Servable):
    """The same API as :class:`Student`, running ``model.onnx`` with onnxruntime (CPU)."""

    def __init__(self, session, featurizer: Featurizer, label_names: Sequence[str], meta=None, path=None):
        super().__init__(featurizer, label_names, meta, path)
        self._session = session
        names = {i.name for i in session.get_inputs()}
        outs = {o.name for o in session.get_outputs()}
        if names != {"ids", "mask"} or "probs" not in outs:
            raise ArtifactError(
                f"{path}: model.onnx has inputs {sorted(names)} / outputs {sorted(outs)}, "
                "expected ids, mask -> logits, probs"
            )

    @classmethod
    def load(
        cls, path: str | os.PathLike, precision: str = "float32", threads: int | None = None
    ) -> OnnxStudent:
        """Load ``model.onnx`` (``precision="float32"``) or ``model.int8.onnx`` (``"int8"``).

        ``threads``: onnxruntime intra/inter-op threads (1 for a one-core server); default: its own.
        """
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise DataError(f"OnnxStudent.load: threads must be a positive integer, got {threads!r}")
        if precision not in ONNX_VARIANTS:
            raise DataError(
                f"OnnxStudent.load: precision must be one of {', '.join(ONNX_VARIANTS)}, got {precision!r}"
            )
        file, key = ONNX_VARIANTS[precision]
        how = "export_onnx()" if precision == "float32" else "export_onnx_int8()"
        d, meta = read_meta(path)
        opath = d / file
        rec = meta.get(key)
        if not opath.is_file():
            raise ArtifactError(f"{opath}: missing; export it first with Student.load(...).{how}")
        if not isinstance(rec, dict) or not isinstance(rec.get("sha256"), str):
            raise ArtifactError(f"{d / META_FILE}: {file} is not recorded; re-run {how}")
        if rec.get("weights_sha256") != meta["weights"]["sha256"]:
            raise ArtifactError(f"{opath}: exported from different weights than {WEIGHTS_FILE}; re-run {how}")
        got = _sha256(opath)
        if got != rec["sha256"]:
            raise ArtifactError(
                f"{opath}: sha256 mismatch (student.json records {rec['sha256'][:12]}..., the file has "
                f"{got[:12]}...); the file is corrupt, truncated or was replaced"
            )
        session = _ort_session(opath, threads)
        return cls(session, Featurizer(meta["featurizer"]), meta["label_names"], meta=meta, path=d)

    @property
    def session(self):
        return self._session

    def _run(self, ids: np.ndarray, offsets: np.ndarray, output: str) -> np.ndarray:
        pids, mask = _padded(ids, offsets)
        return self._session.run([output], {"ids": pids, "mask": mask})[0]

    def logits(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None, batch_size: int = 4096
    ) -> np.ndarray:
        return self._predict(texts, pairs, batch_size, "logits")

    def predict(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None, batch_size: int = 4096
    ) -> np.ndarray:
        """Class probabilities [N, K] float32."""
        return self._predict(texts, pairs, batch_size, "probs")

    def _predict(self, texts, pairs, batch_size: int, output: str) -> np.ndarray:
        _check_texts(texts, pairs, batch_size)
        n = len(texts)
        out = np.empty((n, self.num_labels), dtype=np.float32)
        for i in range(0, n, batch_size):
            chunk = texts[i : i + batch_size]
            pchunk = None if pairs is None else pairs[i : i + batch_size]
            ids, offsets = self._featurizer.batch(chunk, pchunk)
            out[i : i + len(chunk)] = self._run(ids, offsets, output)
        return out

    def predict_one(self, text: str, pair: str | None = None) -> np.ndarray:
        ids = self._featurizer.ids(text, pair)
        feed = {"ids": ids.reshape(1, -1), "mask": np.ones((1, len(ids)), dtype=np.float32)}
        return self._session.run(["probs"], feed)[0][0]

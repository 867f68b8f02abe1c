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
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from .. import io
from ..config import format_validation_error
from ..errors import ArtifactError, DataError, one_line
from ..featurizer import FeaturizerConfig
from .model import StudentModelConfig, StudentNet, expected_shapes

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


def check_labels(label_names: Sequence[str], num_labels: int, where: str) -> list[str]:
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
    labels = check_labels(label_names, mcfg.num_labels, str(out))

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
    labels = check_labels(meta["label_names"], mcfg.num_labels, str(mpath))
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


def load_model(path: str | os.PathLike) -> tuple[Path, dict[str, Any], StudentNet]:
    """The artifact directory, its meta and its network, every check passed (checksum included)."""
    d, meta = read_meta(path)
    return d, meta, _build_model(meta, _load_weights(d, meta))


def record_export(d: Path, meta: dict[str, Any], key: str, rec: dict[str, Any]) -> dict[str, Any]:
    """Record an exported file in ``student.json`` under ``key`` (with the weights it was made from)."""
    rec = {**rec, "weights_sha256": meta["weights"]["sha256"], "exported_at": _now()}
    raw = json.loads((d / META_FILE).read_text(encoding="utf-8"))
    raw[key] = rec
    _write_json(d / META_FILE, raw)
    meta[key] = rec
    return rec

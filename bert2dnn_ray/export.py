"""Export: a trained student artifact → a servable directory (config + safetensors + ONNX, and an
int8 ONNX for CPU serving), verified: each ONNX model must agree with PyTorch on sample texts.

With a ``gate`` (daily runs), the student is exported only if its accuracy on the gate's labeled set
is at most ``max_accuracy_drop`` below the ``baseline`` student's (yesterday's export) on the same
set: a worse student is refused with one line before anything is written, and yesterday's stays
the one served."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from .config import Strict
from .data import Columns
from .errors import ArtifactError, Bert2dnnError, ConfigError
from .progress import log


class GateRefused(Bert2dnnError):
    """The new student scores worse than the baseline by more than the gate allows."""


class ExportGate(Strict):
    baseline: str | None = Field(
        None,
        description="the student to compare with (yesterday's export or student); null: no comparison "
        "(the first day), the student is exported as it is",
    )
    test: str | None = Field(
        None, description="labeled set both students are scored on (the pipeline: data.test)"
    )
    columns: Columns = Columns()
    max_accuracy_drop: float = Field(
        0.005, ge=0, description="refuse the export when accuracy falls more than this below the baseline's"
    )


class ExportConfig(Strict):
    student: str | None = Field(None, description="trained student artifact (train.output_dir)")
    output_dir: str | None = Field(None, description="where the exported student goes")
    onnx: bool = Field(True, description="also write model.onnx and check it against PyTorch")
    tolerance: float = Field(1e-5, gt=0, description="largest |ONNX - PyTorch| probability allowed")
    int8: bool = Field(
        True,
        description="also write model.int8.onnx (dense weights int8, onnxruntime dynamic "
        "quantization: the fast CPU serving path) and check it against PyTorch",
    )
    int8_tolerance: float = Field(
        0.02, gt=0, description="largest |int8 - PyTorch| probability allowed on the check texts"
    )
    gate: ExportGate | None = Field(
        None,
        description="export only a student that is not worse than a baseline (daily runs); null: no gate",
    )
    sample_texts: list[str] = Field(
        default_factory=lambda: [
            "wireless headphones",
            "red running shoes size 9",
            "",
            "organic green tea 100 count",
        ],
        description="texts used to check the export",
    )


def check_gate(gate: ExportGate, student: Any, source: str) -> dict[str, Any]:
    """Score ``student`` and the gate's baseline on the gate's set; refuse (one line) a drop past
    ``max_accuracy_drop``. Returns what was compared."""
    from .data import load_labeled
    from .student import Student

    if gate.baseline is None:
        log("export", "gate: no baseline student (first run): exporting without a comparison")
        return {"baseline": None}
    if not gate.test:
        raise ConfigError("export.gate.test is required to compare with export.gate.baseline (a labeled set)")
    base = Student.load(gate.baseline)
    ds = load_labeled(gate.test, gate.columns, student.num_labels)
    acc = float((student.predict(ds.texts, ds.pairs).argmax(1) == ds.labels).mean())
    base_acc = float((base.predict(ds.texts, ds.pairs).argmax(1) == ds.labels).mean())
    info = {
        "baseline": gate.baseline,
        "test": gate.test,
        "rows": len(ds.labels),
        "accuracy": round(acc, 6),
        "baseline_accuracy": round(base_acc, 6),
        "max_accuracy_drop": gate.max_accuracy_drop,
    }
    if acc < base_acc - gate.max_accuracy_drop:
        raise GateRefused(
            f"export: refused: {source} scores {acc:.4f} on {gate.test}, {base_acc - acc:.4f} below the baseline "
            f"{gate.baseline} ({base_acc:.4f}); export.gate.max_accuracy_drop is {gate.max_accuracy_drop:g}"
        )
    log(
        "export",
        f"gate passed: {acc:.4f} on {gate.test} against the baseline's {base_acc:.4f} "
        f"(max drop {gate.max_accuracy_drop:g})",
    )
    return info


def run(cfg: ExportConfig) -> dict[str, Any]:
    from . import io
    from .student import OnnxStudent, Student

    if not cfg.student or not cfg.output_dir:
        raise ConfigError("export.student and export.output_dir are required")
    if cfg.int8 and not cfg.onnx:
        raise ConfigError("export.int8 quantizes model.onnx: it needs export.onnx=true (or set int8=false)")
    io.make_dirs(io.parent(cfg.output_dir))
    src = Student.load(cfg.student)  # validates the source artifact (a URI is fetched first)
    src_dir = src.path  # the local directory it loaded (for a URI, the cached copy)
    gate = check_gate(cfg.gate, src, cfg.student) if cfg.gate is not None else None
    with io.staged_dir(cfg.output_dir) as out:  # a URI output is written here, then uploaded
        if out.resolve() != Path(src_dir).resolve():
            with io.atomic_path(out) as tmp:
                shutil.copytree(
                    src_dir, tmp, ignore=shutil.ignore_patterns("_SUCCESS.json", "model*.onnx", ".*")
                )
        student = Student.load(out)
        pairs = list(cfg.sample_texts) if src.text_fields.get("pair") else None
        ref = student.predict(cfg.sample_texts, pairs)
        info: dict[str, Any] = {
            "student": cfg.output_dir,
            "num_labels": student.num_labels,
            "label_names": student.label_names,
        }
        if gate is not None:
            info["gate"] = gate
        if cfg.onnx:
            path = student.export_onnx()
            got = OnnxStudent.load(out).predict(cfg.sample_texts, pairs)
            diff = float(np.abs(got - ref).max())
            if diff > cfg.tolerance:
                raise ArtifactError(
                    f"{io.join(cfg.output_dir, path.name)}: ONNX output differs from PyTorch by "
                    f"{diff:.2e} (> {cfg.tolerance:.0e})"
                )
            info.update({"onnx": io.join(cfg.output_dir, path.name), "onnx_max_abs_diff": diff})
            log("export", f"ONNX export verified (max |diff| {diff:.1e}) -> {info['onnx']}")
        if cfg.int8:
            rec = student.export_onnx_int8(cfg.sample_texts, pairs, tolerance=cfg.int8_tolerance)
            OnnxStudent.load(out, precision="int8")  # loads and checks what was written
            info.update(
                {
                    "onnx_int8": io.join(cfg.output_dir, rec["file"]),
                    "onnx_int8_max_abs_diff": rec["max_abs_diff"],
                    "onnx_int8_argmax_agreement": rec["argmax_agreement"],
                }
            )
            log(
                "export",
                f"int8 ONNX verified (max |diff| {rec['max_abs_diff']:.1e}, argmax agreement "
                f"{rec['argmax_agreement']:.0%} on {rec['check_texts']} texts) -> {info['onnx_int8']}",
            )
        io.write_json(out / "export.json", info)
    log(
        "export",
        f"student exported to {cfg.output_dir}; load it with bert2dnn_ray.Student.load({cfg.output_dir!r})",
    )
    return info

"""Export: a trained student artifact → a servable directory (config + safetensors + ONNX),
verified: ONNX Runtime must agree with PyTorch within ``tolerance`` on sample texts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from .config import Strict
from .errors import ArtifactError, ConfigError
from .runtime import log, write_json_atomic


class ExportConfig(Strict):
    student: str | None = Field(None, description="trained student artifact (train.output_dir)")
    output_dir: str | None = Field(None, description="where the exported student goes")
    onnx: bool = Field(True, description="also write model.onnx and check it against PyTorch")
    tolerance: float = Field(1e-5, gt=0)
    sample_texts: list[str] = Field(
        default_factory=lambda: [
            "wireless headphones",
            "red running shoes size 9",
            "",
            "organic green tea 100 count",
        ],
        description="texts used to check the export",
    )


def run(cfg: ExportConfig) -> dict[str, Any]:
    from . import io
    from .student import OnnxStudent, Student

    if not cfg.student or not cfg.output_dir:
        raise ConfigError("export.student and export.output_dir are required")
    src = Student.load(cfg.student)  # validates the source artifact (a URI is fetched first)
    src_dir = src.path  # the local directory it loaded (for a URI, the cached copy)
    with io.staged_dir(cfg.output_dir) as out:  # a URI output is written here, then uploaded
        if out.resolve() != Path(src_dir).resolve():
            tmp = out.with_name(f".{out.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src_dir, tmp, ignore=shutil.ignore_patterns("_SUCCESS.json", "model.onnx", ".*"))
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
        student = Student.load(out)
        pairs = list(cfg.sample_texts) if src.text_fields.get("pair") else None
        ref = student.predict(cfg.sample_texts, pairs)
        info: dict[str, Any] = {
            "student": cfg.output_dir,
            "num_labels": student.num_labels,
            "label_names": student.label_names,
        }
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
        write_json_atomic(out / "export.json", info)
    log(
        "export",
        f"student exported to {cfg.output_dir}; load it with bert2dnn_ray.Student.load({cfg.output_dir!r})",
    )
    return info

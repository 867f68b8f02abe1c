"""Evaluation: accuracy/AUC, log loss and expected calibration error of teachers and student on a
held-out labeled set, retention (student ÷ best teacher) and single-query CPU latency of each.
Prints a table, writes JSON."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from . import io, softlabels, stacking
from .config import Strict
from .data import Columns, load_labeled
from .errors import ConfigError
from .metrics import classification_metrics, softmax
from .progress import log
from .stacking import stack_logits
from .teachers import TeacherRunner, TeacherSpec


class EvalConfig(Strict):
    test: str | None = Field(None, description="held-out labeled set (used for nothing else)")
    columns: Columns = Columns()
    teachers: list[TeacherSpec] = Field(default_factory=list, description="teachers to compare against")
    soft_labels: str | None = Field(
        None,
        description="the label stage's output_dir: its recorded stacker (stacker.json) combines the "
        "teachers' logits into the stacked row as labeling did (default: their mean)",
    )
    student: str | None = Field(None, description="student artifact directory")
    output: str | None = Field(None, description="write the results JSON here")
    latency_samples: int = Field(200, ge=1, description="single-query timings per model")
    latency_threads: int = Field(
        1, ge=1, description="torch, BLAS (NumPy) and onnxruntime threads while timing (1 = one core)"
    )
    int8: bool = Field(
        True,
        description="also score the student's int8 ONNX model (model.int8.onnx, quantized here as "
        "export does when the artifact has none): accuracy and latency of the served model",
    )


def _latency(fn, texts: list[str], pairs: list[str] | None, n: int, threads: int) -> dict[str, float]:
    """Single-query timings of ``fn`` with torch and every BLAS pool held to ``threads``
    (the student's ``predict_one`` runs its matvecs in NumPy)."""
    import torch
    from threadpoolctl import threadpool_limits

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            for i in range(min(10, len(texts))):  # warm-up
                fn(texts[i], pairs[i] if pairs else None)
            times = []
            for i in range(n):
                j = i % len(texts)
                t0 = time.perf_counter()
                fn(texts[j], pairs[j] if pairs else None)
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(prev)
    t = np.asarray(times) * 1e6
    return {
        "p50_us": float(np.percentile(t, 50)),
        "p99_us": float(np.percentile(t, 99)),
        "mean_us": float(t.mean()),
    }


def run(cfg: EvalConfig) -> dict[str, Any]:
    from .student import Student

    if not cfg.test:
        raise ConfigError("evaluate.test is required (held-out labeled set)")
    if not cfg.student and not cfg.teachers:
        raise ConfigError("evaluate: give a student and/or teachers to evaluate")
    student = Student.load(cfg.student) if cfg.student else None
    k = student.num_labels if student else None
    test = load_labeled(cfg.test, cfg.columns, k)
    labels = test.labels
    rows: list[dict[str, Any]] = []
    teacher_logits = []
    for spec in cfg.teachers:
        runner = TeacherRunner(spec, "cpu")
        logits, _ = runner.logits(test.texts, test.pairs)
        teacher_logits.append(logits)
        m = classification_metrics(softmax(logits), labels)
        lat = _latency(
            lambda t, p, r=runner: r.logits([t], [p] if p is not None else None),
            test.texts,
            test.pairs,
            cfg.latency_samples,
            cfg.latency_threads,
        )
        params = sum(p.numel() for p in runner.model.parameters())
        rows.append({"model": f"teacher:{spec.name}", "kind": "teacher", **m, "params": params, **lat})
        log("evaluate", f"teacher '{spec.name}': accuracy {m['accuracy']:.4f}, p50 {lat['p50_us']:.0f} us")
    if len(teacher_logits) > 1:
        stacker = _stacker(cfg)
        m = classification_metrics(softmax(stack_logits(teacher_logits, stacker)), labels)
        rows.append({"model": f"teachers:stacked({stacker['method']})", "kind": "stacked", **m})
    if student:
        probs = student.predict(test.texts, test.pairs)
        m = classification_metrics(probs, labels)
        lat = _latency(
            student.predict_one, test.texts, test.pairs, max(cfg.latency_samples, 1000), cfg.latency_threads
        )
        from .student.model import count_parameters

        params = count_parameters(student.model)
        rows.append({"model": "student", "kind": "student", **m, "params": params, **lat})
        if cfg.int8:
            q = _int8_student(student, cfg.latency_threads)
            q_probs = q.predict(test.texts, test.pairs)
            m = classification_metrics(q_probs, labels)
            # How far int8 moves the float32 student on this test set (measured, not gated here).
            m["max_abs_prob_diff_vs_fp32"] = float(np.abs(q_probs - probs).max())
            m["argmax_agreement_vs_fp32"] = float((q_probs.argmax(-1) == probs.argmax(-1)).mean())
            lat = _latency(
                q.predict_one, test.texts, test.pairs, max(cfg.latency_samples, 1000), cfg.latency_threads
            )
            rows.append({"model": "student:int8-onnx", "kind": "student_int8", **m, "params": params, **lat})
    teachers = [r for r in rows if r["kind"] == "teacher"]
    summary: dict[str, Any] = {"test": cfg.test, "rows": len(labels), "models": rows}
    if teachers and student:
        best = max(teachers, key=lambda r: r["accuracy"])
        srow = next(r for r in rows if r["kind"] == "student")
        summary["best_teacher"] = best["model"]
        summary["retention"] = srow["accuracy"] / best["accuracy"] if best["accuracy"] else float("nan")
        summary["speedup_p50"] = best["p50_us"] / srow["p50_us"]
        srow["retention"] = summary["retention"]
        for qrow in (r for r in rows if r["kind"] == "student_int8"):
            qrow["retention"] = qrow["accuracy"] / best["accuracy"] if best["accuracy"] else float("nan")
            summary["retention_int8"] = qrow["retention"]
            summary["speedup_p50_int8"] = best["p50_us"] / qrow["p50_us"]
    print(format_table(summary), flush=True)
    if cfg.output:
        io.write_json(cfg.output, summary)
    return summary


def _stacker(cfg: EvalConfig) -> dict[str, Any]:
    """The stacker the soft labels were made with (``soft_labels``), else the teachers' mean."""
    names = [t.name for t in cfg.teachers]
    recorded = softlabels.read_stacker(cfg.soft_labels) if cfg.soft_labels else None
    if recorded is None:
        return stacking.mean(names)
    stacking.check_teachers(recorded, names, f"evaluate: {cfg.soft_labels}")
    return recorded


def _int8_student(student, threads: int):
    """The artifact's int8 ONNX student; quantized (as export does) in a scratch copy if absent.

    The scratch quantization is not gated by export's ``int8_tolerance``: evaluation measures
    the int8 model (its accuracy and its largest difference from float32 on the test set) even
    where export would refuse to ship it.
    """
    import shutil
    import tempfile

    from .student import OnnxStudent, Student

    rec = student.meta.get("onnx_int8")
    if isinstance(rec, dict) and rec.get("weights_sha256") == student.meta["weights"]["sha256"]:
        return OnnxStudent.load(student.path, precision="int8", threads=threads)
    scratch = Path(tempfile.mkdtemp(prefix="bert2dnn_int8_"))
    try:
        d = scratch / "student"
        shutil.copytree(student.path, d, ignore=shutil.ignore_patterns("model*.onnx", ".*"))
        rec = Student.load(d).export_onnx_int8(tolerance=1.0)  # probabilities differ by <= 1: no gate
        log(
            "evaluate",
            f"int8 ONNX student quantized for scoring (max |diff| on probe texts {rec['max_abs_diff']:.1e})",
        )
        return OnnxStudent.load(d, precision="int8", threads=threads)  # the session holds the model
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def format_table(summary: dict[str, Any]) -> str:
    head = (
        f"{'model':<26} {'accuracy':>9} {'auc':>7} {'log loss':>9} {'ECE':>6} {'params':>12} "
        f"{'p50 latency':>12} {'p99 latency':>12}"
    )
    lines = [f"Evaluation on {summary['test']} ({summary['rows']} rows)", head, "-" * len(head)]
    for r in summary["models"]:
        p50 = f"{r['p50_us']:,.0f} us" if "p50_us" in r else "-"
        p99 = f"{r['p99_us']:,.0f} us" if "p99_us" in r else "-"
        params = f"{r['params']:,}" if "params" in r else "-"
        lines.append(
            f"{r['model']:<26} {r['accuracy']:>9.4f} {r.get('auc', float('nan')):>7.4f} "
            f"{r.get('log_loss', float('nan')):>9.4f} {r.get('ece', float('nan')):>6.3f} {params:>12} {p50:>12} {p99:>12}"
        )
    if "retention" in summary:
        lines.append(
            f"retention (student / {summary['best_teacher']}): {summary['retention']:.2%}; "
            f"student is {summary['speedup_p50']:,.0f}x faster at p50 (one CPU thread)"
        )
    if "retention_int8" in summary:
        q = next(r for r in summary["models"] if r["kind"] == "student_int8")
        lines.append(
            f"int8 ONNX student: retention {summary['retention_int8']:.2%}, "
            f"{summary['speedup_p50_int8']:,.0f}x faster at p50; max |p - p_fp32| "
            f"{q['max_abs_prob_diff_vs_fp32']:.1e}, same class on {q['argmax_agreement_vs_fp32']:.1%}"
        )
    return "\n".join(lines)

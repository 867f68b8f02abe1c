"""Same-run latencies for a report that ``--peers-only`` finishes on another machine.

The students of a finished report were timed in the run that trained them, on its machine and with
the serving path of its day; the fastText peers ``--peers-only`` adds are timed here. A latency
column that mixes the two compares machines, not models. :func:`retime` times each student
architecture of the report here, in the peers' process and with their harness (``time_single``: one
text at a time over the test sentences after an untimed pass, one thread), and puts those figures
in the rows the report renders, keeping the first run's under ``first_run``.

Each architecture is timed as a random-weight student (:func:`student_p50`): what a bag or word-order
student costs a text depends on its shapes (buckets, embedding width, layers), not on its weights'
values (the same is done by ``make bench-student``). The float32 figure is ``Student.predict_one``,
the int8 figure ``OnnxStudent(model.int8.onnx)``, as the evaluation of a trained student times them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bert2dnn_ray.progress import log

from .variants import _merged

_TIMED = ("p50_us", "p99_us", "mean_us", "int8_p50_us")


def student_p50(train: dict[str, Any], texts: list[str], work: Path) -> dict[str, float]:
    """``{"p50_us", "p99_us", "mean_us", "int8_p50_us"}`` of a random-weight student with the
    featurizer and model of ``train`` (TrainConfig keys), on ``texts``, one thread; its artifact
    is written to ``work`` and removed afterwards."""
    import torch
    from threadpoolctl import threadpool_limits

    from benchmarks._common import time_single
    from bert2dnn_ray.featurizer import FeaturizerConfig
    from bert2dnn_ray.student import OnnxStudent, Student, StudentModelConfig, StudentNet, save_student

    fcfg = FeaturizerConfig.model_validate(train.get("featurizer") or {})
    mcfg = StudentModelConfig.model_validate({**(train.get("model") or {}), "num_labels": 2})
    torch.manual_seed(0)
    shutil.rmtree(work, ignore_errors=True)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        save_student(work, StudentNet(mcfg, fcfg.num_buckets).eval(), fcfg, mcfg, ["negative", "positive"])
        student = Student.load(work)
        student.export_onnx_int8(texts[:200], tolerance=1.0)  # random weights: nothing to gate
        int8 = OnnxStudent.load(work, precision="int8", threads=1)
        with threadpool_limits(limits=1):
            fp32 = time_single(student.predict_one, texts, texts)
            q = time_single(int8.predict_one, texts, texts)["p50_us"]
    finally:
        torch.set_num_threads(prev)
        shutil.rmtree(work, ignore_errors=True)
    return {"p50_us": fp32["p50_us"], "p99_us": fp32["p99_us"], "mean_us": fp32["mean_us"], "int8_p50_us": q}


def retime(result: dict[str, Any], teachers: list[dict[str, Any]], texts: list[str], work: Path) -> dict:
    """Put same-run latencies into ``result``'s rows (in place): each student's from
    :func:`student_p50` of its architecture (the report's ``student`` settings, merged with
    ``word_order`` for the word-order students), each teacher's from ``teachers`` (evaluated on this
    machine); the figures they replace go to the row's ``first_run``. Returns the architectures'
    figures ({"bag" or the encoder: figures}) for ``peers_run``."""
    config = result["config"]
    archs: dict[str, dict[str, Any]] = {}
    for s in result["students"]:
        kind = s.get("word_order") or "bag"
        if kind not in archs:
            train = config["student"] if kind == "bag" else _merged(config["student"], config["word_order"])
            archs[kind] = student_p50(train, texts, work / kind)
            log("reproduce", f"retimed here: {kind} student {archs[kind]['p50_us']:.1f} us (float32)")
        _replace(s, archs[kind])
    here = {r["model"]: r for r in teachers}
    for r in result["teachers"]:
        if r["model"] in here:
            _replace(r, here[r["model"]])
    return archs


def _replace(row: dict[str, Any], figures: dict[str, Any]) -> None:
    """``row``'s latencies set to ``figures`` (those it has), its own kept once under ``first_run``."""
    new = {k: float(figures[k]) for k in _TIMED if k in figures and k in row}
    row.setdefault("first_run", {k: row[k] for k in new})
    row.update(new)

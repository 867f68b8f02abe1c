"""The evaluate stage: metrics from the models' own outputs, retention, and one-thread latency."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from threadpoolctl import threadpool_info

from bert2dnn_ray import evaluate
from bert2dnn_ray.featurizer import FeaturizerConfig
from bert2dnn_ray.metrics import classification_metrics, softmax
from bert2dnn_ray.student import Student, StudentModelConfig, StudentNet, save_student
from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

TEXTS = ["great fun film", "dull and slow", "a fine cast", "awful plot", "loved it", "hated it"] * 5


def test_evaluate_metrics_retention_and_single_thread_latency(tmp_path, tiny_bert_factory, monkeypatch):
    labels = [0, 1] * 15
    test = tmp_path / "test.parquet"
    pq.write_table(pa.table({"text": TEXTS, "label": labels}), test)
    torch.manual_seed(0)
    mcfg = StudentModelConfig(embedding_dim=8, hidden=[16], num_labels=2)
    fcfg = FeaturizerConfig(num_buckets=1024)
    student_dir = save_student(tmp_path / "student", StudentNet(mcfg, 1024).eval(), fcfg, mcfg, ["a", "b"])
    spec = TeacherSpec(name="tiny", path=str(tiny_bert_factory(2)), max_length=16)

    seen: list[tuple[int, list[int]]] = []  # (torch threads, BLAS pool sizes) inside each timed call
    real = evaluate._latency

    def spy(fn, texts, pairs, n, threads):
        def timed(t, p):
            seen.append((torch.get_num_threads(), [i["num_threads"] for i in threadpool_info()]))
            return fn(t, p)

        return real(timed, texts, pairs, n, threads)

    monkeypatch.setattr(evaluate, "_latency", spy)
    torch.set_num_threads(2)
    out = tmp_path / "eval.json"
    cfg = evaluate.EvalConfig(
        test=str(test), teachers=[spec], student=str(student_dir), output=str(out), latency_samples=5
    )
    summary = evaluate.run(cfg)

    assert torch.get_num_threads() == 2  # restored after timing
    assert seen and all(t == 1 and all(b == 1 for b in blas) for t, blas in seen)
    rows = {r["model"]: r for r in summary["models"]}
    logits, _ = TeacherRunner(spec).logits(TEXTS)
    want_t = classification_metrics(softmax(logits), np.asarray(labels))["accuracy"]
    want_s = classification_metrics(Student.load(student_dir).predict(TEXTS), np.asarray(labels))["accuracy"]
    assert rows["teacher:tiny"]["accuracy"] == pytest.approx(want_t)
    assert rows["student"]["accuracy"] == pytest.approx(want_s)
    assert summary["retention"] == pytest.approx(want_s / want_t)
    assert rows["student"]["p50_us"] > 0 and rows["teacher:tiny"]["p50_us"] > 0
    assert json.loads(out.read_text())["retention"] == pytest.approx(summary["retention"])
    # The int8 ONNX student is scored too (quantized in a scratch copy: the artifact is untouched).
    from bert2dnn_ray.student import OnnxStudent

    q = rows["student:int8-onnx"]
    assert not (student_dir / "model.int8.onnx").exists()
    Student.load(student_dir).export_onnx_int8()
    want_q = OnnxStudent.load(student_dir, precision="int8").predict(TEXTS)
    assert q["accuracy"] == pytest.approx(classification_metrics(want_q, np.asarray(labels))["accuracy"])
    assert summary["retention_int8"] == pytest.approx(q["accuracy"] / want_t) and q["p50_us"] > 0
    assert "int8 ONNX student: retention" in evaluate.format_table(summary)
    # Measured against the float32 student on the test set itself.
    want_f = Student.load(student_dir).predict(TEXTS)
    assert q["max_abs_prob_diff_vs_fp32"] == pytest.approx(float(np.abs(want_q - want_f).max()), abs=1e-6)
    assert q["argmax_agreement_vs_fp32"] == pytest.approx(
        float((want_q.argmax(-1) == want_f.argmax(-1)).mean())
    )
    # An artifact that has its int8 model is scored with it, in a session held to latency_threads.
    assert (
        evaluate._int8_student(Student.load(student_dir), 1)
        .session.get_session_options()
        .intra_op_num_threads
        == 1
    )


def test_evaluate_stacks_teachers_as_labeling_did(tmp_path, tiny_bert_factory):
    """The stacked row uses the stacker the soft labels were made with (stacker.json), not always
    the mean; a stacker made for other teachers is refused."""
    from bert2dnn_ray import stacking
    from bert2dnn_ray.errors import ConfigError

    labels = np.array([0, 1] * 15)
    test = tmp_path / "test.parquet"
    pq.write_table(pa.table({"text": TEXTS, "label": labels}), test)
    specs = [
        TeacherSpec(name=n, path=str(tiny_bert_factory(2, seed=s)), max_length=16)
        for n, s in (("a", 0), ("b", 1))
    ]
    logits = [TeacherRunner(s).logits(TEXTS)[0] for s in specs]
    stacker = stacking.fit_logreg(["a", "b"], logits, labels, C=1.0)
    soft = tmp_path / "soft"
    soft.mkdir()
    (soft / "stacker.json").write_text(json.dumps(stacker))
    cfg = evaluate.EvalConfig(test=str(test), teachers=specs, soft_labels=str(soft), latency_samples=2)
    rows = {r["model"]: r for r in evaluate.run(cfg)["models"]}
    want = classification_metrics(softmax(stacking.stack_logits(logits, stacker)), labels)["accuracy"]
    assert rows["teachers:stacked(logreg)"]["accuracy"] == pytest.approx(want)
    mean = classification_metrics(softmax(np.mean(logits, axis=0)), labels)["accuracy"]
    no_record = evaluate.run(cfg.model_copy(update={"soft_labels": None}))["models"]
    assert {r["model"]: r for r in no_record}["teachers:stacked(mean)"]["accuracy"] == pytest.approx(mean)
    with pytest.raises(ConfigError, match=r"combines teachers \['a', 'b'\], not \['b', 'a'\]"):
        evaluate.run(cfg.model_copy(update={"teachers": specs[::-1]}))


def test_logreg_stacker_reports_held_out_accuracy():
    """Its accuracy is measured on folds it was not fitted on: on noise, near chance, while the
    accuracy on its own fitting rows is flattered."""
    from bert2dnn_ray import stacking

    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(60, 2)) * 5 for _ in range(3)]
    labels = rng.integers(0, 2, 60)
    s = stacking.fit_logreg(["a", "b", "c"], logits, labels, C=100.0)
    assert s["cv_folds"] == 5 and s["teachers"] == ["a", "b", "c"] and s["dev_rows"] == 60
    assert s["cv_accuracy"] < s["fit_accuracy"]
    assert s["cv_accuracy"] < 0.7
    few = stacking.fit_logreg(["a"], [logits[0][:3]], np.array([0, 1, 1]), C=1.0)
    assert few["cv_accuracy"] is None and few["cv_folds"] == 0  # one row of class 0: no folds

"""Softmax with temperature and the classification metrics, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bert2dnn_ray.metrics import calibration, classification_metrics, softmax


def test_softmax_values_and_temperature():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-5.0, 5.0, 0.0]])
    p1 = softmax(logits)
    z = math.exp(1) + math.exp(2) + math.exp(3)
    np.testing.assert_allclose(p1[0], [math.exp(1) / z, math.exp(2) / z, math.exp(3) / z], rtol=1e-6)
    np.testing.assert_allclose(p1[1], [1 / 3] * 3, rtol=1e-6)
    assert p1.dtype == np.float32 and p1.shape == logits.shape

    p2 = softmax(logits, temperature=2.0)
    z2 = math.exp(0.5) + math.exp(1) + math.exp(1.5)
    np.testing.assert_allclose(p2[0], [math.exp(0.5) / z2, math.exp(1) / z2, math.exp(1.5) / z2], rtol=1e-6)
    for p in (p1, p2, softmax(logits, 0.5)):
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        assert (p >= 0).all()

    # T=2 is flatter than T=1: lower max prob, higher entropy, same argmax (uniform rows stay uniform)
    def entropy(p):
        return -(p * np.log(np.clip(p, 1e-30, None))).sum(axis=1)

    for i in (0, 2):
        assert p2[i].max() < p1[i].max() and entropy(p2)[i] > entropy(p1)[i]
        assert p2[i].argmax() == p1[i].argmax()
        assert softmax(logits, 0.5)[i].max() > p1[i].max()  # T<1 sharper
    np.testing.assert_allclose(p2[1], p1[1])
    # softmax(x / T) == softmax(x) of the scaled logits
    np.testing.assert_allclose(softmax(logits, 4.0), softmax(logits / 4.0), rtol=1e-6)


def test_softmax_is_stable_and_takes_1d():
    p = softmax(np.array([1000.0, 0.0, -1000.0]))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, [1.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(softmax([0.0, math.log(3.0)]), [0.25, 0.75], rtol=1e-6)


def _probs(p1) -> np.ndarray:
    p1 = np.asarray(p1, dtype=np.float64)
    return np.stack([1 - p1, p1], axis=1)


def test_binary_metrics_hand_computed():
    scores = [0.9, 0.8, 0.3, 0.6, 0.2, 0.7]
    labels = [1, 1, 0, 1, 0, 0]
    m = classification_metrics(_probs(scores), np.array(labels))
    # predictions (argmax): 1 1 0 1 0 1 -> 5 of 6 right
    assert m["accuracy"] == pytest.approx(5 / 6)
    # AUC: positive/negative pairs ranked right: 0.9 -> 3, 0.8 -> 3, 0.6 -> 2 (loses to 0.7) = 8 / 9
    assert m["auc"] == pytest.approx(8 / 9)
    # F1 of class 1: TP 3, FP 1, FN 0 -> P 3/4, R 1 -> 6/7
    assert m["f1"] == pytest.approx(6 / 7)
    assert list(m) == ["accuracy", "auc", "f1", "log_loss", "ece", "mean_top_prob"]


def test_binary_auc_counts_ties_as_half():
    m = classification_metrics(_probs([0.5, 0.5, 0.9, 0.1]), np.array([1, 0, 1, 0]))
    # pairs: (0.5 vs 0.5) tie 0.5, (0.5 vs 0.1) 1, (0.9 vs 0.5) 1, (0.9 vs 0.1) 1 -> 3.5 / 4
    assert m["auc"] == pytest.approx(3.5 / 4)


MC_PROBS = np.array(
    [
        [0.7, 0.2, 0.1],  # y 0, pred 0
        [0.1, 0.6, 0.3],  # y 1, pred 1
        [0.2, 0.3, 0.5],  # y 2, pred 2
        [0.3, 0.4, 0.3],  # y 0, pred 1
        [0.5, 0.3, 0.2],  # y 1, pred 0
        [0.1, 0.1, 0.8],  # y 2, pred 2
    ]
)
MC_LABELS = np.array([0, 1, 2, 0, 1, 2])


def test_multiclass_metrics_hand_computed():
    m = classification_metrics(MC_PROBS, MC_LABELS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # F1 per class: 0 -> TP1 FP1 FN1 = 0.5; 1 -> TP1 FP1 FN1 = 0.5; 2 -> TP2 = 1.0; macro = 2/3
    assert m["f1"] == pytest.approx(2 / 3)
    # one-vs-rest AUC: class 0 = 7/8, class 1 = 6.5/8 (one tie), class 2 = 8/8; macro mean
    assert m["auc"] == pytest.approx((7 / 8 + 6.5 / 8 + 1.0) / 3)
    # scores that are not normalised (e.g. averaged probabilities) give the same AUC
    scaled = MC_PROBS * np.array([[2.0], [0.5], [3.0], [1.0], [4.0], [0.25]])
    assert classification_metrics(scaled, MC_LABELS)["auc"] == pytest.approx(m["auc"])


def test_multiclass_with_a_missing_class():
    keep = MC_LABELS != 2
    m = classification_metrics(MC_PROBS[keep], MC_LABELS[keep])
    assert math.isnan(m["auc"])  # undefined when a class is absent
    # preds 0 1 1 0 vs labels 0 1 0 1: accuracy 1/2; F1 over classes present (0, 1) = 0.5 each
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)


def test_binary_with_one_class_keeps_f1():
    m = classification_metrics(_probs([0.9, 0.8, 0.2]), np.array([1, 1, 1]))
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert math.isnan(m["auc"])
    # TP 2, FN 1, FP 0 -> P 1, R 2/3 -> F1 0.8 (used to be NaN together with the AUC)
    assert m["f1"] == pytest.approx(0.8)


def test_perfect_and_empty():
    m = classification_metrics(_probs([0.9, 0.1, 0.8, 0.3]), np.array([1, 0, 1, 0]))
    assert {k: m[k] for k in ("accuracy", "auc", "f1")} == {"accuracy": 1.0, "auc": 1.0, "f1": 1.0}
    e = classification_metrics(np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
    assert all(math.isnan(v) for v in e.values())
    assert set(e) == {"accuracy", "auc", "f1", "log_loss", "ece", "mean_top_prob"}


def test_log_loss_and_expected_calibration_error_by_hand():
    # top probabilities 0.9 (right), 0.8 (wrong), 0.6 (right), 0.55 (right); 15 bins of width 1/15:
    # 0.9 -> bin 13, 0.8 -> bin 12, 0.6 and 0.55 -> bin 9 (0.6 * 15 = 9.0, 0.55 * 15 = 8.25 -> bin 8)
    probs = _probs([0.9, 0.2, 0.6, 0.55])
    labels = np.array([1, 1, 1, 1])
    c = calibration(probs, labels)
    assert c["log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.2) + np.log(0.6) + np.log(0.55)) / 4)
    # bins: {0.9: right} |1-0.9|, {0.8: wrong} |0-0.8|, {0.6: right} |1-0.6|, {0.55: right} |1-0.55|
    assert c["ece"] == pytest.approx((0.1 + 0.8 + 0.4 + 0.45) / 4)
    assert c["mean_top_prob"] == pytest.approx((0.9 + 0.8 + 0.6 + 0.55) / 4)
    # two rows in one bin: |mean accuracy - mean confidence| of the bin, weighted by its share
    c2 = calibration(_probs([0.95, 0.05, 0.3]), np.array([1, 1, 0]))  # tops 0.95 0.95 0.7
    assert c2["ece"] == pytest.approx(2 / 3 * abs(0.5 - 0.95) + 1 / 3 * abs(1 - 0.7))
    # a perfect, certain model
    assert calibration(_probs([1.0, 0.0]), np.array([1, 0])) == {
        "log_loss": 0.0,
        "ece": 0.0,
        "mean_top_prob": 1.0,
    }

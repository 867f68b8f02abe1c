"""Classification metrics shared by fine-tuning, student training and evaluation."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


ECE_BINS = 15  # expected calibration error: equal-width bins of the top probability (Guo et al., 2017)


def calibration(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, float]:
    """How far probabilities can be thresholded: ``log_loss`` (mean -log p[label], p clipped at
    1e-12), ``ece`` (expected calibration error of the top class over ``bins`` equal-width bins:
    sum over bins of |accuracy - mean top probability| weighted by the bin's share of rows) and
    ``mean_top_prob``. NaN for an empty set."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if n == 0:
        return {"log_loss": float("nan"), "ece": float("nan"), "mean_top_prob": float("nan")}
    p_true = np.clip(probs[np.arange(n), labels], 1e-12, 1.0)
    top = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.minimum((top * bins).astype(np.int64), bins - 1)
    ece = 0.0
    for b in np.unique(which):
        m = which == b
        ece += m.mean() * abs(correct[m].mean() - top[m].mean())
    return {"log_loss": float(-np.log(p_true).mean()), "ece": float(ece), "mean_top_prob": float(top.mean())}


def classification_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, AUC (binary: of class 1; multi-class: macro one-vs-rest), F1 (binary / macro) and
    the :func:`calibration` figures (log loss, ECE, mean top probability)."""
    from sklearn.metrics import f1_score, roc_auc_score

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    pred = probs.argmax(axis=1)
    out = {"accuracy": float((pred == labels).mean()) if len(labels) else float("nan")}
    k = probs.shape[1]
    # AUC is undefined unless every class occurs in the labels (F1 still is defined).
    out["auc"] = float("nan")
    try:
        if k == 2 and len(np.unique(labels)) == 2:
            out["auc"] = float(roc_auc_score(labels, probs[:, 1]))
        elif k > 2 and len(np.unique(labels)) == k:
            p = probs / probs.sum(axis=1, keepdims=True)
            out["auc"] = float(roc_auc_score(labels, p, multi_class="ovr", average="macro"))
    except ValueError:
        pass
    try:
        average = "binary" if k == 2 else "macro"
        out["f1"] = (
            float(f1_score(labels, pred, average=average, zero_division=0)) if len(labels) else float("nan")
        )
    except ValueError:
        out["f1"] = float("nan")
    out.update(calibration(probs, labels))
    return out

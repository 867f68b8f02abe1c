"""Classification metrics shared by fine-tuning, student training and evaluation."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def classification_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, AUC (binary: of class 1; multi-class: macro one-vs-rest) and F1 (binary / macro)."""
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
    return out

"""Stacking several teachers' logits into one soft label.

A stacker is a JSON-able record (``stacker.json`` of a labeling run), applied by
:func:`stack_logits` wherever teachers are combined (the label stage, evaluation):

* ``mean``: the mean of the teachers' logits;
* ``weighted``: their mean weighted by ``weights`` (normalised to sum to 1);
* ``logreg``: a logistic regression over the concatenated logits (``coef``, ``intercept``), fitted
  on a labeled dev set by :func:`fit_logreg`; its ``cv_accuracy`` is measured on held-out folds,
  never on the rows a model was fitted on.

Every record names its ``teachers`` in order (the order of the logits it expects).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError


def stack_logits(all_logits: list[np.ndarray], stacker: dict[str, Any]) -> np.ndarray:
    """Combine teachers' logits (each [N, K], in the stacker's teacher order) into [N, K]."""
    if stacker["method"] == "logreg":
        x = np.concatenate(all_logits, axis=1).astype(np.float64)
        coef, icpt = np.asarray(stacker["coef"]), np.asarray(stacker["intercept"])
        z = x @ coef.T + icpt
        if z.shape[1] == 1:  # binary logistic regression: logits (0, z)
            z = np.concatenate([np.zeros_like(z), z], axis=1)
        return z.astype(np.float32)
    w = np.asarray(stacker.get("weights") or [1.0] * len(all_logits), dtype=np.float64)
    w = w / w.sum()
    return np.tensordot(w, np.stack(all_logits).astype(np.float64), axes=1).astype(np.float32)


def mean(teachers: list[str]) -> dict[str, Any]:
    return {"method": "mean", "weights": None, "teachers": list(teachers)}


def weighted(teachers: list[str], weights: list[float]) -> dict[str, Any]:
    if sum(weights) <= 0:
        raise ConfigError("teachers: weights must not all be zero for 'weighted' stacking")
    return {"method": "weighted", "weights": list(weights), "teachers": list(teachers)}


def fit_logreg(
    teachers: list[str], all_logits: list[np.ndarray], labels: np.ndarray, C: float, folds: int = 5
) -> dict[str, Any]:
    """A logistic-regression stacker fitted on every row, with its accuracy measured by
    ``folds``-fold cross-validation (stratified; fewer folds when a class has fewer rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x = np.concatenate(all_logits, axis=1)
    labels = np.asarray(labels)
    smallest = min(c for c in np.bincount(labels) if c > 0) if len(labels) else 0
    k = min(folds, smallest)
    clf = LogisticRegression(C=C, max_iter=1000)
    cv = None
    if k >= 2:
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
        cv = float(cross_val_score(clf, x, labels, cv=split, scoring="accuracy").mean())
    clf.fit(x, labels)
    return {
        "method": "logreg",
        "teachers": list(teachers),
        "coef": clf.coef_.tolist(),
        "intercept": clf.intercept_.tolist(),
        "cv_accuracy": cv,
        "cv_folds": k if cv is not None else 0,
        "fit_accuracy": float((clf.predict(x) == labels).mean()),
        "dev_rows": int(len(labels)),
    }


def check_teachers(stacker: dict[str, Any], names: list[str], where: str) -> None:
    """The stacker must have been made for these teachers, in this order."""
    want = stacker.get("teachers")
    if want is not None and list(want) != list(names):
        raise ConfigError(
            f"{where}: the recorded stacker combines teachers {want}, not {list(names)}; "
            "list the same teachers in the same order"
        )

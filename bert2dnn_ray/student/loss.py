"""The distillation loss (BERT2DNN's, with an optional gold-label term), as a small module.

Per row::

    (1 - w) * T^2 * CE(teacher_probs_T, softmax(student_logits / T)) + w * CE(gold_label, softmax(student_logits))

``teacher_probs_T`` is the soft label at temperature T; as in Hinton et al. (2015) the student's
logits are divided by the same T inside the soft term (and the term scaled by T^2 so its gradients
keep their size), so the trained student's own softmax is on the teachers' T = 1 scale: served
probabilities are as sharp as the teachers', not flattened by T. ``w = hard_label_weight`` applies to
the rows that have a gold label (``gold >= 0``); the others keep the soft term only. The loss is the
mean over the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..metrics import softmax


class DistillationLoss(nn.Module):
    def __init__(self, hard_label_weight: float = 0.0, temperature: float = 1.0):
        super().__init__()
        if not 0.0 <= hard_label_weight <= 1.0:
            raise ValueError(f"hard_label_weight must be in [0, 1], got {hard_label_weight}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.hard_label_weight = float(hard_label_weight)
        self.temperature = float(temperature)

    def forward(
        self, logits: torch.Tensor, soft: torch.Tensor, gold: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``logits`` [B, K], teacher probabilities ``soft`` [B, K], optional ``gold`` [B] int64 (-1 = none)."""
        t = self.temperature
        per_row = -(soft * torch.log_softmax(logits / t, dim=-1)).sum(-1) * (t * t)
        if gold is not None:
            hard = -torch.log_softmax(logits, dim=-1).gather(1, gold.clamp(min=0)[:, None])[:, 0]
            w = self.hard_label_weight
            per_row = torch.where(gold >= 0, (1 - w) * per_row + w * hard, per_row)
        return per_row.mean()


def soft_targets(col: Any, temperature: float | None) -> torch.Tensor:
    """A batch's soft-label column as float32 targets [B, K]: probabilities as they are, or (with a
    ``temperature``) logits turned into softmax(logits / T) by the function the label stage writes
    its ``_probs_t<T>`` columns with."""
    arr = np.asarray(col)
    if arr.dtype == object:
        arr = np.stack(arr)
    target = arr.astype(np.float32, copy=False)
    return torch.from_numpy(target if temperature is None else softmax(target, temperature))

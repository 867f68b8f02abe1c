"""The BERT2DNN student: hashed-feature embedding bag -> MLP -> K logits.

``forward(ids, offsets)`` takes the flat ``(ids, offsets)`` of :meth:`Featurizer.batch`;
``forward_padded(ids, mask)`` is the same function on a padded ``[B, L]`` layout (used for the ONNX
export, where a plain gather + masked sum is the most portable form).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from ..config import Strict

__all__ = ["StudentModelConfig", "StudentNet", "count_parameters", "expected_shapes"]


class StudentModelConfig(Strict):
    """Shape of the student network (the featurizer decides ``num_buckets``)."""

    embedding_dim: int = Field(64, ge=1)
    pooling: Literal["sqrtn", "mean", "sum"] = "sqrtn"
    hidden: list[int] = Field(default_factory=lambda: [1024, 512, 128, 64])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    num_labels: int = Field(2, ge=2)

    @field_validator("hidden")
    @classmethod
    def _check_hidden(cls, v: list[int]) -> list[int]:
        if any(h < 1 for h in v):
            raise ValueError("hidden layer sizes must be >= 1")
        return v


class StudentNet(nn.Module):
    """EmbeddingBag(num_buckets, D, sum) pooled by ``sqrtn``/``mean``/``sum`` -> [Linear+ReLU]* -> K logits.

    ``sqrtn`` divides a bag's sum by sqrt(bag size), ``mean`` by the bag size; an empty bag (which the
    featurizer never produces) pools to zeros.
    """

    def __init__(self, model_cfg: StudentModelConfig, num_buckets: int):
        super().__init__()
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
        self.config = model_cfg
        self.num_buckets = int(num_buckets)
        self.pooling = model_cfg.pooling
        dim = model_cfg.embedding_dim
        self.embedding = nn.EmbeddingBag(self.num_buckets, dim, mode="sum")
        # Pooled vectors start with about unit norm whatever the bag size (sqrtn pooling).
        if not self.embedding.weight.is_meta:  # loaders build on the meta device, then assign weights
            nn.init.normal_(self.embedding.weight, mean=0.0, std=1.0 / math.sqrt(dim))
        # Linear layers live in a ModuleList (ReLU/dropout are applied in code), so the weight names
        # are ``hidden.{i}.weight`` / ``head.weight`` whatever the dropout setting.
        widths = [dim, *model_cfg.hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(model_cfg.dropout) if model_cfg.dropout > 0 else nn.Identity()
        self.head = nn.Linear(widths[-1], model_cfg.num_labels)

    @property
    def num_labels(self) -> int:
        return self.head.out_features

    def _scale(self, pooled: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Apply the pooling normalisation; ``counts`` is [B] or [B, 1] (float or int)."""
        if self.pooling == "sum":
            return pooled
        counts = counts.to(pooled.dtype).reshape(-1, 1).clamp(min=1.0)
        if self.pooling == "sqrtn":
            return pooled / counts.sqrt()
        return pooled / counts

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled bag vectors [B, D] -> logits [B, K]."""
        x = pooled
        for layer in self.hidden:
            x = self.dropout(torch.relu(layer(x)))
        return self.head(x)

    def pool(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Flat ``ids`` [T] and bag start ``offsets`` [B] -> pooled vectors [B, D]."""
        summed = self.embedding(ids, offsets)
        if self.pooling == "sum":
            return summed
        ends = torch.empty_like(offsets)
        ends[:-1] = offsets[1:]
        ends[-1:] = ids.shape[0]
        return self._scale(summed, ends - offsets)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Flat int64 ``ids`` [T] and ``offsets`` [B] (as from ``Featurizer.batch``) -> logits [B, K]."""
        return self.classify(self.pool(ids, offsets))

    def forward_one(self, ids: torch.Tensor) -> torch.Tensor:
        """One bag of ids [L] -> logits [1, K] (the low-latency serving path)."""
        # index_select + sum is the cheapest bag of one on CPU (same sum as EmbeddingBag up to
        # float rounding order).
        summed = self.embedding.weight.index_select(0, ids).sum(dim=0, keepdim=True)
        n = max(int(ids.shape[0]), 1)
        if self.pooling == "sqrtn":
            summed = summed / math.sqrt(n)
        elif self.pooling == "mean":
            summed = summed / n
        return self.classify(summed)

    def forward_padded(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Padded int64 ``ids`` [B, L] and float ``mask`` [B, L] (1 = real, 0 = padding) -> logits [B, K].

        Mathematically identical to :meth:`forward`: padded positions contribute nothing and are
        not counted.
        """
        emb = nn.functional.embedding(ids, self.embedding.weight)  # [B, L, D]
        summed = (emb * mask.unsqueeze(-1)).sum(dim=1)
        if self.pooling == "sum":
            return self.classify(summed)
        return self.classify(self._scale(summed, mask.sum(dim=1)))


def expected_shapes(model_cfg: StudentModelConfig, num_buckets: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a :class:`StudentNet` state dict, from the config alone."""
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (num_buckets, model_cfg.embedding_dim)}
    widths = [model_cfg.embedding_dim, *model_cfg.hidden]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        shapes[f"hidden.{i}.weight"] = (b, a)
        shapes[f"hidden.{i}.bias"] = (b,)
    shapes["head.weight"] = (model_cfg.num_labels, widths[-1])
    shapes["head.bias"] = (model_cfg.num_labels,)
    return shapes


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())

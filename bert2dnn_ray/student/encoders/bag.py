"""``bag``: BERT2DNN's encoder, the pooled sum of a text's feature embeddings, blind to word order.

``pooling``: ``sqrtn`` divides a bag's sum by sqrt(bag size), ``mean`` by the bag size, ``sum`` leaves
it; an empty bag (which the featurizer never produces) pools to zeros.
"""

from __future__ import annotations

import math

import torch
from torch import nn

settings = ("pooling",)
sequence = False


def encoded_dim(cfg) -> int:
    return cfg.embedding_dim


def build(net: nn.Module, cfg) -> None:
    net.embedding = nn.EmbeddingBag(net.num_buckets, cfg.embedding_dim, mode="sum")
    if not net.embedding.weight.is_meta:  # loaders build on the meta device, then assign weights
        # Pooled vectors start with about unit norm whatever the bag size (sqrtn pooling).
        nn.init.normal_(net.embedding.weight, mean=0.0, std=1.0 / math.sqrt(cfg.embedding_dim))


def shapes(cfg) -> dict[str, tuple[int, ...]]:
    return {}


def _scale(pooling: str, pooled: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Apply the pooling normalisation; ``counts`` is [B] or [B, 1] (float or int)."""
    if pooling == "sum":
        return pooled
    counts = counts.to(pooled.dtype).reshape(-1, 1).clamp(min=1.0)
    return pooled / counts.sqrt() if pooling == "sqrtn" else pooled / counts


def pool(net: nn.Module, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    summed = net.embedding(ids, offsets)
    if net.pooling == "sum":
        return summed
    ends = torch.empty_like(offsets)
    ends[:-1] = offsets[1:]
    ends[-1:] = ids.shape[0]
    return _scale(net.pooling, summed, ends - offsets)


def one(net: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    # index_select + sum is the cheapest bag of one on CPU (same sum as EmbeddingBag up to float
    # rounding order).
    summed = net.embedding.weight.index_select(0, ids).sum(dim=0, keepdim=True)
    n = max(int(ids.shape[0]), 1)
    if net.pooling == "sqrtn":
        return summed / math.sqrt(n)
    if net.pooling == "mean":
        return summed / n
    return summed


def padded(net: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    emb = nn.functional.embedding(ids, net.embedding.weight)  # [B, L, D]
    summed = (emb * mask.unsqueeze(-1)).sum(dim=1)
    return _scale(net.pooling, summed, mask.sum(dim=1))

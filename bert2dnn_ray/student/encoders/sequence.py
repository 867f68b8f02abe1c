"""What the encoders that read a text's features in order (``cnn``, ``bilstm``) share: a word
embedding table, and the flat and padded batch layouts turned into ``[B, L, D]`` embeddings, zero
after each text's length (texts start at position 0)."""

from __future__ import annotations

import torch
from torch import nn

sequence = True


def build_embedding(net: nn.Module, cfg) -> None:
    net.embedding = nn.Embedding(net.num_buckets, cfg.embedding_dim)
    if not net.embedding.weight.is_meta:
        nn.init.normal_(net.embedding.weight, mean=0.0, std=1.0)  # torch's default for word embeddings


def flat_to_padded(
    net: nn.Module, ids: torch.Tensor, offsets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat ``ids`` [T] and ``offsets`` [B] -> embeddings [B, L, D] (zeros after each text) and lengths [B]."""
    lengths = torch.diff(offsets, append=offsets.new_tensor([ids.shape[0]]))
    rows = torch.repeat_interleave(torch.arange(offsets.shape[0], device=ids.device), lengths)
    cols = torch.arange(ids.shape[0], device=ids.device) - torch.repeat_interleave(offsets, lengths)
    # Embed the real ids only (only their rows get gradients), then lay them out padded.
    emb = net.embedding(ids)
    out = emb.new_zeros((offsets.shape[0], int(lengths.max()), emb.shape[-1]))
    return out.index_put((rows, cols), emb), lengths


def padded_ids(net: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids [B, L] (whatever the padding ids) and mask -> embeddings [B, L, D] (padding zero) and lengths."""
    lengths = mask.sum(dim=1).to(torch.int64)
    real = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.unsqueeze(1)
    emb = net.embedding(ids) * real.unsqueeze(-1).to(net.embedding.weight.dtype)
    return emb, lengths


def entry_points(encode):
    """An encoder's ``pool``, ``one`` and ``padded`` from its ``encode(net, emb, lengths)``."""

    def pool(net: nn.Module, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return encode(net, *flat_to_padded(net, ids, offsets))

    def one(net: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        return encode(net, net.embedding(ids).unsqueeze(0), ids.new_tensor([ids.shape[0]]))

    def padded(net: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return encode(net, *padded_ids(net, ids, mask))

    return pool, one, padded


def real_positions(emb: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions [1, L] and the mask of real (not padding) positions [B, L]."""
    positions = torch.arange(emb.shape[1], device=emb.device).unsqueeze(0)
    return positions, positions < lengths.unsqueeze(1)

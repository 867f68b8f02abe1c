"""``cnn``: convolutions over a text's features in order (one per window width in ``cnn_windows``,
``encoder_width`` filters each), ReLU, max over positions: learned n-gram detectors."""

from __future__ import annotations

import torch
from torch import nn

from . import sequence as seq

settings = ("encoder_width", "cnn_windows")
sequence = True


def encoded_dim(cfg) -> int:
    return cfg.encoder_width * len(cfg.cnn_windows)


def build(net: nn.Module, cfg) -> None:
    seq.build_embedding(net, cfg)
    # Zero padding of k // 2 on both sides; the first L outputs are kept (window t covers positions
    # t - k//2 .. t - k//2 + k - 1), as the padded/ONNX path computes them.
    net.convs = nn.ModuleList(
        nn.Conv1d(cfg.embedding_dim, cfg.encoder_width, k, padding=k // 2) for k in cfg.cnn_windows
    )


def shapes(cfg) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for i, k in enumerate(cfg.cnn_windows):
        out[f"convs.{i}.weight"] = (cfg.encoder_width, cfg.embedding_dim, k)
        out[f"convs.{i}.bias"] = (cfg.encoder_width,)
    return out


def encode(net: nn.Module, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Embeddings [B, L, D], zero after each text's length -> [B, encoded_dim]."""
    _, real = seq.real_positions(emb, lengths)
    x = emb.transpose(1, 2)  # [B, D, L]
    # ReLU outputs are >= 0 and every text has a real position, so zeroing the padding's outputs
    # leaves each max unchanged.
    keep = real.unsqueeze(1).to(x.dtype)
    outs = [(torch.relu(conv(x))[..., : emb.shape[1]] * keep).amax(dim=-1) for conv in net.convs]
    return torch.cat(outs, dim=-1)


pool, one, padded = seq.entry_points(encode)

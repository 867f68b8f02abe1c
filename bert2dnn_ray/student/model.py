"""The BERT2DNN student: hashed-feature embeddings -> an encoder -> MLP -> K logits.

The encoder (``model.encoder``) turns a text's feature embeddings into one vector:

* ``bag`` (the default, BERT2DNN's student): their pooled sum (``pooling``), blind to word order;
* ``cnn``: convolutions over the features in text order (one per window width in ``cnn_windows``,
  ``encoder_width`` filters each), ReLU, max over positions: learned n-gram detectors;
* ``bilstm``: a one-layer bidirectional LSTM (``encoder_width`` units per direction), its outputs
  max- and mean-pooled over positions.

``cnn`` and ``bilstm`` read the featurizer's ids as a sequence, so they are meant for a featurizer
that emits word unigrams in text order (``word_ngrams: [1]``, no ``char_ngrams``).

``forward(ids, offsets)`` takes the flat ``(ids, offsets)`` of :meth:`Featurizer.batch`;
``forward_padded(ids, mask)`` is the same function on a padded ``[B, L]`` layout (used for the ONNX
export, where plain gathers, masked sums and a unidirectional LSTM are the most portable form).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field, field_validator, model_validator
from torch import nn

from ..config import Strict

__all__ = ["StudentModelConfig", "StudentNet", "count_parameters", "expected_shapes"]


_SEQUENCE_ONLY = ("encoder_width", "cnn_windows")


class StudentModelConfig(Strict):
    """Shape of the student network (the featurizer decides ``num_buckets``)."""

    encoder: Literal["bag", "cnn", "bilstm"] = Field(
        "bag",
        description="bag: the pooled bag of features (BERT2DNN's student); cnn / bilstm: read the "
        "features in text order, with featurizer.word_ngrams [1] (README: The student's encoder)",
    )
    embedding_dim: int = Field(64, ge=1)
    pooling: Literal["sqrtn", "mean", "sum"] = Field("sqrtn", description="bag only")
    encoder_width: int = Field(
        128, ge=1, description="cnn: filters per window width; bilstm: units per direction"
    )
    cnn_windows: list[int] = Field(default_factory=lambda: [1, 2, 3, 5], description="cnn: window widths")
    hidden: list[int] = Field(default_factory=lambda: [1024, 512, 128, 64])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    num_labels: int = Field(2, ge=2)

    @field_validator("hidden")
    @classmethod
    def _check_hidden(cls, v: list[int]) -> list[int]:
        if any(h < 1 for h in v):
            raise ValueError("hidden layer sizes must be >= 1")
        return v

    @field_validator("cnn_windows")
    @classmethod
    def _check_windows(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 or k > 9 for k in v):
            raise ValueError("cnn_windows must list window widths between 1 and 9")
        return sorted(set(v))

    @model_validator(mode="after")
    def _check_encoder_settings(self) -> StudentModelConfig:
        # A setting the chosen encoder would ignore is a mistake in the config: say so. (Compared with
        # the defaults, not with what was given, so a saved config, which lists every field, loads.)
        default = {k: f.get_default(call_default_factory=True) for k, f in type(self).model_fields.items()}
        changed = [k for k in ("pooling", *_SEQUENCE_ONLY) if getattr(self, k) != default[k]]
        ignored = {"bag": _SEQUENCE_ONLY, "cnn": ("pooling",), "bilstm": ("pooling", "cnn_windows")}[
            self.encoder
        ]
        stray = [k for k in changed if k in ignored]
        if stray:
            raise ValueError(f"{', '.join(stray)}: not used by encoder {self.encoder}")
        return self

    def encoded_dim(self) -> int:
        """Width of the encoder's output (the first dense layer's input)."""
        if self.encoder == "cnn":
            return self.encoder_width * len(self.cnn_windows)
        if self.encoder == "bilstm":
            return 4 * self.encoder_width  # max- and mean-pooled, both directions
        return self.embedding_dim


class StudentNet(nn.Module):
    """Embeddings of the hashed features -> encoder (``bag``, ``cnn`` or ``bilstm``) -> [Linear+ReLU]* -> K logits.

    ``bag``: EmbeddingBag(num_buckets, D, sum) pooled by ``sqrtn``/``mean``/``sum``: ``sqrtn`` divides a
    bag's sum by sqrt(bag size), ``mean`` by the bag size; an empty bag (which the featurizer never
    produces) pools to zeros. ``cnn`` / ``bilstm``: an Embedding(num_buckets, D) read in order.
    """

    def __init__(self, model_cfg: StudentModelConfig, num_buckets: int):
        super().__init__()
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
        self.config = model_cfg
        self.num_buckets = int(num_buckets)
        self.encoder = model_cfg.encoder
        self.pooling = model_cfg.pooling
        dim = model_cfg.embedding_dim
        if self.encoder == "bag":
            self.embedding = nn.EmbeddingBag(self.num_buckets, dim, mode="sum")
            # Pooled vectors start with about unit norm whatever the bag size (sqrtn pooling).
            std = 1.0 / math.sqrt(dim)
        else:
            self.embedding = nn.Embedding(self.num_buckets, dim)
            std = 1.0  # torch's default for word embeddings read by a CNN / LSTM
        if not self.embedding.weight.is_meta:  # loaders build on the meta device, then assign weights
            nn.init.normal_(self.embedding.weight, mean=0.0, std=std)
        width = model_cfg.encoder_width
        if self.encoder == "cnn":
            # Zero padding of k // 2 on both sides; the first L outputs are kept (window t covers
            # positions t - k//2 .. t - k//2 + k - 1), as the padded/ONNX path computes them.
            self.convs = nn.ModuleList(
                nn.Conv1d(dim, width, k, padding=k // 2) for k in model_cfg.cnn_windows
            )
        elif self.encoder == "bilstm":
            # Two one-way LSTMs rather than one bidirectional module: the backward one runs forward
            # over each text reversed, which is exact with padding and exports to ONNX as is.
            self.lstm = nn.LSTM(dim, width, batch_first=True)
            self.lstm_reverse = nn.LSTM(dim, width, batch_first=True)
        # Linear layers live in a ModuleList (ReLU/dropout are applied in code), so the weight names
        # are ``hidden.{i}.weight`` / ``head.weight`` whatever the dropout setting.
        widths = [model_cfg.encoded_dim(), *model_cfg.hidden]
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
        """Encoded texts [B, encoded_dim] -> logits [B, K]."""
        x = pooled
        for layer in self.hidden:
            x = self.dropout(torch.relu(layer(x)))
        return self.head(x)

    def pool(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Flat ``ids`` [T] and bag start ``offsets`` [B] -> encoded texts [B, encoded_dim]."""
        if self.encoder != "bag":
            lengths = torch.diff(offsets, append=offsets.new_tensor([ids.shape[0]]))
            rows = torch.repeat_interleave(torch.arange(offsets.shape[0], device=ids.device), lengths)
            cols = torch.arange(ids.shape[0], device=ids.device) - torch.repeat_interleave(offsets, lengths)
            # Embed the real ids only (only their rows get gradients), then lay them out padded.
            emb = self.embedding(ids)
            padded = emb.new_zeros((offsets.shape[0], int(lengths.max()), emb.shape[-1]))
            padded = padded.index_put((rows, cols), emb)
            return self._encode(padded, lengths)
        summed = self.embedding(ids, offsets)
        if self.pooling == "sum":
            return summed
        ends = torch.empty_like(offsets)
        ends[:-1] = offsets[1:]
        ends[-1:] = ids.shape[0]
        return self._scale(summed, ends - offsets)

    def _encode_ids(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """cnn / bilstm, serving: padded ids [B, L] (whatever the padding ids) -> [B, encoded_dim]."""
        real = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.unsqueeze(1)
        emb = self.embedding(ids) * real.unsqueeze(-1).to(self.embedding.weight.dtype)  # padding -> 0
        return self._encode(emb, lengths)

    def _encode(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """cnn / bilstm: embeddings [B, L, D], zero after each text's ``lengths`` [B] (texts start
        at position 0) -> [B, encoded_dim].

        The LSTMs run over the padded batch: padding follows each text (the reversed copy's too),
        so it cannot reach a real position's output, and the pooling masks its outputs, so it gets
        no gradient either. Packed sequences would skip that padding, but on a CPU their backward
        pass is 2-4x slower than the padded one (IMDB sentences, 128 a batch, grouped by length:
        49 against 131 ms a step), and batches grouped by length carry little padding."""
        positions = torch.arange(emb.shape[1], device=emb.device).unsqueeze(0)  # [1, L]
        real = positions < lengths.unsqueeze(1)  # [B, L]
        if self.encoder == "cnn":
            x = emb.transpose(1, 2)  # [B, D, L]
            # ReLU outputs are >= 0 and every text has a real position, so zeroing the padding's
            # outputs leaves each max unchanged.
            keep = real.unsqueeze(1).to(x.dtype)
            outs = [(torch.relu(conv(x))[..., : emb.shape[1]] * keep).amax(dim=-1) for conv in self.convs]
            return torch.cat(outs, dim=-1)
        # bilstm: position t of the reversed text is position len - 1 - t (padding stays in place)
        rev = torch.where(real, lengths.unsqueeze(1) - 1 - positions, positions)
        rev = rev.unsqueeze(-1).expand(-1, -1, emb.shape[-1])
        fwd = self.lstm(emb)[0]
        bwd = self.lstm_reverse(emb.gather(1, rev))[0]
        out = torch.cat([fwd, bwd.gather(1, rev[..., :1].expand(-1, -1, bwd.shape[-1]))], dim=-1)
        mask = real.unsqueeze(-1)
        top = out.masked_fill(~mask, -1e9).amax(dim=1)
        mean = (out * mask.to(out.dtype)).sum(dim=1) / lengths.unsqueeze(1).to(out.dtype)
        return torch.cat([top, mean], dim=-1)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Flat int64 ``ids`` [T] and ``offsets`` [B] (as from ``Featurizer.batch``) -> logits [B, K]."""
        return self.classify(self.pool(ids, offsets))

    def forward_one(self, ids: torch.Tensor) -> torch.Tensor:
        """One text's ids [L] -> logits [1, K] (the low-latency serving path)."""
        if self.encoder != "bag":
            return self.classify(
                self._encode(self.embedding(ids).unsqueeze(0), ids.new_tensor([ids.shape[0]]))
            )
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
        not counted. (cnn / bilstm: each text's real positions come first, as ``Featurizer.batch``
        laid out and padded gives.)
        """
        if self.encoder != "bag":
            return self.classify(self._encode_ids(ids, mask.sum(dim=1).to(torch.int64)))
        emb = nn.functional.embedding(ids, self.embedding.weight)  # [B, L, D]
        summed = (emb * mask.unsqueeze(-1)).sum(dim=1)
        if self.pooling == "sum":
            return self.classify(summed)
        return self.classify(self._scale(summed, mask.sum(dim=1)))


def expected_shapes(model_cfg: StudentModelConfig, num_buckets: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a :class:`StudentNet` state dict, from the config alone."""
    dim, width = model_cfg.embedding_dim, model_cfg.encoder_width
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (num_buckets, dim)}
    if model_cfg.encoder == "cnn":
        for i, k in enumerate(model_cfg.cnn_windows):
            shapes[f"convs.{i}.weight"] = (width, dim, k)
            shapes[f"convs.{i}.bias"] = (width,)
    elif model_cfg.encoder == "bilstm":
        for name in ("lstm", "lstm_reverse"):
            shapes[f"{name}.weight_ih_l0"] = (4 * width, dim)
            shapes[f"{name}.weight_hh_l0"] = (4 * width, width)
            shapes[f"{name}.bias_ih_l0"] = (4 * width,)
            shapes[f"{name}.bias_hh_l0"] = (4 * width,)
    widths = [model_cfg.encoded_dim(), *model_cfg.hidden]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        shapes[f"hidden.{i}.weight"] = (b, a)
        shapes[f"hidden.{i}.bias"] = (b,)
    shapes["head.weight"] = (model_cfg.num_labels, widths[-1])
    shapes["head.bias"] = (model_cfg.num_labels,)
    return shapes


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())

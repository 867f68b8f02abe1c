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

from typing import Literal

import torch
from pydantic import Field, field_validator, model_validator
from torch import nn

from ..config import Strict
from . import encoders

__all__ = ["StudentModelConfig", "StudentNet", "count_parameters", "expected_shapes"]


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
    hidden: list[int] = Field(
        default_factory=lambda: [64],
        description="dense layer widths ([] = a linear student). Default: one layer as wide as the "
        "embedding, which matched BERT2DNN's 1024-512-128-64 on SST-2 (benchmarks/results/"
        "student_vs_fasttext.json) at a fraction of its latency",
    )
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
        own = encoders.get(self.encoder).settings
        stray = [k for k in _ENCODER_SETTINGS if k not in own and getattr(self, k) != default[k]]
        if stray:
            raise ValueError(f"{', '.join(stray)}: not used by encoder {self.encoder}")
        return self

    def encoded_dim(self) -> int:
        """Width of the encoder's output (the first dense layer's input)."""
        return encoders.get(self.encoder).encoded_dim(self)


# The settings that belong to one encoder or another (the rest are every network's).
_ENCODER_SETTINGS = sorted({k for e in encoders.ENCODERS.values() for k in e.settings})


class StudentNet(nn.Module):
    """Embeddings of the hashed features -> encoder (``bag``, ``cnn`` or ``bilstm``; see
    :mod:`.encoders`) -> [Linear+ReLU]* -> K logits.

    The encoder's layers live on this module (``embedding``, ``convs``, ``lstm``...), so a state
    dict's names are the same whatever the encoder (the artifact format, :func:`expected_shapes`).
    """

    def __init__(self, model_cfg: StudentModelConfig, num_buckets: int):
        super().__init__()
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
        self.config = model_cfg
        self.num_buckets = int(num_buckets)
        self.encoder = model_cfg.encoder
        self.pooling = model_cfg.pooling
        self._encoder = encoders.get(model_cfg.encoder)
        self._encoder.build(self, model_cfg)
        # Linear layers live in a ModuleList (ReLU/dropout are applied in code), so the weight names
        # are ``hidden.{i}.weight`` / ``head.weight`` whatever the dropout setting.
        widths = [model_cfg.encoded_dim(), *model_cfg.hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(model_cfg.dropout) if model_cfg.dropout > 0 else nn.Identity()
        self.head = nn.Linear(widths[-1], model_cfg.num_labels)

    @property
    def num_labels(self) -> int:
        return self.head.out_features

    @property
    def reads_in_order(self) -> bool:
        """Whether the encoder reads the features in text order (cnn, bilstm) or as a bag."""
        return self._encoder.sequence

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Encoded texts [B, encoded_dim] -> logits [B, K]."""
        x = pooled
        for layer in self.hidden:
            x = self.dropout(torch.relu(layer(x)))
        return self.head(x)

    def pool(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Flat ``ids`` [T] and bag start ``offsets`` [B] -> encoded texts [B, encoded_dim]."""
        return self._encoder.pool(self, ids, offsets)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Flat int64 ``ids`` [T] and ``offsets`` [B] (as from ``Featurizer.batch``) -> logits [B, K]."""
        return self.classify(self.pool(ids, offsets))

    def forward_one(self, ids: torch.Tensor) -> torch.Tensor:
        """One text's ids [L] -> logits [1, K] (the low-latency serving path)."""
        return self.classify(self._encoder.one(self, ids))

    def forward_padded(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Padded int64 ``ids`` [B, L] and float ``mask`` [B, L] (1 = real, 0 = padding) -> logits [B, K].

        Mathematically identical to :meth:`forward`: padded positions contribute nothing and are
        not counted. (cnn / bilstm: each text's real positions come first, as ``Featurizer.batch``
        laid out and padded gives.)
        """
        return self.classify(self._encoder.padded(self, ids, mask))

    def configure_optimizers(
        self, name: str, learning_rate: float, weight_decay: float, sparse: bool
    ) -> list[torch.optim.Optimizer]:
        """The optimizers of a training run (as nanoGPT's model sets up its own).

        With ``sparse`` embedding gradients (adagrad, adam) the embedding gets its own optimizer that
        takes them as they are: only the rows a batch touches are synced and updated (Adagrad applies
        no weight decay to them; Adam becomes SparseAdam). The rest of the network, or the whole of
        it without sparse gradients, gets ``name`` with ``weight_decay``.
        """
        self.embedding.sparse = sparse
        emb = [self.embedding.weight]
        rest = [p for n, p in self.named_parameters() if n != "embedding.weight"]
        if name == "adagrad":
            return [
                torch.optim.Adagrad(emb, lr=learning_rate, weight_decay=0.0 if sparse else weight_decay),
                torch.optim.Adagrad(rest, lr=learning_rate, weight_decay=weight_decay),
            ]
        if name == "adam" and sparse:
            return [
                torch.optim.SparseAdam(emb, lr=learning_rate),
                torch.optim.Adam(rest, lr=learning_rate, weight_decay=weight_decay),
            ]
        if name in ("adam", "adamw"):
            cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
            return [cls(self.parameters(), lr=learning_rate, weight_decay=weight_decay)]
        return [torch.optim.SGD(self.parameters(), lr=learning_rate, momentum=0.9, weight_decay=weight_decay)]


def expected_shapes(model_cfg: StudentModelConfig, num_buckets: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a :class:`StudentNet` state dict, from the config alone."""
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (num_buckets, model_cfg.embedding_dim)}
    shapes.update(encoders.get(model_cfg.encoder).shapes(model_cfg))
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

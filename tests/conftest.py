"""Shared fixtures: one local Ray per session, tiny BERT teachers saved with save_pretrained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (2 CPUs, dashboard off)."""
    import ray

    from bert2dnn_ray.runtime import init_ray

    init_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def make_tiny_bert(path: Path, num_labels: int = 2, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """A tiny BERT classifier with MiniLM's real tokenizer, saved like any HF checkpoint."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from bert2dnn_ray.hf import resolve_model

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert_factory(tmp_path_factory):
    cache: dict[tuple, Path] = {}

    def make(num_labels: int = 2, seed: int = 0) -> Path:
        key = (num_labels, seed)
        if key not in cache:
            cache[key] = make_tiny_bert(tmp_path_factory.mktemp(f"bert{num_labels}_{seed}"), num_labels, seed)
        return cache[key]

    return make

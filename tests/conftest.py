"""Shared fixtures: one local Ray per session, tiny BERT teachers saved with save_pretrained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bert2dnn_ray.runtime import LOCAL_ENV

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
# Ray Train's controller polls its workers every 2 s, so each training run ends seconds after its
# workers finish; the suite runs dozens of them. The library's local interval (runtime.LOCAL_ENV),
# set here too for the clusters tests start themselves (a job's head, the multinode scenarios).
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", LOCAL_ENV["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"])


@pytest.fixture(scope="session")
def ray_session(s3_server):
    """One local Ray for the whole test session (2 CPUs, dashboard off). Started after the
    loopback S3 server, so its workers inherit the variables that point at it."""
    import ray

    from bert2dnn_ray.runtime import init_ray

    init_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture
def session_address(ray_session) -> str:
    """The session cluster's address: a job started in a subprocess joins it (``RAY_ADDRESS``),
    as a job driver joins a running cluster, instead of paying for a Ray of its own."""
    return ray_session.get_runtime_context().gcs_address


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


@pytest.fixture(scope="session")
def s3_server():
    """A loopback S3 server (moto) for tests of ``s3://`` storage.

    Yields (bucket URI, the environment that points clients at it). The variables are also set
    in this process, so pyarrow, Ray workers started from it and boto3 all talk to it.
    """
    from benchmarks._common import loopback_s3

    server, env = loopback_s3("bert2dnn-test")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield "s3://bert2dnn-test", env
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()

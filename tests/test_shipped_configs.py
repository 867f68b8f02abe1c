"""The shipped pipeline configs for real teachers and for text pairs, run end to end offline.

``jobs/configs/bert_tinybert.yaml`` names hub checkpoints (``bert-base-uncased``,
``huawei-noah/TinyBERT_General_4L_312D``); here they are stood in for by local checkpoints of the same
architecture, saved the way the hub's are (a pretrained ``BertModel`` without a classification head,
TinyBERT's exact shape: 4 layers x 312, 12 heads), so the same code path runs: fine-tuning adds the
head, labeling stacks both teachers with the logreg stacker, the student learns from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bert2dnn_ray import pipeline
from bert2dnn_ray.config import apply_overrides, build, read_yaml

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def _pretrained_encoder(path: Path, **shape) -> Path:
    """A hub-style pretrained BERT: the encoder only (no classification head), MiniLM's tokenizer
    (the uncased WordPiece vocabulary of bert-base-uncased and TinyBERT)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from bert2dnn_ray.hf import resolve_model

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    BertModel(BertConfig(vocab_size=tok.vocab_size, **shape)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _run(config: str, tmp_path: Path, overrides: list[str]) -> Path:
    data = apply_overrides(read_yaml(ROOT / config), [f"runs_dir={tmp_path}", *overrides])
    cfg = build(pipeline.PipelineConfig, data, source=config)
    pipeline.run(cfg)
    return tmp_path / cfg.name


def test_bert_base_and_tinybert_config_fine_tunes_stacks_and_distills(ray_session, tmp_path):
    tiny = _pretrained_encoder(
        tmp_path / "tinybert",
        hidden_size=312,
        num_hidden_layers=4,
        num_attention_heads=12,
        intermediate_size=1200,
        max_position_embeddings=512,
    )
    base = _pretrained_encoder(
        tmp_path / "bert_base",
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=512,
    )
    run = _run(
        "jobs/configs/bert_tinybert.yaml",
        tmp_path,
        [
            "data.source=synthetic",  # the shipped config reads data/sst2 and data/imdb (make data)
            "data.columns={text: text, label: label}",
            "data.label_names=null",
            "data.synthetic={task: query_category, num_labeled: 600, num_dev: 200, num_test: 200, num_unlabeled: 1500, seed: 3}",
            f"finetune.teachers.0.model={base}",
            f"finetune.teachers.1.model={tiny}",
            "finetune.teachers.0.epochs=4",  # dev accuracy ~0.8 (4 classes), past the 0.5 checked
            "finetune.teachers.1.epochs=1",
            "finetune.teachers.1.max_steps_per_epoch=3",  # its shape is the point, not what it learns
            "finetune.teachers.0.learning_rate=0.005",
            "finetune.teachers.1.learning_rate=0.0001",
            "finetune.teachers.0.max_length=24",
            "finetune.teachers.1.max_length=24",
            "label.chunk_rows=1000",
            "train.epochs=2",
            "train.featurizer.num_buckets=16384",
            "train.model.embedding_dim=16",
            "train.model.hidden=[32]",
            "evaluate.latency_samples=5",
            "stages=[data, finetune, label, train, evaluate]",
        ],
    )
    cfg = json.loads((run / "teachers" / "tinybert" / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], len(cfg["id2label"])) == (312, 4, 4)
    manifest = json.loads((run / "soft_labels" / "manifest.json").read_text())
    assert manifest["labeled_rows"] == 1500 and set(manifest["teachers"]) == {"bert_base", "tinybert"}
    stacker = json.loads((run / "soft_labels" / "stacker.json").read_text())
    assert stacker["method"] == "logreg" and stacker["teachers"] == ["bert_base", "tinybert"]
    assert 0.0 <= stacker["cv_accuracy"] <= 1.0 and stacker["cv_folds"] == 5
    ev = {m["model"]: m for m in json.loads((run / "eval.json").read_text())["models"]}
    assert {"teacher:bert_base", "teacher:tinybert", "teachers:stacked(logreg)", "student"} <= set(ev)
    assert ev["teacher:bert_base"]["accuracy"] > 0.5  # 4 classes: chance is 0.25


# Ray's notices about itself that a person running a stage has nothing to do with; they stay in
# Ray's log files (make smoke printed each of them).
RAY_NOISE = (
    "Reporting training result",
    "Checkpoint successfully created",
    "Requesting resources",
    "Setting up process group",
    "Moving model to device",
    "execution finished in",
    "Progress bars disabled",
    "core_worker.cc",
    "constructor arguments",
    "DeprecationWarning",
    "Token authentication is enabled",
)


def test_query_title_config_runs_pairs_from_finetune_to_serving(ray_session, tmp_path, capfd):
    """Also the terminal a user reads: the stages' lines, progress with time left, no Ray notices
    (captured at the file descriptors, where the workers' forwarded lines arrive)."""
    from bert2dnn_ray.student import OnnxStudent, Student

    run = _run(
        "jobs/configs/query_title.yaml",
        tmp_path,
        [
            "data.synthetic.num_labeled=1500",
            "data.synthetic.num_dev=200",
            "data.synthetic.num_test=400",
            "data.synthetic.num_unlabeled=4000",
            # The config's offline MiniLM cross-encoder, fine-tuned for a few steps: a randomly
            # initialised tiny BERT does not learn whether a title answers a query in test time.
            "finetune.teachers.0.epochs=1",
            "finetune.teachers.0.max_steps_per_epoch=40",
            "finetune.teachers.0.max_length=32",
            "label.chunk_rows=2000",
            "train.epochs=3",
            "train.featurizer.num_buckets=65536",
            "evaluate.latency_samples=20",
        ],
    )
    student = Student.load(run / "export")
    assert student.text_fields == {"text": "query", "pair": "title"}
    assert student.featurizer.config.pair_cross
    queries = ["red running shoes", "red running shoes", "usb c charger"]
    titles = ["Nike Red Running Shoes Size 10", "Organic Green Tea 100 Bags", "USB-C Wall Charger 20W"]
    p = student.predict(queries, titles)
    assert p.shape == (3, 2)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(OnnxStudent.load(run / "export").predict(queries, titles), p, atol=1e-5)
    np.testing.assert_allclose(student.predict_one(queries[1], titles[1]), p[1], atol=1e-5)
    ev = {m["model"]: m for m in json.loads((run / "eval.json").read_text())["models"]}
    teacher, stud = ev["teacher:minilm"]["accuracy"], ev["student"]["accuracy"]
    assert teacher > 0.6 and stud > 0.6
    out, err = capfd.readouterr()
    terminal = out + err
    assert "[student] epoch 1/3" in terminal and "[finetune:minilm] epoch 1/1" in terminal  # forwarded
    assert "4,000/4,000 rows (100%)" in terminal and "left" in terminal  # labeling progress
    noise = [ln for ln in terminal.splitlines() if any(n in ln for n in RAY_NOISE)]
    assert not noise, noise[:5]

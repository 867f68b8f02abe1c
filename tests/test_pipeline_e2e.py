"""The whole pipeline end to end on generated data with a tiny BERT teacher."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bert2dnn_ray import Student, pipeline
from bert2dnn_ray.config import build
from bert2dnn_ray.student import OnnxStudent

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_pipeline_end_to_end(ray_session, tiny_bert_factory, tmp_path):
    tiny = tiny_bert_factory(4, seed=3)
    cfg = build(
        pipeline.PipelineConfig,
        {
            "name": "e2e",
            "runs_dir": str(tmp_path),
            "data": {
                "synthetic": {
                    "task": "query_category",
                    "num_labeled": 800,
                    "num_dev": 200,
                    "num_test": 300,
                    "num_unlabeled": 3000,
                    "seed": 5,
                }
            },
            "finetune": {
                "teachers": [
                    {
                        "name": "tiny",
                        "model": str(tiny),
                        "epochs": 6,
                        "learning_rate": 5e-3,
                        "batch_size": 32,
                        "max_length": 24,
                    }
                ]
            },
            "label": {"chunk_rows": 1000},
            "train": {
                "epochs": 3,
                "num_workers": 2,
                "learning_rate": 0.05,
                "featurizer": {"num_buckets": 16384},
                "model": {"hidden": [64, 32]},
                "checkpoint_every_steps": 10,
            },
            "evaluate": {"latency_samples": 20},
        },
    )
    pipeline.run(cfg)
    run = tmp_path / "e2e"
    ev = json.loads((run / "eval.json").read_text())
    models = {m["model"]: m for m in ev["models"]}
    # A 4-class task (chance 0.25): the tiny teacher learns it, and the student learns the teacher.
    assert models["teacher:tiny"]["accuracy"] > 0.6
    assert models["student"]["accuracy"] > 0.6
    assert ev["retention"] == pytest.approx(
        models["student"]["accuracy"] / models["teacher:tiny"]["accuracy"]
    )
    assert ev["retention"] > 0.85
    assert models["student"]["p50_us"] < models["teacher:tiny"]["p50_us"]

    manifest = json.loads((run / "soft_labels" / "manifest.json").read_text())
    assert manifest["input_rows"] == 3000 == manifest["labeled_rows"] + manifest["quarantined_rows"]

    s = Student.load(run / "export")
    assert s.label_names == ["electronics", "fashion", "home", "grocery"]
    texts = ["wireless noise cancelling headphones", "organic green tea bags", "queen size duvet cover"]
    p = s.predict(texts)
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(OnnxStudent.load(run / "export").predict(texts), p, atol=1e-5)
    np.testing.assert_allclose(s.predict_one(texts[0]), p[0], atol=1e-6)

    # Running again skips every finished stage and leaves the results alone.
    before = (run / "student" / "model.safetensors").stat().st_mtime
    pipeline.run(cfg.model_copy(update={"stages": ["finetune", "label", "train"]}))
    assert (run / "student" / "model.safetensors").stat().st_mtime == before

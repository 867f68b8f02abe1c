"""Issue 7 experiment, step 2: the library's bag-of-n-grams student, with the published recipe's
settings, on runs/wo's labels (target minilm, T=2), scored on test.tsv.
Usage: .venv/bin/python benchmarks/experiments/word_order_bag.py SEED"""

import json
import sys

from bert2dnn_ray import evaluate
from bert2dnn_ray.student import train

seed = int(sys.argv[1])
R = "runs/wo"
out = f"{R}/students/bag_s{seed}"
m = train.run(
    train.TrainConfig.model_validate(
        {
            "soft_labels": [f"{R}/soft_sst2_train", f"{R}/soft_augmented", f"{R}/soft_transfer"],
            "columns": {"text": "text"},
            "target": "minilm",
            "temperature": 2.0,
            "epochs": 3,
            "batch_size": 128,
            "num_workers": 1,
            "learning_rate": 0.01,
            "optimizer": "adagrad",
            "featurizer": {"num_buckets": 1048576},
            "model": {"embedding_dim": 128},
            "dev": "data/sst2/dev.tsv",
            "dev_columns": {"text": "sentence", "label": "label"},
            "seed": seed,
            "prune_checkpoints": True,
            "output_dir": out,
            "storage_path": f"{R}/ckpt",
            "run_name": f"bag_s{seed}",
        }
    )
)
print(
    json.dumps(
        {
            "arch": "bag",
            "seed": seed,
            "history": [(h["epoch"], h.get("dev_accuracy"), h["train_seconds"]) for h in m["history"]],
        }
    )
)
ev = evaluate.run(
    evaluate.EvalConfig.model_validate(
        {
            "test": "data/sst2/test.tsv",
            "columns": {"text": "sentence", "label": "label"},
            "student": out,
            "latency_samples": 200,
            "int8": False,
            "output": f"{R}/eval_bag_s{seed}.json",
        }
    )
)
print(
    json.dumps(
        {
            "arch": "bag",
            "seed": seed,
            "models": [(r["kind"], r["accuracy"], r.get("p50_us")) for r in ev["models"]],
        }
    )
)

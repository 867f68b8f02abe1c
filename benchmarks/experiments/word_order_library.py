"""Issue 7 experiment, step 2: the library's students on runs/wo's labels (target minilm, T=2),
scored on test.tsv by `bert2dnn evaluate`: ENCODER bag is the published recipe's bag-of-n-grams
student (2^20 x 128 buckets of word uni+bigrams, Adagrad 0.01); cnn and bilstm read the words in
order (model.encoder), with the prototype's settings (word_order_student.py): word unigrams in
2^20 buckets, 128-dim embeddings, 128 filters per window width or LSTM units per direction, one
256-wide hidden layer, Adam 0.001. All: batch 128, 3 epochs, 1 worker, the best epoch on dev.
Usage: .venv/bin/python benchmarks/experiments/word_order_library.py ENCODER SEED [all]
(`all`: with runs/wo/soft_transfer_all, every IMDB sentence, instead of the 100k sample). Env
SHUFFLE=global: train.shuffle global (the sets mixed) instead of local. The student is
runs/wo/students/<ENCODER>[_all][_global]_s<SEED>, its scores runs/wo/eval_<same name>.json."""

import json
import os
import sys

from bert2dnn_ray import evaluate
from bert2dnn_ray.student import train

encoder, seed = sys.argv[1], int(sys.argv[2])
ALL = sys.argv[3:] == ["all"]
R = "runs/wo"
SHUFFLE = os.environ.get("SHUFFLE", "local")
name = f"{encoder}{'_all' if ALL else ''}{'_global' if SHUFFLE == 'global' else ''}_s{seed}"
out = f"{R}/students/{name}"
if encoder == "bag":
    shape = {"featurizer": {"num_buckets": 1048576}, "model": {"embedding_dim": 128}}
    opt = {"optimizer": "adagrad", "learning_rate": 0.01}
else:
    shape = {
        "featurizer": {"num_buckets": 1048576, "word_ngrams": [1]},
        "model": {"encoder": encoder, "embedding_dim": 128, "encoder_width": 128, "hidden": [256]},
    }
    opt = {"optimizer": "adam", "learning_rate": 0.001}
m = train.run(
    train.TrainConfig.model_validate(
        {
            "soft_labels": [
                f"{R}/soft_sst2_train",
                f"{R}/soft_augmented",
                f"{R}/soft_transfer_all" if ALL else f"{R}/soft_transfer",
            ],
            "columns": {"text": "text"},
            "target": "minilm",
            "temperature": 2.0,
            "epochs": 3,
            "batch_size": 128,
            "shuffle": SHUFFLE,
            "num_workers": 1,
            **opt,
            **shape,
            "dev": "data/sst2/dev.tsv",
            "dev_columns": {"text": "sentence", "label": "label"},
            "seed": seed,
            "output_dir": out,
            "run": {"prune_checkpoints": True, "storage_path": f"{R}/ckpt", "run_name": name},
        }
    )
)
print(
    json.dumps(
        {
            "student": name,
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
            "int8": True,  # the served ONNX student too (for cnn / bilstm: dense layers int8, the rest float32)
            "output": f"{R}/eval_{name}.json",
        }
    )
)
print(
    json.dumps(
        {"student": name, "models": [(r["kind"], r["accuracy"], r.get("p50_us")) for r in ev["models"]]}
    )
)

"""Issue 30 experiment: bag students of several widths against fastText, on the same teacher labels
of the same transfer rows, scored on SST-2 test (GLUE SST-2 dev) -> ``--out`` JSON.

1. A MiniLM teacher fine-tuned on SST-2 train (1 epoch unless ``--teacher-epochs``) labels a seeded
   sample of ``--transfer-rows`` IMDB sentences (``make data``'s ``data/imdb/sentences.parquet``),
   soft labels at T = 1 and 2.
2. For each ``--hidden`` (comma-separated widths; ``""`` = no hidden layer, a linear student;
   ``:64`` for a 64-dim embedding) and each ``--seeds``: a bag student (the recipe's settings: a
   2^20 (``--buckets``) x 128 bag of word uni+bigrams, Adagrad ``--lr`` 0.01, ``--batch-size`` 128,
   ``--epochs`` 3, ``--temperature`` 2, the distillation loss of ``student/loss.py``), scored for
   accuracy, log loss and ECE, and timed with ``predict_one`` (one thread).
3. fastText (``fasttext-numpy2``, dim 64, wordNgrams 2, 5 epochs, one thread, each seed) on:
   the gold SST-2 train labels; the teacher's hard labels (argmax) of exactly the transfer rows the
   students use; and the soft labels by sampling (each row ``--sampled-copies`` times, each copy's
   label drawn from the teacher's T = 1 probabilities).

Every step is skipped when its output exists in ``--work`` (re-running resumes). Usage::

    make data
    .venv/bin/python benchmarks/experiments/student_vs_fasttext.py --work runs/student_vs_fasttext
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bert2dnn_ray.io import write_json  # noqa: E402
from recipes.sst2_imdb.peers import FASTTEXT, fasttext_peers, p50_us, transfer_rows  # noqa: E402
from recipes.sst2_imdb.peers import test_set as peers_test_set  # noqa: E402


def say(msg: str) -> None:
    print(f"[student-vs-fasttext {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sample_transfer(data: Path, work: Path, n: int, seed: int) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = work / f"imdb_sentences_{n}.parquet"
    if not out.exists():
        src = data / "imdb/sentences.parquet"
        if not src.exists():
            raise SystemExit(f"{src} is missing: run `make data` first")
        t = pq.read_table(src, columns=["id", "text"])
        idx = np.sort(np.random.default_rng(seed).choice(t.num_rows, min(n, t.num_rows), replace=False))
        pq.write_table(t.take(pa.array(idx)), out)
    return str(out)


def teacher_and_labels(args: argparse.Namespace, work: Path):
    from bert2dnn_ray import label, teacher
    from bert2dnn_ray.teachers import specs_from_finetune

    data = Path(args.data)
    ft = teacher.FinetuneConfig.model_validate(
        {
            "output_dir": str(work / "teachers"),
            "teachers": [
                {
                    "name": "minilm",
                    "model": "minilm",
                    "epochs": args.teacher_epochs,
                    "learning_rate": 1e-4,
                    "warmup_ratio": 0.06,
                    "weight_decay": 0.01,
                    "batch_size": 32,
                    "max_length": 64,
                    "group_by_length": 50,
                    "seed": 13,
                }
            ],
            "train": str(data / "sst2/train.tsv"),
            "dev": str(data / "sst2/dev.tsv"),
            "columns": {"text": "sentence", "label": "label"},
            "num_labels": 2,
            "label_names": ["negative", "positive"],
        }
    )
    say("teacher: fine-tuning MiniLM on SST-2 train (skipped when done)")
    teacher.run(ft)
    specs = specs_from_finetune(ft, {"max_length": 128, "batch_size": 128, "dtype": args.dtype})
    out = work / "soft_transfer"
    say(f"labeling {args.transfer_rows:,} IMDB sentences (skipped when done)")
    label.run(
        label.LabelConfig.model_validate(
            {
                "input": sample_transfer(data, work, args.transfer_rows, 0),
                "columns": {"text": "text", "id": "id"},
                "output_dir": str(out),
                "teachers": [s.model_dump() for s in specs],
                "temperatures": [1.0, 2.0],
                "dedup": "distinct",
                "chunk_rows": 20000,
            }
        )
    )
    return str(out), specs[0]


def test_set(data: Path) -> tuple[list[str], np.ndarray]:
    """SST-2 test under ``data`` (``make data``'s layout), read as the recipe's peers read it."""
    return peers_test_set({"test": str(data / "sst2/test.tsv")})


def student_row(args, work: Path, soft: str, hidden: list[int], emb: int, seed: int, test) -> dict[str, Any]:
    from bert2dnn_ray.metrics import classification_metrics
    from bert2dnn_ray.student import Student, train

    key = ("x".join(map(str, hidden)) or "linear") + ("" if emb == 128 else f"_e{emb}")
    key += ("" if args.temperature == 2.0 else f"_t{args.temperature:g}") + (
        "" if args.epochs == 3 else f"_ep{args.epochs}"
    )
    key += ("" if args.lr == 0.01 else f"_lr{args.lr:g}") + (
        "" if args.batch_size == 128 else f"_bs{args.batch_size}"
    )
    key += "" if args.lr_schedule == "constant" else f"_{args.lr_schedule}"
    key += "" if args.buckets == 1 << 20 else f"_b{args.buckets.bit_length() - 1}"
    key += "" if args.shuffle == "local" else f"_{args.shuffle}"
    out = work / "students" / f"{key}_seed{seed}"
    data = Path(args.data)
    cfg = train.TrainConfig.model_validate(
        {
            "soft_labels": soft,
            "columns": {"text": "text"},
            "target": "stacked",
            "temperature": args.temperature,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "num_workers": 1,
            "learning_rate": args.lr,
            "lr_schedule": args.lr_schedule,
            "optimizer": "adagrad",
            "shuffle": args.shuffle,
            "featurizer": {"num_buckets": args.buckets},
            "model": {"embedding_dim": emb, "hidden": hidden},
            "seed": seed,
            "dev": str(data / "sst2/dev.tsv"),
            "dev_columns": {"text": "sentence", "label": "label"},
            "label_names": ["negative", "positive"],
            "output_dir": str(out),
            "run": {
                "run_name": f"student-{key}-{seed}",
                "storage_path": str((work / "_checkpoints").resolve()),
                "prune_checkpoints": True,
            },
        }
    )
    say(f"student hidden {hidden or '[] (linear)'} seed {seed}")
    m = train.run(cfg)
    s = Student.load(out)
    texts, labels = test
    metrics = classification_metrics(s.predict(texts), labels)
    secs = sum(float(h.get("train_seconds", 0.0)) for h in m.get("history", []))
    return {
        "id": f"student_{key}",
        "hidden": hidden,
        "seed": seed,
        **metrics,
        "p50_us": p50_us(s.predict_one, texts),
        "train_seconds": round(secs, 1),
    }


def teacher_row(args, spec) -> dict[str, Any]:
    """The teacher on the same test set (fp32 on the CPU), for the table's first row."""
    from bert2dnn_ray import evaluate

    ev = evaluate.run(
        evaluate.EvalConfig.model_validate(
            {
                "test": str(Path(args.data) / "sst2/test.tsv"),
                "columns": {"text": "sentence", "label": "label"},
                "teachers": [{**spec.model_dump(), "dtype": "fp32"}],
                "latency_samples": 100,
            }
        )
    )
    r = ev["models"][0]
    keep = ("accuracy", "auc", "log_loss", "ece", "mean_top_prob", "p50_us", "params")
    return {"id": "teacher_minilm", "seed": 13, **{k: r[k] for k in keep}, "train_seconds": None}


def fasttext_rows(args, work: Path, soft: str, seed: int, test) -> list[dict[str, Any]]:
    import pyarrow.csv as pacsv

    gold = pacsv.read_csv(
        Path(args.data) / "sst2/train.tsv", parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False)
    )
    rows = fasttext_peers(
        (gold["sentence"].to_pylist(), np.asarray(gold["label"].to_pylist())),
        transfer_rows(soft),
        test,
        seed,
        work / "fasttext",
        copies=args.sampled_copies,
    )
    for r in rows:
        say(f"{r['id']} seed {seed}: accuracy {r['accuracy']:.4f}, p50 {r['p50_us']} us")
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rid in dict.fromkeys(r["id"] for r in rows):
        rs = [r for r in rows if r["id"] == rid]
        acc = np.array([r["accuracy"] for r in rs])
        row = {
            "id": rid,
            "seeds": [r["seed"] for r in rs],
            "accuracy_mean": round(float(acc.mean()), 4),
            "accuracy_std": round(float(acc.std()), 4),
            "accuracy": [round(a, 4) for a in acc.tolist()],
            "p50_us": round(float(np.median([r["p50_us"] for r in rs])), 2),
            "train_seconds_mean": None
            if rs[0]["train_seconds"] is None
            else round(float(np.mean([r["train_seconds"] for r in rs])), 2),
        }
        for k in ("ece", "log_loss", "mean_top_prob"):
            if k in rs[0]:
                row[f"{k}_mean"] = round(float(np.mean([r[k] for r in rs])), 4)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data")
    ap.add_argument("--work", default="runs/student_vs_fasttext")
    ap.add_argument("--transfer-rows", type=int, default=100_000)
    ap.add_argument("--teacher-epochs", type=int, default=1)
    ap.add_argument("--dtype", default="bf16", help="teacher dtype for labeling (fp32 on CPUs without bf16)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--hidden",
        nargs="+",
        default=["1024,512,128,64", "256,64", "128", "", "1024,512,128,64:64", "64:64"],
        help="students: comma-separated widths ('' = linear), ':E' for an embedding of E (default 128)",
    )
    ap.add_argument("--sampled-copies", type=int, default=4)
    ap.add_argument(
        "--no-fasttext", action="store_true", help="students only (fastText rows measured before)"
    )
    ap.add_argument("--temperature", type=float, default=2.0, help="the students' distillation T")
    ap.add_argument("--epochs", type=int, default=3, help="the students' epochs")
    ap.add_argument("--lr", type=float, default=0.01, help="the students' (Adagrad) learning rate")
    ap.add_argument("--batch-size", type=int, default=128, help="the students' batch size")
    ap.add_argument(
        "--lr-schedule",
        default="constant",
        choices=["constant", "linear", "cosine"],
        help="the students' schedule",
    )
    ap.add_argument(
        "--soft-labels",
        help="a finished soft-label set to learn from instead of step 1's (e.g. the recipe's "
        "runs/sst2_imdb/soft_transfer: its stacked teachers); --transfer-rows is then unused",
    )
    ap.add_argument(
        "--buckets", type=int, default=1 << 20, help="the students' hashed buckets (a power of 2; 2^20 here)"
    )
    ap.add_argument(
        "--shuffle", default="local", choices=["local", "global"], help="the students' shuffle (TrainConfig)"
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/student_vs_fasttext.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    from bert2dnn_ray.runtime import init_ray

    init_ray(None)
    test = test_set(Path(args.data))
    rows: list[dict[str, Any]] = []
    if args.soft_labels:  # labels made elsewhere (e.g. the recipe's): no teacher here
        soft = args.soft_labels
    else:
        soft, spec = teacher_and_labels(args, work)
        rows.append(teacher_row(args, spec))
    for seed in args.seeds if not args.no_fasttext else []:
        rows += fasttext_rows(args, work, soft, seed, test)
    for h in args.hidden:
        widths, _, emb = h.partition(":")
        hidden = [int(x) for x in widths.split(",") if x]
        for seed in args.seeds:
            rows.append(student_row(args, work, soft, hidden, int(emb or 128), seed, test))
            r = rows[-1]
            say(
                f"{r['id']} seed {seed}: accuracy {r['accuracy']:.4f}, ECE {r['ece']:.3f}, p50 {r['p50_us']} us"
            )
    result = {
        "experiment": "student_vs_fasttext",
        "command": " ".join(sys.argv),
        "transfer_rows": None if args.soft_labels else args.transfer_rows,
        "soft_labels": args.soft_labels,
        "teacher_epochs": args.teacher_epochs,
        "fasttext": FASTTEXT,
        "summary": summarize(rows),
        "runs": rows,
    }
    write_json(args.out, result)
    for r in result["summary"]:
        print(
            f"{r['id']:<28} acc {r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f}  p50 {r['p50_us']:7.1f} us  "
            f"train {r['train_seconds_mean'] or 0:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

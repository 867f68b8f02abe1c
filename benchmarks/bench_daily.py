#!/usr/bin/env python
"""Daily distillation with the label store -> ``benchmarks/results/bench_daily.json``
(``make bench-daily``).

Two days of a heavy-tailed query log: each day has ``--distinct`` distinct queries, every one at
least once plus Zipf-distributed repeats up to ``--rows``; 80% of day 2's distinct queries are day
1's most popular ones, 20% are new. A teacher of MiniLM-L6's shape (6 layers x 384, randomly
initialised with a classification head: the cost of a real one; ``batch_invariant``, so that a
text's labels do not depend on its batch neighbours) labels on the local CPU, with ``dedup: join``:

1. day 1 into an empty label store;
2. day 2 with the store (reuse: only the new texts reach the teacher);
3. day 2 again without the store, into a fresh output: the full relabel it is compared with.

``summary``:

* ``day2_rows``: rows of day 2's log; ``day2_reused_fraction``: share of its distinct texts whose
  labels came from the store;
* ``day2_teacher_seconds_ratio``: teacher time (the actors' labeling wall time) of the reuse run
  over the full relabel's (target <= 0.25); ``day2_wall_seconds_ratio``: the same for the whole run
  (de-duplication, lookup and join included);
* ``max_abs_logit_diff_vs_full_relabel``: the largest |logit| difference, over every row and every
  logits column, between the reuse run's output and the full relabel's;
  ``max_abs_logit_diff_reused_vs_store``: the same for the reused rows against the labels day 1
  stored (copied bit for bit: 0); ``teacher_noise_floor``: the largest difference between day 1's
  labels and the full relabel's for the same texts (0 with ``batch_invariant``; without it,
  ``--not-invariant``, a text labeled in two runs with other batch neighbours and padding differs
  by ~1e-7, and so does a reuse run from a full relabel);
* ``batch_invariant_throughput_ratio``: the teacher's rows/s with ``batch_invariant`` over the
  default batching's, one process, 4,000 queries.

Usage::

    python benchmarks/bench_daily.py            # 2 x 200k rows, 40k distinct a day (~6 min on 2 cores)
    python benchmarks/bench_daily.py --quick    # 2 x 20k rows, 4k distinct
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_header, random_bert_classifier, result_header, set_offline_env, write_result  # noqa: E402

set_offline_env()

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_daily.json"
SHARED = 0.8
ZIPF = 1.2


def say(msg: str) -> None:
    print(f"[bench-daily {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def queries(n: int, seed: int) -> list[str]:
    """``n`` distinct queries: synthetic shop queries, made unique with a suffix where they repeat."""
    from bert2dnn_ray import synthetic

    t = synthetic.generate({"num_labeled": 0, "num_dev": 0, "num_test": 0, "num_unlabeled": n, "seed": seed})
    out, seen = [], set()
    for i, q in enumerate(t["unlabeled"]["text"].to_pylist()):
        q = q if q not in seen else f"{q} {seed}x{i:x}"
        seen.add(q)
        out.append(q)
    return out


def day_log(path: Path, distinct: list[str], rows: int, seed: int) -> Path:
    """Every query of ``distinct`` (most popular first) once, plus Zipf-drawn repeats up to ``rows``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    arr = np.array(distinct, dtype=object)
    extra = arr[(rng.zipf(ZIPF, max(0, rows - len(arr))) - 1) % len(arr)]
    texts = np.concatenate([arr, extra])
    rng.shuffle(texts)
    pq.write_table(
        pa.table({"id": [f"{path.stem}-{i}" for i in range(len(texts))], "query": texts.tolist()}), path
    )
    return path


def teacher(path: Path) -> Path:
    """MiniLM-L6's shape (6 x 384, 12 heads) with a 2-class head, randomly initialised; MiniLM's tokenizer."""
    return random_bert_classifier(
        path,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )


def label_cfg(inp: Path, out: Path, model: Path, store: Path | None, chunk_rows: int, invariant: bool):
    from bert2dnn_ray import label

    return label.LabelConfig.model_validate(
        {
            "input": str(inp),
            "output_dir": str(out),
            "columns": {"text": "query", "id": "id"},
            "teachers": [
                {
                    "name": "teacher",
                    "path": str(model),
                    "max_length": 32,
                    "batch_size": 128,
                    "batch_invariant": invariant,
                }
            ],
            "dedup": "join",
            "store": str(store) if store else None,
            "chunk_rows": chunk_rows,
        }
    )


def invariant_cost(model: Path, texts: list[str]) -> dict[str, float]:
    """Teacher rows/s on one process, the default batching against ``batch_invariant``."""
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    spec = TeacherSpec(name="t", path=str(model), max_length=32, batch_size=128)
    out = {}
    for name, inv in (("default", False), ("batch_invariant", True)):
        runner = TeacherRunner(spec.model_copy(update={"batch_invariant": inv}))
        runner.logits(texts[:256])  # warm-up
        t0 = time.perf_counter()
        runner.logits(texts)
        out[f"{name}_rows_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
    out["batch_invariant_over_default"] = round(
        out["batch_invariant_rows_per_s"] / out["default_rows_per_s"], 3
    )
    return out


def read(out: Path):
    import pyarrow.parquet as pq

    from bert2dnn_ray import softlabels

    t = pq.read_table([str(p) for p in softlabels.files(str(out))]).sort_by("row_id")
    cols = [c for c in t.column_names if c.endswith("_logits")]
    return t["query"].to_pylist(), np.concatenate(
        [np.stack(t[c].to_numpy(zero_copy_only=False)) for c in cols], 1
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000, help="rows of each day's log")
    ap.add_argument("--distinct", type=int, default=40_000, help="distinct queries of each day")
    ap.add_argument("--quick", action="store_true", help="2 x 20k rows, 4k distinct")
    ap.add_argument(
        "--not-invariant",
        action="store_true",
        help="teacher without batch_invariant (logits then differ ~1e-7)",
    )
    ap.add_argument("--work", default=None, help="working directory (default: a temporary one)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.distinct = 20_000, 4_000
    started = time.perf_counter()
    result: dict[str, Any] = result_header("bench_daily", args.quick)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-daily-"))
    work.mkdir(parents=True, exist_ok=True)
    from bert2dnn_ray import label
    from bert2dnn_ray.runtime import init_ray

    init_ray(None)
    shared = int(args.distinct * SHARED)
    pool = queries(args.distinct + (args.distinct - shared), seed=41)
    d1, d2 = pool[: args.distinct], pool[:shared] + pool[args.distinct :]
    day1 = day_log(work / "day1.parquet", d1, args.rows, seed=1)
    day2 = day_log(work / "day2.parquet", d2, args.rows, seed=2)
    model = teacher(work / "teacher")
    chunk = max(1000, args.distinct // 8)
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)

    runs = {}
    for name, inp, st in (("day1", day1, store), ("day2", day2, store), ("day2_full", day2, None)):
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        say(f"{name}: labeling {inp.name}" + (" with the label store" if st else " without the store"))
        t0 = time.perf_counter()
        m = label.run(label_cfg(inp, out, model, st, chunk, not args.not_invariant))
        runs[name] = {
            "rows": m["input_rows"],
            "distinct_rows": m["distinct_rows"],
            "teacher_seconds": m["labeling_wall_seconds"],
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "reuse": m.get("reuse"),
        }
        say(f"{name}: {runs[name]}")

    q1, l1 = read(work / "day1")
    q2, l2 = read(work / "day2")
    qf, lf = read(work / "day2_full")
    assert q2 == qf, "the reuse run and the full relabel hold other rows"
    first = {q: i for i, q in enumerate(q1)}
    reused = np.array([q in first for q in q2])
    from_store = l1[[first[q] for q in np.array(q2, dtype=object)[reused]]]
    full_shared = lf[reused]
    r2, full = runs["day2"], runs["day2_full"]
    result["config"] = {
        "rows": args.rows,
        "distinct": args.distinct,
        "shared": SHARED,
        "zipf": ZIPF,
        "chunk_rows": chunk,
    }
    result["runs"] = runs
    result["teacher_rows_per_s"] = invariant_cost(model, pool[:4000])
    result["summary"] = {
        "day2_rows": r2["rows"],
        "day2_reused_fraction": round(r2["reuse"]["reused_fraction"], 4),
        "day2_teacher_seconds_ratio": round(r2["teacher_seconds"] / full["teacher_seconds"], 4),
        "max_abs_logit_diff_vs_full_relabel": float(np.abs(l2 - lf).max()),
        "max_abs_logit_diff_reused_vs_store": float(np.abs(l2[reused] - from_store).max()),
        "teacher_noise_floor": float(np.abs(from_store - full_shared).max()),
        "day2_wall_seconds_ratio": round(r2["wall_seconds"] / full["wall_seconds"], 4),
        "day2_reused_rows_fraction": round(r2["reuse"]["reused_rows"] / r2["rows"], 4),
        "day2_teacher_seconds_saved_estimate": r2["reuse"]["teacher_seconds_saved"],
        "batch_invariant": not args.not_invariant,
        "batch_invariant_throughput_ratio": result["teacher_rows_per_s"]["batch_invariant_over_default"],
    }
    out = write_result(result, args.out, started)
    print_header(result, out)
    for k, v in result["summary"].items():
        print(f"  {k:<38} {v}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

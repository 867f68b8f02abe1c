#!/usr/bin/env python
"""GPU benchmark of the labeling stage -> ``benchmarks/results/bench_label_gpu.json``.

Runs where a CUDA GPU is present (it exits with a one-line message otherwise). For two teacher
sizes — BERT-base (``BertConfig()``: 12 layers, 768 wide, 110M parameters) and MiniLM-L6 (6 layers,
384 wide) — built with random weights (throughput does not depend on the values) and MiniLM's real
tokenizer, on short generated e-commerce queries (``bert2dnn_ray.synthetic``), bf16:

* **model**: the forward pass alone over pre-tokenised, length-sorted batches already on the GPU:
  rows/s, achieved TFLOP/s and its fraction of a bf16 matmul measured in the same run (8192³) —
  the ceiling for this model and batch shape;
* **runner**: ``TeacherRunner.logits`` in one process (tokenise on a prefetch thread, copy, forward,
  copy back): what one labeling actor can do;
* **label stage**: ``bert2dnn_ray.label.run`` over an N-row Parquet file with Ray Data — one actor per
  GPU, and two actors sharing it (``num_gpus_per_actor: 0.5``, so one reads and writes while the
  other computes); steady rows/s from the committed chunks (first chunk excluded) and end to end.

Usage::

    python benchmarks/bench_label_gpu.py                       # 2M queries per teacher
    python benchmarks/bench_label_gpu.py --rows 500000
    python benchmarks/bench_label_gpu.py --device cpu --quick   # the code, on a CPU (make test runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The GPU actor tokenises with the Rust tokenizer's own threads.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
from _common import result_header, set_offline_env, write_result  # noqa: E402

set_offline_env()

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_label_gpu.json"

TEACHERS = {
    "bert-base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "minilm-l6": {
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
    },
}


def say(msg: str) -> None:
    print(f"[bench-label-gpu {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


DEVICE = "cuda"  # --device cpu: a dry run of this script's code on a machine without a GPU


def sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def matmul_peak_tflops() -> float:
    import torch

    n = 8192 if DEVICE == "cuda" else 512
    a = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync()
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    sync()
    return 2 * n**3 * 10 / (time.perf_counter() - t0) / 1e12


def make_teacher(target: Path, name: str, tokenizer_dir: str) -> tuple[Path, int]:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = BertConfig(vocab_size=tok.vocab_size, num_labels=2, **TEACHERS[name])
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    embed = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    return target, sum(p.numel() for p in model.parameters()) - embed


def forward_flops(nonembed_params: int, layers: int, hidden: int, batch: int, seq: int) -> float:
    """Matmul FLOPs of one forward: 2·params·tokens for the dense layers, plus QKᵀ and AV."""
    return 2.0 * nonembed_params * batch * seq + 4.0 * layers * batch * seq * seq * hidden


def bench_model(
    model_dir: Path, texts: list[str], name: str, batch: int, max_length: int, nonembed: int
) -> dict:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir, dtype=torch.bfloat16).to(DEVICE).eval()
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = []
    for s in range(0, len(texts), batch):
        enc = tok(
            [texts[i] for i in order[s : s + batch]],
            truncation=True,
            max_length=max_length,
            padding="longest",
            return_tensors="pt",
        )
        batches.append({k: v.to(DEVICE) for k, v in enc.items()})
    cfg = TEACHERS[name]
    flops = sum(
        forward_flops(nonembed, cfg["num_hidden_layers"], cfg["hidden_size"], *b["input_ids"].shape)
        for b in batches
    )
    with torch.inference_mode():
        for b in batches[:5]:
            model(**b)
        sync()
        t0 = time.perf_counter()
        for b in batches:
            model(**b).logits.float()
        sync()
        dt = time.perf_counter() - t0
    tokens = sum(b["input_ids"].numel() for b in batches)
    real = sum(int(b["attention_mask"].sum()) for b in batches)
    del model
    if DEVICE == "cuda":
        torch.cuda.empty_cache()
    return {
        "rows_per_s": round(len(texts) / dt, 1),
        "tflops": round(flops / dt / 1e12, 1),
        "padded_tokens_per_row": round(tokens / len(texts), 2),
        "real_tokens_per_row": round(real / len(texts), 2),
        "batches": len(batches),
    }


def bench_runner(model_dir: Path, texts: list[str], batch: int, max_length: int) -> dict:
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    r = TeacherRunner(
        TeacherSpec(name="t", path=str(model_dir), max_length=max_length, batch_size=batch), DEVICE
    )
    r.logits(texts[: batch * 4])
    sync()
    t0 = time.perf_counter()
    r.logits(texts)
    dt = time.perf_counter() - t0
    del r
    return {"rows_per_s": round(len(texts) / dt, 1), "dtype": "bf16 (auto on GPU)", "prefetch": True}


def bench_stage(
    inp: Path,
    out: Path,
    model_dir: Path,
    batch: int,
    max_length: int,
    chunk_rows: int,
    actors: int,
    gpus_per_actor: float,
) -> dict:
    from bench_label import chunk_rate, chunk_stats

    from bert2dnn_ray.label import LabelConfig, run
    from bert2dnn_ray.teachers import TeacherSpec

    cfg = LabelConfig(
        input=str(inp),
        output_dir=str(out),
        teachers=[TeacherSpec(name="t", path=str(model_dir), max_length=max_length, batch_size=batch)],
        num_actors=actors,
        num_gpus_per_actor=gpus_per_actor,
        chunk_rows=chunk_rows,
    )
    t0 = time.perf_counter()
    m = run(cfg)
    e2e = time.perf_counter() - t0
    stats = chunk_stats(out)
    steady = chunk_rate(stats, skip_first=True)
    # With several actors the chunks overlap in time: the pool's rate is the rows of the chunks
    # after the first `actors` ones (warm-up) over the wall time from their first start to the
    # last finish, not the sum of per-chunk rates.
    by_start = sorted(stats, key=lambda s: s["started_at"])
    warm = by_start[actors:] or by_start
    span = max(s["finished_at"] for s in warm) - min(s["started_at"] for s in warm)
    res = {
        "num_actors": actors,
        "num_gpus_per_actor": gpus_per_actor,
        "chunk_rows": chunk_rows,
        "rows": m["input_rows"],
        "per_actor_chunk_rows_per_s": steady["rows_per_s"],
        "steady_rows_per_s": round(sum(s["input_rows"] for s in warm) / span, 1) if span > 0 else None,
        "steady_chunks": len(warm),
        "end_to_end_seconds": round(e2e, 2),
        "end_to_end_rows_per_s": round(m["input_rows"] / e2e, 1),
    }
    shutil.rmtree(out, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000, help="queries per label-stage run")
    ap.add_argument("--sample", type=int, default=200_000, help="queries for the model/runner parts")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--chunk-rows", type=int, default=200_000)
    ap.add_argument("--teachers", default="bert-base,minilm-l6")
    ap.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the offline MiniLM's)")
    ap.add_argument("--quick", action="store_true", help="2,000 rows: checks the code, measures little")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: dry run of the code only")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.sample, args.chunk_rows = 2000, 512, 1000
    global DEVICE
    DEVICE = args.device
    started = time.perf_counter()
    import torch

    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("bench-label-gpu: no CUDA GPU here; nothing to measure", file=sys.stderr)
        return 2
    from bench_label import start_ray, synthetic_pool, write_scaling_input

    from bert2dnn_ray.hf import resolve_model

    tok_dir = args.tokenizer or resolve_model("minilm")
    result = result_header("bench_label_gpu", args.quick)
    result["gpu"] = {
        "name": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "none (dry run on CPU)",
        "torch_cuda": torch.version.cuda,
        "bf16_matmul_tflops_measured": round(matmul_peak_tflops(), 3),
    }
    say(f"{result['gpu']['name']}: bf16 matmul {result['gpu']['bf16_matmul_tflops_measured']} TFLOP/s")
    work = Path(tempfile.mkdtemp(prefix="bench_label_gpu_"))
    pool = np.array(synthetic_pool(100_000, seed=13), dtype=object)
    sample = list(pool[np.random.default_rng(1).integers(0, len(pool), size=args.sample)])
    inp = work / "queries"
    inp.mkdir()
    write_scaling_input(inp / "queries.parquet", args.rows, pool, seed=2)
    result["queries"] = {
        "source": "bert2dnn_ray.synthetic unlabeled e-commerce queries (pool of 100k, sampled with replacement)",
        "mean_chars": round(float(np.mean([len(t) for t in sample])), 1),
        "rows_label_stage": args.rows,
        "rows_model_and_runner": args.sample,
    }
    result["config"] = {"batch_size": args.batch_size, "max_length": args.max_length, "dtype": "bf16"}
    startup = start_ray()
    result["ray_startup_seconds"] = round(startup, 2)
    result["teachers"] = {}
    for name in args.teachers.split(","):
        model_dir, nonembed = make_teacher(work / name, name, tok_dir)
        say(f"{name}: {nonembed / 1e6:.1f}M non-embedding parameters")
        r: dict[str, Any] = {"architecture": TEACHERS[name], "nonembedding_params": nonembed}
        r["model_forward"] = bench_model(model_dir, sample, name, args.batch_size, args.max_length, nonembed)
        r["model_forward"]["fraction_of_measured_bf16_peak"] = round(
            r["model_forward"]["tflops"] / result["gpu"]["bf16_matmul_tflops_measured"], 3
        )
        say(f"{name}: model forward {r['model_forward']}")
        r["runner"] = bench_runner(model_dir, sample, args.batch_size, args.max_length)
        say(f"{name}: runner {r['runner']}")
        r["label_stage"] = []
        for actors, gpus in ((1, 1.0), (2, 0.5)) if DEVICE == "cuda" else ((1, 0.0),):
            st = bench_stage(
                inp,
                work / f"out_{name}_{actors}",
                model_dir,
                args.batch_size,
                args.max_length,
                args.chunk_rows,
                actors,
                gpus,
            )
            say(f"{name}: label stage {st}")
            r["label_stage"].append(st)
        best = max(r["label_stage"], key=lambda x: x["steady_rows_per_s"] or 0)
        r["label_rows_per_s_per_gpu"] = best["steady_rows_per_s"]
        result["teachers"][name] = r
    bb = result["teachers"].get("bert-base")
    if bb:
        result["target_bert_base_rows_per_s"] = 100_000
        result["meets_target"] = bool(bb["label_rows_per_s_per_gpu"] >= 100_000)
    import ray

    ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)
    path = write_result(result, args.out, started)
    say(f"wrote {path}")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

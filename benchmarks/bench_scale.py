#!/usr/bin/env python
"""The scale rehearsal -> ``benchmarks/results/bench_scale.json`` (``make bench-scale``).

A heavy-tailed query log like a search engine's (70% of rows drawn from 200k head queries with a
Zipf law, 30% unique tail queries: about 30% distinct), at several sizes, as one big TSV file and
(the smallest size) as a Parquet directory, labeled with ``dedup: join`` by a tiny BERT teacher
(hidden 32, 2 layers) on a local ``ray.cluster_utils.Cluster`` of 3 nodes with fractional CPUs,
then one student epoch streamed from the result. Every size runs in its own driver process (its
peak memory is the driver's); a monitor samples every Ray worker's memory.

Measured (the JSON's ``summary``):

* ``time_per_row_ratio``: end-to-end seconds per row at the largest size over the smallest;
* ``driver_peak_rss_ratio`` and ``max_task_peak_rss_gib``;
* ``cpu_feed_rows_per_s_per_core``: read -> normalize -> tokenize -> softmax/stack -> write on one
  core, the teacher's forward replaced by a no-op of the right output shape;
* ``output_files``, ``lost_rows``, ``duplicated_rows`` (every row id counted in the output);
* ``plan_300m_seconds``, ``plan_300m_driver_rss_gib``: planning and committed-chunk bookkeeping of a
  300M-line input, metadata only (a sparse file).

Usage::

    python benchmarks/bench_scale.py                              # 5M and 50M rows (~1 h on 2 cores)
    python benchmarks/bench_scale.py --sizes 200000,1000000 --quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import random_bert_classifier, result_header, set_offline_env, write_result  # noqa: E402

set_offline_env()

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_scale.json"
HEAD_POOL = 200_000
TAIL_SHARE = 0.3
ZIPF = 1.2
BLOCK = 1_000_000


def say(msg: str) -> None:
    print(f"[bench-scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss_gib() -> float:
    """This driver's own peak (VmHWM: ru_maxrss would count the parent's memory at the fork)."""
    from bert2dnn_ray.progress import peak_rss_bytes

    return (peak_rss_bytes() or 0) / 2**30


# ------------------------------------------------------------------------------------------ inputs


def head_pool() -> np.ndarray:
    from bert2dnn_ray import synthetic

    t = synthetic.generate(
        {"num_labeled": 0, "num_dev": 0, "num_test": 0, "num_unlabeled": HEAD_POOL, "seed": 29}
    )
    return np.array(t["unlabeled"]["text"].to_pylist(), dtype=object)


def query_blocks(rows: int, pool: np.ndarray, seed: int):
    """Blocks of queries: head ones by a Zipf law over ``pool``, tail ones unique (a counter)."""
    rng = np.random.default_rng(seed)
    uid = 0
    for s in range(0, rows, BLOCK):
        n = min(BLOCK, rows - s)
        out = pool[(rng.zipf(ZIPF, n) - 1) % len(pool)]
        tail = np.flatnonzero(rng.random(n) < TAIL_SHARE)
        base = pool[rng.integers(0, len(pool), len(tail))]
        out[tail] = [f"{b} q{uid + i:x}" for i, b in enumerate(base)]
        uid += len(tail)
        yield out


def write_inputs(work: Path, rows: int, pool: np.ndarray, parquet: bool) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tsv = work / f"log_{rows}" / "queries.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    out = {"tsv": tsv}
    pdir = work / f"log_{rows}_parquet"
    if parquet:
        pdir.mkdir(parents=True, exist_ok=True)
        out["parquet"] = pdir
    t0 = time.perf_counter()
    with open(tsv, "w", encoding="utf-8") as f:
        f.write("query\n")
        for i, block in enumerate(query_blocks(rows, pool, seed=rows)):
            f.write("\n".join(block))
            f.write("\n")
            if parquet:
                pq.write_table(
                    pa.table({"query": pa.array(block, pa.string())}),
                    pdir / f"part-{i:04d}.parquet",
                    row_group_size=250_000,
                )
    say(
        f"input of {rows:,} rows written in {time.perf_counter() - t0:.0f}s ({tsv.stat().st_size / 2**30:.2f} GiB TSV)"
    )
    return out


def tiny_teacher(path: Path) -> Path:
    """A tiny BERT classifier (hidden 32, 2 layers) with MiniLM's real tokenizer."""
    return random_bert_classifier(
        path,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )


# ------------------------------------------------------------------------------------------ one run (a child)


def child(args: argparse.Namespace) -> None:
    """One size and format: label with dedup: join, then a streamed student epoch; JSON on stdout."""
    from bert2dnn_ray.label import LabelConfig, TeacherSpec
    from bert2dnn_ray.label import run as label_run
    from bert2dnn_ray.student import train

    out = Path(args.out_dir)
    t0 = time.perf_counter()
    cfg = LabelConfig(
        input=args.input,
        output_dir=str(out / "soft"),
        columns={"text": "query"},
        teachers=[TeacherSpec(name="tiny", path=args.teacher, max_length=32, batch_size=1024)],
        temperatures=[1.0, 2.0],
        dedup="join",
        num_actors=2,
        cpus_per_actor=0.5,
        read_cpus=0.25,
        torch_threads=1,
        address=args.address,
    )
    m = label_run(cfg)
    t_label = time.perf_counter() - t0
    t1 = time.perf_counter()
    tc = train.TrainConfig(
        soft_labels=str(out / "soft"),
        columns={"text": "query"},
        output_dir=str(out / "student"),
        epochs=1,
        batch_size=4096,
        num_workers=2,
        featurizer={"num_buckets": 1 << 18},
        model={"embedding_dim": 16, "hidden": [32]},
        address=args.address,
        run={
            "cache": False,
            "cpus_per_worker": 0.5,
            "torch_threads": 1,
            "storage_path": str(out / "ckpt"),
            "progress_seconds": 120,
        },
    )
    s = train.run(tc)
    t_train = time.perf_counter() - t1
    # A file, not stdout: the workers' lines reach this driver's stdout.
    (out / "result.json").write_text(
        json.dumps(
            {
                "rows": m["input_rows"],
                "labeled_rows": m["labeled_rows"],
                "distinct_rows": m["distinct_rows"],
                "quarantined_rows": m["quarantined_rows"],
                "files": m["files"],
                "chunks": m["chunks"],
                "dedup_partitions": m["dedup_partitions"],
                "label_seconds": round(t_label, 1),
                "labeling_wall_seconds": m["labeling_wall_seconds"],
                "student_epoch_seconds": round(t_train, 1),
                "student_rows": s["train_rows"],
                "end_to_end_seconds": round(t_label + t_train, 1),
                "driver_peak_rss_gib": round(peak_rss_gib(), 3),
            }
        )
    )


class Monitor:
    """Samples every Ray worker process's private resident memory (RSS less the shared pages: the
    object store's blocks a worker reads in place are mapped into it, and counted once, there)
    once a second; keeps the peak."""

    def __init__(self) -> None:
        self.peak, self.name, self._stop = 0, "", threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(1.0):
            for p in psutil.process_iter(["cmdline", "memory_info"]):
                try:
                    cmd = " ".join(p.info["cmdline"] or [])
                    mem = p.info["memory_info"]
                    private = mem.rss - getattr(mem, "shared", 0)
                    if cmd.startswith("ray::") and private > self.peak:
                        self.peak, self.name = private, cmd.split()[0]
                except (psutil.NoSuchProcess, TypeError):
                    continue

    def stop(self) -> tuple[float, str]:
        self._stop.set()
        self._t.join(5)
        return self.peak / 2**30, self.name


def count_rows(files: list[Path], expected: int) -> dict[str, int]:
    """Output rows, and the row ids lost or repeated (each id made a 64-bit key: file x offset)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    keys, names = [], {}
    for f in files:
        ids = pq.read_table(f, columns=["row_id"])["row_id"]
        parts = pc.extract_regex(ids, r"^(?P<f>.*)[@:](?P<n>\d+)$").combine_chunks()
        name = parts.field("f").dictionary_encode()
        local = {v.as_py(): i for i, v in enumerate(name.dictionary)}
        glob = np.array([names.setdefault(k, len(names)) for k in local], dtype=np.uint64)
        pos = pc.cast(parts.field("n"), "int64").to_numpy().astype(np.uint64)
        keys.append((glob[name.indices.to_numpy()] << np.uint64(40)) | pos)
    all_keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    unique = len(np.unique(all_keys))
    return {
        "output_rows": int(len(all_keys)),
        "lost_rows": int(expected - unique),
        "duplicated_rows": int(len(all_keys) - unique),
    }


# ------------------------------------------------------------------------------------------ parts of the JSON


def cpu_feed(work: Path, pool: np.ndarray, teacher: Path, rows: int = 200_000) -> dict[str, Any]:
    """One core: read -> normalize -> tokenize (a no-op forward) -> softmax/stack -> write."""
    import pyarrow as pa
    import torch

    from bert2dnn_ray import io
    from bert2dnn_ray.label.actor import ChunkLabeler
    from bert2dnn_ray.label.config import LabelConfig
    from bert2dnn_ray.label.rows import prepare_rows, read_unit
    from bert2dnn_ray.teachers import TeacherSpec

    torch.set_num_threads(1)
    p = work / "feed" / "q.tsv"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("query\n" + "\n".join(next(query_blocks(rows, pool, seed=1))) + "\n", encoding="utf-8")
    cfg = LabelConfig(
        input=str(p),
        output_dir=str(work / "feed" / "out"),
        columns={"text": "query"},
        teachers=[TeacherSpec(name="t", path=str(teacher), max_length=32, batch_size=1024)],
    )
    unit = {
        "uri": str(p),
        "name": "q.tsv",
        "format": "tsv",
        "byte_range": [0, p.stat().st_size],
        "chunks": [{"chunk_id": "000000", "rows": -1}],
    }
    actor = ChunkLabeler(
        {"cfg": cfg.model_dump(), "stacker": {"method": "mean", "weights": None}, "threads": 1}
    )

    class NoOp(torch.nn.Module):  # the teacher's output shape, none of its arithmetic
        def forward(self, input_ids, **_):
            return type("Out", (), {"logits": torch.zeros(input_ids.shape[0], 2)})()

    actor.runners[0].model = NoOp()
    t0 = time.perf_counter()
    res = read_unit(cfg, unit)
    good, stats = prepare_rows(cfg, {**unit["chunks"][0], "uri": str(p), "name": "q.tsv"}, res)
    actor.label_chunk({"chunk_id": "000000"}, good, stats)
    dt = time.perf_counter() - t0
    n = io.read_json(work / "feed" / "out" / "_chunks" / "000000.json")["labeled_rows"]
    assert pa and n == good.num_rows
    return {"rows": n, "seconds": round(dt, 2), "rows_per_s_per_core": round(n / dt, 1)}


PLAN_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from bert2dnn_ray.label.config import LabelConfig
from bert2dnn_ray.label.manifest import committed, summarize
from bert2dnn_ray.label.plan import chunks_of, make_plan
from bert2dnn_ray import io
from bert2dnn_ray.progress import peak_rss_bytes
p, out, rows, chunk_rows = Path({path!r}), {out!r}, {rows}, {chunk_rows!r}
cfg = LabelConfig(input=str(p), output_dir=out, columns={{"text": "query"}}, num_actors=64, chunk_rows=chunk_rows,
                  teachers=[{{"name": "a", "path": "/m/a"}}, {{"name": "b", "path": "/m/b"}}])
t0 = time.perf_counter()
plan = make_plan(cfg, 2)
t_plan = time.perf_counter() - t0
chunks = chunks_of(plan)
per = rows // len(chunks)
stats = {{"quarantine_reasons": {{}}, "input_rows": per, "labeled_rows": per, "quarantined_rows": 0, "truncated_rows": 0,
          "teachers": {{"a": {{"seconds": 1.0, "truncated": 0, "class_counts": [per, 0]}}, "b": {{"seconds": 1.0, "truncated": 0, "class_counts": [0, per]}}}},
          "started_at": 0.0, "finished_at": 1.0, "actor_peak_rss_bytes": 1}}
for c in chunks:  # what the actors commit (not timed)
    io.write_json(os.path.join(out, "_chunks", c["chunk_id"] + ".json"), {{**stats, "chunk_id": c["chunk_id"], "file": c["name"]}})
t1 = time.perf_counter()
done = committed(out)
summarize(cfg, chunks, {{"method": "mean"}}, 0.0, done)
t_book = time.perf_counter() - t1
print(json.dumps({{"chunks": len(chunks), "chunk_rows": plan["chunk_rows"], "plan_seconds": round(t_plan, 3),
                  "bookkeeping_seconds": round(t_book, 3), "seconds": round(t_plan + t_book, 3),
                  "driver_rss_gib": round(peak_rss_bytes() / 2**30, 3)}}))
"""


def plan_300m(work: Path, pool: np.ndarray) -> dict[str, Any]:
    """Planning and committed-chunk bookkeeping of a 300M-line TSV, metadata only: the file is sparse
    (its first MiB real queries, the rest holes), so nothing but its size and first MiB is read."""
    rows = 300_000_000
    p = work / "plan300m" / "queries.tsv"
    p.parent.mkdir(parents=True, exist_ok=True)
    head = "query\n" + "\n".join(next(query_blocks(100_000, pool, seed=3))) + "\n"
    line = len(head.encode()) / 100_001
    with open(p, "w", encoding="utf-8") as f:
        f.write(head)
    os.truncate(p, int(line * rows))
    out = {}
    for name, chunk_rows in (("auto", "auto"), ("20k_rows", 20_000)):
        d = work / "plan300m" / f"out_{name}"
        code = PLAN_CHILD.format(repo=str(REPO), path=str(p), out=str(d), rows=rows, chunk_rows=chunk_rows)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
        if r.returncode:
            raise RuntimeError(r.stderr[-2000:])
        out[name] = json.loads(r.stdout.strip().splitlines()[-1])
        shutil.rmtree(d, ignore_errors=True)
        say(f"plan 300M ({name}): {out[name]}")
    return out


# ------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000000,50000000")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", help=argparse.SUPPRESS)
    ap.add_argument("--teacher", help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return 0
    started = time.perf_counter()
    sizes = [int(x) for x in args.sizes.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    result = result_header("bench_scale", args.quick)
    pool = head_pool()
    teacher = tiny_teacher(work / "tiny_bert")
    result["input"] = {
        "kind": f"a query log: {1 - TAIL_SHARE:.0%} of rows from {HEAD_POOL:,} head queries (Zipf {ZIPF}), "
        f"{TAIL_SHARE:.0%} unique tail queries",
        "teacher": "tiny BERT (hidden 32, 2 layers, MiniLM's tokenizer), max_length 32",
        "cluster": "ray.cluster_utils.Cluster: a head and 2 worker nodes of 1 CPU each, on the machine's cores",
        "label": "dedup: join, chunk_rows: auto, 2 actors of 0.5 CPU, read tasks of 0.25 CPU",
        "student": "1 epoch streamed (cache: false), 2 workers, 2^18 x 16 bag, hidden [32], batch 4096",
    }
    say("cpu feed (one core)")
    result["cpu_feed"] = cpu_feed(work, pool, teacher)
    say(f"cpu feed: {result['cpu_feed']}")
    result["plan_300m"] = plan_300m(work, pool)

    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    runs = []
    try:
        for i, rows in enumerate(sizes):
            inputs = write_inputs(work, rows, pool, parquet=i == 0)
            for fmt, path in inputs.items():
                out = work / f"run_{rows}_{fmt}"
                shutil.rmtree(out, ignore_errors=True)  # a fresh run, never a resumed one
                mon = Monitor()
                t0 = time.perf_counter()
                env = {**os.environ, "RAY_ADDRESS": cluster.address}
                r = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "--input",
                        str(path),
                        "--out-dir",
                        str(out),
                        "--teacher",
                        str(teacher),
                        "--address",
                        cluster.address,
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=6 * 3600,
                )
                wall = time.perf_counter() - t0
                task_gib, task_name = mon.stop()
                if r.returncode:
                    raise RuntimeError(f"run {rows} {fmt} failed:\n{r.stderr[-4000:]}")
                rec = json.loads((out / "result.json").read_text())
                files = [out / "soft" / f for f in rec.pop("files")]
                rec.update(count_rows(files, rows))
                rec.update(
                    format=fmt,
                    size=rows,
                    output_files=len(files),
                    wall_seconds=round(wall, 1),
                    seconds_per_million_rows=round(rec["end_to_end_seconds"] / rows * 1e6, 2),
                    max_task_peak_rss_gib=round(task_gib, 3),
                    max_task=task_name,
                )
                say(f"{rows:,} rows ({fmt}): {rec}")
                runs.append(rec)
                shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(inputs["tsv"].parent, ignore_errors=True)
            if "parquet" in inputs:
                shutil.rmtree(inputs["parquet"], ignore_errors=True)
    finally:
        cluster.shutdown()
    result["runs"] = runs
    tsv = {r["size"]: r for r in runs if r["format"] == "tsv"}
    small, large = tsv[min(tsv)], tsv[max(tsv)]
    result["summary"] = {
        "rows": large["rows"],
        "distinct_rows": large["distinct_rows"],
        "sizes": sorted(tsv),
        "time_per_row_ratio": round(large["seconds_per_million_rows"] / small["seconds_per_million_rows"], 3),
        "driver_peak_rss_ratio": round(large["driver_peak_rss_gib"] / small["driver_peak_rss_gib"], 3),
        "max_task_peak_rss_gib": max(r["max_task_peak_rss_gib"] for r in runs),
        "cpu_feed_rows_per_s_per_core": result["cpu_feed"]["rows_per_s_per_core"],
        "output_files": large["output_files"],
        "lost_rows": sum(r["lost_rows"] for r in runs),
        "duplicated_rows": sum(r["duplicated_rows"] for r in runs),
        "plan_300m_seconds": result["plan_300m"]["auto"]["seconds"],
        "plan_300m_driver_rss_gib": result["plan_300m"]["auto"]["driver_rss_gib"],
    }
    result["targets"] = {
        "time_per_row_ratio": 1.15,
        "driver_peak_rss_ratio": 1.10,
        "cpu_feed_rows_per_s_per_core": 12_500,
        "lost_rows": 0,
        "duplicated_rows": 0,
    }
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    path = write_result(result, args.out, started)
    say(f"wrote {path}")
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

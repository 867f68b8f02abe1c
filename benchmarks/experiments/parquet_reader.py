"""Ray Data's two Parquet readers on this machine -> ``--out`` (JSON).

Ray 2.60 reads Parquet through its V2 datasource by default, which lists files on a pool of 32
``FooterReader`` actors (new worker processes) per ``read_parquet``; the V1 datasource lists and
reads with ordinary tasks on pooled workers. The library's ``init_ray`` picks V1 unless the user
sets ``RAY_DATA_USE_DATASOURCE_V2``. This times both, each in its own driver started by
``init_ray(num_cpus=2)``, on a read then one pass over every row (``map_batches`` then ``count``):
one file of 5,000 rows read four times (the first read also starts the pooled workers); 2,000
files of 500 rows (1M rows, the shape of a chunked soft-label output) read twice; and 300 such
files on object storage (a loopback S3 server, moto) read twice. Usage::

    .venv/bin/python benchmarks/experiments/parquet_reader.py --out benchmarks/results/parquet_reader.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks._common import loopback_s3, result_header, write_result  # noqa: E402

# The reader each run uses: the library's choice, and Ray's own default set explicitly.
MODES = {"library_v1": None, "ray_default_v2": "1"}
BUCKET = "parquet-reader"
# shape -> (files, rows per file, reads)
SHAPES = {
    "one_file_5000_rows": (1, 5000, 4),
    "2000_files_500_rows": (2000, 500, 2),
    "s3_300_files_500_rows": (300, 500, 2),
}


def write_shape(shape: str, root: str, fs=None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files, rows, _ = SHAPES[shape]
    for f in range(files):
        table = pa.table({"text": [f"query {f} {j}" for j in range(rows)], "x": range(rows)})
        pq.write_table(table, f"{root}/{shape}/{f:05d}.parquet", filesystem=fs)


def s3_server() -> tuple[object, dict[str, str], object]:
    """A loopback S3 server with the bucket, its variables (also set here), a filesystem on it."""
    from bert2dnn_ray.io import filesystem

    server, env = loopback_s3(BUCKET)
    os.environ.update(env)
    return server, env, filesystem(f"s3://{BUCKET}")[0]


def child(root: str) -> dict[str, object]:
    """In a fresh driver: seconds per read of each shape, in order."""
    import ray

    from bert2dnn_ray.runtime import init_ray

    init_ray(num_cpus=2)
    out: dict[str, object] = {}
    for shape, (files, rows, reads) in SHAPES.items():
        where = f"s3://{BUCKET}" if shape.startswith("s3") else root
        out[shape] = []
        for _ in range(reads):
            t = time.perf_counter()
            ds = ray.data.read_parquet(f"{where}/{shape}", columns=["text"])
            n = ds.map_batches(lambda b: b, batch_format="pyarrow").count()
            out[shape].append(round(time.perf_counter() - t, 2))
            assert n == files * rows, (shape, n)
    out["use_datasource_v2"] = ray.data.DataContext.get_current().use_datasource_v2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/parquet_reader.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT", json.dumps(child(args.child)), flush=True)
        return
    started = time.perf_counter()
    result = result_header("parquet_reader", quick=False)
    server, s3_env, fs = s3_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for shape in SHAPES:
                os.makedirs(f"{tmp}/{shape}", exist_ok=True)
                s3 = shape.startswith("s3")
                write_shape(shape, BUCKET if s3 else tmp, fs if s3 else None)
            runs = {}
            for mode, flag in MODES.items():
                env = {k: v for k, v in os.environ.items() if k != "RAY_DATA_USE_DATASOURCE_V2"}
                env.update(s3_env)
                if flag is not None:
                    env["RAY_DATA_USE_DATASOURCE_V2"] = flag
                cmd = [sys.executable, __file__, "--child", tmp]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                runs[mode] = json.loads(proc.stdout.split("RESULT ", 1)[1].splitlines()[0])
                print(f"{mode:16s} {runs[mode]}", flush=True)
    finally:
        server.stop()
    result["runs"] = runs
    # Each shape's best read after the first (which also starts the pooled workers), V2 over V1.
    result["summary"] = {
        f"{shape}_v2_over_v1": round(
            min(runs["ray_default_v2"][shape][1:]) / min(runs["library_v1"][shape][1:]), 1
        )
        for shape in SHAPES
    }
    print(json.dumps(result["summary"]))
    write_result(result, args.out, started)


if __name__ == "__main__":
    main()

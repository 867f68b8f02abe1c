"""A copy of a soft-label set (``dedup: distinct``) with its rows in another order, for measuring
what the rows' order does to the students and fastText (docs/student_vs_fasttext.md, "The transfer
rows' order").

Before 6e508bb the label stage's dedup kept the input's order within each hash partition, so the
labels followed the input (the recipe's IMDB sentences: test negatives first). ``--order dedup``
puts the rows in the order the fixed dedup writes: each distinct file through
:func:`bert2dnn_ray.label.dedup.shuffled`, the labels following their texts; ``--order key`` sorts
them by ``row_id`` (the text's hash key: a random order too); ``--order same`` copies them as
they are. The copy keeps the source's part sizes and manifest (its ``files`` rewritten).
``--parts N`` takes the first N part files of a set whose labeling has not finished (no manifest:
the copy gets a minimal one); ``dedup`` reads ``_dedup/distinct.json``, which a set has from before
its labeling starts.

    python benchmarks/experiments/reorder_soft_labels.py runs/sst2_imdb/soft_transfer /tmp/fixed
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bert2dnn_ray import softlabels  # noqa: E402
from bert2dnn_ray.label.dedup import DISTINCT, KEY, shuffled  # noqa: E402


def dedup_order(src: str) -> list[str]:
    """The distinct texts' keys in the order the fixed dedup writes them."""
    d = json.loads(Path(src, DISTINCT).read_text())
    keys: list[str] = []
    for f in d["files"]:
        keys += shuffled(pq.read_table(os.path.join(src, d["dir"], f), columns=[KEY]))[KEY].to_pylist()
    return keys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dest")
    ap.add_argument("--order", choices=["dedup", "key", "same"], default="dedup")
    ap.add_argument("--parts", type=int, help="the first N part files, no manifest needed")
    args = ap.parse_args(argv)
    if args.parts:
        files = sorted(glob.glob(os.path.join(args.src, softlabels.part_file("*"))))[: args.parts]
        manifest: dict = {}
    else:
        manifest = softlabels.read_manifest(args.src)
        files = softlabels.files(args.src)
    tables = [pq.read_table(f) for f in files]
    whole = pa.concat_tables(tables)
    if args.order == "dedup":
        pos = {k: i for i, k in enumerate(dedup_order(args.src))}
        whole = whole.take(np.argsort([pos[k] for k in whole[softlabels.ROW_ID].to_pylist()]))
    elif args.order == "key":
        whole = whole.sort_by(softlabels.ROW_ID)
    rels, off = [], 0
    os.makedirs(os.path.join(args.dest, softlabels.DATA_DIR), exist_ok=True)
    for i, t in enumerate(tables):
        rel = softlabels.part_file(f"{i:06d}")
        pq.write_table(whole.slice(off, t.num_rows), os.path.join(args.dest, rel))
        rels.append(rel)
        off += t.num_rows
    manifest = {**manifest, "files": rels, "labeled_rows": whole.num_rows}
    Path(args.dest, softlabels.MANIFEST).write_text(json.dumps(manifest, indent=2))
    probs = np.stack(
        whole.slice(0, 10_000)[softlabels.probs_column(softlabels.STACKED, 1.0)].to_numpy(
            zero_copy_only=False
        )
    )
    print(
        f"{whole.num_rows:,} rows -> {args.dest}; first 10,000 rows: {np.mean(probs[:, 1] > 0.5):.1%} positive"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

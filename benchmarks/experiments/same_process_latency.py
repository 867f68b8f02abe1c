"""Issue 30: single-text p50 of trained students and fastText, timed in ONE process, interleaved.

The experiment's per-model latencies (``student_vs_fasttext.py``) are taken minutes apart and move
with whatever else the machine runs; a verdict like "at no more than fastText's latency" needs
them side by side. This script trains fastText on the teacher's argmax of the same transfer rows
(seed 0, the experiment's settings), loads the named students from ``--work``, and times each on
the SST-2 test sentences (one thread, one text at a time, after a warm pass), round-robin,
``--rounds`` times; it prints and writes the median of the rounds' p50s. Usage::

    .venv/bin/python benchmarks/experiments/same_process_latency.py --work /work/exp30_400k \\
        --students 64_e64_lr0.05_seed0 128_lr0.05_seed0 linear_lr0.05_seed0
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks._common import hardware_context, time_single  # noqa: E402
from benchmarks.experiments.student_vs_fasttext import test_set  # noqa: E402
from recipes.sst2_imdb.peers import train_fasttext, transfer_rows  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, help="student_vs_fasttext.py's --work")
    ap.add_argument("--students", nargs="+", required=True, help="directory names under <work>/students")
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None, help="JSON output (default: print only)")
    args = ap.parse_args()

    import torch

    from bert2dnn_ray.student import Student

    torch.set_num_threads(1)
    texts, _ = test_set(Path(args.data))
    one_line = [" ".join(t.split()) for t in texts]
    rows, probs = transfer_rows(str(Path(args.work, "soft_transfer")))
    with tempfile.TemporaryDirectory() as tmp:
        ft, _ = train_fasttext(rows, probs.argmax(1), 0, Path(tmp))
    models = {"fasttext_teacher_argmax": (ft.predict, one_line)}
    for name in args.students:
        models[f"student_{name}"] = (Student.load(str(Path(args.work, "students", name))).predict_one, texts)
    rounds: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(args.rounds):
        for k, (fn, tx) in models.items():
            rounds[k].append(time_single(fn, tx, tx)["p50_us"])
    p50 = {k: float(np.median(v)) for k, v in rounds.items()}
    for k, v in p50.items():
        print(f"{k:36s} p50 {v:6.2f} us  ({v / p50['fasttext_teacher_argmax']:.2f}x fastText)")
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {"p50_us": p50, "rounds_p50_us": rounds, "texts": len(texts), "hardware": hardware_context()},
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()

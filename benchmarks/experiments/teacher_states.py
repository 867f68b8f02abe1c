"""Issue 30 experiment: one teacher's logits *and hidden states* on every distinct IMDB sentence.

``hidden_distill.py`` asks whether a bag student learns more from a million sentences when it also
regresses the teacher's sentence representation (a 384-number target per row, where a binary soft
label carries one number). The library's label stage writes logits only, so this script runs the
fine-tuned teacher itself, the way :class:`~bert2dnn_ray.teachers.TeacherRunner` does (texts
``normalize``d and deduplicated as the label stage does, sorted by length within chunks, the
teacher in ``--dtype``), and keeps per row: the logits (float32), the mean of the last layer's
token states over the attention mask and BERT's pooler output (float16 each).

Output ``--out``: ``texts.parquet`` (the distinct normalised texts, in the order of the arrays) and
``part-NNNNN.npz`` per chunk (``rows``, ``logits``, ``mean``, ``pooler``). The texts are in a
seeded random order, so the parts finished so far are a random sample of the set; finished chunks
are skipped on a rerun, so a stopped run resumes. Usage, after ``make data`` and a teacher fine-tuned
with ``bert2dnn finetune``::

    .venv/bin/python benchmarks/experiments/teacher_states.py \
        --teacher runs/hid/teachers/minilm --out runs/hid/states
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bert2dnn_ray import hf  # noqa: E402
from bert2dnn_ray.text import normalize_array  # noqa: E402


def say(msg: str) -> None:
    print(f"[teacher-states {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def distinct_texts(path: str, column: str) -> list[str]:
    """The distinct non-empty normalised texts of ``path``, in first-seen order."""
    arr = normalize_array(pq.read_table(path, columns=[column])[column].combine_chunks())
    arr = arr.filter(pc.and_(pc.is_valid(arr), pc.greater(pc.utf8_length(arr), 0)))
    seen = pc.index_in(arr, value_set=pc.unique(arr))  # position of each row's value in unique()
    first = np.unique(seen.to_numpy(), return_index=True)[1]
    return arr.take(pa.array(np.sort(first))).to_pylist()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--teacher", required=True, help="a fine-tuned teacher directory")
    p.add_argument("--data", default=str(ROOT / "data/imdb/sentences.parquet"))
    p.add_argument("--column", default="text")
    p.add_argument("--out", required=True)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--chunk-rows", type=int, default=20_000)
    p.add_argument(
        "--dtype", default="fp32", choices=["bf16", "fp32"], help="bf16 only where the CPU has it natively"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-rows", type=int, default=0, help="N of the shuffled texts only (0: all)")
    p.add_argument("--seed", type=int, default=0, help="the texts' order: a seeded permutation")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    texts_path = out / "texts.parquet"
    if texts_path.exists():
        texts = pq.read_table(texts_path)["text"].to_pylist()
    else:
        texts = distinct_texts(a.data, a.column)
        texts = [texts[i] for i in np.random.default_rng(a.seed).permutation(len(texts))][
            : a.max_rows or None
        ]
        pq.write_table(pa.table({"text": texts}), texts_path)
    say(f"{len(texts):,} distinct texts")
    tok = hf.load_tokenizer(a.teacher, False)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    model = hf.load_classifier(a.teacher, dtype=dtype, require_head=True).eval()
    t0, done = time.perf_counter(), 0
    for c, start in enumerate(range(0, len(texts), a.chunk_rows)):
        part = out / f"part-{c:05d}.npz"
        rows = np.arange(start, min(start + a.chunk_rows, len(texts)))
        if part.exists():
            continue
        chunk = [texts[i] for i in rows]
        order = np.argsort([len(t) for t in chunk], kind="stable")
        logits = np.empty((len(rows), model.config.num_labels), np.float32)
        mean = np.empty((len(rows), model.config.hidden_size), np.float16)
        pooler = np.empty_like(mean)
        with torch.inference_mode():
            for b in range(0, len(rows), a.batch_size):
                idx = order[b : b + a.batch_size]
                enc = tok(
                    [chunk[i] for i in idx],
                    truncation=True,
                    max_length=a.max_length,
                    padding="longest",
                    return_tensors="pt",
                )
                o = model(**enc, output_hidden_states=True)
                last = o.hidden_states[-1].float()
                m = enc["attention_mask"].unsqueeze(-1).float()
                logits[idx] = o.logits.float().numpy()
                mean[idx] = ((last * m).sum(1) / m.sum(1)).numpy()
                pooler[idx] = model.bert.pooler(o.hidden_states[-1]).float().numpy()
        tmp = part.with_suffix(".tmp.npz")
        np.savez(tmp, rows=rows, logits=logits, mean=mean, pooler=pooler)
        tmp.rename(part)
        done += len(rows)
        rate = done / (time.perf_counter() - t0)
        left = (len(texts) - rows[-1] - 1) / rate
        say(f"chunk {c}: rows to {rows[-1] + 1:,}; {rate:.0f} rows/s; ~{left / 60:.0f} min left")
    say("done")


if __name__ == "__main__":
    main()

"""The peer a practitioner would pick instead of a student: fastText, trained on the same labels.

Rows of the report's ``peers`` list (``id``, ``desc``, ``accuracy``, ``p50_us``, ``train_seconds``,
plus ``train_rows`` and ``seed``):

* ``fasttext_gold``: SST-2 train's gold labels only (the gold-only student's data);
* ``fasttext_teacher_argmax``: the teachers' hard labels (argmax of the stacked label) of exactly
  the transfer rows the bag student uses (the first ``max_rows`` rows in part order, as training
  reads them);
* ``fasttext_teacher_sampled``: the soft labels the only way fastText can take them, by sampling:
  each row ``copies`` times, each copy's label drawn from the stacked T = 1 probabilities;
* ``fasttext_teacher_argmax_n<N>`` (``curve: N``): the hard labels of the first N transfer rows, for
  each smaller transfer size of the report's curve (the rows of the student with ``max_rows`` N).

fastText (``fasttext-numpy2``) is a benchmark and dev dependency, never a runtime one: it is
imported here only. Settings :data:`FASTTEXT` (dim 64, word bigrams, one thread: deterministic
for a seed). ``p50_us`` is ``model.predict(text)`` through its Python binding, one text at a time,
on the test sentences, in this process (:func:`p50_us`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import time_single

FASTTEXT = {"dim": 64, "wordNgrams": 2, "epoch": 5, "minCount": 1, "bucket": 2_000_000, "thread": 1}


def p50_us(fn, texts: list[str]) -> float:
    """Median single-call latency (µs) of ``fn`` over ``texts``, after one untimed pass over them
    (a long-running server has seen their words: the students' per-token caches are warm)."""
    return time_single(fn, texts, texts)["p50_us"]


def transfer_rows(soft_dir: str, max_rows: int | None = None) -> tuple[list[str], np.ndarray]:
    """Texts and stacked T = 1 probabilities of a soft-label set: the first ``max_rows`` rows in
    part order, the rows a student with that ``max_rows`` trains on."""
    import pyarrow.parquet as pq

    from bert2dnn_ray.softlabels import STACKED, files, probs_column

    col = probs_column(STACKED, 1.0)
    texts: list[str] = []
    probs = []
    for f in files(soft_dir):
        t = pq.read_table(f, columns=["text", col])
        if max_rows is not None:
            t = t.slice(0, max(0, max_rows - len(texts)))
        texts += t["text"].to_pylist()
        probs.append(np.stack(t[col].to_numpy(zero_copy_only=False)))
        if max_rows is not None and len(texts) >= max_rows:
            break
    return texts, np.concatenate(probs).astype(np.float32)


def sampled_labels(probs: np.ndarray, copies: int, seed: int) -> np.ndarray:
    """``copies`` labels per row drawn from its probabilities ([N * copies], row-major)."""
    rng = np.random.default_rng(seed)
    cum = np.cumsum(probs, axis=1)
    u = rng.random((len(probs), copies, 1)) * cum[:, None, -1:]
    return (u > cum[:, None, :]).sum(-1).reshape(-1)


def fasttext_peer(
    pid: str,
    desc: str,
    texts: list[str],
    labels: np.ndarray,
    test: tuple[list[str], np.ndarray],
    seed: int,
    work: Path,
) -> dict[str, Any]:
    """fastText trained on ``texts`` / ``labels`` (shuffled with ``seed``), scored on ``test``."""
    try:
        import fasttext
    except ImportError:
        raise SystemExit("fastText is missing: pip install -e '.[dev]' (fasttext-numpy2)") from None
    work.mkdir(parents=True, exist_ok=True)
    f = work / f"{pid}_{seed}.txt"
    order = np.random.default_rng(seed).permutation(len(texts))
    with open(f, "w", encoding="utf-8") as out:
        for i in order:
            out.write(f"__label__{int(labels[i])} {' '.join(texts[i].split())}\n")
    t0 = time.perf_counter()
    model = fasttext.train_supervised(input=str(f), verbose=0, seed=seed, **FASTTEXT)
    seconds = time.perf_counter() - t0
    f.unlink()
    test_texts, test_labels = test
    one_line = [" ".join(t.split()) for t in test_texts]
    pred = np.array([int(model.predict(t)[0][0].removeprefix("__label__")) for t in one_line])
    return {
        "id": pid,
        "desc": desc,
        "seed": seed,
        "accuracy": float((pred == np.asarray(test_labels)).mean()),
        "p50_us": p50_us(model.predict, one_line),
        "train_seconds": round(seconds, 2),
        "train_rows": len(texts),
    }


def fasttext_peers(
    gold: tuple[list[str], np.ndarray],
    transfer: tuple[list[str], np.ndarray],
    test: tuple[list[str], np.ndarray],
    seed: int,
    work: Path,
    copies: int = 4,
    sizes: tuple[int, ...] = (),
) -> list[dict[str, Any]]:
    """The peers of the module docstring for one seed; ``transfer``: texts and stacked T = 1
    probabilities (:func:`transfer_rows`), in part order; ``sizes``: the curve's transfer sizes."""
    texts, probs = transfer
    curve = [
        {
            **fasttext_peer(
                f"fasttext_teacher_argmax_n{n}",
                f"fastText ← stacked teachers' hard labels (argmax), first {n:,} transfer rows",
                texts[:n],
                probs[:n].argmax(1),
                test,
                seed,
                work,
            ),
            "curve": n,
        }
        for n in sizes
        if n < len(texts)
    ]
    return curve + [
        fasttext_peer("fasttext_gold", "fastText, gold SST-2 labels only", *gold, test, seed, work),
        fasttext_peer(
            "fasttext_teacher_argmax",
            "fastText ← stacked teachers' hard labels (argmax), same transfer rows",
            texts,
            probs.argmax(1),
            test,
            seed,
            work,
        ),
        fasttext_peer(
            "fasttext_teacher_sampled",
            f"fastText ← stacked teachers' soft labels, {copies} sampled labels per row",
            [t for t in texts for _ in range(copies)],
            sampled_labels(probs, copies, seed),
            test,
            seed,
            work,
        ),
    ]

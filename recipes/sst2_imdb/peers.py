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
  each smaller transfer size of the report's curve (the rows of the student with ``max_rows`` N);
* ``fasttext_teacher_argmax_aug``: the hard labels of SST-2 train, its augmented copies and the
  transfer set, the rows of the last bag recipe (``stacked_t2_aug``), when the run has copies.

:func:`peer_rows` trains them for every seed of the report and averages them into its rows.

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
from bert2dnn_ray.io import read_json, write_json
from bert2dnn_ray.progress import log

from .config import ReproduceConfig

FASTTEXT = {"dim": 64, "wordNgrams": 2, "epoch": 5, "minCount": 1, "bucket": 2_000_000, "thread": 1}


def p50_us(fn, texts: list[str]) -> float:
    """Median single-call latency (µs) of ``fn`` over ``texts``, after one untimed pass over them
    (a long-running server has seen their words: the students' per-token caches are warm)."""
    return time_single(fn, texts, texts)["p50_us"]


def transfer_rows(
    soft_dir: str, max_rows: int | None = None, temperature: float = 1.0, column: str | None = None
) -> tuple[list[str], np.ndarray]:
    """Texts and stacked probabilities (at ``temperature``, a column the set has; or the vectors of
    ``column``, e.g. ``stacked_logits``) of a soft-label set: the first ``max_rows`` rows in part
    order, the rows a student with that ``max_rows`` trains on."""
    import pyarrow.parquet as pq

    from bert2dnn_ray.softlabels import STACKED, files, probs_column

    col = column or probs_column(STACKED, temperature)
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


def train_fasttext(texts: list[str], labels: np.ndarray, seed: int, work: Path) -> tuple[Any, float]:
    """fastText (:data:`FASTTEXT`) trained on ``texts`` / ``labels`` shuffled with ``seed``, through a
    training file in ``work`` that is removed afterwards; the model and its training seconds."""
    try:
        import fasttext
    except ImportError:
        raise SystemExit("fastText is missing: pip install -e '.[dev]' (fasttext-numpy2)") from None
    work.mkdir(parents=True, exist_ok=True)
    f = work / f"train_{seed}_{time.monotonic_ns()}.txt"
    order = np.random.default_rng(seed).permutation(len(texts))
    with open(f, "w", encoding="utf-8") as out:
        for i in order:
            out.write(f"__label__{int(labels[i])} {' '.join(texts[i].split())}\n")
    t0 = time.perf_counter()
    model = fasttext.train_supervised(input=str(f), verbose=0, seed=seed, **FASTTEXT)
    seconds = time.perf_counter() - t0
    f.unlink()
    return model, seconds


def fasttext_peer(
    pid: str,
    desc: str,
    texts: list[str],
    labels: np.ndarray,
    test: tuple[list[str], np.ndarray],
    seed: int,
    work: Path,
) -> dict[str, Any]:
    """fastText trained on ``texts`` / ``labels`` (:func:`train_fasttext`), scored on ``test``."""
    model, seconds = train_fasttext(texts, labels, seed, work)
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
    in_domain: tuple[list[str], np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """The peers of the module docstring for one seed; ``transfer``: texts and stacked T = 1
    probabilities (:func:`transfer_rows`), in part order; ``sizes``: the curve's transfer sizes;
    ``in_domain``: the same for SST-2 train and its augmented copies (the last bag recipe's rows
    before the transfer set's)."""
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
    rows = curve + [
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
    if in_domain is not None:
        rows.append(
            fasttext_peer(
                "fasttext_teacher_argmax_aug",
                "fastText ← stacked teachers' hard labels, SST-2 train + augmented copies + transfer rows",
                in_domain[0] + texts,
                np.concatenate([in_domain[1], probs]).argmax(1),
                test,
                seed,
                work,
            )
        )
    return rows


def test_set(paths: dict[str, str]) -> tuple[list[str], np.ndarray]:
    """The report's test sentences and gold labels (``paths["test"]``, SST-2's test.tsv)."""
    import pyarrow.csv as pacsv

    t = pacsv.read_csv(paths["test"], parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False))
    return t["sentence"].to_pylist(), np.asarray(t["label"])


def peer_rows(cfg: ReproduceConfig, run_dir: Path, paths: dict[str, str]) -> list[dict[str, Any]]:
    """The report's ``peers``: :func:`fasttext_peers` for the table's seed and the seed repeats, one
    row per peer, accuracy averaged over the seeds. Reused from ``eval/peers.json`` while its
    settings and the soft labels are unchanged."""
    import pyarrow.parquet as pq

    from bert2dnn_ray.softlabels import read_manifest

    seeds = list(dict.fromkeys([int(cfg.student.get("seed", 0)), *cfg.seed_repeats]))
    soft = str(run_dir / "soft_transfer")
    in_domain_dirs = [run_dir / "soft_sst2_train", run_dir / "soft_augmented"]
    with_copies = cfg.augment is not None and all((d / "manifest.json").exists() for d in in_domain_dirs)
    made_from = {
        "fasttext": FASTTEXT,
        "seeds": seeds,
        "sizes": sorted(set(cfg.transfer_sizes)),
        "transfer": read_manifest(soft)["files"],
        "in_domain": [read_manifest(str(d))["files"] for d in in_domain_dirs] if with_copies else None,
    }
    cache = run_dir / "eval" / "peers.json"
    if cache.exists() and (old := read_json(cache)).get("made_from") == made_from:
        return old["peers"]
    sst = pq.read_table(paths["sst2_train"], columns=["text", "label"])
    gold = (sst["text"].to_pylist(), np.asarray(sst["label"]))
    test = test_set(paths)
    in_domain = None
    if with_copies:
        parts = [transfer_rows(str(d)) for d in in_domain_dirs]
        in_domain = ([x for p in parts for x in p[0]], np.concatenate([p[1] for p in parts]))
    transfer = transfer_rows(soft)
    sizes = tuple(sorted(set(cfg.transfer_sizes)))
    work = run_dir / "fasttext"
    runs = [
        r
        for seed in seeds
        for r in fasttext_peers(gold, transfer, test, seed, work, sizes=sizes, in_domain=in_domain)
    ]
    rows = []
    for pid in dict.fromkeys(r["id"] for r in runs):
        rs = [r for r in runs if r["id"] == pid]
        rows.append(
            {
                "id": pid,
                "desc": rs[0]["desc"],
                "accuracy": float(np.mean([r["accuracy"] for r in rs])),
                "p50_us": float(np.median([r["p50_us"] for r in rs])),
                "train_seconds": float(np.mean([r["train_seconds"] for r in rs])),
                "train_rows": rs[0]["train_rows"],
                **({"curve": rs[0]["curve"]} if "curve" in rs[0] else {}),
                "seeds": seeds,
                "accuracy_seeds": [r["accuracy"] for r in rs],
            }
        )
        log("reproduce", f"peer {pid}: accuracy {rows[-1]['accuracy']:.4f}, p50 {rows[-1]['p50_us']:.1f} us")
    write_json(cache, {"made_from": made_from, "peers": rows})
    return rows

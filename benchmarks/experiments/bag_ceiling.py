"""Issue 30 experiment: how far a bag student gets on all of the recipe's transfer rows -> ``--out``.

At the recipe's full 1,066,552 IMDB sentences fastText on the stacked teachers' argmax (0.8761 on
SST-2 test) leads the library's bag students (0.8708-0.8716, ``student_vs_fasttext.py``). This
screens the levers a user would try, one seed each, in one process without Ray (the featurized rows
are cached in ``--work``, so a variant costs its training only): the library's
:class:`~bert2dnn_ray.student.model.StudentNet`, :class:`~bert2dnn_ray.student.loss.DistillationLoss`
and :class:`~bert2dnn_ray.featurizer.Featurizer`, on the stacked soft labels of
``--soft-labels``; each epoch scored on SST-2 dev and test, the test accuracy taken at the best dev
epoch (as the library's training keeps the best dev epoch).

Variants (``--variants``; all by default): the library's bag at 2^20 buckets (``base``); a linear
student; Adagrad decayed linearly; hidden dropout; word trigrams; 2^21 buckets; the teachers' hard
labels (argmax, as fastText gets them); T = 1 with the decay (seeds 0-2: :data:`SEEDS`); the
student's logits regressed on the teachers' (mean squared error, Tang et al. 2019); unigram rows
started from the teacher's word-piece embeddings (``--teacher``); fastText's recipe (mean
pooling, no hidden layer, plain SGD decayed linearly over 5 epochs); and, on T = 1 with the decay,
other poolings of the same bag (a learned per-feature attention gate, the sum next to the
elementwise max), extra features (word skip-bigrams, negation-scope words) and a moving average of
the weights; Adam (the library's, SparseAdam on the table) at three rates
(docs/student_vs_fasttext.md). ``--label-source minilm`` trains on one teacher's
labels instead of the stacked ones; ``--fasttext`` adds fastText (the report's peer) on the same
labels' argmax, one row per seed. Usage, after ``make reproduce`` (or its ``--peers-only``)
has made the soft labels::

    .venv/bin/python benchmarks/experiments/bag_ceiling.py --soft-labels runs/sst2_imdb/soft_transfer
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig  # noqa: E402
from bert2dnn_ray.io import write_json  # noqa: E402
from bert2dnn_ray.softlabels import STACKED, logits_column, probs_column  # noqa: E402
from bert2dnn_ray.student.loop import lr_schedule  # noqa: E402
from bert2dnn_ray.student.loss import DistillationLoss  # noqa: E402
from bert2dnn_ray.student.model import StudentModelConfig, StudentNet  # noqa: E402
from recipes.sst2_imdb.peers import test_set, transfer_rows  # noqa: E402

BASE: dict[str, Any] = {
    "buckets": 1 << 20,
    "word_ngrams": [1, 2],
    "embedding_dim": 64,
    "hidden": [64],
    "pooling": "sqrtn",
    "dropout": 0.0,
    "optimizer": "adagrad",
    "lr": 0.05,
    "embedding_lr": None,
    "schedule": "constant",
    "epochs": 3,
    "temperature": 2.0,
    "labels": "soft",
    "loss": "kl",
    "init": "random",
    "batch_size": 128,
    "pool_extra": None,
    "ema": 0.0,
    "extra_ids": None,
}
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "linear": {"hidden": []},
    "adagrad_0.1_linear_decay": {"lr": 0.1, "schedule": "linear"},
    "dropout_0.3": {"dropout": 0.3},
    "trigrams_2^21": {"word_ngrams": [1, 2, 3], "buckets": 1 << 21, "lr": 0.1, "schedule": "linear"},
    "buckets_2^21": {"buckets": 1 << 21, "lr": 0.1, "schedule": "linear"},
    "hard_labels": {"labels": "hard", "temperature": 1.0, "lr": 0.1, "schedule": "linear"},
    "t1_linear_decay": {"temperature": 1.0, "lr": 0.1, "schedule": "linear"},
    # Tang et al. (2019): the student's logits regressed on the teachers' (mean squared error) instead
    # of matching their softened probabilities.
    "logit_mse": {"labels": "logits", "loss": "mse"},
    "logit_mse_0.1_linear_decay": {"labels": "logits", "loss": "mse", "lr": 0.1, "schedule": "linear"},
    # Each word's unigram row starts as its word pieces' mean embedding in the fine-tuned MiniLM
    # teacher (--teacher), projected onto the vectors' top 64 principal directions and scaled to
    # the table's initial spread; bigram rows as usual.
    "teacher_init": {"init": "teacher"},
    "teacher_init_t1_linear_decay": {"init": "teacher", "temperature": 1.0, "lr": 0.1, "schedule": "linear"},
    # Issue 30, stop 41: levers that keep a bag's serving cost. "attn": each feature id also learns a
    # scalar gate and the bag is the gates' softmax-weighted sum (x sqrt(n), so a zero gate is sqrtn
    # pooling); "max": the bag's elementwise max concatenated to its sqrtn sum (SWEM-concat, Shen et
    # al. 2018). "ema": evaluate an exponential moving average of the weights (updated every 32
    # steps with this decay). "extra_ids": word skip-bigrams (w_i, w_i+2) or negation-scope unigrams
    # (words after not/no/never/n't up to punctuation, in their own namespace) added to each bag.
    "t1_decay_attn": {"temperature": 1.0, "lr": 0.1, "schedule": "linear", "pool_extra": "attn"},
    "t1_decay_max": {"temperature": 1.0, "lr": 0.1, "schedule": "linear", "pool_extra": "max"},
    "ema_0.97": {"ema": 0.97},
    "ema_0.995": {"ema": 0.995},
    "t1_decay_skip2": {"temperature": 1.0, "lr": 0.1, "schedule": "linear", "extra_ids": "skip2"},
    "t1_decay_neg": {"temperature": 1.0, "lr": 0.1, "schedule": "linear", "extra_ids": "neg"},
    # Adagrad's per-row step shrinks with every update a row gets, so a bag's frequent rows barely
    # move late in a million rows; Adam's does not.
    "t1_decay_adam_0.001": {"temperature": 1.0, "optimizer": "adam", "lr": 0.001, "schedule": "linear"},
    "t1_decay_adam_0.003": {"temperature": 1.0, "optimizer": "adam", "lr": 0.003, "schedule": "linear"},
    "t1_decay_adam_0.01": {"temperature": 1.0, "optimizer": "adam", "lr": 0.01, "schedule": "linear"},
    "fasttext_recipe": {
        "hidden": [],
        "pooling": "mean",
        "optimizer": "sgd",
        "lr": 0.5,
        "embedding_lr": 10.0,
        "schedule": "linear",
        "epochs": 5,
    },
}


# Seeds beyond --seeds: the lead variant's mean over 3, as the comparison asks.
SEEDS = {"t1_linear_decay": [0, 1, 2]}


def say(msg: str) -> None:
    print(f"[bag-ceiling {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def soft_rows(
    soft_dir: str, temperature: float, labels: str = "soft", source: str = STACKED
) -> tuple[list[str], np.ndarray]:
    """Texts and ``source``'s probabilities at ``temperature`` (the stacked teachers', or one
    teacher's by name), their argmax as one-hot rows (``labels="hard"``) or their logits
    (``"logits"``)."""
    if labels == "logits":
        return transfer_rows(soft_dir, column=logits_column(source))
    column = probs_column(source, 1.0 if labels == "hard" else temperature)
    texts, probs = transfer_rows(soft_dir, column=column)
    return texts, np.eye(probs.shape[1], dtype=np.float32)[probs.argmax(1)] if labels == "hard" else probs


def teacher_init(net: StudentNet, fz: Featurizer, texts: list[str], teacher: str) -> int:
    """Set the unigram rows of ``net``'s table for every word of ``texts`` from the ``teacher``'s
    word-piece embeddings (mean over a word's pieces, PCA to the table's width, rescaled to its
    initial standard deviation). Returns the number of words set."""
    from collections import Counter

    from transformers import AutoModel, AutoTokenizer

    words = Counter(w for t in texts for w in fz.tokens(t))
    vocab = sorted(words)
    tok = AutoTokenizer.from_pretrained(teacher)
    table = AutoModel.from_pretrained(teacher).get_input_embeddings().weight.detach().numpy()
    pieces = tok(vocab, add_special_tokens=False)["input_ids"]
    vecs = np.stack([table[ids].mean(0) if ids else np.zeros(table.shape[1]) for ids in pieces])
    vecs -= vecs.mean(0)
    dim = net.embedding.weight.shape[1]
    _, _, vt = np.linalg.svd(vecs[np.argsort([-words[w] for w in vocab])[:50_000]], full_matrices=False)
    proj = vecs @ vt[:dim].T
    weight = net.embedding.weight
    proj *= float(weight.std()) / proj.std()
    ids, offsets = fz.batch(vocab)
    with torch.no_grad():  # a one-word text's first id is its unigram
        weight[torch.from_numpy(ids[offsets])] = torch.from_numpy(proj.astype(np.float32))
    return len(vocab)


_NEGATORS = frozenset("not no never n't nothing nobody none neither nor without hardly cannot".split())


def extra_ids(fz: Featurizer, texts: list[str], kind: str) -> list[np.ndarray]:
    """Per text, the ids of the ``kind`` features the library's featurizer lacks: ``skip2`` (word
    pairs two apart) or ``neg`` (each word in a negation's scope, marked)."""
    from bert2dnn_ray.featurizer import _fmix, _key64

    keys: dict[str, int] = {}
    ns = _key64(f"\x00{kind}")
    m64, nb = (1 << 64) - 1, fz.num_buckets

    def key(w: str) -> int:
        k = keys.get(w)
        if k is None:
            k = keys[w] = _key64(w)
        return k

    out = []
    for t in texts:
        toks = fz.tokens(t)
        if kind == "skip2":
            got = [
                _fmix((ns + key(a) * 0x9E3779B97F4A7C15 + key(b)) & m64) % nb for a, b in zip(toks, toks[2:])
            ]
        else:
            got, scope = [], False
            for w in toks:
                if not w.isalnum() and w != "n't" or w == "but":
                    scope = False
                elif scope:
                    got.append(_fmix((ns + key(w)) & m64) % nb)
                if w in _NEGATORS:
                    scope = True
        out.append(np.asarray(got, dtype=np.int64))
    return out


def with_extra(
    feats: tuple[np.ndarray, np.ndarray], extra: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``feats`` (flat ids, offsets) with each text's ``extra`` ids appended to its bag."""
    ids, offsets = feats
    ends = np.append(offsets[1:], len(ids))
    parts = []
    for i, e in enumerate(extra):
        parts.append(ids[offsets[i] : ends[i]])
        parts.append(e)
    lengths = (ends - offsets) + np.array([len(e) for e in extra])
    return np.concatenate(parts).astype(ids.dtype), np.concatenate([[0], np.cumsum(lengths)[:-1]])


class PoolNet(torch.nn.Module):
    """A :class:`StudentNet` whose bag is pooled another way (``kind``: ``attn`` or ``max``)."""

    def __init__(self, net: StudentNet, kind: str):
        super().__init__()
        self.net, self.kind = net, kind
        if kind == "attn":
            net.gate = torch.nn.Embedding(net.num_buckets, 1)
            torch.nn.init.zeros_(net.gate.weight)
        else:
            first = net.hidden[0] if len(net.hidden) else net.head
            wider = torch.nn.Linear(2 * first.in_features, first.out_features)
            if len(net.hidden):
                net.hidden[0] = wider
            else:
                net.head = wider

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        net, n = self.net, len(offsets)
        lengths = torch.diff(offsets, append=torch.tensor([len(ids)]))
        seg = torch.repeat_interleave(torch.arange(n), lengths)
        weight = net.embedding.weight
        if self.kind == "attn":
            g = net.gate(ids).squeeze(1)
            top = torch.full((n,), -1e30).scatter_reduce(0, seg, g, "amax")
            e = torch.exp(g - top[seg])
            z = torch.zeros(n).index_add(0, seg, e)
            w = e / z[seg] * lengths.float().sqrt()[seg]
            pooled = torch.nn.functional.embedding_bag(
                ids, weight, offsets, mode="sum", per_sample_weights=w, sparse=True
            )
        else:
            rows = torch.nn.functional.embedding(ids, weight, sparse=True)
            top = torch.full((n, rows.shape[1]), -1e30).scatter_reduce(
                0, seg.unsqueeze(1).expand_as(rows), rows, "amax"
            )
            pooled = torch.cat([net.pool(ids, offsets), top], dim=1)
        return net.classify(pooled)


def cached_bags(cache: Path, make) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and offsets from ``cache`` (.npz), or made by ``make()`` and saved there."""
    if cache.exists():
        z = np.load(cache)
        return z["ids"], z["offsets"]
    out = make()
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, ids=out[0], offsets=out[1])
    return out


def featurized(fz: Featurizer, texts: list[str], cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """``Featurizer.batch`` of all ``texts``, in chunks, cached as ``cache`` (.npz)."""

    def make() -> tuple[np.ndarray, np.ndarray]:
        ids, offsets, base = [], [], 0
        for i in range(0, len(texts), 50_000):
            a, o = fz.batch(texts[i : i + 50_000])
            ids.append(a)
            offsets.append(o + base)
            base += len(a)
        return np.concatenate(ids), np.concatenate(offsets)

    return cached_bags(cache, make)


def bags(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The flat ids and offsets of ``rows``' bags (in that order)."""
    ends = np.append(offsets[1:], len(ids))
    parts = [ids[offsets[i] : ends[i]] for i in rows]
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return torch.from_numpy(np.concatenate(parts)), torch.from_numpy(starts)


def accuracy(net: torch.nn.Module, feats: tuple[np.ndarray, np.ndarray], labels: np.ndarray) -> float:
    net.eval()
    with torch.no_grad():
        pred = net(*bags(*feats, np.arange(len(labels)))).argmax(1).numpy()
    net.train()
    return float((pred == labels).mean())


def fit(
    forward: Callable[[np.ndarray], torch.Tensor],
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    opts: list[torch.optim.Optimizer],
    base_lr: list[float],
    schedule: str,
    epochs: int,
    batch_size: int,
    seed: int,
    score: Callable[[], tuple[float, float]],
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    label: str = "",
) -> list[dict[str, Any]]:
    """The screens' training loop, one history row per epoch: each epoch a fresh permutation of
    ``targets``' rows (``seed + epoch``) in batches of ``batch_size`` through ``forward(rows)``;
    each optimizer of ``opts`` at its ``base_lr`` times the library's ``schedule`` (constant, or
    decayed linearly to 0 over all steps); ``on_step(step, loss)`` after every step; ``score()``
    (dev, test accuracy) after every epoch."""
    n = len(targets)
    scale_at = lr_schedule(
        SimpleNamespace(lr_schedule=schedule, learning_rate=1.0), math.ceil(n / batch_size) * epochs
    )
    step, history, t0 = 0, [], time.perf_counter()
    for epoch in range(epochs):
        order = np.random.default_rng(seed + epoch).permutation(n)
        for b in range(0, n, batch_size):
            rows = order[b : b + batch_size]
            loss = loss_fn(forward(rows), targets[rows])
            for o in opts:
                o.zero_grad()
            loss.backward()
            scale = scale_at(step)
            for o, lr in zip(opts, base_lr):
                for g in o.param_groups:
                    g["lr"] = lr * scale
                o.step()
            step += 1
            if on_step is not None:
                on_step(step, loss)
        dev_acc, test_acc = score()
        history.append(
            {
                "epoch": epoch + 1,
                "dev_accuracy": round(dev_acc, 4),
                "test_accuracy": round(test_acc, 4),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        say(f"{label} {history[-1]}")
    return history


def run_variant(
    name: str,
    soft_dir: str,
    work: Path,
    seed: int,
    max_rows: int = 0,
    teacher: str = "",
    source: str = STACKED,
    init_seed: int | None = None,
    keep: list | None = None,
) -> dict[str, Any]:
    """One training of variant ``name``: ``seed`` draws the rows' order (and the initial weights
    unless ``init_seed`` is given); the trained model (last epoch) is appended to ``keep``."""
    v = {**BASE, **VARIANTS[name]}
    torch.manual_seed(seed if init_seed is None else init_seed)
    fz = Featurizer(FeaturizerConfig(num_buckets=v["buckets"], word_ngrams=v["word_ngrams"]))
    texts, probs = soft_rows(soft_dir, v["temperature"], v["labels"], source)
    if max_rows:
        texts, probs = texts[:max_rows], probs[:max_rows]
    tag = f"b{v['buckets'].bit_length() - 1}_w{''.join(map(str, v['word_ngrams']))}_{len(texts)}"
    ids, offsets = featurized(fz, texts, work / f"train_{tag}.npz")
    dev = test_set({"test": str(ROOT / "data/sst2/dev.tsv")})
    test = test_set({"test": str(ROOT / "data/sst2/test.tsv")})
    dev_f, test_f = fz.batch(dev[0]), fz.batch(test[0])
    if v["extra_ids"]:
        base_bags = (ids, offsets)
        ids, offsets = cached_bags(
            work / f"train_{tag}_{v['extra_ids']}.npz",
            lambda: with_extra(base_bags, extra_ids(fz, texts, v["extra_ids"])),
        )
        dev_f = with_extra(dev_f, extra_ids(fz, dev[0], v["extra_ids"]))
        test_f = with_extra(test_f, extra_ids(fz, test[0], v["extra_ids"]))
    model_cfg = {k: v[k] for k in ("embedding_dim", "hidden", "pooling", "dropout")}
    net = StudentNet(StudentModelConfig(**model_cfg), v["buckets"])
    if v["init"] == "teacher":
        say(f"{name}: {teacher_init(net, fz, texts, teacher)} unigram rows from {teacher}")
    model = PoolNet(net, v["pool_extra"]) if v["pool_extra"] else net
    if v["optimizer"] in ("adagrad", "adam"):  # the library's: Adam is SparseAdam on the table
        opts = net.configure_optimizers(v["optimizer"], v["lr"], 0.0, sparse=True)
        base_lr = [v["lr"], v["lr"]]
    else:  # fastText's: plain SGD, the embedding's rows updated sparsely at their own rate
        net.embedding.sparse = True
        rest = [p for n, p in net.named_parameters() if n != "embedding.weight"]
        opts = [
            torch.optim.SGD([net.embedding.weight], lr=v["embedding_lr"]),
            torch.optim.SGD(rest, lr=v["lr"]),
        ]
        base_lr = [v["embedding_lr"], v["lr"]]
    if v["loss"] == "mse":
        loss_fn = torch.nn.MSELoss()
    else:
        loss_fn = DistillationLoss(temperature=v["temperature"])
    params = [p for p in model.parameters()]
    ema = [p.detach().clone() for p in params] if v["ema"] else []

    def average(step: int, loss: torch.Tensor) -> None:
        if v["ema"] and step % 32 == 0:
            with torch.no_grad():
                torch._foreach_lerp_(ema, params, 1.0 - v["ema"])

    def score() -> tuple[float, float]:
        live = None
        if v["ema"]:  # score the average: swap it in, then back
            live = [p.detach().clone() for p in params]
            with torch.no_grad():
                torch._foreach_copy_(params, ema)
        got = accuracy(model, dev_f, dev[1]), accuracy(model, test_f, test[1])
        if live is not None:
            with torch.no_grad():
                torch._foreach_copy_(params, live)
        return got

    history = fit(
        lambda rows: model(*bags(ids, offsets, rows)),
        torch.from_numpy(probs),
        loss_fn,
        opts,
        base_lr,
        v["schedule"],
        v["epochs"],
        v["batch_size"],
        seed,
        score,
        on_step=average,
        label=name,
    )
    n = len(offsets)
    best = max(history, key=lambda h: h["dev_accuracy"])
    if keep is not None:
        keep.append(model)
    return {
        "id": name,
        "settings": v,
        "seed": seed,
        "label_source": source,
        "rows": n,
        "best_epoch": best["epoch"],
        "dev_accuracy": best["dev_accuracy"],
        "test_accuracy": best["test_accuracy"],
        "train_seconds": history[-1]["seconds"],
        "history": history,
    }


def fasttext_rows(soft_dir: str, work: Path, seeds: list[int], max_rows: int, source: str) -> list[dict]:
    """fastText (the report's peer settings) on the argmax of ``source``'s T = 1 labels of the same
    rows, one row per seed in :func:`run_variant`'s shape (no dev set: ``dev_accuracy`` is None)."""
    texts, probs = soft_rows(soft_dir, 1.0, "hard", source)
    if max_rows:
        texts, probs = texts[:max_rows], probs[:max_rows]
    return fasttext_runs(texts, probs.argmax(1), seeds, work, source)


def fasttext_runs(
    texts: list[str], labels: np.ndarray, seeds: list[int], work: Path, source: str
) -> list[dict]:
    """fastText (the report's peer settings) on ``texts`` / ``labels`` (``source``'s argmax), scored
    on SST-2 test: one row per seed in :func:`run_variant`'s shape."""
    from recipes.sst2_imdb.peers import fasttext_peer

    test = test_set({"test": str(ROOT / "data/sst2/test.tsv")})
    out = []
    for seed in seeds:
        r = fasttext_peer("fasttext_argmax", f"fastText <- {source} argmax", texts, labels, test, seed, work)
        out.append(
            {
                "id": "fasttext_argmax",
                "label_source": source,
                "seed": seed,
                "rows": len(texts),
                "best_epoch": None,
                "dev_accuracy": None,
                "test_accuracy": r["accuracy"],
                "train_seconds": r["train_seconds"],
                "p50_us": r["p50_us"],
            }
        )
        say(f"fastText seed {seed}: test {r['accuracy']:.4f}")
    return out


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per variant: test and dev accuracy (at the best dev epoch) averaged over its seeds."""
    out = []
    for vid in dict.fromkeys(r["id"] for r in rows):
        rs = [r for r in rows if r["id"] == vid]
        out.append(
            {
                "id": vid,
                "seeds": [r["seed"] for r in rs],
                "test_accuracy": round(float(np.mean([r["test_accuracy"] for r in rs])), 4),
                "test_accuracy_std": round(float(np.std([r["test_accuracy"] for r in rs])), 4),
                "dev_accuracy": None
                if rs[0]["dev_accuracy"] is None
                else round(float(np.mean([r["dev_accuracy"] for r in rs])), 4),
                "best_epochs": [r["best_epoch"] for r in rs],
                "train_seconds": round(float(np.mean([r["train_seconds"] for r in rs])), 1),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--soft-labels", default="runs/sst2_imdb/soft_transfer")
    ap.add_argument("--work", default="runs/bag_ceiling", help="featurized rows are cached here")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="each variant's (and SEEDS')")
    ap.add_argument("--max-rows", type=int, default=0, help="the first N rows only (0: all)")
    ap.add_argument("--teacher", default="runs/sst2/teachers/minilm", help="teacher_init's embeddings")
    ap.add_argument(
        "--label-source", default=STACKED, help="whose labels: stacked, or one teacher's name (minilm)"
    )
    ap.add_argument(
        "--fasttext", action="store_true", help="also fastText on the same labels' argmax (--seeds)"
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/bag_ceiling.json"))
    args = ap.parse_args(argv)
    if not args.variants and not args.fasttext:
        ap.error("nothing to run: name --variants, or --fasttext")
    rows = []
    if args.fasttext:
        rows += fasttext_rows(args.soft_labels, Path(args.work), args.seeds, args.max_rows, args.label_source)
    for name in args.variants:
        for seed in dict.fromkeys([*args.seeds, *SEEDS.get(name, [])]):
            rows.append(
                run_variant(
                    name,
                    args.soft_labels,
                    Path(args.work),
                    seed,
                    args.max_rows,
                    args.teacher,
                    args.label_source,
                )
            )
            r = rows[-1]
            say(f"{name} seed {seed}: test {r['test_accuracy']:.4f} at best dev {r['dev_accuracy']:.4f}")
    result = {
        "experiment": "bag_ceiling",
        "command": " ".join(sys.argv),
        "soft_labels": args.soft_labels,
        "label_source": args.label_source,
        "torch_threads": torch.get_num_threads(),
        "summary": summarize(rows),
        "runs": rows,
    }
    write_json(args.out, result)
    for r in result["summary"]:
        dev = "" if r["dev_accuracy"] is None else f"  dev {r['dev_accuracy']:.4f}"
        print(f"{r['id']:<26} test {r['test_accuracy']:.4f} (seeds {r['seeds']}){dev}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

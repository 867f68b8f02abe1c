"""Issue 30 experiment: a bag student with word windows beside its bag, on all the transfer rows.

Every bag-of-n-grams lever screened at the recipe's 1,066,552 transfer rows (``bag_ceiling.py``)
lands within half a point of fastText on the same labels; the students that read word order
(cnn, bilstm) are the ones clearly ahead, at 10-100x the latency. This screens the cheapest word
order a bag can carry: next to the library's sqrtn bag (2^20 x 64 word uni+bigrams, or words only
with ``--bag-ngrams 1``: the 2-word windows stand in for the bigrams), each window
of ``k`` consecutive words (``--windows``) gets ``h_t = ReLU(b_k + sum_j T_kj[w_{t+j}])``, one
hashed table row of ``--width`` numbers per word and offset ``j`` (a convolution of width ``k``
whose embedding and filter are one table: at serving time a lookup and an add per word and
offset, as a bag's n-gram is), max over the text's windows; the bag and the windows' maxima feed
the network's hidden layer (64) and head (``--windows`` with no width: the bag alone). A text's
first ``MAX_WORDS`` words make its windows.

One process without Ray, as ``bag_ceiling.py`` (its rows, caches, T = 1, Adagrad 0.1 decayed
linearly, 3 epochs, a fresh permutation per epoch, test at the best dev epoch).

``--latency``: no training; one text's p50 on SST-2 test (one thread, median of 3 rounds) through
the library's compiled bag path (:mod:`bert2dnn_ray.student.compiled`, a random-weight 2^20 x 64
``[64]`` student over ``--bag-ngrams``), alone and followed by a numba kernel for the windows (one
table row of ``sum(windows) x width`` numbers per word, ReLU, max, their product with the hidden
layer's columns; called from Python, the text's ids computed a second time), and that kernel alone
on the text's word ids (what a fused path would add to the bag).
Usage::

    .venv/bin/python benchmarks/experiments/window_bag.py --windows 2 3 --width 64 --seeds 0 1 2 --out w.json
    taskset -c 0 .venv/bin/python benchmarks/experiments/window_bag.py --latency --out w_latency.json
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks/experiments"))
from bag_ceiling import bags, featurized, fit, say, soft_rows  # noqa: E402

from benchmarks._common import time_single  # noqa: E402
from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig  # noqa: E402
from bert2dnn_ray.io import write_json  # noqa: E402
from bert2dnn_ray.student import servable  # noqa: E402
from bert2dnn_ray.student.loss import DistillationLoss  # noqa: E402
from bert2dnn_ray.student.model import StudentModelConfig, StudentNet  # noqa: E402
from recipes.sst2_imdb.peers import test_set  # noqa: E402

MAX_WORDS = 128


class WindowBag(torch.nn.Module):
    """The library's bag ``net`` with ``windows`` (widths) of ``width`` ReLU units, max pooled."""

    def __init__(self, net: StudentNet, buckets: int, windows: list[int], width: int):
        super().__init__()
        self.net, self.windows, self.width, self.pad = net, windows, width, buckets
        first = net.hidden[0]
        net.hidden[0] = torch.nn.Linear(first.in_features + width * len(windows), first.out_features)
        self.tables = torch.nn.ModuleList(
            torch.nn.Embedding(buckets + 1, k * width, padding_idx=buckets) for k in windows
        )
        for t in self.tables:
            with torch.no_grad():
                t.weight.normal_(0.0, 1.0 / math.sqrt(width))
                t.weight[buckets] = 0.0
        self.biases = torch.nn.Parameter(torch.zeros(len(windows), width))

    def forward(self, ids, offsets, seq, lens) -> torch.Tensor:
        parts = [self.net.pool(ids, offsets)]
        b, n = seq.shape
        real = (torch.arange(n).unsqueeze(0) < lens.unsqueeze(1)).unsqueeze(2)
        for i, (k, table) in enumerate(zip(self.windows, self.tables)):
            ext = torch.nn.functional.pad(seq, (0, k - 1), value=self.pad)
            rows = table(ext).view(b, n + k - 1, k, self.width)
            h = self.biases[i] + sum(rows[:, j : j + n, j] for j in range(k))
            parts.append((torch.relu(h) * real).amax(1))
        return self.net.classify(torch.cat(parts, dim=1))


def padded(uni: tuple[np.ndarray, np.ndarray], rows: np.ndarray, pad: int):
    """Rows' word ids in order as [B, L] (``pad`` after each text; its first MAX_WORDS words) and lengths."""
    ids, mask = servable.padded(*(t.numpy() for t in bags(*uni, rows)))
    ids, mask = ids[:, :MAX_WORDS], mask[:, :MAX_WORDS]
    ids[mask == 0] = pad
    return torch.from_numpy(ids), torch.from_numpy(mask.sum(1).astype(np.int64))


def load(args) -> dict[str, Any]:
    """The rows' bags and word ids (cached in ``--work``), their targets, and dev and test: read
    once for every seed."""
    work = Path(args.work)
    fz = Featurizer(FeaturizerConfig(num_buckets=1 << 20, word_ngrams=args.bag_ngrams))
    uz = Featurizer(FeaturizerConfig(num_buckets=args.window_buckets, word_ngrams=[1]))
    texts, probs = soft_rows(args.soft_labels, 1.0)
    if args.max_rows:
        texts, probs = texts[: args.max_rows], probs[: args.max_rows]
    evals = {}
    for split in ("dev", "test"):
        t, y = test_set({"test": str(ROOT / f"data/sst2/{split}.tsv")})
        evals[split] = (fz.batch(t), uz.batch(t), y)
    return {
        "bag": featurized(
            fz, texts, work / f"train_b20_w{''.join(map(str, args.bag_ngrams))}_{len(texts)}.npz"
        ),
        "uni": featurized(
            uz, texts, work / f"train_b{args.window_buckets.bit_length() - 1}_w1_{len(texts)}.npz"
        ),
        "targets": torch.from_numpy(probs),
        "evals": evals,
    }


def run(args, seed: int, data: dict[str, Any]) -> dict[str, Any]:
    torch.manual_seed(seed)
    net = StudentNet(StudentModelConfig(embedding_dim=64, hidden=[64]), 1 << 20)
    model = WindowBag(net, args.window_buckets, args.windows, args.width) if args.windows else net
    opts = net.configure_optimizers("adagrad", args.lr, 0.0, sparse=True)
    if args.windows:
        for t in model.tables:
            t.sparse = True
        opts += [
            torch.optim.Adagrad([t.weight for t in model.tables], lr=args.lr),
            torch.optim.Adagrad([model.biases], lr=args.lr),
        ]

    def logits(bag, uni, rows: np.ndarray) -> torch.Tensor:
        x = bags(*bag, rows)
        return model(*x, *padded(uni, rows, args.window_buckets)) if args.windows else model(*x)

    def accuracy(split: str) -> float:
        b, u, y = data["evals"][split]
        model.eval()
        with torch.no_grad():
            pred = logits(b, u, np.arange(len(y))).argmax(1).numpy()
        model.train()
        return float((pred == y).mean())

    def progress(step: int, loss: torch.Tensor) -> None:
        if step % 2000 == 0:
            say(f"seed {seed} step {step} loss {float(loss):.4f}")

    history = fit(
        lambda rows: logits(data["bag"], data["uni"], rows),
        data["targets"],
        DistillationLoss(temperature=1.0),
        opts,
        [args.lr] * len(opts),
        "linear",
        args.epochs,
        128,
        seed,
        lambda: (accuracy("dev"), accuracy("test")),
        on_step=progress,
        label=f"seed {seed}",
    )
    n = len(data["targets"])
    best = max(history, key=lambda h: h["dev_accuracy"])
    return {
        "seed": seed,
        "rows": n,
        "best_epoch": best["epoch"],
        "dev_accuracy": best["dev_accuracy"],
        "test_accuracy": best["test_accuracy"],
        "history": history,
    }


def latency(args) -> dict[str, Any]:
    """p50 µs of the compiled bag path alone and with the windows after it (module docstring)."""
    import tempfile

    import numba

    from bert2dnn_ray.student import Student, save_student
    from bert2dnn_ray.student import compiled as C

    torch.set_num_threads(1)
    texts, _ = test_set({"test": str(ROOT / "data/sst2/test.tsv")})
    fcfg = FeaturizerConfig(num_buckets=1 << 20, word_ngrams=args.bag_ngrams)
    step = 1 if args.bag_ngrams == [1] else 2  # the bag's ids: words, or words and bigrams in turn
    mcfg = StudentModelConfig(num_labels=2, embedding_dim=64, hidden=[64])
    with tempfile.TemporaryDirectory() as d:
        save_student(d, StudentNet(mcfg, fcfg.num_buckets).eval(), fcfg, mcfg, ["negative", "positive"])
        student = Student.load(d)
    student.predict_one(texts[0])  # builds the compiled path
    comp = student._compiled
    assert isinstance(comp, C.CompiledForward)

    @numba.njit(nogil=True, fastmath=True)
    def windows(ids, mask, table, kws, bias, w2):
        width, n, nk = bias.shape[1], ids.shape[0], kws.shape[0]
        h = np.zeros((nk, width), dtype=np.float32)
        acc = np.empty(width, dtype=np.float32)
        base = 0
        for i in range(nk):
            for t in range(n):
                acc[:] = bias[i]
                for j in range(min(kws[i], n - t)):
                    off, row = (base + j) * width, table[ids[t + j] & mask]
                    for c in range(width):
                        acc[c] += row[off + c]
                top = h[i]
                for c in range(width):
                    top[c] = max(top[c], acc[c])
            base += kws[i]
        return np.dot(w2, h.ravel())

    rng = np.random.default_rng(0)
    kws = np.array(args.windows, dtype=np.int64)
    table = rng.normal(0, 0.1, (args.window_buckets, int(kws.sum()) * args.width)).astype(np.float32)
    bias = np.zeros((len(kws), args.width), np.float32)
    w2 = rng.normal(0, 0.1, (64, args.width * len(kws))).astype(np.float32)
    mask = np.int64(args.window_buckets - 1)

    def with_windows(text: str) -> np.ndarray:
        keys = comp._keys(text)  # below, every other id: the words (and the closing bigram)
        probs = C._forward(keys, comp.consts, comp.table, comp.params)
        windows(np.ascontiguousarray(C._ids(keys, comp.consts)[::step]), mask, table, kws, bias, w2)
        return probs

    def p50(fn) -> float:  # the median of 3 rounds' p50, after one warm pass
        return float(np.median([time_single(fn, texts, texts if i == 0 else [])["p50_us"] for i in range(3)]))

    words = {t: np.ascontiguousarray(comp.ids(t)[::step]) for t in texts}
    bag, both = p50(student.predict_one), p50(with_windows)
    alone = p50(lambda t: windows(words[t], mask, table, kws, bias, w2))
    say(
        f"bag {bag} µs; with windows {args.windows} x {args.width} after it {both} µs; the kernel alone {alone} µs"
    )
    return {"bag_p50_us": bag, "bag_then_windows_p50_us": both, "windows_kernel_p50_us": alone}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--soft-labels", default="runs/sst2_imdb/soft_transfer")
    ap.add_argument("--work", default="runs/bag_ceiling", help="featurized rows are cached here")
    ap.add_argument("--windows", type=int, nargs="*", default=[2, 3], help="window widths (none: the bag)")
    ap.add_argument("--width", type=int, default=32, help="ReLU units per window width")
    ap.add_argument(
        "--bag-ngrams", type=int, nargs="+", default=[1, 2], help="the bag's word n-grams (1: words only)"
    )
    ap.add_argument("--window-buckets", type=int, default=1 << 18, help="the windows' hashed words")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--max-rows", type=int, default=0, help="the first N rows only (0: all)")
    ap.add_argument("--latency", action="store_true", help="time the serving cost only (no training)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.latency:
        keys = ("windows", "width", "window_buckets", "bag_ngrams")
        settings = {k: v for k, v in vars(args).items() if k in keys}
        write_json(args.out, {"experiment": "window_bag_latency", "settings": settings, **latency(args)})
        return 0
    data = load(args)
    runs = [run(args, s, data) for s in args.seeds]
    tests = [r["test_accuracy"] for r in runs]
    write_json(
        args.out,
        {
            "experiment": "window_bag",
            "command": " ".join(sys.argv),
            "settings": {k: v for k, v in vars(args).items() if k != "out"},
            "summary": {
                "test_accuracy": round(float(np.mean(tests)), 4),
                "test_accuracy_std": round(float(np.std(tests)), 4),
                "dev_accuracy": round(float(np.mean([r["dev_accuracy"] for r in runs])), 4),
            },
            "runs": runs,
        },
    )
    say(f"test {np.mean(tests):.4f} ± {np.std(tests):.4f} over seeds {args.seeds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

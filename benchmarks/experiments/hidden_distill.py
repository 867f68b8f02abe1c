"""Issue 30 experiment: a bag student that also regresses the teacher's sentence state -> ``--out``.

On a binary task a soft label is one number per sentence; the fine-tuned teacher's last layer holds
384. Intermediate-layer distillation (FitNets, Romero et al. 2015; TinyBERT, Jiao et al. 2020) gives
the student that richer target, which fastText, trained on labels, cannot use. Here a bag student
(``bag_ceiling.py``'s best loop: 2^20 x 64 word uni+bigram bag, ``[64]``, T = 1, Adagrad 0.1
decayed linearly, 3 epochs, a fresh permutation per epoch, test at the best dev epoch) learns the
teacher's T = 1 probabilities plus, with weight ``alpha``, the mean squared error between a linear
map of one of its own 64-number layers (``attach``: the pooled bag, or the hidden layer after its
ReLU) and the teacher's state (``target``: the mean of the last layer's token states, or the
pooler output), each dimension standardised over the rows. The map is dropped after training: the
student serves at the bag's cost. fastText (the report's peer) learns the argmax of the same logits.

Input: ``teacher_states.py``'s output (``--states``). Usage::

    .venv/bin/python benchmarks/experiments/hidden_distill.py --states runs/hid/states \
        --variants bag aux_pool_mean_1 --seeds 0 1 2 --fasttext
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bag_ceiling import accuracy, bags, fasttext_runs, featurized, fit, summarize  # noqa: E402

from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig  # noqa: E402
from bert2dnn_ray.io import write_json  # noqa: E402
from bert2dnn_ray.student.loss import DistillationLoss  # noqa: E402
from bert2dnn_ray.student.model import StudentModelConfig, StudentNet  # noqa: E402
from recipes.sst2_imdb.peers import test_set  # noqa: E402

BUCKETS = 1 << 20
# id -> (attach, target, alpha); "bag": no auxiliary term.
VARIANTS: dict[str, tuple[str, str, float]] = {
    "bag": ("", "", 0.0),
    "aux_pool_mean_0.3": ("pool", "mean", 0.3),
    "aux_pool_mean_1": ("pool", "mean", 1.0),
    "aux_pool_mean_3": ("pool", "mean", 3.0),
    "aux_hidden_mean_1": ("hidden", "mean", 1.0),
    "aux_hidden_mean_3": ("hidden", "mean", 3.0),
    "aux_pool_pooler_1": ("pool", "pooler", 1.0),
}


def say(msg: str) -> None:
    print(f"[hidden-distill {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_states(states: Path, keys: tuple[str, ...]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Texts and the arrays ``keys`` of ``teacher_states.py``'s output, row-aligned: its finished
    parts from the first on (a random sample of the set when the run was stopped early)."""
    texts = pq.read_table(states / "texts.parquet")["text"].to_pylist()
    got: dict[str, list[np.ndarray]] = {k: [] for k in ("rows", *keys)}
    for p in sorted(states.glob("part-*[0-9].npz")):
        z = np.load(p)
        if z["rows"][0] != sum(map(len, got["rows"])):
            break  # a gap: keep the contiguous prefix
        for k in got:
            got[k].append(z[k])
    if not got["rows"]:
        raise SystemExit(f"{states}: no labeled part yet")
    arrays = {k: np.concatenate(v) for k, v in got.items()}
    n = len(arrays.pop("rows"))
    say(f"{states}: {n:,} of {len(texts):,} rows labeled")
    return texts[:n], arrays


def standardised(x: np.ndarray) -> torch.Tensor:
    """``x`` [N, D] float16 with each column at mean 0 and standard deviation 1 (float16)."""
    x32 = x.astype(np.float32)
    x32 -= x32.mean(0)
    x32 /= x32.std(0) + 1e-6
    return torch.from_numpy(x32.astype(np.float16))


class Targets:
    """Row-indexable pair of soft labels and (optionally) standardised teacher states."""

    def __init__(self, probs: torch.Tensor, states: torch.Tensor | None):
        self.probs, self.states = probs, states

    def __len__(self) -> int:
        return len(self.probs)

    def __getitem__(self, rows: np.ndarray):
        return self.probs[rows], None if self.states is None else self.states[rows].float()


class AuxNet(torch.nn.Module):
    """``net`` returning its logits and, from ``attach``'s layer, a linear guess at the state."""

    def __init__(self, net: StudentNet, attach: str, state_dim: int):
        super().__init__()
        self.net, self.attach = net, attach
        width = net.embedding.weight.shape[1] if attach == "pool" else net.hidden[-1].out_features
        self.map = torch.nn.Linear(width, state_dim) if attach else None

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor):
        net = self.net
        x = pooled = net.pool(ids, offsets)
        for layer in net.hidden:
            x = net.dropout(torch.relu(layer(x)))
        logits = net.head(x)
        if self.map is None:
            return logits, None
        return logits, self.map(pooled if self.attach == "pool" else x)


def run_variant(
    name: str,
    texts: list[str],
    logits: np.ndarray,
    states: dict[str, torch.Tensor],
    work: Path,
    seed: int,
    lr: float,
    epochs: int,
) -> dict[str, Any]:
    attach, target, alpha = VARIANTS[name]
    torch.manual_seed(seed)
    fz = Featurizer(FeaturizerConfig(num_buckets=BUCKETS, word_ngrams=[1, 2]))
    ids, offsets = featurized(fz, texts, work / f"train_b20_w12_{len(texts)}.npz")
    dev = test_set({"test": str(ROOT / "data/sst2/dev.tsv")})
    test = test_set({"test": str(ROOT / "data/sst2/test.tsv")})
    dev_f, test_f = fz.batch(dev[0]), fz.batch(test[0])
    net = StudentNet(StudentModelConfig(embedding_dim=64, hidden=[64]), BUCKETS)
    model = AuxNet(net, attach, states[target].shape[1] if attach else 0)
    opts = net.configure_optimizers("adagrad", lr, 0.0, sparse=True)
    base_lr = [lr, lr]
    if model.map is not None:
        opts.append(torch.optim.Adagrad(model.map.parameters(), lr=lr))
        base_lr.append(lr)
    kd = DistillationLoss(temperature=1.0)
    probs = torch.softmax(torch.from_numpy(logits), dim=1)
    targets = Targets(probs, states[target] if attach else None)
    parts = {"kd": 0.0, "aux": 0.0, "n": 0}

    def loss_fn(out, tgt):
        (student_logits, guess), (p, s) = out, tgt
        loss = kd(student_logits, p)
        parts["kd"] += float(loss)
        parts["n"] += 1
        if guess is not None:
            aux = torch.nn.functional.mse_loss(guess, s)
            parts["aux"] += float(aux)
            loss = loss + alpha * aux
        return loss

    def score() -> tuple[float, float]:
        n = max(parts["n"], 1)
        say(f"{name}: mean kd {parts['kd'] / n:.4f}, aux {parts['aux'] / n:.4f} this epoch")
        parts.update(kd=0.0, aux=0.0, n=0)
        return accuracy(net, dev_f, dev[1]), accuracy(net, test_f, test[1])

    history = fit(
        lambda rows: model(*bags(ids, offsets, rows)),
        targets,
        loss_fn,
        opts,
        base_lr,
        "linear",
        epochs,
        128,
        seed,
        score,
        label=name,
    )
    best = max(history, key=lambda h: h["dev_accuracy"])
    return {
        "id": name,
        "settings": {"attach": attach, "target": target, "alpha": alpha, "lr": lr, "epochs": epochs},
        "seed": seed,
        "rows": len(texts),
        "best_epoch": best["epoch"],
        "dev_accuracy": best["dev_accuracy"],
        "test_accuracy": best["test_accuracy"],
        "train_seconds": history[-1]["seconds"],
        "history": history,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", default="runs/hid/states", help="teacher_states.py's output")
    ap.add_argument("--work", default="runs/hid/work", help="featurized rows are cached here")
    ap.add_argument("--variants", nargs="*", default=["bag", "aux_pool_mean_1"], choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--lr", type=float, default=0.1, help="Adagrad's rate, decayed linearly to 0")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--fasttext", action="store_true", help="also fastText on the logits' argmax")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/hidden_distill.json"))
    ap.add_argument("--append", action="store_true", help="keep --out's runs and add these to them")
    args = ap.parse_args(argv)
    keys = sorted({VARIANTS[v][1] for v in args.variants} - {""})
    texts, arrays = load_states(Path(args.states), ("logits", *keys))
    say(f"{len(texts):,} rows; teacher argmax positive {arrays['logits'].argmax(1).mean():.3f}")
    states = {k: standardised(arrays.pop(k)) for k in keys}
    rows: list[dict[str, Any]] = []
    commands = [" ".join(sys.argv)]
    if args.append and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        rows, commands = old["runs"], [*old["commands"], *commands]
        if any(r["rows"] != len(texts) for r in rows):
            raise SystemExit(f"--append: {args.out} learned from another number of rows than {len(texts):,}")
    work = Path(args.work)
    if args.fasttext:
        rows += fasttext_runs(texts, arrays["logits"].argmax(1), args.seeds, work, "teacher")
    for name in args.variants:
        for seed in args.seeds:
            rows.append(run_variant(name, texts, arrays["logits"], states, work, seed, args.lr, args.epochs))
            r = rows[-1]
            say(f"{name} seed {seed}: test {r['test_accuracy']:.4f} at best dev {r['dev_accuracy']:.4f}")
    result = {
        "experiment": "hidden_distill",
        "commands": commands,
        "states": args.states,
        "torch_threads": torch.get_num_threads(),
        "summary": summarize(sorted(rows, key=lambda r: r["id"] != "fasttext_argmax")),
        "runs": rows,
    }
    write_json(args.out, result)
    for r in result["summary"]:
        dev = "" if r["dev_accuracy"] is None else f"  dev {r['dev_accuracy']:.4f}"
        print(
            f"{r['id']:<22} test {r['test_accuracy']:.4f} ± {r['test_accuracy_std']:.4f} (seeds {r['seeds']}){dev}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

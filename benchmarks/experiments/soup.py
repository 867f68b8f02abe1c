"""Issue 30 experiment: bag students averaged in weight space (a "model soup") -> ``--out``.

An ensemble of students is more accurate than one, at a multiple of its latency; the average of
their weights serves at one student's cost, and is as good as the ensemble when the students stay
in one basin: fine-tuned from one start (Wortsman et al. 2022, "Model soups"). Here each member is
``bag_ceiling.py``'s best bag (``t1_linear_decay``: 2^20 x 64, ``[64]``, T = 1, Adagrad 0.1
decayed linearly, 3 epochs) on the recipe's stacked labels of all the transfer rows, every member
from the same initial weights (``--init-seed``) and each on its own order of the rows
(``--order-seeds``). Scored on SST-2 dev and test at the last epoch: each member, the members'
mean probabilities (the ensemble, ``--order-seeds``' count times the latency) and their mean
weights (the soup, one student's latency). Usage::

    .venv/bin/python benchmarks/experiments/soup.py --soft-labels runs/sst2_imdb/soft_transfer
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bag_ceiling import BASE, ROOT, VARIANTS, accuracy, bags, run_variant, say  # noqa: E402

from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig  # noqa: E402
from bert2dnn_ray.io import write_json  # noqa: E402
from recipes.sst2_imdb.peers import test_set  # noqa: E402

VARIANT = "t1_linear_decay"


def soup_of(models: list[torch.nn.Module]) -> torch.nn.Module:
    """``models[0]`` with every parameter set to the members' mean (in place: score the members
    and their ensemble first)."""
    others = [dict(m.named_parameters()) for m in models[1:]]
    with torch.no_grad():
        for name, p in models[0].named_parameters():
            p.copy_(torch.stack([p, *(o[name] for o in others)]).mean(0))
    return models[0]


def ensemble_accuracy(models: list[torch.nn.Module], feats, labels: np.ndarray) -> float:
    """Accuracy of the members' mean probabilities."""
    with torch.no_grad():
        probs = sum(m.eval()(*bags(*feats, np.arange(len(labels)))).softmax(1) for m in models)
    return float((probs.argmax(1).numpy() == labels).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--soft-labels", default="runs/sst2_imdb/soft_transfer")
    ap.add_argument("--work", default="runs/bag_ceiling", help="featurized rows are cached here")
    ap.add_argument("--init-seed", type=int, default=0, help="every member's initial weights")
    ap.add_argument("--order-seeds", type=int, nargs="+", default=[0, 1, 2], help="one member each")
    ap.add_argument(
        "--shared-init",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="off: each member's own init",
    )
    ap.add_argument("--max-rows", type=int, default=0, help="the first N rows only (0: all)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/soup.json"))
    args = ap.parse_args(argv)
    v = {**BASE, **VARIANTS[VARIANT]}
    fz = Featurizer(FeaturizerConfig(num_buckets=v["buckets"], word_ngrams=v["word_ngrams"]))
    sets = {}
    for split in ("dev", "test"):
        texts, labels = test_set({"test": str(ROOT / f"data/sst2/{split}.tsv")})
        sets[split] = (fz.batch(texts), labels)
    models: list[torch.nn.Module] = []
    members = []
    for seed in args.order_seeds:
        init = args.init_seed if args.shared_init else None
        r = run_variant(
            VARIANT, args.soft_labels, Path(args.work), seed, args.max_rows, init_seed=init, keep=models
        )
        last = r["history"][-1]
        members.append(
            {"order_seed": seed, "dev_accuracy": last["dev_accuracy"], "test_accuracy": last["test_accuracy"]}
        )
        say(f"member {seed}: test {last['test_accuracy']:.4f} dev {last['dev_accuracy']:.4f} (last epoch)")
    summary = {
        "members_test_accuracy": round(float(np.mean([m["test_accuracy"] for m in members])), 4),
        "members_test_accuracy_std": round(float(np.std([m["test_accuracy"] for m in members])), 4),
        "members_dev_accuracy": round(float(np.mean([m["dev_accuracy"] for m in members])), 4),
    }
    for split, (feats, labels) in sets.items():
        summary[f"ensemble_{split}_accuracy"] = round(ensemble_accuracy(models, feats, labels), 4)
    soup = soup_of(models)
    for split, (feats, labels) in sets.items():
        summary[f"soup_{split}_accuracy"] = round(accuracy(soup, feats, labels), 4)
    result = {
        "experiment": "soup",
        "command": " ".join(sys.argv),
        "variant": VARIANT,
        "settings": v,
        "init_seed": args.init_seed if args.shared_init else None,
        "rows": r["rows"],
        "summary": summary,
        "members": members,
    }
    write_json(args.out, result)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The students the recipe trains, in the report's order: data, targets and settings of each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bert2dnn_ray.student.model import StudentModelConfig

from .config import ReproduceConfig


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s keys on top, nested sections (featurizer, model) merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _student_variants(
    cfg: ReproduceConfig,
    run_dir: Path,
    first: str,
    transfer_n: int,
    sst_rows: int,
    aug_rows: int | None,
) -> list[dict[str, Any]]:
    """The students to train, in the report's order: each one's id, description, data and targets
    (and ``train``: TrainConfig keys over the shared ``student`` section)."""
    soft_t, soft_s = str(run_dir / "soft_transfer"), str(run_dir / "soft_sst2_train")
    variants: list[dict[str, Any]] = [
        {
            "id": "gold_only",
            "desc": "student, gold SST-2 labels only (no transfer)",
            "soft_labels": soft_s,
            "columns": {"text": "text", "label": "label"},
            "hard_label_weight": 1.0,
            "temperature": 1.0,
        },
        {"id": f"{first}_t1", "desc": f"student ← {first}, T=1", "target": first, "temperature": 1.0},
        {"id": f"{first}_t2", "desc": f"student ← {first}, T=2", "target": first, "temperature": 2.0},
        {"id": "stacked_t1", "desc": "student ← stacked teachers, T=1", "temperature": 1.0},
        {"id": "stacked_t2", "desc": "student ← stacked teachers, T=2", "temperature": 2.0},
        {
            "id": "stacked_t2_gold",
            "desc": f"student ← stacked T=2 + gold SST-2 (w={cfg.gold_mix_weight:g})",
            "soft_labels": [soft_s, soft_t],
            "columns": {"text": "text", "label": "label"},
            "hard_label_weight": cfg.gold_mix_weight,
            "temperature": 2.0,
        },
    ]
    for n in sorted(set(cfg.transfer_sizes)):
        if n < transfer_n:
            variants.append(
                {
                    "id": f"stacked_t2_n{n}",
                    "desc": f"student ← stacked T=2, {n:,} transfer rows",
                    "temperature": 2.0,
                    "max_rows": n,
                    "curve": n,
                }
            )
    variants[4]["curve"] = transfer_n  # the whole labeled transfer set
    if aug_rows is not None:
        # SST-2 train and its augmented copies first, then the transfer set: max_rows cuts the
        # transfer set only (the union keeps this order).
        in_domain = sst_rows + aug_rows
        for n in sorted({*(n for n in cfg.augment_transfer_sizes if n < transfer_n), transfer_n}):
            full = n == transfer_n
            variants.append(
                {
                    "id": "stacked_t2_aug" if full else f"stacked_t2_aug_n{n}",
                    "desc": "student ← stacked T=2 + SST-2 train and its augmented copies"
                    + ("" if full else f", {n:,} transfer rows"),
                    "soft_labels": [soft_s, str(run_dir / "soft_augmented"), soft_t],
                    "temperature": 2.0,
                    "max_rows": None if full else in_domain + n,
                    "aug_curve": n,
                }
            )

    def again(recipe: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """``recipe``'s data and targets for another student (off the curves, which it is not)."""
        return {**{k: v for k, v in recipe.items() if k not in ("curve", "aug_curve")}, **changes}

    # The last recipe's data again, for a student that reads the words in order.
    recipes = [variants[-1]]
    if cfg.word_order is not None:
        encoder = StudentModelConfig.model_validate(cfg.word_order.get("model") or {}).encoder
        last = recipes[0]
        recipes.append(
            again(
                last,
                id=f"{encoder}_{last['id']}",
                desc=last["desc"].replace("student ←", f"student ({encoder}) ←", 1),
                train=cfg.word_order,
                word_order=encoder,
            )
        )
        variants.append(recipes[1])
    # Those recipes again with other seeds: how far apart do two runs of one recipe land?
    seed0 = int(cfg.student.get("seed", 0))
    for last in recipes:
        own = int(last.get("train", {}).get("seed", seed0))  # the seed of the table's row
        for seed in [s for s in dict.fromkeys(cfg.seed_repeats) if s != own]:
            variants.append(
                again(
                    last,
                    id=f"{last['id']}_seed{seed}",
                    desc=f"{last['desc']}, seed {seed}",
                    seed=seed,
                    seed_of=last["id"],
                )
            )
    for v in variants:
        v.setdefault("soft_labels", soft_t)  # the transfer set, unless a recipe names its own
    return variants

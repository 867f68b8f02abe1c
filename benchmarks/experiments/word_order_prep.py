"""Issue 7 experiment, step 1: MiniLM-only soft labels for comparing students that see word order
with the bag student: SST-2 train, its 5 augmented copies and a seeded 100k IMDB sample, under
runs/wo/. The inputs and label settings are `make reproduce`'s (jobs/configs/sst2_imdb.yaml with
transfer_rows=100000), through its own helpers; only the teachers differ (MiniLM alone). Needs
`make data` and the MiniLM teacher (`bert2dnn finetune --config jobs/configs/sst2_teacher.yaml`).
Run from the repository root (the recipe is imported from there):
.venv/bin/python -m benchmarks.experiments.word_order_prep [all]
(`all`: every IMDB sentence, labeled into runs/wo/soft_transfer_all, instead of the 100k sample)."""

import sys
from pathlib import Path

from bert2dnn_ray import teacher
from bert2dnn_ray.config import apply_overrides, build, read_yaml
from recipes.sst2_imdb import run as rep
from recipes.sst2_imdb.config import ReproduceConfig

CONFIG = "jobs/configs/sst2_imdb.yaml"
ALL = sys.argv[1:] == ["all"]
sets = [] if ALL else ["transfer_rows=100000"]
cfg = build(ReproduceConfig, apply_overrides(read_yaml(CONFIG), sets), source=CONFIG)
R = Path("runs/wo")
paths = rep._prepare_inputs(cfg, R)
rep._augment_sst2(cfg, paths, R)
ft = teacher.FinetuneConfig.model_validate(cfg.finetune)
specs = [s for s in rep._teachers(cfg, ft) if s.name == "minilm"]
for name, inp, dedup, keep in [
    ("soft_sst2_train", paths["sst2_train"], "none", []),
    ("soft_augmented", str(R / "augmented" / "data"), "distinct", []),
    ("soft_transfer_all" if ALL else "soft_transfer", paths["transfer"], "distinct", []),
]:
    m = rep._label(cfg, name, inp, R / name, specs, dedup, keep)
    print(name, m["labeled_rows"], m.get("labeling_wall_seconds"), flush=True)

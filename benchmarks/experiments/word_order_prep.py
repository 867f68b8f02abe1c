"""Issue 7 experiment, step 1: MiniLM-only soft labels for comparing students that see word order
with the bag student: SST-2 train, its 5 augmented copies and a seeded 100k IMDB sample, under
runs/wo/. Needs `make data` and the MiniLM teacher (`bert2dnn finetune --config
jobs/configs/sst2_teacher.yaml`). Run from the repository root: .venv/bin/python
benchmarks/experiments/word_order_prep.py"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bert2dnn_ray import augment, label

R = Path("runs/wo")
(R / "inputs").mkdir(parents=True, exist_ok=True)
sst = R / "inputs/sst2_train.parquet"
if not sst.exists():
    t = pacsv.read_csv(
        "data/sst2/train.tsv",
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={"sentence": pa.string(), "label": pa.int64()}),
    )
    pq.write_table(
        pa.table(
            {
                "id": pa.array([f"sst2-train:{i}" for i in range(t.num_rows)]),
                "text": t["sentence"],
                "label": t["label"],
            }
        ),
        sst,
    )
imdb = R / "inputs/imdb_100000.parquet"
if not imdb.exists():
    t = pq.read_table("data/imdb/sentences.parquet", columns=["id", "text"])
    idx = np.sort(np.random.default_rng(0).choice(t.num_rows, 100_000, replace=False))
    pq.write_table(t.take(pa.array(idx)), imdb)
augment.run(
    augment.AugmentConfig.model_validate(
        {
            "variants": 5,
            "input": str(sst),
            "columns": {"text": "text", "id": "id"},
            "output_dir": str(R / "augmented"),
            "exclude": ["data/sst2/train.tsv", "data/sst2/dev.tsv", "data/sst2/test.tsv"],
            "exclude_column": "sentence",
        }
    )
)
spec = {
    "name": "minilm",
    "path": "runs/sst2/teachers/minilm",
    "max_length": 128,
    "batch_size": 128,
    "dtype": "bf16",
}
for name, inp, dedup in [
    ("soft_sst2_train", sst, "none"),
    ("soft_augmented", R / "augmented/data", "distinct"),
    ("soft_transfer", imdb, "distinct"),
]:
    m = label.run(
        label.LabelConfig.model_validate(
            {
                "temperatures": [1.0, 2.0],
                "chunk_rows": 20000,
                "input": str(inp),
                "columns": {"text": "text", "id": "id"},
                "output_dir": str(R / name),
                "teachers": [spec],
                "dedup": dedup,
            }
        )
    )
    print(name, m["labeled_rows"], m.get("labeling_wall_seconds"), flush=True)

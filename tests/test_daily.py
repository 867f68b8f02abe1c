"""``jobs/configs/daily.yaml`` two days running: day 2 labels only the texts day 1's teachers did not
see (the label store, on S3), warm-starts from day 1's student, and exports only past the gate; a worse
student is refused with one line before anything is written."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray import export, pipeline
from bert2dnn_ray.config import apply_overrides, build, read_yaml
from bert2dnn_ray.student import Student
from bert2dnn_ray.synthetic import stage as data_stage

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def _day(config: dict, name: str, overrides: list[str]) -> dict:
    cfg = build(
        pipeline.PipelineConfig, apply_overrides(config, [f"name={name}", *overrides]), source="daily"
    )
    return pipeline.run(cfg)


@pytest.fixture(scope="module")
def days(ray_session, s3_server, tiny_bert_factory, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daily")
    data = tmp / "data"
    data_stage.run(
        data_stage.DataConfig.model_validate(
            {
                "output_dir": str(data),
                "synthetic": {
                    "num_labeled": 50,
                    "num_dev": 100,
                    "num_test": 200,
                    "num_unlabeled": 3000,
                    "seed": 4,
                },
            }
        )
    )
    log = pq.read_table(data / "unlabeled.parquet")
    pq.write_table(log.slice(0, 2000), tmp / "day1.parquet")
    pq.write_table(log.slice(1000, 2000), tmp / "day2.parquet")  # day 2 repeats half of day 1
    teacher = tiny_bert_factory(4, seed=6)
    config = read_yaml(ROOT / "jobs/configs/daily.yaml")
    common = [
        f"runs_dir={tmp / 'runs'}",
        f"data.dev={data / 'dev.parquet'}",
        f"data.test={data / 'test.parquet'}",
        f"label.teachers.0.path={teacher}",
        f"label.store={s3_server[0]}/daily/{tmp.name}/label_store",  # the store on object storage
        "label.chunk_rows=1000",
        "train.epochs=1",
        "evaluate.latency_samples=5",
        "export.int8=false",
    ]
    d1 = _day(config, "day1", [*common, f"data.unlabeled={tmp / 'day1.parquet'}"])
    runs = tmp / "runs"
    d2 = _day(
        config,
        "day2",
        [
            *common,
            f"data.unlabeled={tmp / 'day2.parquet'}",
            f"train.init_from={runs / 'day1' / 'student'}",
            f"export.gate.baseline={runs / 'day1' / 'export'}",
        ],
    )
    return {"tmp": tmp, "runs": runs, "data": data, "d1": d1, "d2": d2}


def test_daily_config_reuses_labels_warm_starts_and_gates(days):
    d1, d2, runs = days["d1"], days["d2"], days["runs"]
    r1, r2 = d1["label"]["reuse"], d2["label"]["reuse"]
    assert r1["reused_distinct"] == 0 and r1["labeled_distinct"] == d1["label"]["distinct_rows"]
    # Day 2's log repeats half of day 1's: those texts came from the store, not the teachers.
    day1 = set(pq.read_table(days["tmp"] / "day1.parquet")["text"].to_pylist())
    day2 = pq.read_table(days["tmp"] / "day2.parquet")["text"].to_pylist()
    assert r2["reused_rows"] == sum(t in day1 for t in day2) >= 1000
    assert r2["fingerprint"] == r1["fingerprint"] and r2["store_rows_before"] == r1["labeled_distinct"]
    assert d2["label"]["labeled_rows"] == 2000  # every row of the day, once
    # Warm start from day 1's student; the gate compared both on the test set before exporting.
    meta = json.loads((runs / "day2" / "student" / "metrics.json").read_text())
    assert meta["settings"]["init_from"] == str(runs / "day1" / "student")
    assert d1["export"]["gate"] == {"baseline": None}
    g = d2["export"]["gate"]
    assert g["baseline"] == str(runs / "day1" / "export") and g["rows"] == 200
    assert g["accuracy"] >= g["baseline_accuracy"] - g["max_accuracy_drop"]
    assert json.loads((runs / "day2" / "export" / "export.json").read_text())["gate"] == g


def test_export_gate_refuses_a_worse_student(days, tmp_path):
    """A student that scores worse than the baseline by more than the margin is not exported."""
    from safetensors.numpy import load_file, save_file

    base_dir = days["runs"] / "day2" / "export"
    base = Student.load(base_dir)
    test = pq.read_table(days["data"] / "test.parquet")
    pred = base.predict(test["text"].to_pylist()).argmax(1)
    gold = tmp_path / "gold.parquet"  # labels the baseline gets all right
    pq.write_table(pa.table({"text": test["text"], "label": pa.array(pred, pa.int64())}), gold)
    worse = tmp_path / "worse"
    shutil.copytree(days["runs"] / "day2" / "student", worse)
    w = load_file(worse / "model.safetensors")
    rare = int(np.bincount(pred, minlength=4).argmin())
    w["head.bias"] = w["head.bias"].copy()
    w["head.bias"][rare] += 1e3  # now it always answers the class the baseline answers least
    save_file(w, worse / "model.safetensors", metadata={"format": "pt"})
    meta = json.loads((worse / "student.json").read_text())  # a re-trained artifact records its hash
    meta["weights"]["sha256"] = hashlib.sha256((worse / "model.safetensors").read_bytes()).hexdigest()
    meta["weights"]["bytes"] = (worse / "model.safetensors").stat().st_size
    (worse / "student.json").write_text(json.dumps(meta))

    out = tmp_path / "export"
    gate = {"baseline": str(base_dir), "test": str(gold), "max_accuracy_drop": 0.01}
    cfg = export.ExportConfig.model_validate(
        {"student": str(worse), "output_dir": str(out), "int8": False, "gate": gate}
    )
    with pytest.raises(export.GateRefused, match=r"refused: .* scores 0\.\d+ on .*gold\.parquet, .* below"):
        export.run(cfg)
    assert not out.exists()
    # The baseline itself passes its own gate.
    ok = export.run(cfg.model_copy(update={"student": str(days["runs"] / "day2" / "student")}))
    assert ok["gate"]["accuracy"] == ok["gate"]["baseline_accuracy"] == 1.0

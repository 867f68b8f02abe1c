"""A worker node dies while labeling / student training runs on a 3-node Ray cluster (one machine).

Each scenario runs in its own process (tests/multinode_scenario.py) with its own
``ray.cluster_utils.Cluster``, apart from the session's shared local Ray.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray import synthetic

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]


def _scenario(mode: str, work: Path, cfg: dict) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "multinode_scenario.py"), mode, str(work)],
        capture_output=True,
        text=True,
        timeout=420,
        cwd=ROOT,
    )
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("SCENARIO ")]
    assert r.returncode == 0 and lines, f"scenario failed (rc {r.returncode}):\n{r.stderr[-4000:]}"
    info = json.loads(lines[-1][len("SCENARIO ") :])
    assert info["nodes"] == 3
    assert info["killed_node"], "no worker node hosted the stage's actors: nothing was killed"
    assert info["alive_nodes_after"] == 2
    print(f"[timing] {mode}: {info}", file=sys.__stderr__)
    return info


def test_labeling_survives_a_lost_worker_node(tiny_bert_factory, tmp_path):
    n = 24_000
    texts = synthetic.generate(
        synthetic.SyntheticConfig(num_labeled=0, num_dev=0, num_test=0, num_unlabeled=n, seed=5)
    )["unlabeled"]["text"]
    ids = pa.array([f"q{i}" for i in range(n)])
    pq.write_table(pa.table({"id": ids, "text": texts}), tmp_path / "in.parquet", row_group_size=1000)
    out = tmp_path / "labels"
    info = _scenario(
        "label",
        tmp_path / "label_run",
        {
            "input": str(tmp_path / "in.parquet"),
            "columns": {"text": "text", "id": "id"},
            "output_dir": str(out),
            "teachers": [{"name": "tiny", "path": str(tiny_bert_factory(2)), "max_length": 32}],
            "chunk_rows": 1000,
            "num_actors": 2,
            "cpus_per_actor": 2,  # one actor per node: the killed node surely hosts one
            "torch_threads": 1,
        },
    )
    assert info["state_at_kill"] < info["chunks_total"] == 24  # killed mid-run
    got = pq.read_table(out / "data", columns=["row_id"])["row_id"].to_pylist()
    assert len(got) == n and set(got) == set(ids.to_pylist())  # every row exactly once
    assert info["labeled_rows"] == n


def test_student_training_survives_a_lost_worker_node(tmp_path):
    from test_student_train import _soft_labels

    soft, dev = _soft_labels(tmp_path, n=3000)
    steps_per_epoch = -(-3000 // 2 // 64)
    info = _scenario(
        "train",
        tmp_path / "train_run",
        {
            "soft_labels": str(soft),
            "dev": str(dev),
            "output_dir": str(tmp_path / "student"),
            "epochs": 2,
            "batch_size": 64,
            "learning_rate": 0.05,
            "num_workers": 2,
            "run": {
                "storage_path": str(tmp_path / "ckpt"),
                "run_name": "multinode",
                "cpus_per_worker": 2,  # one worker per node
                "driver_read_max_mb": 0,  # cached by Ray Data read tasks (the other tests read in the driver)
                "checkpoint_every_steps": 8,
            },
            "featurizer": {"num_buckets": 8192},
            "model": {"hidden": [64, 32]},
            "label_names": synthetic.label_names("query_category"),
        },
    )
    assert 8 <= info["state_at_kill"] < 2 * steps_per_epoch  # killed mid-run, after a checkpoint
    # the new worker group resumed from a checkpoint (not from step 0) and the step count is exact
    assert len(info["resumed_at_steps"]) >= 1 and info["resumed_at_steps"][0] >= 8
    assert info["global_step"] == 2 * steps_per_epoch
    assert info["history_epochs"] == [0, 1]
    assert info["dev_accuracy"] > 0.85
    # Its rows were cached in the object store by read tasks that may have run on the lost node:
    # Ray rebuilt lost blocks from their lineage.
    assert info["cached_in_object_store"]
    assert np.isfinite(info["dev_accuracy"])

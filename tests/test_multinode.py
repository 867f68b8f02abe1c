"""A worker node dies while labeling, then while student training, on a 3-node Ray cluster (one
machine).

The scenario runs in its own process (tests/multinode_scenario.py) with its own
``ray.cluster_utils.Cluster``, apart from the session's shared local Ray. Both stages share that
cluster, so a stage that leaves actors behind after a failure (holding CPUs the next stage needs)
fails the test.
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


def _scenario(work: Path, cfg: dict) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "multinode_scenario.py"), str(work)],
        capture_output=True,
        text=True,
        timeout=420,
        cwd=ROOT,
    )
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("SCENARIO ")]
    assert r.returncode == 0 and lines, f"scenario failed (rc {r.returncode}):\n{r.stderr[-4000:]}"
    info = json.loads(lines[-1][len("SCENARIO ") :])
    print(f"[timing] multinode: {info}", file=sys.__stderr__)
    assert info["nodes"] == 3
    return info


def _lost_a_node(stage: dict) -> None:
    assert stage["nodes"] == 3
    assert stage["killed_node"], "no worker node hosted the stage's actors: nothing was killed"
    assert stage["alive_nodes_after"] == 2


def _label_config(tmp_path: Path, teacher: Path, n: int) -> dict:
    texts = synthetic.generate(
        synthetic.SyntheticConfig(num_labeled=0, num_dev=0, num_test=0, num_unlabeled=n, seed=5)
    )["unlabeled"]["text"]
    ids = pa.array([f"q{i}" for i in range(n)])
    pq.write_table(pa.table({"id": ids, "text": texts}), tmp_path / "in.parquet", row_group_size=1000)
    return {
        "input": str(tmp_path / "in.parquet"),
        "columns": {"text": "text", "id": "id"},
        "output_dir": str(tmp_path / "labels"),
        "teachers": [{"name": "tiny", "path": str(teacher), "max_length": 32}],
        "chunk_rows": 1000,
        "num_actors": 2,
        "cpus_per_actor": 2,  # one actor per node: the killed node surely hosts one
        "torch_threads": 1,
    }


def _train_config(tmp_path: Path, soft: Path, dev: Path) -> dict:
    return {
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
    }


def test_label_then_training_survive_a_lost_worker_node_each(tiny_bert_factory, tmp_path):
    from test_student_train import _soft_labels

    n = 24_000
    soft, dev = _soft_labels(tmp_path, n=3000)  # labels the student can learn (the tiny teacher's are noise)
    steps_per_epoch = -(-3000 // 2 // 64)
    info = _scenario(
        tmp_path / "run",
        {
            "label": _label_config(tmp_path, tiny_bert_factory(2), n),
            "train": _train_config(tmp_path, soft, dev),
        },
    )

    lab = info["label"]
    _lost_a_node(lab)
    assert lab["state_at_kill"] < lab["chunks_total"] == 24  # killed mid-run
    got = pq.read_table(tmp_path / "labels" / "data", columns=["row_id"])["row_id"].to_pylist()
    assert len(got) == n and set(got) == {f"q{i}" for i in range(n)}  # every row exactly once
    assert lab["labeled_rows"] == n
    # The failed pool's teacher actors ended themselves (Ray Data only drops them): none holds a
    # node's CPUs once the stage is over. Their watch reads the attempt file every second.
    assert lab["teacher_actors_left"] == 0, lab
    assert not (tmp_path / "labels" / "_attempt.json").exists()

    tr = info["train"]
    _lost_a_node(tr)
    assert 8 <= tr["state_at_kill"] < 2 * steps_per_epoch  # killed mid-run, after a checkpoint
    # the new worker group resumed from a checkpoint (not from step 0) and the step count is exact
    assert len(tr["resumed_at_steps"]) >= 1 and tr["resumed_at_steps"][0] >= 8
    assert tr["global_step"] == 2 * steps_per_epoch
    assert tr["history_epochs"] == [0, 1]
    assert tr["dev_accuracy"] > 0.85 and np.isfinite(tr["dev_accuracy"])
    # Its rows were cached in the object store by read tasks that may have run on the lost node:
    # Ray rebuilt lost blocks from their lineage.
    assert tr["cached_in_object_store"]

"""A node dies mid-stage, twice, on a real multi-node Ray cluster on one machine (run by
test_multinode.py).

    python tests/multinode_scenario.py WORKDIR

Starts ``ray.cluster_utils.Cluster``: a head and two worker nodes (3 logical CPUs each). Runs the
label stage, then student training, on it (``WORKDIR/config.json`` holds both configs), with
actors/workers sized so that they spread over nodes. In each stage it waits until the stage has
committed work (a labeled chunk / a checkpoint), then kills (ungracefully) a worker node that hosts
one of the stage's actors; each stage must finish anyway. Between them it waits for the label
stage's teacher actors to be gone (a failed pool's actors must not hold the cluster's CPUs into
the next stage) and adds a node in place of the lost one, as an autoscaler would. Prints one JSON
line with what happened; the test checks the outputs.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

T0 = time.time()  # the scenario's timings (in its SCENARIO line) count from here

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _live_actors(class_fragment: str) -> list[dict]:
    """The live actors whose class name contains ``class_fragment`` (GCS actor table)."""
    from ray._private.state import state

    return [
        a
        for a in state.actor_table(None).values()
        if class_fragment in a.get("ActorClassName", "") and a.get("State") == "ALIVE"
    ]


def _actor_nodes(class_fragment: str) -> set[str]:
    """Node ids of the live actors whose class name contains ``class_fragment``."""
    return {a["Address"]["NodeID"] for a in _live_actors(class_fragment)}


def _gone_within(class_fragment: str, timeout: float) -> tuple[int, float]:
    """Wait up to ``timeout`` s for no live actor of that class; (how many are left, seconds waited)."""
    t0 = time.time()
    while (left := len(_live_actors(class_fragment))) and time.time() - t0 < timeout:
        time.sleep(0.2)
    return left, round(time.time() - t0, 1)


def _killer(cluster, ready, class_fragment: str, info: dict, timeout: float = 240) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if ready():
            hosts = _actor_nodes(class_fragment)
            victims = [n for n in cluster.worker_nodes if n.node_id in hosts]
            if victims:
                info["killed_node"] = victims[0].node_id
                info["killed_at_s"] = round(time.time() - T0, 1)
                info["state_at_kill"] = ready()
                cluster.remove_node(victims[0], allow_graceful=False)
                return
        time.sleep(0.1)
    info["killed_node"] = None


def _run_and_kill(cluster, ready, class_fragment: str, info: dict, run):
    """``run()``, while :func:`_killer` kills a worker node hosting one of its actors once
    ``ready()``; returns what ``run()`` returns."""
    t = threading.Thread(target=_killer, args=(cluster, ready, class_fragment, info), daemon=True)
    t.start()
    result = run()
    t.join(timeout=5)
    return result


def _label(cluster, cfg: dict, info: dict) -> None:
    from bert2dnn_ray import label

    lc = label.LabelConfig.model_validate(cfg)
    chunks_dir = Path(lc.output_dir, "_chunks")

    def ready():
        n = len(list(chunks_dir.glob("*.json"))) if chunks_dir.exists() else 0
        return n if n >= 1 else None

    m = _run_and_kill(cluster, ready, "ChunkLabeler", info, lambda: label.run(lc))
    info["chunks_total"] = m["chunks"]
    info["labeled_rows"] = m["labeled_rows"]
    info["teacher_actors_left"], info["teacher_actors_gone_s"] = _gone_within("ChunkLabeler", 20)


def _train(cluster, cfg: dict, info: dict) -> None:
    from raytrain_snapshot import registered_step

    from bert2dnn_ray.student import train

    tc = train.TrainConfig.model_validate(cfg)
    ckpt_root = Path(tc.run.storage_path, tc.run.run_name)

    def ready():
        return registered_step(ckpt_root)  # a checkpoint Ray Train has registered

    m = _run_and_kill(cluster, ready, "RayTrainWorker", info, lambda: train.run(tc))
    info["global_step"] = m["global_step"]
    info["resumed_at_steps"] = m["resumed_at_steps"]
    info["history_epochs"] = [h["epoch"] for h in m["history"]]
    info["dev_accuracy"] = m["best"].get("dev_accuracy")
    info["cached_in_object_store"] = m["cached_in_object_store"]


def main() -> int:
    import ray
    from ray.cluster_utils import Cluster

    work = Path(sys.argv[1])
    cfg = json.loads((work / "config.json").read_text())
    # Faster detection of a dead node than Ray's default (~15 s: 5 missed checks, 3 s apart),
    # still tolerant of a raylet stalled a few seconds on a busy 2-core machine.
    fast_health = {
        "health_check_period_ms": 1000,
        "health_check_timeout_ms": 2000,
        "health_check_failure_threshold": 3,
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 3, "include_dashboard": False, "_system_config": fast_health},
    )
    for _ in range(2):
        cluster.add_node(num_cpus=3)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    info: dict = {"nodes": len(ray.nodes()), "cluster_up_s": round(time.time() - T0, 1)}
    try:
        for stage, run in (("label", _label), ("train", _train)):
            if stage == "train":  # a node in place of the one the label stage lost
                cluster.add_node(num_cpus=3)
                cluster.wait_for_nodes()
            info[stage] = {"nodes": sum(1 for n in ray.nodes() if n["Alive"])}
            run(cluster, cfg[stage], info[stage])
            info[stage]["done_s"] = round(time.time() - T0, 1)
            info[stage]["alive_nodes_after"] = sum(1 for n in ray.nodes() if n["Alive"])
            if info[stage].get("teacher_actors_left"):
                break  # training would wait for their CPUs until it timed out
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("SCENARIO " + json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A node dies mid-job on a real multi-node Ray cluster on one machine (run by test_multinode.py).

    python tests/multinode_scenario.py {label|train} WORKDIR

Starts ``ray.cluster_utils.Cluster``: a head and two worker nodes (3 logical CPUs each), runs the
stage against it with actors/workers sized so that they spread over nodes, waits until the
stage has committed work (a labeled chunk / a checkpoint), then kills (ungracefully) a worker
node that hosts one of the stage's actors. The stage must finish anyway. Prints one JSON line
with what happened; the test checks the outputs.
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


def _actor_nodes(class_fragment: str) -> set[str]:
    """Node ids of the live actors whose class name contains ``class_fragment`` (GCS actor table)."""
    from ray._private.state import state

    nodes = set()
    for a in state.actor_table(None).values():
        if class_fragment in a.get("ActorClassName", "") and a.get("State") == "ALIVE":
            nodes.add(a["Address"]["NodeID"])
    return nodes


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


def main() -> int:
    import ray
    from ray.cluster_utils import Cluster

    mode, work = sys.argv[1], Path(sys.argv[2])
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
    info: dict = {"mode": mode, "nodes": len(ray.nodes()), "cluster_up_s": round(time.time() - T0, 1)}
    try:
        if mode == "label":
            from bert2dnn_ray import label

            lc = label.LabelConfig.model_validate(cfg)
            chunks_dir = Path(lc.output_dir, "_chunks")

            def ready():
                n = len(list(chunks_dir.glob("*.json"))) if chunks_dir.exists() else 0
                return n if n >= 1 else None

            t = threading.Thread(target=_killer, args=(cluster, ready, "ChunkLabeler", info), daemon=True)
            t.start()
            m = label.run(lc)
            info["chunks_total"] = m["chunks"]
            info["labeled_rows"] = m["labeled_rows"]
        else:
            from bert2dnn_ray.student import train

            tc = train.TrainConfig.model_validate(cfg)
            ckpt_root = Path(tc.run.storage_path, tc.run.run_name)

            from raytrain_snapshot import registered_step

            def ready():
                return registered_step(ckpt_root)  # a checkpoint Ray Train has registered

            t = threading.Thread(target=_killer, args=(cluster, ready, "RayTrainWorker", info), daemon=True)
            t.start()
            m = train.run(tc)
            info["global_step"] = m["global_step"]
            info["resumed_at_steps"] = m["resumed_at_steps"]
            info["history_epochs"] = [h["epoch"] for h in m["history"]]
            info["dev_accuracy"] = m["best"].get("dev_accuracy")
            info["cached_in_object_store"] = m["cached_in_object_store"]
        t.join(timeout=5)
        info["stage_done_s"] = round(time.time() - T0, 1)
        info["alive_nodes_after"] = sum(1 for n in ray.nodes() if n["Alive"])
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("SCENARIO " + json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The GPU benchmark's code runs in CI on the CPU (``--device cpu --quick``), so that the script
``make bench-label-gpu`` runs on a lent GPU cannot rot where no GPU is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_bench_label_gpu_dry_run_on_cpu(tmp_path, session_address):
    out = tmp_path / "bench_label_gpu.json"
    # The script joins the session's Ray, as a job joins a cluster (its own would take ~6 s to start).
    env = {**os.environ, "RAY_ADDRESS": session_address}
    r = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_label_gpu.py",
            "--device",
            "cpu",
            "--quick",
            "--teachers",
            "minilm-l6",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    t = res["teachers"]["minilm-l6"]
    assert t["model_forward"]["rows_per_s"] > 0 and t["runner"]["rows_per_s"] > 0
    stage = t["label_stage"][0]
    assert stage["rows"] == 2000 and stage["num_gpus_per_actor"] == 0.0
    assert res["gpu"]["name"].startswith("none")

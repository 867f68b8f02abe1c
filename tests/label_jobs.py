"""A labeling job run as a Ray Job's driver would be, and killed mid-run (the resume tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def sigkill_label_job(cfg, tmp_path: Path, address: str, chunks: Path, timeout: float = 240) -> None:
    """Run ``bert2dnn label`` with ``cfg`` as a job driver joining the session's cluster (as a Ray
    Job's driver does) and SIGKILL it once a chunk is committed under ``chunks``; killing the driver
    takes its actor pool down with it (Ray ends the actors of a dead owner)."""
    import yaml

    cfg_file = tmp_path / "label.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    env = {**os.environ, "RAY_ADDRESS": address, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bert2dnn_ray", "label", "--config", str(cfg_file)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and not (chunks.exists() and any(chunks.glob("*.json"))):
            time.sleep(0.05)
            assert proc.poll() is None, "labeling ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

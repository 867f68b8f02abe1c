"""Which checkpoint Ray Train's controller has registered (shared by the kill-and-resume tests).

Ray Train writes a checkpoint's directory first and registers it afterwards, in
``<run dir>/checkpoint_manager_snapshot.json``; a resumed run starts from the latest registered
one. A test that kills a run "after a checkpoint" waits for this, not for the directory
(:func:`kill_when`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def kill_when(address: str, stage: str, cfg: Any, tmp_path: Path, ready: Callable[[], bool]) -> None:
    """Run ``python -m bert2dnn_ray <stage> --config`` (``cfg``, a pydantic config) as a job driver
    of the Ray cluster at ``address`` and SIGKILL its process group once ``ready()``."""
    import yaml

    cfg_file = tmp_path / f"{stage}.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bert2dnn_ray", stage, "--config", str(cfg_file)],
        cwd=ROOT,
        env={**os.environ, "RAY_ADDRESS": address},  # SIGKILL of a job driver
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    try:
        while time.time() < deadline and not ready():
            time.sleep(0.05)
            assert proc.poll() is None, f"{stage} ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def registered_checkpoint(run_dir: str | Path) -> dict[str, Any] | None:
    """The snapshot's ``latest_checkpoint_result``, or None while none is registered.
    ``run_dir`` may be a URI (``s3://...``)."""
    from bert2dnn_ray import io

    try:
        snap = json.loads(io.read_text(io.join(str(run_dir), "checkpoint_manager_snapshot.json")))
    except (OSError, ValueError):
        return None
    return snap.get("latest_checkpoint_result") or None


def registered_step(run_dir: str | Path) -> int | None:
    """``global_step`` of the latest registered checkpoint (students report it), or None."""
    latest = registered_checkpoint(run_dir)
    return None if latest is None else latest.get("metrics", {}).get("global_step")

"""Which checkpoint Ray Train's controller has registered (shared by the kill-and-resume tests).

Ray Train writes a checkpoint's directory first and registers it afterwards, in
``<run dir>/checkpoint_manager_snapshot.json``; a resumed run starts from the latest registered
one. A test that kills a run "after a checkpoint" waits for this, not for the directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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

"""Resuming a streamed epoch by skipping whole files instead of re-reading them.

A student whose rows are cached in the object store resumes mid-epoch by replaying the epoch's
batches from memory and discarding those it trained before (exact, and cheap). A streamed epoch
(rows that do not fit the cache) would re-read and re-featurize every file it had already trained
on; at hundreds of millions of rows that is hours. So when the driver starts, it looks up where
the run's last registered checkpoint stopped (:func:`point`, from Ray Train's
``checkpoint_manager_snapshot.json`` under ``<storage_path>/<run_name>``). If that was mid-epoch,
the rows already trained are about ``epoch_step x batch_size x workers`` of the epoch's stream;
the files (in the epoch's seeded order) that end before that, less a margin for the rows still in
the workers' shuffle buffers (:func:`margin_rows`), are skipped whole (:func:`skip_prefix`), and the
workers finish the epoch on a second dataset of the remaining files (:func:`..inputs.remaining`).

The trade-off, by design: the rows of the files the checkpoint cut through (the margin) are
trained twice in that epoch, and a row of a skipped file that was still in a shuffle buffer at the
checkpoint is not trained in that epoch (a few hundred rows per worker out of millions). A worker
whose checkpoint is not the one the driver saw (Ray Train restarted it later in the same run)
falls back to discarding batches, which is exact.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import io

SNAPSHOT = "checkpoint_manager_snapshot.json"


def point(run_dir: str) -> dict[str, int] | None:
    """Where the run's latest registered checkpoint stopped, when that was mid-epoch:
    ``{"epoch", "epoch_step", "global_step"}``; None for a new run, an epoch's end, or a snapshot
    this code cannot read (the workers then discard batches instead, as always)."""
    try:
        snap = json.loads(io.read_text(io.join(run_dir, SNAPSHOT)))
        metrics = (snap.get("latest_checkpoint_result") or {}).get("metrics") or {}
    except (OSError, ValueError, AttributeError):
        return None
    if "epoch_completed" in metrics or not metrics.get("epoch_step"):
        return None
    try:
        return {k: int(metrics[k]) for k in ("epoch", "epoch_step", "global_step")}
    except (KeyError, TypeError, ValueError):
        return None


def margin_rows(batch_size: int, window: int, shuffle_buffer: int, world: int) -> int:
    """Rows a checkpoint may have read but not trained: every worker's shuffle buffer and window."""
    return world * (shuffle_buffer + window + batch_size)


def skip_prefix(rows: list[int], trained: int) -> tuple[int, int]:
    """How many leading files (of ``rows`` rows each) end within the first ``trained`` rows, and
    their rows: the files a resumed epoch skips."""
    n = total = 0
    for r in rows:
        if total + r > trained:
            break
        n, total = n + 1, total + r
    return n, total


def file_rows(files: list[str], threads: int = 16) -> list[int]:
    """Rows of each Parquet file, from the footers (read in parallel: object storage is slow per call)."""
    import pyarrow.parquet as pq

    def rows(path: str) -> int:
        fs, p = io.filesystem(path)
        with fs.open_input_file(p) as f:
            return pq.ParquetFile(f).metadata.num_rows

    with ThreadPoolExecutor(min(threads, max(1, len(files)))) as pool:
        return list(pool.map(rows, files))


def describe(at: dict[str, Any], skipped_files: int, files: int, skipped_rows: int, left_rows: int) -> str:
    return (
        f"resuming epoch {at['epoch'] + 1} at step {at['global_step']:,}: skipping {skipped_files:,} of "
        f"{files:,} files ({skipped_rows:,} rows already trained); {left_rows:,} rows left to stream"
    )

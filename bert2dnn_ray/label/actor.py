"""The teacher actor: loads every teacher once, then labels one chunk per call and commits it (the
chunk's rows read and prepared by a CPU task, :func:`.rows.read_task`).

A chunk's part (``data/part-<chunk>.parquet``) is written atomically, then its stats file
(``_chunks/<chunk>.json``), written last, commits it. A user-facing error (a bad row layout, a
teacher that cannot be used) is returned as the call's result instead of raised, so that Ray does
not retry what cannot succeed: the driver raises it at once as one line.

An actor belongs to one run of the pool (an attempt, named in ``_attempt.json``, see :mod:`.pool`)
and ends itself once the driver names another attempt there or removes the file.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pyarrow as pa

from .. import io, softlabels
from ..errors import Bert2dnnError
from ..metrics import softmax
from ..progress import peak_rss_bytes
from ..stacking import stack_logits
from ..teachers import TeacherRunner
from .config import LabelConfig
from .rows import from_ipc

CHUNKS_DIR = "_chunks"
ATTEMPT = "_attempt.json"
# How often an actor reads the attempt file: a local file costs nothing, an object store a request.
WATCH_S = {"local": 1.0, "remote": 10.0}


def error_result(chunk_id: str, e: Bert2dnnError) -> dict[str, Any]:
    """A chunk's result that carries a user-facing error instead of stats."""
    return {"chunk_id": chunk_id, "error": str(e), "error_type": type(e).__name__}


def result_table(results: list[dict[str, Any]]) -> pa.Table:
    return pa.table({"chunk_id": [r["chunk_id"] for r in results], "stats": [json.dumps(r) for r in results]})


def attempt_state(marker: str, token: str) -> str:
    """``current`` while ``marker`` names the pool run ``token``; ``replaced`` once it names another
    (that run failed), ``ended`` once it is gone (labeling is over). A file that cannot be read now
    (a write in progress, a storage hiccup) counts as current."""
    try:
        if not io.exists(marker):
            return "ended"
        return "current" if io.read_json(marker).get("token") == token else "replaced"
    except (OSError, ValueError):
        return "current"


def watch_attempt(marker: str, token: str, period: float | None = None) -> None:
    """Run in a teacher actor's thread: end the actor (``ray.kill`` of itself, so Ray records it as
    killed, not crashed) once its pool run is over. It may be mid-chunk: a chunk commits whole or
    not at all, and the run that replaced this one labels every chunk not committed when it began."""
    import ray

    if period is None:
        period = WATCH_S["remote" if io.is_uri(marker) else "local"]
    while (state := attempt_state(marker, token)) == "current":
        time.sleep(period)
    if state == "replaced":  # at the normal end Ray Data is ending the actor anyway: nothing to say
        print(
            f"label: this teacher actor's pool run failed and was replaced ({marker}); ending the actor",
            flush=True,
        )
    ray.kill(ray.get_runtime_context().current_actor, no_restart=True)


def _fsl(values: np.ndarray) -> pa.FixedSizeListArray:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


class ChunkLabeler:
    """Ray Data actor: loads the teachers once; labels one chunk per call and writes it."""

    def __init__(self, payload: dict[str, Any]):
        self.error: Bert2dnnError | None = None
        if attempt := payload.get("attempt"):  # absent outside a pool (a benchmark's in-process labeler)
            threading.Thread(
                target=watch_attempt,
                args=(attempt["marker"], attempt["token"]),
                name="bert2dnn-attempt",
                daemon=True,
            ).start()
        try:
            self._setup(payload)
        except Bert2dnnError as e:  # reported with the first chunk, not retried by Ray
            self.error = e

    def _setup(self, payload: dict[str, Any]) -> None:
        import torch

        cfg = LabelConfig.model_validate(payload["cfg"])
        self.cfg = cfg
        self.stacker = payload["stacker"]
        device = "cpu"
        if cfg.num_gpus_per_actor > 0:
            device = "cuda"
        else:
            torch.set_num_threads(payload["threads"])
        self.runners = [TeacherRunner(t, device, cfg.trust_remote_code) for t in cfg.teachers]

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = []
        for row in batch.to_pylist():
            chunk, stats = json.loads(row["chunk"]), json.loads(row["stats"])
            if "error" in chunk:  # the read task's error, passed on
                out.append(chunk)
            elif self.error is not None:
                out.append(error_result(chunk["chunk_id"], self.error))
            else:
                try:
                    out.append(self.label_chunk(chunk, from_ipc(row["rows"]), stats))
                except Bert2dnnError as e:
                    out.append(error_result(chunk["chunk_id"], e))
        return result_table(out)

    def label_chunk(self, spec: dict[str, Any], good: pa.Table, stats: dict[str, Any]) -> dict[str, Any]:
        """Label one chunk's prepared rows, write its part, commit it; return its stats."""
        t0, started_at = time.perf_counter(), time.time()
        cfg, cols = self.cfg, self.cfg.columns
        texts = good[cols.text].to_pylist()
        pairs = good[cols.pair].to_pylist() if cols.pair else None
        out: dict[str, Any] = {name: good[name] for name in good.column_names}
        all_logits, truncated_any = [], np.zeros(good.num_rows, dtype=bool)
        teacher_stats = {}
        for runner in self.runners:
            t_teacher = time.perf_counter()
            logits, trunc = runner.logits(texts, pairs)
            t_teacher = time.perf_counter() - t_teacher
            all_logits.append(logits)
            truncated_any |= trunc
            name = runner.spec.name
            out[softlabels.logits_column(name)] = _fsl(logits)
            for t in cfg.temperatures:
                out[softlabels.probs_column(name, t)] = _fsl(softmax(logits, t))
            teacher_stats[name] = {
                "seconds": t_teacher,
                "truncated": int(trunc.sum()),
                "class_counts": np.bincount(logits.argmax(1), minlength=logits.shape[1]).tolist()
                if len(logits)
                else [],
            }
        stacked = stack_logits(all_logits, self.stacker)
        out[softlabels.logits_column(softlabels.STACKED)] = _fsl(stacked)
        for t in cfg.temperatures:
            out[softlabels.probs_column(softlabels.STACKED, t)] = _fsl(softmax(stacked, t))
        out[softlabels.TRUNCATED] = pa.array(truncated_any)
        io.write_parquet_atomic(
            pa.table(out), io.join(cfg.output_dir, softlabels.part_file(spec["chunk_id"]))
        )
        stats.update(
            labeled_rows=good.num_rows,
            truncated_rows=int(truncated_any.sum()),
            teachers=teacher_stats,
            seconds=time.perf_counter() - t0,
            started_at=started_at,
            finished_at=time.time(),
            actor_peak_rss_bytes=peak_rss_bytes(),
        )
        # The stats file commits the chunk: written last, atomically.
        io.write_json(io.join(cfg.output_dir, CHUNKS_DIR, f"{spec['chunk_id']}.json"), stats)
        return stats

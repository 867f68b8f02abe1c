"""The teacher actor pool: every chunk not yet committed goes through :class:`.actor.ChunkLabeler`
actors on Ray Data, with progress (rows done, rate, time left) and retries of lost work.

Each run of the pool (an *attempt*) names itself in ``<output_dir>/_attempt.json``, which the
driver rewrites for the next attempt and removes when labeling ends. A teacher actor whose attempt
is no longer named there ends itself (:func:`.actor.watch_attempt`): when a pool fails, Ray Data
drops its actors without killing them, and one still busy would otherwise hold its GPU or CPUs
until the driver exits (ray-project/ray#24711), in the way of the next attempt and the next stage.

Tasks report user-facing errors as data (``{"error": ..., "error_type": ...}``), so a config or
input problem found inside a Ray task or actor is raised here at once, as one line, never retried.
"""

from __future__ import annotations

import json
import uuid
import warnings
from typing import Any

from .. import io
from ..errors import Bert2dnnError, ConfigError, by_name, one_line
from ..progress import Eta, log
from ..runtime import actor_cpus, cluster_address, init_ray, torch_threads
from .actor import ATTEMPT, ChunkLabeler
from .config import LabelConfig
from .manifest import committed
from .plan import chunks_of
from .rows import read_task


def raise_reported(result: dict[str, Any]) -> None:
    """Raise the user-facing error a task reported instead of its result, if it did."""
    if "error" in result:
        raise by_name(result["error_type"])(result["error"])


def label_chunks(
    cfg: LabelConfig, plan: dict[str, Any], stacker: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Label every chunk of ``plan`` not yet committed under ``cfg.output_dir``; return the stats of
    every committed chunk (read from the output once, then kept as chunks commit).

    A failure while the pool runs (a lost node or actor, an out-of-memory kill) costs only the
    chunks in flight: committed chunks stay, and the unfinished ones run again. The run gives up
    after ``max_attempts`` runs of the pool in a row that commit nothing (a run that made progress
    does not count against it). A user-facing error (bad input, an unusable teacher) is never retried.
    """
    chunks = chunks_of(plan)
    ids = {c["chunk_id"]: c for c in chunks}
    done = committed(cfg.output_dir)
    stray = [k for k, s in done.items() if k not in ids or s.get("file") != ids[k]["name"]]
    if stray:
        raise ConfigError(
            f"{cfg.output_dir}: chunk {stray[0]} was committed under another plan of this input (an "
            "earlier version of bert2dnn); set force=true to label it again"
        )
    failures = 0
    marker = io.join(cfg.output_dir, ATTEMPT)
    try:
        while True:
            pending = [c for c in chunks if c["chunk_id"] not in done]
            log(
                "label",
                f"{len(chunks)} chunks planned, {len(done)} already done, {len(pending)} to label "
                f"with {len(cfg.teachers)} teacher(s)"
                + (f" (attempt {failures + 1}/{cfg.max_attempts})" if failures else ""),
            )
            if not pending:
                return done
            before = len(done)
            attempt = {"marker": marker, "token": uuid.uuid4().hex}
            io.write_json(marker, {"token": attempt["token"]})  # ends the actors of earlier attempts
            try:
                _label_pending(cfg, plan, stacker, done, attempt)
                _log_actor_memory(cfg, [done[c["chunk_id"]] for c in pending])
                return done
            except Exception as e:  # noqa: BLE001 - the error is re-raised after the last attempt
                failures = 0 if len(done) > before else failures + 1
                if isinstance(e, Bert2dnnError) or failures >= cfg.max_attempts:
                    raise
                log(
                    "label",
                    f"the actor pool failed ({type(e).__name__}: {one_line(e, 200)}); labeling the "
                    "unfinished chunks again",
                )
    finally:
        io.remove(marker)


def _log_actor_memory(cfg: LabelConfig, stats: list[dict[str, Any]]) -> None:
    """Log the teacher actors' peak memory over these committed chunks, to size ``memory_per_actor_gb``."""
    peaks = [p for s in stats if (p := s.get("actor_peak_rss_bytes"))]
    if not peaks:
        return
    gib = max(peaks) / 2**30
    if cfg.memory_per_actor_gb is None:
        hint = f"; on a cluster set memory_per_actor_gb (e.g. {gib * 1.25:.1f}) so Ray places no more actors than fit"
    elif gib > cfg.memory_per_actor_gb:
        hint = f", above memory_per_actor_gb={cfg.memory_per_actor_gb:g}: raise it"
    else:
        hint = f" (memory_per_actor_gb={cfg.memory_per_actor_gb:g})"
    log("label", f"teacher actors peaked at {gib:.1f} GiB of memory each{hint}")


def actor_options(cfg: LabelConfig) -> dict[str, Any]:
    """The Ray resources each teacher actor asks for."""
    opts: dict[str, Any] = {
        "num_cpus": actor_cpus(cfg.cpus_per_actor, cfg.num_actors) if not cfg.num_gpus_per_actor else 1,
        "num_gpus": cfg.num_gpus_per_actor or None,
    }
    if cfg.memory_per_actor_gb is not None:
        opts["memory"] = int(cfg.memory_per_actor_gb * 2**30)
    if cfg.num_gpus_per_actor:
        # A GPU actor's tokenizer may use its own threads (the GPU would otherwise wait on one core);
        # elsewhere the workers keep TOKENIZERS_PARALLELISM off, beside torch's threads.
        opts["runtime_env"] = {"env_vars": {"TOKENIZERS_PARALLELISM": "true"}}
    # An actor that dies (a lost node, an out-of-memory kill) fails the pool's run, and label_chunks
    # runs the unfinished chunks again on the nodes there are: the committed chunks are the state,
    # so nothing depends on Ray restarting an actor (which, Ray warns, fails when the actor's
    # constructor arguments are lost with a node; ray-project/ray#53727, printed for every pool).
    opts["max_restarts"] = 0
    return opts


def _progress(pending: list[dict[str, Any]], done: dict[str, dict[str, Any]]) -> Eta:
    """Rows when every chunk's row count is planned (Parquet), else chunks."""
    if all(c["rows"] >= 0 for c in pending):
        before = sum(s["input_rows"] for s in done.values())
        return Eta(before + sum(c["rows"] for c in pending), done_before=before)
    return Eta(len(done) + len(pending), done_before=len(done), unit="chunks")


def read_options(cfg: LabelConfig) -> dict[str, Any]:
    """The Ray resources each read task asks for: on a small local machine a fraction of a CPU, so
    read tasks and teacher actors share it; else one CPU (``read_cpus`` sets it)."""
    if cfg.read_cpus is not None:
        return {"num_cpus": cfg.read_cpus}
    return {"num_cpus": actor_cpus(None, 2) if cluster_address(cfg.address) is None else 1.0}


def _label_pending(
    cfg: LabelConfig,
    plan: dict[str, Any],
    stacker: dict[str, Any],
    done: dict[str, dict[str, Any]],
    attempt: dict[str, str],
) -> None:
    """One run of the pipeline (the attempt ``attempt`` names): read tasks (CPU) prepare the pending
    chunks of every unit, teacher actors label them; ``done`` gains each chunk as it commits."""
    import ray
    import ray.data

    init_ray(cfg.address)
    opts = actor_options(cfg)
    have = ray.cluster_resources().get("memory", 0.0)
    if "memory" in opts and cluster_address(cfg.address) is None and opts["memory"] > have:
        # A local Ray never grows: an actor asking for more than it has would wait forever.
        raise ConfigError(
            f"label.memory_per_actor_gb={cfg.memory_per_actor_gb:g} is more than this machine's Ray "
            f"memory ({have / 2**30:.1f} GiB); lower it or leave it unset"
        )
    payload = {
        "cfg": cfg.model_dump(),
        "stacker": stacker,
        "threads": torch_threads(cfg.torch_threads),
        "attempt": attempt,
    }
    units = [u for u in plan["units"] if any(c["chunk_id"] not in done for c in u["chunks"])]
    pending = [c for u in units for c in u["chunks"] if c["chunk_id"] not in done]
    ds = ray.data.from_items(units, override_num_blocks=len(units))
    ds = ds.map_batches(
        read_task,
        batch_size=1,
        batch_format="pyarrow",
        fn_kwargs={"cfg_dict": cfg.model_dump(), "done": sorted(done)},
        **read_options(cfg),
    )
    with warnings.catch_warnings():
        # max_restarts has no named parameter in Ray 2.60 (the version pinned); its keyword warns
        # of its removal in Ray 2.64.
        warnings.filterwarnings(
            "ignore", message="`ray_remote_args` is deprecated", category=DeprecationWarning
        )
        ds = ds.map_batches(
            ChunkLabeler,
            fn_constructor_kwargs={"payload": payload},
            batch_size=1,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=cfg.num_actors),
            **opts,
        )
    eta = _progress(pending, done)
    for row in ds.iter_rows():
        s = json.loads(row["stats"])
        raise_reported(s)  # a user-facing error: at once, not after Ray's retries
        done[s["chunk_id"]] = s
        text = eta.update(s["input_rows"] if eta.unit == "rows" else 1)
        log(
            "label",
            f"chunk {s['chunk_id']}: {s['labeled_rows']} labeled, {s['quarantined_rows']} quarantined; {text}",
        )

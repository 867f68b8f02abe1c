"""Ray runtime: join a cluster or start a local one, progress logging, run directories."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError

_T0 = time.monotonic()


def log(stage: str, msg: str) -> None:
    """Progress line on stderr: elapsed seconds, stage, message."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {stage:>9} | {msg}", file=sys.stderr, flush=True)


def cluster_address(address: str | None = None) -> str | None:
    """The cluster to join: explicit ``address`` first, then ``RAY_ADDRESS``; None means local."""
    addr = address or os.environ.get("RAY_ADDRESS") or None
    return addr if addr and addr.lower() != "local" else None


LOCAL_TRAIN_ENV = {
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5",
}


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to ``address`` / ``RAY_ADDRESS``, or start a local Ray with the dashboard off.

    Idempotent: does nothing if Ray is already initialised in this process (tests share one).
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Ray Train patches print() in its workers to go to its logger *and* (when the stream is
    # wrapped, as in a Ray worker) to the stream: every progress line reached the driver twice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    # Workers inherit the driver's environment: keep the HF libraries offline-safe and quiet.
    env_vars = {
        k: os.environ[k]
        for k in (
            "HF_HUB_OFFLINE",
            "TRANSFORMERS_OFFLINE",
            "HF_HOME",
            "TOKENIZERS_PARALLELISM",
            "HF_HUB_DISABLE_PROGRESS_BARS",
            "RAY_TRAIN_ENABLE_PRINT_PATCH",
        )
        if k in os.environ
    }
    runtime_env: dict[str, Any] = {"env_vars": env_vars} if env_vars else {}
    addr = cluster_address(address)
    if addr:
        log("ray", f"joining cluster at {addr}")
        ray.init(address=addr, runtime_env=runtime_env or None, log_to_driver=True)
    else:
        log("ray", f"starting local Ray ({num_cpus or os.cpu_count()} CPUs, dashboard off)")
        # One machine: no spot preemption to watch for (one actor fewer per Ray Train run), and
        # a finished run is noticed within half a second instead of two. Set either variable to
        # override; the local cluster's actors inherit them.
        for k, v in LOCAL_TRAIN_ENV.items():
            os.environ.setdefault(k, v)
        # With the dashboard off there is no State API: Ray Train's placement-group cleaner
        # would log "Failed to query Ray Train Controller actor state" every second of every
        # fit. Its job (removing a dead controller's placement group) is done here by the
        # driver's own exit, so its workers log at ERROR only (see quiet_local_worker_logs).
        runtime_env["worker_process_setup_hook"] = f"{__name__}.quiet_local_worker_logs"
        ray.init(
            # "local": always a private Ray; never attach to whatever cluster this machine
            # started last (/tmp/ray/ray_current_cluster), which may be stale or someone else's.
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            dashboard_host="127.0.0.1",
            runtime_env=runtime_env,
            log_to_driver=True,
            configure_logging=True,
            logging_level="WARNING",
        )
    _quiet_ray_data()


# Loggers whose warnings only say that a local Ray has no dashboard / State API.
_NO_STATE_API_LOGGERS = ("ray.train.v2._internal.execution.controller.placement_group_cleaner",)


def quiet_local_worker_logs() -> None:
    """Worker setup hook of the local Ray: silence warnings about the absent State API."""
    import logging

    for name in _NO_STATE_API_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def _quiet_ray_data() -> None:
    try:
        from ray.data import DataContext

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = sys.stderr.isatty()
        ctx.print_on_execution_start = False
        # Ray Data repeats its "uses N GiB per worker but requests none" warning every 30 s for as
        # long as a pool runs (16 lines each time); the label stage logs its actors'
        # peak once instead (LabelConfig.memory_per_actor_gb reserves it).
        ctx.issue_detectors_config.high_memory_detector_config.detection_time_interval_s = 600
    except Exception:  # pragma: no cover - cosmetic only
        pass


def cluster_cpus() -> float:
    import ray

    return float(ray.cluster_resources().get("CPU", 1.0))


def cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))


def actor_cpus(requested: float | None, num_actors: int = 1) -> float:
    """CPUs to reserve per actor.

    ``requested`` wins when given. Otherwise an actor takes at most half the cluster's CPUs
    divided among the pool, so read/write tasks always have room: on a 2-core machine a
    pool of 1 actor gets 0.5 CPU and never starves the tasks feeding it.
    """
    if requested is not None:
        return float(requested)
    total = cluster_cpus()
    return max(0.05, min(1.0, total / (4.0 * max(1, num_actors))))


def torch_threads(requested: int | None) -> int:
    """Intra-op threads for torch inside an actor or worker (defaults to the node's cores)."""
    if requested:
        return int(requested)
    return max(1, os.cpu_count() or 1)


def write_json_atomic(path: str | Path, data: Any) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def read_json(path: str | Path) -> Any:
    if "://" in str(path):
        from . import io

        return io.read_json(str(path))
    return json.loads(Path(path).read_text(encoding="utf-8"))


SUCCESS = "_SUCCESS.json"


def mark_done(out_dir: str | Path, info: dict[str, Any]) -> None:
    """Mark a stage's output directory (a path or a URI) complete: the pipeline skips it."""
    from . import io

    info = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **info}
    io.write_json(io.join(str(out_dir), SUCCESS), info)


def is_done(out_dir: str | Path) -> bool:
    from . import io

    return io.exists(io.join(str(out_dir), SUCCESS))


def changed_settings(
    old: dict[str, Any], new: dict[str, Any], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """``(key, old value, new value)`` for each key of ``new`` that ``old`` has with another value;
    nested settings (``model``: {...}) are compared key by key, as ``model.embedding_dim``. Keys
    missing from ``old`` (an output from before a setting existed) are not compared."""
    out: list[tuple[str, Any, Any]] = []
    for k, v in new.items():
        if k not in old:
            continue
        if isinstance(v, dict) and isinstance(old[k], dict):
            out += changed_settings(old[k], v, f"{prefix}{k}.")
        elif old[k] != v:
            out.append((f"{prefix}{k}", old[k], v))
    return out


def refuse_other_settings(
    stage: str, out_dir: str | Path, written: dict[str, Any], now: dict[str, Any]
) -> None:
    """A complete output made with other settings is not this run's output: refuse to skip to it
    (whatever was made from it would silently be stale too)."""
    diff = [f"{k}: {a!r} -> {b!r}" for k, a, b in changed_settings(written, now)]
    if diff:
        raise ConfigError(
            f"{stage}: {out_dir} was written with other settings ({'; '.join(diff)}); set force=true to "
            "redo it, then redo whatever was made from it"
        )


def fresh_run(storage_path: str, run_name: str) -> None:
    """Forget a Ray Train run's checkpoints: the next ``fit`` starts from scratch (``force``), or
    a finished run stops holding them (``prune_checkpoints``)."""
    import shutil

    if "://" in storage_path:
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(storage_path.rstrip("/") + "/" + run_name)
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)
    else:
        shutil.rmtree(os.path.join(storage_path, run_name), ignore_errors=True)

"""The Ray runtime: join a cluster or start a local one (quiet, fractional CPUs on a small machine),
and the resources an actor or worker asks for."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from .progress import log


def cluster_address(address: str | None = None) -> str | None:
    """The cluster to join: explicit ``address`` first, then ``RAY_ADDRESS``; None means local."""
    addr = address or os.environ.get("RAY_ADDRESS") or None
    return addr if addr and addr.lower() != "local" else None


LOCAL_ENV = {
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.1",
    # Idle workers live 30 s, not 1 s: with fractional-CPU tasks a small machine has more workers
    # than CPUs, and Ray kills the extra idle ones after a second, so every Ray Data phase (a
    # shuffle, a join) paid worker start-up again: ~4 s a small join on 2 cores, 0.2 s warm.
    "RAY_idle_worker_killing_time_threshold_ms": "30000",
}
# Variables every worker gets from the driver: the HF libraries offline-safe and quiet, and Ray's
# console kept to what a person acts on.
WORKER_ENV = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HOME",
    "TOKENIZERS_PARALLELISM",
    "HF_HUB_DISABLE_PROGRESS_BARS",
    "RAY_TRAIN_ENABLE_PRINT_PATCH",
    "RAY_DATA_LOGGING_CONFIG",
)
# Ray Data's logging: its default, with the console at WARNING and Ray's notices dropped (every
# record still goes to ray-data.log in the session's log directory).
RAY_DATA_LOGGING = Path(__file__).with_name("ray_data_logging.yaml")
SETUP_HOOK = f"{__name__}.quiet_worker_logs"


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to ``address`` / ``RAY_ADDRESS``, or start a local Ray with the dashboard off.

    Either way the user's terminal gets the stages' own lines, progress and warnings that need
    action; Ray's notices about itself go to its log files only (:func:`quiet_worker_logs`).
    Idempotent: joins nothing if Ray is already initialised in this process (tests share one; a
    user's own ``ray.init``), but this driver's Ray Data is configured either way
    (:func:`_configure_ray_data`: the library's Parquet reads use the V1 datasource).
    """
    import ray

    if ray.is_initialized():
        _configure_ray_data()
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Ray Train patches print() in its workers to go to its logger *and* (when the stream is
    # wrapped, as in a Ray worker) to the stream: every progress line reached the driver twice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    os.environ.setdefault("RAY_DATA_LOGGING_CONFIG", str(RAY_DATA_LOGGING))
    quiet_driver_logs()
    env_vars = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
    runtime_env: dict[str, Any] = {"worker_process_setup_hook": SETUP_HOOK}
    addr = cluster_address(address)
    if addr:
        # Inside a Ray Job, the job's runtime_env already reaches every worker, and Ray refuses a
        # ray.init runtime_env that sets any of the same keys or variables ("Failed to merge the
        # Job's runtime env"): pass only what the job does not set, so a job runs with any user
        # runtime_env (env_vars, pip, working_dir, its own setup hook).
        job = job_runtime_env()
        job_vars = job.get("env_vars") or {}
        env_vars = {k: v for k, v in env_vars.items() if k not in job_vars}
        runtime_env = {k: v for k, v in runtime_env.items() if k not in job}
        if env_vars:
            runtime_env["env_vars"] = env_vars
        log("ray", f"joining cluster at {addr}")
        ray.init(address=addr, runtime_env=runtime_env or None, log_to_driver=True)
    else:
        log("ray", f"starting local Ray ({num_cpus or os.cpu_count()} CPUs, dashboard off)")
        # One machine: no spot preemption to watch for (one actor fewer per Ray Train run), a
        # finished run noticed within a tenth of a second instead of two (a trivial run here: 3.5 s
        # from its workers' end to fit() returning at Ray's 2 s, 1.5 s at 0.5, 0.4 s at 0.1), idle
        # workers kept (LOCAL_ENV). Set any variable to override; the local cluster inherits them.
        for k, v in LOCAL_ENV.items():
            os.environ.setdefault(k, v)
        if env_vars:
            runtime_env["env_vars"] = env_vars
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
    _configure_ray_data()


def job_runtime_env() -> dict[str, Any]:
    """The runtime_env of the Ray Job this process is the driver of (``{}`` outside a job): Ray's
    job supervisor hands it to the driver in ``RAY_JOB_CONFIG_JSON_ENV_VAR``."""
    raw = os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR")
    if not raw:
        return {}
    try:
        return json.loads(raw).get("runtime_env") or {}
    except (ValueError, AttributeError):
        return {}


class RayNoise(logging.Filter):
    """Drops Ray's notices about itself that ask nothing of the user (they stay in Ray's log files):
    progress bars being off (they are, on purpose, when stderr is not a terminal), token
    authentication on a private local Ray, and the State API a local Ray without a dashboard lacks."""

    NOTICES = (
        "Progress bars disabled",
        "Progress bars for operators disabled",
        "Token authentication is enabled for this Ray cluster",
        "Failed to query Ray Train Controller actor state",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(msg.startswith(n) for n in self.NOTICES)


def _filter_handlers(logger_name: str) -> None:
    for h in logging.getLogger(logger_name).handlers:
        if not any(isinstance(f, RayNoise) for f in h.filters):
            h.addFilter(RayNoise())


def quiet_driver_logs() -> None:
    """This process: Ray's notices off its console handlers, its deprecation warnings muted."""
    import ray  # noqa: F401 - sets up the "ray" logger's handlers

    _filter_handlers("ray")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
    if "ray.data" in sys.modules:  # imported before RAY_DATA_LOGGING_CONFIG was set: apply it now
        try:
            from ray.data._internal.logging import configure_logging

            configure_logging()
        except Exception:  # pragma: no cover - cosmetic only
            pass


# Loggers whose warnings only say that a local Ray has no dashboard / State API.
_NO_STATE_API_LOGGERS = ("ray.train.v2._internal.execution.controller.placement_group_cleaner",)
# Ray Train's "Reporting training result N: ..." (one line per worker per report, every epoch) comes
# from a logger named after its file, outside ``ray.train``, so LoggingConfig does not reach it.
_TRAIN_REPORT_LOGGER = ("train", "v2", "_internal", "execution", "context.py")


def quiet_worker_logs() -> None:
    """Worker setup hook (every task and actor process): Ray's notices and deprecation warnings
    about its own internals stay out of the driver's terminal."""
    import ray

    quiet_driver_logs()
    _filter_handlers("ray.data")
    for name in _NO_STATE_API_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger(os.path.join(os.path.dirname(ray.__file__), *_TRAIN_REPORT_LOGGER)).setLevel(
        logging.WARNING
    )


def _configure_ray_data() -> None:
    """This driver's Ray Data: Parquet read by the V1 datasource, and its notices kept quiet."""
    try:
        from ray.data import DataContext

        ctx = DataContext.get_current()
        # Ray 2.60 reads Parquet through its V2 datasource by default, which starts 32 footer-reader
        # actors (new processes) per read_parquet: 19x slower than V1 on 2,000 files of 500 rows,
        # 8.2x on 300 files on S3, 9.4x on one small file (2 cores;
        # benchmarks/experiments/parquet_reader.py). RAY_DATA_USE_DATASOURCE_V2 set by the user wins.
        if "RAY_DATA_USE_DATASOURCE_V2" not in os.environ:
            ctx.use_datasource_v2 = False
        ctx.enable_progress_bars = sys.stderr.isatty()
        ctx.print_on_execution_start = False
        # Ray Data repeats its "uses N GiB per worker but requests none" warning every 30 s for as
        # long as a pool runs (16 lines each time); the label stage logs its actors'
        # peak once instead (LabelConfig.memory_per_actor_gb reserves it).
        ctx.issue_detectors_config.high_memory_detector_config.detection_time_interval_s = 600
    except Exception:  # pragma: no cover - tuning only: the defaults still work
        pass


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str] | None:
    """This CPU's feature flags (Linux ``cpuinfo``: x86 ``flags``, Arm ``Features``); None where
    they cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


# Flags of native bfloat16 matrix arithmetic: Intel AMX, AVX-512 BF16 (Intel, AMD Zen 4+), Arm BF16.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})


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


def train_worker(seed: int, threads: int) -> tuple[int, int, Any]:
    """Inside a Ray Train worker: seed torch, set its threads; return (rank, world size, device)."""
    import ray.train
    import ray.train.torch
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    ctx = ray.train.get_context()
    return ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device()


def torch_trainer(
    loop: Any,
    loop_config: dict[str, Any],
    *,
    name: str,
    storage_path: str,
    num_workers: int,
    use_gpu: bool,
    cpus_per_worker: float | None,
    keep_checkpoints: int,
    max_failures: int,
    datasets: dict[str, Any],
    dataset_config: Any = None,
    checkpoint_score: str | None = None,
) -> Any:
    """The Ray Train ``TorchTrainer`` every training stage runs (teachers and students): ``loop`` on
    ``num_workers`` workers (fractional CPUs on a small machine), checkpoints under
    ``storage_path/name`` (the same name and storage resume a run), ``max_failures`` worker or node
    losses recovered from, and Ray Train's own INFO lines kept in its log files, off the console."""
    import ray.train
    from ray.train.torch import TorchTrainer

    checkpoints = ray.train.CheckpointConfig(
        num_to_keep=keep_checkpoints,
        checkpoint_score_attribute=checkpoint_score,
        checkpoint_score_order="max",
    )
    kwargs = {"dataset_config": dataset_config} if dataset_config is not None else {}
    return TorchTrainer(
        loop,
        train_loop_config=loop_config,
        scaling_config=ray.train.ScalingConfig(
            num_workers=num_workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": actor_cpus(cpus_per_worker, num_workers)},
        ),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            checkpoint_config=checkpoints,
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),
        ),
        datasets=datasets,
        **kwargs,
    )

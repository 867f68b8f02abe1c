"""Shared by the benchmark scripts: offline environment, hardware context for the JSON."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from pathlib import Path
from typing import Any

OFFLINE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def set_offline_env() -> None:
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)


def cpu_bf16_features() -> dict[str, bool]:
    """Which bfloat16 matmul units this CPU has (Linux /proc/cpuinfo flags)."""
    from bert2dnn_ray.runtime import cpu_flags

    flags = cpu_flags() or set()
    return {f: f in flags for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2")}


def bf16_units(features: dict[str, bool] | None) -> str:
    """The bf16 units named in ``cpu_bf16_features()``'s record, for a summary line ("none" if none)."""
    return ", ".join(k for k, v in (features or {}).items() if v and "bf16" in k) or "none"


def hardware_context() -> dict[str, Any]:
    """CPU, memory, library versions, date and load: what a reader needs to compare runs."""
    import ray
    import torch
    import transformers

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    try:
        import psutil

        mem_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        mem_gib = None
    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "cores_available": affinity,
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads_default": torch.get_num_threads(),
        "ray": ray.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": ort_version,
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "loadavg": list(os.getloadavg()),
        "cpu_bf16_features": cpu_bf16_features(),
    }


def result_header(benchmark: str, quick: bool) -> dict[str, Any]:
    """The first keys of every benchmark JSON: what ran, where, under how much load."""
    import sys

    load = os.getloadavg()
    return {
        "benchmark": benchmark,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": bool(quick),
        "hardware": hardware_context(),
        "background_load": load[0] > 1.5,
        "loadavg_at_start": list(load),
    }


def write_result(result: dict[str, Any], out: str | Path, started: float) -> Path:
    """Close a benchmark JSON (load at the end, total time) and write it."""
    import json
    import time

    result["hardware"]["loadavg_at_end"] = list(os.getloadavg())
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def print_header(result: dict[str, Any], out: Path) -> None:
    """First lines of a benchmark's console summary: where the JSON went, the machine, the load."""
    hw = result["hardware"]
    print(f"\n{result['benchmark']} -> {out}")
    print(
        f"  {hw['cpu_model']}, {hw['cores']} cores, torch {hw['torch']}, ray {hw['ray']}, "
        f"load {result['loadavg_at_start'][0]:.2f} -> {hw['loadavg_at_end'][0]:.2f}"
    )


def pct(times_ns: list[int]) -> dict[str, float]:
    """p50 / p90 / p99 / mean in microseconds of timings in nanoseconds."""
    import numpy as np

    t = np.asarray(times_ns, dtype=np.float64) / 1e3
    return {
        "p50_us": round(float(np.percentile(t, 50)), 2),
        "p90_us": round(float(np.percentile(t, 90)), 2),
        "p99_us": round(float(np.percentile(t, 99)), 2),
        "mean_us": round(float(t.mean()), 2),
        "n": int(t.size),
    }


def time_single(fn, texts: list[str], warm: list[str]) -> dict[str, float]:
    """``fn`` called on one text at a time: :func:`pct` of the calls over ``texts``, after an
    untimed pass over ``warm``."""
    import gc

    for t in warm:
        fn(t)
    gc.collect()
    out = []
    clock = time.perf_counter_ns
    for t in texts:
        t0 = clock()
        fn(t)
        out.append(clock() - t0)
    return pct(out)


def random_bert_classifier(path: Path, num_labels: int = 2, **shape: int) -> Path:
    """A randomly initialised BERT classifier of ``shape`` (BertConfig keys) with MiniLM's real
    tokenizer, saved like any HF checkpoint: a teacher with a real one's cost and no download."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from bert2dnn_ray.hf import resolve_model

    if (path / "config.json").exists():
        return path
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    cfg = BertConfig(vocab_size=tok.vocab_size, num_labels=num_labels, **shape)
    BertForSequenceClassification(cfg).save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


def loopback_s3(bucket: str) -> tuple[Any, dict[str, str]]:
    """A moto S3 server on 127.0.0.1 with ``bucket`` created: (the server, the variables that point
    clients at it). Tests and benchmarks only (moto is a dev dependency); ``server.stop()`` ends it.
    The caller decides whether to set the variables in ``os.environ``."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)
    return server, env

"""The recipe's run: inputs, teachers, soft labels, students and their evaluations, each through a
library stage's ``run(config)``; the report is written at the end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._common import hardware_context
from bert2dnn_ray import augment, evaluate, label, teacher
from bert2dnn_ray.errors import DataError
from bert2dnn_ray.io import read_json, write_json
from bert2dnn_ray.progress import log
from bert2dnn_ray.rundir import SUCCESS
from bert2dnn_ray.student import train
from bert2dnn_ray.teachers import TeacherSpec, specs_from_finetune

from . import peers, retime
from .config import STUDENT_EPOCHS, ReproduceConfig, run_dir_of
from .report import write_report
from .variants import _merged, _student_variants


def _augment_sst2(cfg: ReproduceConfig, paths: dict[str, str], run_dir: Path) -> None:
    """``cfg.augment``'s perturbed copies of SST-2 train into ``run_dir/augmented`` (skipped when
    done), never an SST-2 train, dev or test text."""
    augment.run(
        augment.AugmentConfig.model_validate(
            {
                **cfg.augment,
                "input": paths["sst2_train"],
                "columns": {"text": "text", "id": "id"},
                "output_dir": str(run_dir / "augmented"),
                "exclude": [paths["train"], paths["dev"], paths["test"]],
                "exclude_column": "sentence",
            }
        )
    )


def _prepare_inputs(cfg: ReproduceConfig, run_dir: Path) -> dict[str, str]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    data = Path(cfg.data_dir)
    need = [
        data / "sst2/train.tsv",
        data / "sst2/dev.tsv",
        data / "sst2/test.tsv",
        data / "imdb/sentences.parquet",
    ]
    for p in need:
        if not p.exists():
            raise DataError(f"{p} is missing: run `make data` first")
    inputs = run_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    sst = inputs / "sst2_train.parquet"  # text + gold label, the column names the transfer set uses
    if not sst.exists():
        t = pacsv.read_csv(
            data / "sst2/train.tsv",
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types={"sentence": pa.string(), "label": pa.int64()}),
        )
        ids = pa.array([f"sst2-train:{i}" for i in range(t.num_rows)])
        pq.write_table(pa.table({"id": ids, "text": t["sentence"], "label": t["label"]}), sst)
    transfer = data / "imdb/sentences.parquet"
    if cfg.transfer_rows:
        sample = inputs / f"imdb_sentences_{cfg.transfer_rows}.parquet"
        if not sample.exists():
            t = pq.read_table(transfer, columns=["id", "text"])
            n = min(cfg.transfer_rows, t.num_rows)
            idx = np.sort(np.random.default_rng(cfg.seed).choice(t.num_rows, n, replace=False))
            pq.write_table(t.take(pa.array(idx)), sample, compression="zstd", row_group_size=50_000)
        transfer = sample
    return {
        "train": str(data / "sst2/train.tsv"),
        "dev": str(data / "sst2/dev.tsv"),
        "test": str(data / "sst2/test.tsv"),
        "sst2_train": str(sst),
        "transfer": str(transfer),
    }


_TEACHER_KEYS = ("max_length", "batch_size", "dtype")  # label-section keys that go to each TeacherSpec


def _teachers(cfg: ReproduceConfig, ft: teacher.FinetuneConfig) -> list[TeacherSpec]:
    """``ft``'s teachers, with the label section's max_length, batch_size and dtype."""
    return specs_from_finetune(ft, {k: cfg.label[k] for k in _TEACHER_KEYS if k in cfg.label})


def _finetune(
    cfg: ReproduceConfig, run_dir: Path, paths: dict[str, str]
) -> tuple[teacher.FinetuneConfig, list[TeacherSpec]]:
    """The teachers, each fine-tuned on SST-2 train unless already trained, and their label specs."""
    ft = teacher.FinetuneConfig.model_validate(
        {
            "output_dir": str(run_dir / "teachers"),
            **cfg.finetune,
            "train": paths["train"],
            "dev": paths["dev"],
            "columns": {"text": "sentence", "label": "label"},
            "num_labels": 2,
            "label_names": ["negative", "positive"],
        }
    )
    teacher.run(ft)
    return ft, _teachers(cfg, ft)


def _label(cfg: ReproduceConfig, name: str, inp: str, out: Path, specs, dedup: str, keep: list[str]):
    extra = {k: v for k, v in cfg.label.items() if k not in _TEACHER_KEYS}
    lc = label.LabelConfig.model_validate(
        {
            "temperatures": [1.0, 2.0],
            **extra,
            "input": inp,
            "columns": {"text": "text", "id": "id"},
            "output_dir": str(out),
            "teachers": [s.model_dump() for s in specs],
            "dedup": dedup,
            "keep_columns": keep,
        }
    )
    log("reproduce", f"labeling {name}: {inp}")
    return label.run(lc)


def _label_sets(
    cfg: ReproduceConfig, run_dir: Path, paths: dict[str, str], specs: list[TeacherSpec]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Manifests of the soft-labeled transfer set (dedup: each distinct sentence once), SST-2 train
    (keeping its gold label, for the gold-only and gold-mixing students) and, with ``cfg.augment``,
    its perturbed copies (Tang et al. 2019: never an SST-2 text; train's are labeled already, dev's
    and test's must not leak); each skipped when done."""
    transfer_m = _label(
        cfg, "transfer set", paths["transfer"], run_dir / "soft_transfer", specs, "distinct", []
    )
    sst_m = _label(
        cfg, "SST-2 train", paths["sst2_train"], run_dir / "soft_sst2_train", specs, "none", ["label"]
    )
    aug_m = None
    if cfg.augment is not None:
        _augment_sst2(cfg, paths, run_dir)
        aug = str(run_dir / "augmented" / "data")
        aug_m = _label(cfg, "augmented SST-2 train", aug, run_dir / "soft_augmented", specs, "distinct", [])
    return transfer_m, sst_m, aug_m


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def _evaluate(path: Path, models: list[str], **kw) -> dict[str, Any]:
    """``evaluate.run`` with ``kw``, written to ``path``; reused while nothing it was made from changed.

    ``<path stem>.inputs.json`` records what that was: the settings and each model's completion
    marker (a retrained model has a new one). An evaluation without that record (written before
    it existed) is reused as it is.
    """
    made_from = json.loads(
        json.dumps(
            {
                "settings": kw,
                "models": {m: read_json(p) if (p := Path(m) / SUCCESS).exists() else None for m in models},
            },
            default=str,
        )
    )
    record = path.with_name(f"{path.stem}.inputs.json")
    if path.exists():
        if not record.exists() or read_json(record) == made_from:
            return json.loads(path.read_text())
        log("reproduce", f"{path}: its models or settings changed since it was written; evaluating again")
    record.unlink(missing_ok=True)
    ev = evaluate.run(evaluate.EvalConfig.model_validate({**kw, "output": str(path)}))
    write_json(record, made_from)
    return ev


def _evaluate_teachers(
    cfg: ReproduceConfig, run_dir: Path, paths: dict[str, str], specs: list[TeacherSpec]
) -> dict[str, Any]:
    """The teachers and their stack on test (``eval/teachers.json``)."""
    return _evaluate(
        run_dir / "eval" / "teachers.json",
        [s.path for s in specs],
        test=paths["test"],
        columns={"text": "sentence", "label": "label"},
        teachers=[s.model_dump() for s in specs],
        latency_samples=cfg.latency_samples,
    )


def run(cfg: ReproduceConfig) -> dict[str, Any]:
    t_start = time.perf_counter()
    run_dir = run_dir_of(cfg)
    log("reproduce", f"run directory {run_dir} (finished stages there are skipped)")
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = _prepare_inputs(cfg, run_dir)
    timings: dict[str, float] = {}

    # 1. Teachers (each skipped when already trained).
    t0 = time.perf_counter()
    ft, specs = _finetune(cfg, run_dir, paths)
    timings["finetune_s"] = time.perf_counter() - t0
    recorded: dict[str, dict[str, float | None]] = {
        "finetune": {
            s.name: _epoch_seconds(read_json(m)) if (m := Path(s.path) / "metrics.json").exists() else None
            for s in specs
        },
        "label": {},
        "students": {},
    }

    # 2. Soft labels: the transfer set, SST-2 train, its augmented copies.
    t0 = time.perf_counter()
    transfer_m, sst_m, aug_m = _label_sets(cfg, run_dir, paths, specs)
    timings["label_s"] = time.perf_counter() - t0
    for part, m in (("transfer set", transfer_m), ("SST-2 train", sst_m), ("augmented copies", aug_m)):
        if m is not None:
            recorded["label"][part] = m.get("labeling_wall_seconds")

    # 3. Teachers (and their stack) on test.
    test = {"test": paths["test"], "columns": {"text": "sentence", "label": "label"}}
    ev_t = _evaluate_teachers(cfg, run_dir, paths, specs)
    teacher_rows = ev_t["models"]

    # 4. Students.
    transfer_n = int(transfer_m["labeled_rows"])
    base = {
        "epochs": STUDENT_EPOCHS,
        **cfg.student,
        "dev": paths["dev"],
        "dev_columns": {"text": "sentence", "label": "label"},
        "label_names": ["negative", "positive"],
    }
    base = _merged(base, {"run": {"storage_path": str((run_dir / "_checkpoints").resolve())}})
    variants = _student_variants(
        cfg,
        run_dir,
        specs[0].name,
        transfer_n,
        int(sst_m["labeled_rows"]),
        None if aug_m is None else int(aug_m["labeled_rows"]),
    )
    students = []
    t0 = time.perf_counter()
    for v in variants:
        sid = v["id"]
        tc = train.TrainConfig.model_validate(
            {
                **_merged(base, {**v.get("train", {}), "run": {"run_name": f"student-{sid}"}}),
                "soft_labels": v["soft_labels"],
                "columns": v.get("columns", {"text": "text"}),
                "target": v.get("target", "stacked"),
                "temperature": v["temperature"],
                "hard_label_weight": v.get("hard_label_weight", 0.0),
                "max_rows": v.get("max_rows"),
                **({"seed": v["seed"]} if "seed" in v else {}),
                "output_dir": str(run_dir / "students" / sid),
            }
        )
        log("reproduce", f"student {sid}: {v['desc']}")
        m = train.run(tc)
        recorded["students"][sid] = _epoch_seconds(m)
        ev = _evaluate(
            run_dir / "eval" / f"{sid}.json",
            [tc.output_dir],
            **test,
            student=tc.output_dir,
            latency_samples=cfg.latency_samples,
        )
        row = next(r for r in ev["models"] if r["kind"] == "student")
        q = next((r for r in ev["models"] if r["kind"] == "student_int8"), None)
        students.append(
            {
                **v,
                **row,
                **({"int8_accuracy": q["accuracy"], "int8_p50_us": q["p50_us"]} if q else {}),
                "model": sid,
                "seed": tc.seed,
                "train_rows": m["train_rows"],
                "dev_accuracy": m["best"].get("dev_accuracy"),
            }
        )
    timings["students_s"] = time.perf_counter() - t0

    # 5. The peers: fastText on the gold labels and on the teachers' labels of the bag's rows.
    t0 = time.perf_counter()
    peer_rows = peers.peer_rows(cfg, run_dir, paths)
    timings["peers_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    result = {
        "config": cfg.model_dump(),
        "transfer": {
            "input": paths["transfer"],
            "input_rows": transfer_m["input_rows"],
            "labeled_rows": transfer_n,
            "distinct_rows": transfer_m.get("distinct_rows"),
            "dedup_ratio": transfer_m.get("dedup_ratio"),
            "truncated_rows": transfer_m.get("truncated_rows"),
            "quarantined_rows": transfer_m.get("quarantined_rows"),
        },
        "sst2_train_labeled_rows": sst_m["labeled_rows"],
        "augmented": None
        if aug_m is None
        else {
            "written_rows": aug_m["input_rows"],
            "labeled_rows": aug_m["labeled_rows"],
            "config": cfg.augment,
        },
        "teachers": teacher_rows,
        "test_rows": ev_t.get("rows"),
        "students": students,
        "peers": peer_rows,
        "timings": timings,
        "recorded_seconds": recorded,
        "hardware": {
            **hardware_context(),
            "gpu": _gpu_name(),
            "cpus": os.cpu_count(),
        },
    }
    write_report(result, Path(cfg.report_dir))
    return result


# What the peers depend on: a report made with other values of these has other teacher labels.
_PEER_KEYS = ("name", "data_dir", "transfer_rows", "seed", "finetune", "label")


def peers_report(cfg: ReproduceConfig) -> dict[str, Any]:
    """The finished report ``--peers-only`` adds peers to (``report_dir/sst2_imdb.json``); a
    :class:`DataError` when it is missing or was made with other teacher or label settings."""
    numbers = Path(cfg.report_dir, "sst2_imdb.json")
    if not numbers.is_file():
        raise DataError(f"--peers-only: {numbers} does not exist (a finished run writes it)")
    result = read_json(numbers)
    ours = cfg.model_dump()
    other = [k for k in _PEER_KEYS if (result.get("config") or {}).get(k) != ours[k]]
    if other:
        raise DataError(
            f"--peers-only: {numbers} was made with other {', '.join(other)} than this config; "
            "run the whole recipe (make reproduce) for a report with these settings"
        )
    return result


def add_peers(cfg: ReproduceConfig, result: dict[str, Any]) -> dict[str, Any]:
    """``--peers-only``: add the fastText peers to a finished report (``result``, from
    :func:`peers_report`) without training its students again.

    Runs the teachers and the soft labels (each skipped when done; trained and labeled again with
    the report's settings on a machine that lacks them), then the peers; times the teachers and
    each student architecture again here (:mod:`.retime`), so that the report's latencies all come
    from this machine; and rewrites the report. Refused (exit 2, the report untouched) when the
    teachers here do not score what the report's teachers scored on test, within one test sentence
    (checked before labeling), or label another number of transfer rows: the peers would learn
    other labels than the students.
    """
    numbers = Path(cfg.report_dir, "sst2_imdb.json")
    t_start = time.perf_counter()
    run_dir = run_dir_of(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = _prepare_inputs(cfg, run_dir)
    _, specs = _finetune(cfg, run_dir, paths)
    here = _evaluate_teachers(cfg, run_dir, paths, specs)["models"]
    got = {r["model"]: r["accuracy"] for r in here}
    tolerance = 1.0 / (result.get("test_rows") or 872) + 1e-9
    off = [
        f"{r['model']} {got.get(r['model'], float('nan')):.4f} (report {r['accuracy']:.4f})"
        for r in result["teachers"]
        if not abs(got.get(r["model"], float("nan")) - r["accuracy"]) <= tolerance
    ]
    if off:
        raise DataError(
            f"--peers-only: the teachers in {run_dir / 'teachers'} are not the report's on test: "
            f"{'; '.join(off)}; their labels are not the ones its students learned from"
        )
    transfer_m, _, _ = _label_sets(cfg, run_dir, paths, specs)
    if int(transfer_m["labeled_rows"]) != int(result["transfer"]["labeled_rows"]):
        raise DataError(
            f"--peers-only: {transfer_m['labeled_rows']:,} transfer rows labeled here, "
            f"{result['transfer']['labeled_rows']:,} in {numbers}"
        )
    t0 = time.perf_counter()
    result["peers"] = peers.peer_rows(cfg, run_dir, paths)
    result["timings"]["peers_s"] = time.perf_counter() - t0
    retimed = retime.retime(result, here, peers.test_set(paths)[0], run_dir / "retime")
    result["peers_run"] = {
        "mode": "--peers-only",
        "teachers_test_accuracy": got,
        "retimed": retimed,
        "wall_s": time.perf_counter() - t_start,
        "hardware": {**hardware_context(), "gpu": _gpu_name(), "cpus": os.cpu_count()},
    }
    write_report(result, Path(cfg.report_dir))
    return result


def _epoch_seconds(metrics: dict[str, Any]) -> float | None:
    """Training time a teacher's or student's ``metrics.json`` records: its epochs' ``train_seconds``
    summed (an epoch resumed after a kill counts from the resume). None when an epoch lacks it."""
    history = metrics.get("history") or []
    if not history or any("train_seconds" not in h for h in history):
        return None
    return round(sum(float(h["train_seconds"]) for h in history), 3)

"""Reproduce BERT2DNN's public experiment: SST-2 teachers → IMDB transfer set → students (FFN, BiLSTM).

    make data && make reproduce          # or: python benchmarks/reproduce_sst2_imdb.py --config ...

Every step is a library stage (finetune, label, train, evaluate) run with its own typed config;
each one skips work it already finished, so re-running the command resumes. The report —
``benchmarks/results/sst2_imdb.md``, ``sst2_imdb.json`` and two PNG plots — is regenerated
from the run directory at the end. Every accuracy is on ``sst2/test.tsv`` (GLUE SST-2 dev),
which nothing else touches: teachers select epochs on ``sst2/dev.tsv``, students too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import bf16_units, hardware_context  # noqa: E402

from bert2dnn_ray import augment, evaluate, label, teacher  # noqa: E402
from bert2dnn_ray.config import Strict, apply_overrides, build, read_yaml  # noqa: E402
from bert2dnn_ray.errors import Bert2dnnError, DataError  # noqa: E402
from bert2dnn_ray.featurizer import FeaturizerConfig  # noqa: E402
from bert2dnn_ray.io import read_json, write_json  # noqa: E402
from bert2dnn_ray.progress import log  # noqa: E402
from bert2dnn_ray.rundir import SUCCESS  # noqa: E402
from bert2dnn_ray.runtime import init_ray  # noqa: E402
from bert2dnn_ray.student import train  # noqa: E402
from bert2dnn_ray.student.model import StudentModelConfig  # noqa: E402
from bert2dnn_ray.teachers import TeacherSpec  # noqa: E402

STUDENT_EPOCHS = 4  # unless the config's student section says otherwise


class ReproduceConfig(Strict):
    name: str = "sst2_imdb"
    runs_dir: str = "runs"
    data_dir: str = Field("data", description="output of `make data` (bert2dnn datasets)")
    transfer_rows: int | None = Field(
        None, ge=1000, description="seeded sample of IMDB sentences to label; null = all"
    )
    transfer_sizes: list[int] = Field(default_factory=lambda: [10_000, 30_000, 100_000, 300_000])
    seed: int = 0
    finetune: dict[str, Any] = Field(default_factory=dict, description="FinetuneConfig keys")
    label: dict[str, Any] = Field(
        default_factory=dict, description="LabelConfig keys (+ the teachers' max_length, batch_size, dtype)"
    )
    student: dict[str, Any] = Field(default_factory=dict, description="TrainConfig keys shared by students")
    gold_mix_weight: float = Field(0.5, gt=0, lt=1)
    augment: dict[str, Any] | None = Field(
        default_factory=dict,
        description="AugmentConfig keys for perturbed copies of SST-2 train (null: no augmented students)",
    )
    augment_transfer_sizes: list[int] = Field(
        default_factory=lambda: [100_000], description="transfer sizes of the augmented students (+ all)"
    )
    seed_repeats: list[int] = Field(
        default_factory=lambda: [1, 2],
        description="more seeds of the last bag student in the table (the best recipe) and of the "
        "word-order student, trained and scored the same way: the report gives their spread ([]: none)",
    )
    word_order: dict[str, Any] | None = Field(
        None,
        description="TrainConfig keys over `student` for one more student, on the last recipe's data, "
        "that reads the words in order (`model: {encoder: bilstm}` or cnn); null: none",
    )
    report_dir: str = "benchmarks/results"
    latency_samples: int = 200

    @field_validator("word_order")
    @classmethod
    def _reads_in_order(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and StudentModelConfig.model_validate(v.get("model") or {}).encoder == "bag":
            raise ValueError("model.encoder must be cnn or bilstm (the bag students are the other rows)")
        return v


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
    kw = {k: cfg.label[k] for k in _TEACHER_KEYS if k in cfg.label}
    return [TeacherSpec(name=t.name, path=str(Path(ft.output_dir, t.name)), **kw) for t in ft.teachers]


def run_dir_of(cfg: ReproduceConfig) -> Path:
    """One run directory per scale: labels, students and their checkpoints of a 150k-sentence
    sample must never be resumed by (or mixed into) a run at another size."""
    name = cfg.name if cfg.transfer_rows is None else f"{cfg.name}_{cfg.transfer_rows}"
    return Path(cfg.runs_dir, name)


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


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s keys on top, nested sections (featurizer, model) merged key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _student_variants(
    cfg: ReproduceConfig,
    run_dir: Path,
    first: str,
    transfer_n: int,
    sst_rows: int,
    aug_rows: int | None,
) -> list[dict[str, Any]]:
    """The students to train, in the report's order: each one's id, description, data and targets
    (and ``train``: TrainConfig keys over the shared ``student`` section)."""
    soft_t, soft_s = str(run_dir / "soft_transfer"), str(run_dir / "soft_sst2_train")
    variants: list[dict[str, Any]] = [
        {
            "id": "gold_only",
            "desc": "student, gold SST-2 labels only (no transfer)",
            "soft_labels": soft_s,
            "columns": {"text": "text", "label": "label"},
            "hard_label_weight": 1.0,
            "temperature": 1.0,
        },
        {"id": f"{first}_t1", "desc": f"student ← {first}, T=1", "target": first, "temperature": 1.0},
        {"id": f"{first}_t2", "desc": f"student ← {first}, T=2", "target": first, "temperature": 2.0},
        {"id": "stacked_t1", "desc": "student ← stacked teachers, T=1", "temperature": 1.0},
        {"id": "stacked_t2", "desc": "student ← stacked teachers, T=2", "temperature": 2.0},
        {
            "id": "stacked_t2_gold",
            "desc": f"student ← stacked T=2 + gold SST-2 (w={cfg.gold_mix_weight:g})",
            "soft_labels": [soft_s, soft_t],
            "columns": {"text": "text", "label": "label"},
            "hard_label_weight": cfg.gold_mix_weight,
            "temperature": 2.0,
        },
    ]
    for n in sorted(set(cfg.transfer_sizes)):
        if n < transfer_n:
            variants.append(
                {
                    "id": f"stacked_t2_n{n}",
                    "desc": f"student ← stacked T=2, {n:,} transfer rows",
                    "temperature": 2.0,
                    "max_rows": n,
                    "curve": n,
                }
            )
    variants[4]["curve"] = transfer_n  # the whole labeled transfer set
    if aug_rows is not None:
        # SST-2 train and its augmented copies first, then the transfer set: max_rows cuts the
        # transfer set only (the union keeps this order).
        in_domain = sst_rows + aug_rows
        for n in sorted({*(n for n in cfg.augment_transfer_sizes if n < transfer_n), transfer_n}):
            full = n == transfer_n
            variants.append(
                {
                    "id": "stacked_t2_aug" if full else f"stacked_t2_aug_n{n}",
                    "desc": "student ← stacked T=2 + SST-2 train and its augmented copies"
                    + ("" if full else f", {n:,} transfer rows"),
                    "soft_labels": [soft_s, str(run_dir / "soft_augmented"), soft_t],
                    "temperature": 2.0,
                    "max_rows": None if full else in_domain + n,
                    "aug_curve": n,
                }
            )

    def again(recipe: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """``recipe``'s data and targets for another student (off the curves, which it is not)."""
        return {**{k: v for k, v in recipe.items() if k not in ("curve", "aug_curve")}, **changes}

    # The last recipe's data again, for a student that reads the words in order.
    recipes = [variants[-1]]
    if cfg.word_order is not None:
        encoder = StudentModelConfig.model_validate(cfg.word_order.get("model") or {}).encoder
        last = recipes[0]
        recipes.append(
            again(
                last,
                id=f"{encoder}_{last['id']}",
                desc=last["desc"].replace("student ←", f"student ({encoder}) ←", 1),
                train=cfg.word_order,
                word_order=encoder,
            )
        )
        variants.append(recipes[1])
    # Those recipes again with other seeds: how far apart do two runs of one recipe land?
    seed0 = int(cfg.student.get("seed", 0))
    for last in recipes:
        own = int(last.get("train", {}).get("seed", seed0))  # the seed of the table's row
        for seed in [s for s in dict.fromkeys(cfg.seed_repeats) if s != own]:
            variants.append(
                again(
                    last,
                    id=f"{last['id']}_seed{seed}",
                    desc=f"{last['desc']}, seed {seed}",
                    seed=seed,
                    seed_of=last["id"],
                )
            )
    for v in variants:
        v.setdefault("soft_labels", soft_t)  # the transfer set, unless a recipe names its own
    return variants


def run(cfg: ReproduceConfig) -> dict[str, Any]:
    t_start = time.perf_counter()
    run_dir = run_dir_of(cfg)
    log("reproduce", f"run directory {run_dir} (finished stages there are skipped)")
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = _prepare_inputs(cfg, run_dir)
    timings: dict[str, float] = {}

    # 1. Teachers (each skipped when already trained).
    t0 = time.perf_counter()
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
    timings["finetune_s"] = time.perf_counter() - t0
    specs = _teachers(cfg, ft)
    recorded: dict[str, dict[str, float | None]] = {
        "finetune": {
            s.name: _epoch_seconds(read_json(m)) if (m := Path(s.path) / "metrics.json").exists() else None
            for s in specs
        },
        "label": {},
        "students": {},
    }

    # 2. Soft labels: the transfer set (dedup: each distinct sentence once) and SST-2 train
    #    (keeping its gold label, for the gold-only and gold-mixing students).
    t0 = time.perf_counter()
    transfer_m = _label(
        cfg, "transfer set", paths["transfer"], run_dir / "soft_transfer", specs, "distinct", []
    )
    sst_m = _label(
        cfg, "SST-2 train", paths["sst2_train"], run_dir / "soft_sst2_train", specs, "none", ["label"]
    )
    aug_m = None
    if cfg.augment is not None:
        # Perturbed copies of SST-2 train (Tang et al. 2019): never an SST-2 text (train's are
        # labeled already; dev's and test's must not leak).
        _augment_sst2(cfg, paths, run_dir)
        aug_m = _label(
            cfg,
            "augmented SST-2 train",
            str(run_dir / "augmented" / "data"),
            run_dir / "soft_augmented",
            specs,
            "distinct",
            [],
        )
    timings["label_s"] = time.perf_counter() - t0
    for part, m in (("transfer set", transfer_m), ("SST-2 train", sst_m), ("augmented copies", aug_m)):
        if m is not None:
            recorded["label"][part] = m.get("labeling_wall_seconds")

    # 3. Teachers (and their stack) on test.
    test = {"test": paths["test"], "columns": {"text": "sentence", "label": "label"}}
    ev_t = _evaluate(
        run_dir / "eval" / "teachers.json",
        [s.path for s in specs],
        **test,
        teachers=[s.model_dump() for s in specs],
        latency_samples=cfg.latency_samples,
    )
    teacher_rows = ev_t["models"]

    # 4. Students.
    transfer_n = int(transfer_m["labeled_rows"])
    base = {
        "epochs": STUDENT_EPOCHS,
        **cfg.student,
        "dev": paths["dev"],
        "dev_columns": {"text": "sentence", "label": "label"},
        "label_names": ["negative", "positive"],
        "storage_path": str((run_dir / "_checkpoints").resolve()),
    }
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
                **_merged(base, v.get("train", {})),
                "soft_labels": v["soft_labels"],
                "columns": v.get("columns", {"text": "text"}),
                "target": v.get("target", "stacked"),
                "temperature": v["temperature"],
                "hard_label_weight": v.get("hard_label_weight", 0.0),
                "max_rows": v.get("max_rows"),
                **({"seed": v["seed"]} if "seed" in v else {}),
                "output_dir": str(run_dir / "students" / sid),
                "run_name": f"student-{sid}",
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


def _epoch_seconds(metrics: dict[str, Any]) -> float | None:
    """Training time a teacher's or student's ``metrics.json`` records: its epochs' ``train_seconds``
    summed (an epoch resumed after a kill counts from the resume). None when an epoch lacks it."""
    history = metrics.get("history") or []
    if not history or any("train_seconds" not in h for h in history):
        return None
    return round(sum(float(h["train_seconds"]) for h in history), 3)


def _compute_line(result: dict[str, Any]) -> str:
    """What the outputs record of their own cost, whichever invocations made them."""
    rec = result.get("recorded_seconds")
    if not rec:
        return ""

    def minutes(v: float | None) -> str:
        return "not recorded" if v is None else f"{v / 60:,.0f} min"

    def total(values: list[float | None], noun: str) -> str:
        known = [v for v in values if v is not None]
        if not known:
            return "not recorded"
        s = minutes(sum(known))
        return s if len(known) == len(values) else f"{s} for {len(known)} of the {len(values)} {noun}"

    parts = ", ".join(f"{part} {minutes(v)}" for part, v in rec["label"].items())
    return (
        "Compute recorded in the outputs, over every invocation that made them (training epochs for "
        "teachers and students, without start-up and dev evaluation; for labeling, the wall time of "
        "the labeling actors; outputs made before these were recorded say not recorded): teacher "
        f"fine-tuning {total(list(rec['finetune'].values()), 'teachers')}; labeling "
        f"{total(list(rec['label'].values()), 'labeled sets')} ({parts}); "
        f"{len(rec['students'])} students {total(list(rec['students'].values()), 'students')}."
    )


def _cpu_words(hw: dict[str, Any]) -> str:
    """The CPU model and its bf16 matmul units (e.g. ``Intel Xeon, bf16 units: amx_bf16``), which set
    the teachers' bf16 labeling rate and every latency in the report."""
    return f"{hw['cpu_model']}, bf16 units: {bf16_units(hw.get('cpu_bf16_features'))}"


def _scale_line(result: dict[str, Any]) -> str:
    n = (result.get("config") or {}).get("transfer_rows")
    hw = result.get("hardware", {})
    where = f"{hw.get('cpus', '?')} CPUs" + (f" ({_cpu_words(hw)})" if hw.get("cpu_model") else "")
    where += f", {hw['gpu']}" if hw.get("gpu") else ", no GPU"
    st = (result.get("config") or {}).get("student") or {}
    if st.get("num_workers"):
        where += f", students on {st['num_workers']} Ray Train worker(s)"
    fz = FeaturizerConfig.model_validate(st.get("featurizer") or {})
    dim = StudentModelConfig.model_validate(st.get("model") or {}).embedding_dim
    epochs = st.get("epochs", STUDENT_EPOCHS)
    epochs_words = "1 epoch" if epochs == 1 else f"{epochs} epochs, the best on dev"
    where += f" ({epochs_words}; hashed bag of {fz.num_buckets:,} buckets x {dim})"
    if n:
        return (
            f"Scale: a seeded sample of {n:,} of the ~1.11M IMDB sentences (`--set transfer_rows={n}`), "
            f"on {where}; `make reproduce` with no override labels them all."
        )
    return f"Scale: every IMDB sentence, on {where}."


def _own_teacher(student: dict[str, Any], teachers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The teacher row a student learned from: the stacked teachers, or one teacher by name."""
    target = student.get("target", "stacked")
    if target == "stacked":
        return next((t for t in teachers if t["kind"] == "stacked"), None)
    return next((t for t in teachers if t["model"] == f"teacher:{target}"), None)


def _seed_spread(
    table: list[dict[str, Any]],
    repeats: list[dict[str, Any]],
    best: float,
    teachers: list[dict[str, Any]],
    n_test: int,
) -> list[str]:
    """One paragraph per recipe trained with more seeds: its test accuracy over them (the table's
    row and its repeats)."""
    import statistics

    out = []
    for first_id in dict.fromkeys(r["seed_of"] for r in repeats):
        first = next(s for s in table if s["id"] == first_id)
        runs = [first, *(s for s in repeats if s["seed_of"] == first_id)]
        accs = [s["accuracy"] for s in runs]
        seeds = [int(s.get("seed", 0)) for s in runs]
        mean, sd = statistics.mean(accs), statistics.stdev(accs)
        each = ", ".join(f"{a:.4f} (seed {k})" for a, k in zip(accs, seeds, strict=True))
        own = _own_teacher(first, teachers)
        of_own = (
            f" ({mean / own['accuracy']:.1%} of its own teacher, {own['model']}: {own['accuracy']:.4f})"
            if own and own["accuracy"] != best
            else ""
        )
        out.append(
            f'Seed spread: "{first["desc"]}" trained {len(runs)} times, the seed its only change: {each}; '
            f"mean {mean:.4f} = {mean / best:.1%} retention{of_own}, standard deviation {sd:.4f}. The "
            f"table shows the first seed. With {n_test:,} test sentences one standard error of an accuracy "
            f"is about {(mean * (1 - mean) / n_test) ** 0.5:.3f}: rows closer than about a point are not "
            "told apart."
        )
    return out


def _label_groups(rows: list[dict[str, Any]], dx: float = 0.12, dy: float = 0.006) -> dict:
    """Plot labels that would overprint, grouped: {(p50, accuracy) of the most accurate: its id and the
    ids close to it} (close: within ``dx`` in log10 latency and ``dy`` in accuracy), so a crowd of
    students at one latency reads as one label with a count; the report's table has each of them."""
    groups: dict[tuple[float, float], list[str]] = {}
    for r in sorted(rows, key=lambda r: -r["accuracy"]):
        x, y = r["p50_us"], r["accuracy"]
        home = next(
            (k for k in groups if abs(math.log10(k[0]) - math.log10(x)) < dx and abs(k[1] - y) < dy), None
        )
        groups.setdefault(home or (x, y), []).append(r["id"])
    return groups


def _headline(
    table: list[dict[str, Any]],
    repeats: list[dict[str, Any]],
    best: dict[str, Any],
    teachers: list[dict[str, Any]],
) -> str:
    """The report's answer in one paragraph: the student with the highest test accuracy (its mean
    over seeds where it was trained with more than one), its retention and its served speed; when
    that student reads word order, the best bag-of-n-grams student (BERT2DNN's own) as well."""
    if not table:
        return ""

    def accs(s: dict[str, Any]) -> list[float]:
        return [s["accuracy"], *(r["accuracy"] for r in repeats if r["seed_of"] == s["id"])]

    def mean(s: dict[str, Any]) -> float:
        return sum(accs(s)) / len(accs(s))

    def scores(s: dict[str, Any]) -> str:
        n = len(accs(s))
        over = f"mean over {n} seeds" if n > 1 else "one seed"
        return f"{mean(s):.4f} ({over}) = {mean(s) / best['accuracy']:.1%} of the best teacher's accuracy"

    def served(s: dict[str, Any]) -> str:
        if "int8_p50_us" not in s or not best.get("p50_us"):
            return ""
        return (
            f"`model.int8.onnx` (seed {int(s.get('seed', 0))}) it scores {s['int8_accuracy']:.4f} at "
            f"{s['int8_p50_us']:,.0f} µs a text, {best['p50_us'] / s['int8_p50_us']:.0f}x faster than "
            f"that teacher ({best['p50_us']:,.0f} µs)"
        )

    top = max(table, key=mean)
    own = _own_teacher(top, teachers)
    of_own = (
        f", {mean(top) / own['accuracy']:.1%} of its own teacher ({own['model']}, {own['accuracy']:.4f})"
        if own and own["accuracy"] != best["accuracy"]
        else ""
    )
    text = (
        f'Headline: the best student, "{top["desc"]}", scores {scores(top)}{of_own}; BERT2DNN reports ≥97%.'
    )
    if served_top := served(top):
        text += f" Served as {served_top}."
    bags = [s for s in table if not s.get("word_order")]
    if top.get("word_order") and bags:
        bag = max(bags, key=mean)
        text += f' BERT2DNN\'s own student, a bag of n-grams, does best as "{bag["desc"]}": {scores(bag)}'
        served_bag = served(bag)
        text += f"; served as {served_bag}." if served_bag else "."
    return text


def _word_order_line(table: list[dict[str, Any]]) -> str:
    """What the word-order students are (README: "The student's encoder")."""
    rows = [s for s in table if s.get("word_order")]
    if not rows:
        return ""
    return " ".join(
        f'"{s["desc"]}" reads the words in order instead of pooling a bag: the same hashed '
        f"featurizer and data, these TrainConfig keys over the bag's: `{json.dumps(s['train'])}` "
        '(README, "The student\'s encoder").'
        for s in rows
    )


def write_report(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "sst2_imdb.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    teachers = [r for r in result["teachers"] if r["kind"] == "teacher"]
    best = max(teachers, key=lambda r: r["accuracy"])
    tr = result["transfer"]
    n_test = result.get("test_rows") or 872  # a result from before test_rows was recorded: SST-2's
    repeats = [s for s in result["students"] if "seed_of" in s]
    table = [s for s in result["students"] if "seed_of" not in s]
    headline = _headline(table, repeats, best, result["teachers"])
    lines = [
        "# BERT2DNN on SST-2 with IMDB as the transfer set",
        "",
        "Generated by `make reproduce` (`benchmarks/reproduce_sst2_imdb.py --config jobs/configs/sst2_imdb.yaml`).",
        f"Every figure is on `sst2/test.tsv` ({n_test:,} sentences, GLUE SST-2 dev), used for nothing else; teachers",
        "and students chose their epochs on `sst2/dev.tsv`. Latency: one text, one CPU thread, p50.",
        "",
        f"Transfer set: {tr['input_rows']:,} IMDB sentences ({tr['input']}), {tr['labeled_rows']:,} distinct "
        f"after de-duplication (dedup ratio {tr['dedup_ratio'] or 0:.3f}), {tr['truncated_rows'] or 0:,} "
        f"truncated for the teachers, {tr['quarantined_rows'] or 0:,} quarantined. "
        f"Retention = accuracy ÷ best teacher ({best['model']}, {best['accuracy']:.4f}).",
        "",
        *([headline, ""] if headline else []),
        _scale_line(result),
        "",
        "Students are also scored as served in int8 (`model.int8.onnx`, written by `bert2dnn export`).",
        "",
        "| model | accuracy | AUC | retention | parameters | p50 latency | int8: accuracy | int8: p50 | train rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def fmt_row(name: str, r: dict[str, Any], rows: Any = "") -> str:
        lat = f"{r['p50_us']:,.0f} µs" if "p50_us" in r else "-"
        params = f"{r['params']:,}" if "params" in r else "-"
        rows_s = f"{rows:,}" if isinstance(rows, int) else rows
        q_acc = f"{r['int8_accuracy']:.4f}" if "int8_accuracy" in r else "-"
        q_lat = f"{r['int8_p50_us']:,.0f} µs" if "int8_p50_us" in r else "-"
        return (
            f"| {name} | {r['accuracy']:.4f} | {r.get('auc', float('nan')):.4f} | "
            f"{r['accuracy'] / best['accuracy']:.1%} | {params} | {lat} | {q_acc} | {q_lat} | {rows_s} |"
        )

    for r in result["teachers"]:
        name = r["model"].replace("teacher:", "teacher ").replace("teachers:", "teachers ")
        lines.append(fmt_row(name, r))
    for s in table:
        lines.append(fmt_row(s["desc"], s, s["train_rows"]))
    for para in (
        _word_order_line(table),
        *_seed_spread(table, repeats, best["accuracy"], result["teachers"], n_test),
    ):
        if para:
            lines += ["", para]
    curve = sorted((s["curve"], s) for s in result["students"] if "curve" in s)
    aug_curve = {s["aug_curve"]: s for s in result["students"] if "aug_curve" in s}
    aug = result.get("augmented")
    if aug:
        ac = augment.AugmentConfig.model_validate(aug["config"])
        lines += [
            "",
            f"Augmented SST-2 train (`bert2dnn augment`, Tang et al. 2019 without POS tags): {ac.variants} "
            f"perturbed copies of each training sentence (each word dropped with p={ac.mask_prob:g} or "
            f"replaced by a frequency-drawn word with p={ac.replace_prob:g}, then a random span of up to "
            f"{ac.max_ngram} words kept with p={ac.ngram_prob:g}), no SST-2 text among them: "
            f"{aug['written_rows']:,} written, {aug['labeled_rows']:,} distinct, soft-labeled by the "
            "teachers. Students that train on SST-2 train texts pick their epoch on a dev set whose "
            "phrases come from the same parse trees, so their dev accuracy is optimistic; test is not.",
        ]
    lines += [
        "",
        "## Accuracy against transfer-set size (student ← stacked teachers, T=2)",
        "",
        "| transfer rows | accuracy | retention |"
        + (" + SST-2 train and augmented copies |" if aug_curve else ""),
        "| ---: | ---: | ---: |" + (" ---: |" if aug_curve else ""),
    ]
    for n, s in curve:
        extra = ""
        if aug_curve:
            a = aug_curve.get(n)
            extra = f" {a['accuracy']:.4f} ({a['accuracy'] / best['accuracy']:.1%}) |" if a else " - |"
        lines.append(f"| {n:,} | {s['accuracy']:.4f} | {s['accuracy'] / best['accuracy']:.1%} |{extra}")
    t = result["timings"]
    lines += [
        "",
        "![accuracy against transfer-set size](sst2_imdb_transfer_curve.png)",
        "![latency against accuracy](sst2_imdb_latency_accuracy.png)",
        "",
        f"Wall time of the invocation that wrote this report ({result['hardware']['cpus']} CPUs; finished "
        f"stages are skipped, so a resumed run counts only what it did): fine-tuning {t['finetune_s']:.0f} s, "
        f"labeling {t['label_s']:.0f} s, students {t['students_s']:.0f} s, total {t['total_s']:.0f} s. "
        "Numbers: `sst2_imdb.json`.",
        "",
    ]
    compute = _compute_line(result)
    if compute:
        lines[-1:-1] = ["", compute]
    (out / "sst2_imdb.md").write_text("\n".join(lines), encoding="utf-8")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([n for n, _ in curve], [s["accuracy"] for _, s in curve], "o-", label="student (stacked, T=2)")
    if aug_curve:
        pts = sorted(aug_curve.items())
        ax.plot(
            [n for n, _ in pts],
            [s["accuracy"] for _, s in pts],
            "s--",
            label="+ SST-2 train, augmented copies",
        )
        ax.legend(fontsize=8, loc="lower right")
    for r in teachers:
        ax.axhline(r["accuracy"], ls="--", lw=1, color="gray")
        ax.text(curve[0][0] if curve else 1, r["accuracy"], f" {r['model']}", va="bottom", fontsize=8)
    gold = next((s for s in result["students"] if s["id"] == "gold_only"), None)
    if gold:
        ax.axhline(gold["accuracy"], ls=":", lw=1, color="red")
        ax.text(
            curve[0][0] if curve else 1, gold["accuracy"], " student, gold labels only", va="top", fontsize=8
        )
    ax.set_xscale("log")
    ax.set_xlabel("transfer-set size (IMDB sentences, distinct)")
    ax.set_ylabel("accuracy on SST-2 test")
    ax.set_title("Student accuracy against transfer-set size")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "sst2_imdb_transfer_curve.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in teachers:
        ax.scatter(r["p50_us"], r["accuracy"], marker="s", color="C1")
        ax.annotate(f"{r['model']} ", (r["p50_us"], r["accuracy"]), fontsize=8, ha="right", va="bottom")
    for i, s in enumerate(table):
        ax.scatter(s["p50_us"], s["accuracy"], color="C0", label="student, float32" if i == 0 else None)
    for (x, y), names in _label_groups(table).items():
        more = f" (+{len(names) - 1})" if len(names) > 1 else ""
        ax.annotate(f" {names[0]}{more}", (x, y), fontsize=7, va="center")
    q = [s for s in table if "int8_p50_us" in s]
    if q:
        ax.scatter(
            [s["int8_p50_us"] for s in q],
            [s["int8_accuracy"] for s in q],
            marker="^",
            color="C2",
            label="student, int8 ONNX",
        )
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xscale("log")
    ax.set_xlabel("single-text latency, p50 (µs, one CPU thread)")
    ax.set_ylabel("accuracy on SST-2 test")
    ax.set_title("Latency against accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "sst2_imdb_latency_accuracy.png", dpi=120)
    plt.close(fig)
    log("reproduce", f"report: {out / 'sst2_imdb.md'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--config", default=str(ROOT / "jobs/configs/sst2_imdb.yaml"), help="default: %(default)s"
    )
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, repeatable (e.g. transfer_rows=60000, student.epochs=3)",
    )
    ap.add_argument("--address", default=None, help="Ray cluster (default RAY_ADDRESS or a local Ray)")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild the report and plots from sst2_imdb.json in report_dir (benchmarks/results); nothing runs",
    )
    args = ap.parse_args(argv)
    try:
        cfg = build(
            ReproduceConfig, apply_overrides(read_yaml(args.config), args.overrides), source=args.config
        )
        if args.report_only:
            numbers = Path(cfg.report_dir, "sst2_imdb.json")
            if not numbers.is_file():
                raise DataError(f"--report-only: {numbers} does not exist (a finished run writes it)")
            write_report(json.loads(numbers.read_text()), Path(cfg.report_dir))
            return 0
        init_ray(args.address)
        run(cfg)
    except Bert2dnnError as e:
        print(f"reproduce: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

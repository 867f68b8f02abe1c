"""The report: ``sst2_imdb.md``, ``sst2_imdb.json`` and two PNG plots, from a run's result."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks._common import bf16_units
from bert2dnn_ray import augment
from bert2dnn_ray.featurizer import FeaturizerConfig
from bert2dnn_ray.progress import log
from bert2dnn_ray.student.model import StudentModelConfig

from .config import STUDENT_EPOCHS


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


def _save_plot(ax, xlabel: str, title: str, path: Path) -> None:
    """Both plots' axes (x log-scaled, y accuracy on SST-2 test) and file: written, then closed."""
    import matplotlib.pyplot as plt

    fig = ax.figure
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy on SST-2 test")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fasttext_curve(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The fastText peer on the teachers' argmax by transfer rows: the curve's sizes and all rows."""
    peers = result.get("peers") or []
    curve = {p["curve"]: p for p in peers if "curve" in p}
    every = next((p for p in peers if p["id"] == "fasttext_teacher_argmax"), None)
    if curve and every:
        curve[every["train_rows"]] = every
    return curve


def _retimed_line(result: dict[str, Any]) -> str:
    """Where the latencies of a report finished by ``--peers-only`` come from (:mod:`.retime`)."""
    later = result["peers_run"]
    archs = "; ".join(
        f"{kind} {f['p50_us']:,.1f} µs float32, {f['int8_p50_us']:,.1f} µs int8"
        for kind, f in later["retimed"].items()
    )
    first = [s["first_run"]["p50_us"] for s in result["students"] if "p50_us" in s.get("first_run", {})]
    then = (
        f" The run that trained the students timed them at {min(first):,.0f}-{max(first):,.0f} µs"
        if first
        else ""
    )
    return (
        f"Every latency above was timed in the `--peers-only` run ({_cpu_words(later['hardware'])}): the "
        "teachers by `bert2dnn evaluate`, each student architecture as a random-weight student of its "
        "shapes (its cost does not depend on its weights' values) in the peers' process, one text at a "
        f"time over the test sentences: {archs}.{then}"
        + (" (float32, on its machine and serving path: `first_run` in `sst2_imdb.json`)." if first else "")
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
        "Generated by `make reproduce` (`python -m recipes.sst2_imdb --config jobs/configs/sst2_imdb.yaml`).",
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
        "| model | accuracy | AUC | retention | parameters | p50 latency | int8: accuracy | int8: p50 | train rows "
        "| train seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rec = result.get("recorded_seconds") or {}

    def fmt_row(name: str, r: dict[str, Any], rows: Any = "", seconds: float | None = None) -> str:
        lat = f"{r['p50_us']:,.0f} µs" if "p50_us" in r else "-"
        params = f"{r['params']:,}" if "params" in r else "-"
        rows_s = f"{rows:,}" if isinstance(rows, int) else rows
        q_acc = f"{r['int8_accuracy']:.4f}" if "int8_accuracy" in r else "-"
        q_lat = f"{r['int8_p50_us']:,.0f} µs" if "int8_p50_us" in r else "-"
        secs = "-" if seconds is None else f"{seconds:,.0f}"
        return (
            f"| {name} | {r['accuracy']:.4f} | {r.get('auc', float('nan')):.4f} | "
            f"{r['accuracy'] / best['accuracy']:.1%} | {params} | {lat} | {q_acc} | {q_lat} | {rows_s} | {secs} |"
        )

    for r in result["teachers"]:
        name = r["model"].replace("teacher:", "teacher ").replace("teachers:", "teachers ")
        lines.append(fmt_row(name, r, seconds=(rec.get("finetune") or {}).get(r["model"].split(":")[1])))
    for s in table:
        lines.append(fmt_row(s["desc"], s, s["train_rows"], (rec.get("students") or {}).get(s["id"])))
    peers = [p for p in result.get("peers") or [] if "curve" not in p]
    ft_curve = _fasttext_curve(result)
    if peers:
        lines += [
            "",
            "The peer a practitioner would pick instead: fastText (`recipes/sst2_imdb/peers.py`: dim 64, "
            "word bigrams, one thread), on the same labels and test set; accuracy is the mean over seeds "
            f"{', '.join(map(str, peers[0]['seeds']))}; one text through its Python binding, p50.",
            "",
            "| peer | accuracy | retention | p50 latency | train seconds | train rows |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for p in peers:
            lines.append(
                f"| {p['desc']} | {p['accuracy']:.4f} | {p['accuracy'] / best['accuracy']:.1%} | "
                f"{p['p50_us']:,.1f} µs | {p['train_seconds']:,.1f} | {p['train_rows']:,} |"
            )
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
        + (" + SST-2 train and augmented copies |" if aug_curve else "")
        + (" fastText, same rows (teachers' argmax) |" if ft_curve else ""),
        "| ---: | ---: | ---: |" + (" ---: |" if aug_curve else "") + (" ---: |" if ft_curve else ""),
    ]
    for n, s in curve:
        extra = ""
        for col in (aug_curve, ft_curve):
            if col:  # a column where that curve exists
                a = col.get(n)
                extra += f" {a['accuracy']:.4f} ({a['accuracy'] / best['accuracy']:.1%}) |" if a else " - |"
        lines.append(f"| {n:,} | {s['accuracy']:.4f} | {s['accuracy'] / best['accuracy']:.1%} |{extra}")
    t = result["timings"]
    lines += [
        "",
        "![accuracy against transfer-set size](sst2_imdb_transfer_curve.png)",
        "![latency against accuracy](sst2_imdb_latency_accuracy.png)",
        "",
        f"Wall time of the invocation that wrote this report ({result['hardware']['cpus']} CPUs; finished "
        f"stages are skipped, so a resumed run counts only what it did): fine-tuning {t['finetune_s']:.0f} s, "
        f"labeling {t['label_s']:.0f} s, students {t['students_s']:.0f} s, total {t['total_s']:.0f} s"
        + (f" (fastText peers {t['peers_s']:.0f} s)" if "peers_s" in t and "peers_run" not in result else "")
        + ". Numbers: `sst2_imdb.json`.",
        "",
    ]
    later = result.get("peers_run")
    if later:
        acc = ", ".join(f"{m} {a:.4f}" for m, a in later["teachers_test_accuracy"].items())
        lines[-1:-1] = [
            "",
            "The fastText peers were added afterwards by `python -m recipes.sst2_imdb --peers-only`, "
            "on teachers and transfer-set labels made with this report's settings (the teachers' test "
            f"accuracy: {acc}): {t.get('peers_s', 0):.0f} s for the peers, {later['wall_s']:.0f} s in all.",
        ]
        if later.get("retimed"):
            lines[-1:-1] = ["", _retimed_line(result)]
    compute = _compute_line(result)
    if compute:
        lines[-1:-1] = ["", compute]
    (out / "sst2_imdb.md").write_text("\n".join(lines), encoding="utf-8")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([n for n, _ in curve], [s["accuracy"] for _, s in curve], "o-", label="student (stacked, T=2)")
    for extra, style, legend in (
        (aug_curve, "s--", "+ SST-2 train, augmented copies"),
        (ft_curve, "x:", "fastText, same rows (teachers' argmax)"),
    ):
        if extra:
            pts = sorted(extra.items())
            ax.plot([n for n, _ in pts], [s["accuracy"] for _, s in pts], style, label=legend)
    if aug_curve or ft_curve:
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
    _save_plot(
        ax,
        "transfer-set size (IMDB sentences, distinct)",
        "Student accuracy against transfer-set size",
        out / "sst2_imdb_transfer_curve.png",
    )

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in teachers:
        ax.scatter(r["p50_us"], r["accuracy"], marker="s", color="C1")
        ax.annotate(f"{r['model']} ", (r["p50_us"], r["accuracy"]), fontsize=8, ha="right", va="bottom")
    for i, s in enumerate(table):
        ax.scatter(s["p50_us"], s["accuracy"], color="C0", label="student, float32" if i == 0 else None)
    for (x, y), names in _label_groups(table).items():
        more = f" (+{len(names) - 1})" if len(names) > 1 else ""
        ax.annotate(f" {names[0]}{more}", (x, y), fontsize=7, va="center")
    more = [  # (points, marker, colour, legend)
        (
            [(s["int8_p50_us"], s["int8_accuracy"]) for s in table if "int8_p50_us" in s],
            "^",
            "C2",
            "student, int8 ONNX",
        ),
        ([(p["p50_us"], p["accuracy"]) for p in peers], "x", "C3", "fastText (peer)"),
    ]
    for pts, marker, colour, legend in more:
        if pts:
            ax.scatter(*zip(*pts), marker=marker, color=colour, label=legend)
    if any(pts for pts, *_ in more):
        ax.legend(fontsize=8, loc="lower right")
    _save_plot(
        ax,
        "single-text latency, p50 (µs, one CPU thread)",
        "Latency against accuracy",
        out / "sst2_imdb_latency_accuracy.png",
    )
    log("reproduce", f"report: {out / 'sst2_imdb.md'}")

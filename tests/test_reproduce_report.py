"""The SST-2 → IMDB reproduction: its config validates against every stage, and its report renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipes.sst2_imdb import config, report, run, variants
from recipes.sst2_imdb.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_config_sections_are_valid_stage_configs():
    from bert2dnn_ray import label, teacher
    from bert2dnn_ray.config import build, read_yaml
    from bert2dnn_ray.student import train

    cfg = build(
        config.ReproduceConfig, read_yaml(ROOT / "jobs/configs/sst2_imdb.yaml"), source="sst2_imdb.yaml"
    )
    ft = teacher.FinetuneConfig.model_validate({**cfg.finetune, "train": "x.tsv"})
    assert [t.name for t in ft.teachers] == ["minilm", "minilm3"] and ft.teachers[1].num_layers == 3
    assert ft.output_dir == "runs/sst2/teachers"  # shared with jobs/configs/sst2_teacher.yaml
    train.TrainConfig.model_validate(cfg.student)
    # The word-order student: the bag's settings with its own on top, nested sections merged.
    wo = train.TrainConfig.model_validate(variants._merged(cfg.student, cfg.word_order))
    assert (wo.model.encoder, wo.model.embedding_dim, wo.featurizer.num_buckets) == ("bilstm", 128, 2**20)
    assert (wo.featurizer.word_ngrams, wo.optimizer, wo.epochs) == ([1], "adam", 3)
    assert cfg.student["featurizer"] == {"num_buckets": 1048576}  # not changed by the merge
    specs = run._teachers(cfg, ft)
    assert specs[0].max_length == cfg.label["max_length"]
    assert [s.dtype for s in specs] == [cfg.label["dtype"]] * 2 == ["bf16"] * 2
    extra = {k: v for k, v in cfg.label.items() if k not in run._TEACHER_KEYS}
    label.LabelConfig.model_validate(extra)


def test_each_scale_has_its_own_run_directory():
    """A sample's labels, students and checkpoints are never resumed by a run at another size."""
    full = config.ReproduceConfig(runs_dir="r")
    assert config.run_dir_of(full) == Path("r/sst2_imdb")
    dirs = {config.run_dir_of(full.model_copy(update={"transfer_rows": n})) for n in (150_000, 500_000)}
    assert dirs == {Path("r/sst2_imdb_150000"), Path("r/sst2_imdb_500000")}


def test_student_variants_word_order_and_seed_repeats():
    import pytest

    from bert2dnn_ray.config import build

    wo = {"model": {"encoder": "bilstm"}, "optimizer": "adam"}
    cfg = config.ReproduceConfig(transfer_sizes=[10_000, 2_000_000], word_order=wo, seed_repeats=[0, 1, 2])
    vs = variants._student_variants(cfg, Path("r"), "minilm", 1_000_000, 60_000, 190_000)
    ids = [v["id"] for v in vs]
    assert ids == [
        "gold_only",
        "minilm_t1",
        "minilm_t2",
        "stacked_t1",
        "stacked_t2",
        "stacked_t2_gold",
        "stacked_t2_n10000",
        "stacked_t2_aug_n100000",
        "stacked_t2_aug",
        "bilstm_stacked_t2_aug",
        "stacked_t2_aug_seed1",
        "stacked_t2_aug_seed2",
        "bilstm_stacked_t2_aug_seed1",
        "bilstm_stacked_t2_aug_seed2",
    ]
    by = {v["id"]: v for v in vs}
    bag, bilstm = by["stacked_t2_aug"], by["bilstm_stacked_t2_aug"]
    assert bilstm["soft_labels"] == bag["soft_labels"] and bilstm["max_rows"] is None  # the same data
    assert bilstm["train"] == wo and "train" not in bag and "aug_curve" not in bilstm
    assert bilstm["desc"] == "student (bilstm) ← stacked T=2 + SST-2 train and its augmented copies"
    assert by["bilstm_stacked_t2_aug_seed2"]["seed_of"] == "bilstm_stacked_t2_aug"
    assert by["bilstm_stacked_t2_aug_seed2"]["train"] == wo
    assert by["stacked_t2_aug_n100000"]["max_rows"] == 60_000 + 190_000 + 100_000
    assert (
        by["minilm_t2"]["soft_labels"]
        == by["stacked_t2_n10000"]["soft_labels"]
        == str(Path("r") / "soft_transfer")
    )
    assert by["gold_only"]["soft_labels"] == str(Path("r") / "soft_sst2_train")
    # a word-order student with a seed of its own: its repeats are the other seeds
    vs = variants._student_variants(
        cfg.model_copy(update={"word_order": {**wo, "seed": 1}}), Path("r"), "m", 1_000_000, 6, 19
    )
    assert [v["id"] for v in vs][-2:] == ["bilstm_stacked_t2_aug_seed0", "bilstm_stacked_t2_aug_seed2"]
    # no word-order student, no augmented copies: the last curve recipe gets the repeats
    vs = variants._student_variants(
        cfg.model_copy(update={"word_order": None}), Path("r"), "m", 1_000_000, 6, None
    )
    assert [v["id"] for v in vs][-3:] == [
        "stacked_t2_n10000",
        "stacked_t2_n10000_seed1",
        "stacked_t2_n10000_seed2",
    ]
    with pytest.raises(Exception, match="model.encoder must be cnn or bilstm"):
        build(config.ReproduceConfig, {"word_order": {"model": {"embedding_dim": 32}}})


def _rendered(result: dict, out) -> str:
    """``report.write_report(result, out)``, then the Markdown it wrote."""
    report.write_report(result, out)
    return (out / "sst2_imdb.md").read_text()


def test_report_tables_and_plots(tmp_path):
    t = {"kind": "teacher", "accuracy": 0.9, "auc": 0.95, "params": 22_000_000, "p50_us": 20_000.0}
    students = [
        {
            "id": "gold_only",
            "desc": "gold only",
            "accuracy": 0.80,
            "auc": 0.88,
            "params": 70_000_000,
            "p50_us": 150.0,
            "train_rows": 60_614,
        },
        {
            "id": "stacked_t2",
            "desc": "stacked T=2",
            "accuracy": 0.882,
            "auc": 0.94,
            "params": 70_000_000,
            "p50_us": 160.0,
            "int8_accuracy": 0.881,
            "int8_p50_us": 41.0,
            "train_rows": 150_000,
            "curve": 150_000,
        },
        {
            "id": "stacked_t2_n10000",
            "desc": "10k",
            "accuracy": 0.83,
            "auc": 0.9,
            "params": 70_000_000,
            "p50_us": 155.0,
            "train_rows": 10_000,
            "curve": 10_000,
        },
    ]
    result = {
        "transfer": {
            "input": "x",
            "input_rows": 150_000,
            "labeled_rows": 149_000,
            "dedup_ratio": 0.007,
            "truncated_rows": 12,
            "quarantined_rows": 0,
        },
        "teachers": [
            {**t, "model": "teacher:minilm"},
            {**t, "model": "teacher:minilm3", "accuracy": 0.88},
            {"model": "teachers:stacked(mean)", "kind": "stacked", "accuracy": 0.905, "auc": 0.96},
        ],
        "students": students,
        "peers": [
            {
                "id": "fasttext_teacher_argmax",
                "desc": "fastText ← teachers' argmax",
                "accuracy": 0.85,
                "p50_us": 9.5,
                "train_seconds": 4.5,
                "train_rows": 150_000,
                "seeds": [0, 1, 2],
                "accuracy_seeds": [0.84, 0.85, 0.86],
            }
        ],
        "test_rows": 500,
        "timings": {"finetune_s": 1.0, "label_s": 2.0, "students_s": 3.0, "total_s": 6.0},
        "hardware": {
            "cpus": 2,
            "cpu_model": "Intel Xeon",
            "cpu_bf16_features": {"amx_bf16": True, "avx512_bf16": False, "avx2": True},
        },
        "config": {"transfer_rows": 150_000, "student": {"num_workers": 1}},
    }
    md = _rendered(result, tmp_path)
    assert "| teacher minilm | 0.9000 | 0.9500 | 100.0% | 22,000,000 | 20,000 µs | - | - |  | - |" in md
    assert (
        "| stacked T=2 | 0.8820 | 0.9400 | 98.0% | 70,000,000 | 160 µs | 0.8810 | 41 µs | 150,000 | - |" in md
    )
    assert "| gold only | 0.8000 | 0.8800 | 88.9% | 70,000,000 | 150 µs | - | - | 60,614 | - |" in md
    # training seconds where the outputs recorded them (teachers' fine-tuning, students' epochs)
    timed = {
        **result,
        "recorded_seconds": {"finetune": {"minilm": 1479.1}, "label": {}, "students": {"stacked_t2": 303.2}},
    }
    timed_md = _rendered(timed, tmp_path)
    assert (
        "| teacher minilm | 0.9000 | 0.9500 | 100.0% | 22,000,000 | 20,000 µs | - | - |  | 1,479 |"
        in timed_md
    )
    assert "| 0.8810 | 41 µs | 150,000 | 303 |" in timed_md and "| 60,614 | - |" in timed_md
    assert md.index("| 10,000 | 0.8300") < md.index("| 150,000 | 0.8820")  # curve sorted by size
    assert "| fastText ← teachers' argmax | 0.8500 | 94.4% | 9.5 µs | 4.5 | 150,000 |" in md
    assert "accuracy is the mean over seeds 0, 1, 2" in md
    for png in ("sst2_imdb_transfer_curve.png", "sst2_imdb_latency_accuracy.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "sst2_imdb.json").exists()
    assert (
        'Headline: the best student, "stacked T=2", scores 0.8820 (one seed) = 98.0% of the best '
        "teacher's accuracy, 97.5% of its own teacher (teachers:stacked(mean), 0.9050); BERT2DNN reports "
        "≥97%. Served as `model.int8.onnx` (seed 0) it scores 0.8810 at 41 µs a text, 488x faster than "
        "that teacher (20,000 µs)." in md
    )
    assert md.index("Headline: ") < md.index("Scale: ") < md.index("| model |")
    assert "Scale: a seeded sample of 150,000 of the ~1.11M IMDB sentences" in md
    assert "on 2 CPUs (Intel Xeon, bf16 units: amx_bf16), no GPU" in md  # latencies depend on the CPU
    assert (
        "students on 1 Ray Train worker(s) (4 epochs, the best on dev; hashed bag of 262,144 buckets x 64)"
        in md
    )
    one_epoch = {**result, "config": {**result["config"], "student": {"num_workers": 1, "epochs": 1}}}
    assert "(1 epoch; hashed bag of 262,144 buckets x 64)" in report._scale_line(one_epoch)

    # augmented students: a second curve column (and plot series), the recipe in words
    result["students"].append(
        {**students[1], "id": "stacked_t2_aug", "desc": "aug", "accuracy": 0.891, "aug_curve": 150_000}
    )
    del result["students"][-1]["curve"]
    result["augmented"] = {"written_rows": 200_000, "labeled_rows": 190_000, "config": {"variants": 5}}
    md = _rendered(result, tmp_path)
    assert "| transfer rows | accuracy | retention | + SST-2 train and augmented copies |" in md
    assert "| 150,000 | 0.8820 | 98.0% | 0.8910 (99.0%) |" in md and "| 10,000 | 0.8300 | 92.2% | - |" in md
    assert "5 perturbed copies of each training sentence" in md and "190,000 distinct" in md

    # fastText at the curve's sizes: a column of the curve table (all rows = the argmax peer), not
    # rows of the peers table; peers added by --peers-only say so
    result["peers"].append({**result["peers"][0], "id": "fasttext_teacher_argmax_n10000", "curve": 10_000})
    result["peers"][-1].update(accuracy=0.79, desc="fastText, 10k rows", train_rows=10_000)
    result["timings"]["peers_s"] = 40.0
    result["peers_run"] = {"teachers_test_accuracy": {"teacher:minilm": 0.9}, "wall_s": 4000.0}
    md = _rendered(result, tmp_path)
    assert "| + SST-2 train and augmented copies | fastText, same rows (teachers' argmax) |" in md
    assert "| 10,000 | 0.8300 | 92.2% | - | 0.7900 (87.8%) |" in md
    assert "| 150,000 | 0.8820 | 98.0% | 0.8910 (99.0%) | 0.8500 (94.4%) |" in md
    assert "fastText, 10k rows" not in md
    assert "added afterwards by `python -m recipes.sst2_imdb --peers-only`" in md
    assert "(the teachers' test accuracy: teacher:minilm 0.9000): 40 s for the peers, 4000 s in all" in md
    assert "Every latency above was timed" not in md  # not retimed: no such line
    result["peers_run"]["retimed"] = {"bag": {"p50_us": 9.04, "int8_p50_us": 30.5}}
    result["peers_run"]["hardware"] = {"cpu_model": "AMD EPYC", "cpu_bf16_features": {"avx512_bf16": True}}
    result["students"][0]["first_run"] = {"p50_us": 150.0}
    result["students"][1]["first_run"] = {"p50_us": 171.0}
    md = _rendered(result, tmp_path)
    assert "Every latency above was timed in the `--peers-only` run (AMD EPYC, bf16 units: avx512_bf16)" in md
    assert (
        "over the test sentences: bag 9.0 µs float32, 30.5 µs int8. The run that trained the students " in md
    )
    assert "timed them at 150-171 µs (float32, on its machine and serving path: `first_run` in" in md
    del result["peers"][-1], result["peers_run"], result["timings"]["peers_s"]
    for s in result["students"]:
        s.pop("first_run", None)

    # the last recipe again with other seeds: a spread paragraph, not more table rows
    aug = result["students"][-1]

    def add_seeds(sid: str, desc: str, accs: dict[int, float], **extra) -> None:
        """Rows of one recipe at these seeds (seed 0 is the table's row, the others its repeats)."""
        for seed, acc in accs.items():
            row = {**aug, "id": sid, "desc": desc, "accuracy": acc, "seed": seed, **extra}
            if seed:
                row.update(id=f"{sid}_seed{seed}", desc=f"{desc}, seed {seed}", seed_of=sid)
            del row["aug_curve"]
            result["students"].append(row)

    add_seeds("stacked_t2_aug", "aug", {1: 0.885, 2: 0.879})
    md = _rendered(result, tmp_path)
    assert "| aug, seed 1 |" not in md and "| aug | 0.8910 |" in md
    assert (
        'Seed spread: "aug" trained 3 times, the seed its only change: 0.8910 (seed 0), 0.8850 (seed 1), '
        "0.8790 (seed 2); mean 0.8850 = 98.3% retention (97.8% of its own teacher, teachers:stacked(mean): "
        "0.9050), standard deviation 0.0060." in md
    )
    assert "With 500 test sentences one standard error of an accuracy is about 0.014" in md
    # the headline student is chosen by its mean over seeds (0.8850 here, above stacked T=2's 0.8820)
    assert 'Headline: the best student, "aug", scores 0.8850 (mean over 3 seeds) = 98.3% of the best' in md
    assert "BERT2DNN's own student" not in md  # the best student is already a bag
    assert "reads the words in order" not in md

    # a word-order student on the same data, with its own seeds: a second spread paragraph
    wo = {"model": {"encoder": "bilstm"}}
    add_seeds("bilstm_aug", "bilstm aug", {0: 0.899, 1: 0.893, 2: 0.896}, train=wo, word_order="bilstm")
    md = _rendered(result, tmp_path)
    assert "| bilstm aug | 0.8990 |" in md and "| bilstm aug, seed 1 |" not in md
    assert '"bilstm aug" reads the words in order instead of pooling a bag' in md
    assert '`{"model": {"encoder": "bilstm"}}`' in md
    assert md.count("Seed spread: ") == 2
    assert 'Headline: the best student, "bilstm aug", scores 0.8960 (mean over 3 seeds) = 99.6%' in md
    # ... and then BERT2DNN's own student, the best bag (by its mean over seeds, as above)
    assert (
        'BERT2DNN\'s own student, a bag of n-grams, does best as "aug": 0.8850 (mean over 3 seeds) = 98.3% '
        "of the best teacher's accuracy; served as `model.int8.onnx` (seed 0) it scores 0.8810 at 41 µs a "
        "text, 488x faster than that teacher (20,000 µs)." in md
    )
    assert (
        'Seed spread: "bilstm aug" trained 3 times, the seed its only change: 0.8990 (seed 0), 0.8930 ' in md
    )
    assert "| 150,000 | 0.8820 | 98.0% | 0.8910 (99.0%) |" in md  # the curve keeps the bag rows
    assert "`sst2/test.tsv` (500 sentences, GLUE SST-2 dev)" in md
    assert "Compute recorded" not in md  # a result from before the outputs recorded their cost

    # What the outputs record of their cost: teachers trained before fine-tuning recorded its time
    # say so; a student without it is left out of the sum, and the sum says how many it covers.
    result["recorded_seconds"] = {
        "finetune": {"minilm": None, "minilm3": None},
        "label": {"transfer set": 4083.0, "SST-2 train": 150.0, "augmented copies": None},
        "students": {"gold_only": 600.0, "stacked_t2": 1200.0, "stacked_t2_n10000": None},
    }
    md = _rendered(result, tmp_path)
    assert (
        "Compute recorded in the outputs, over every invocation that made them (training epochs for "
        "teachers and students, without start-up and dev evaluation; for labeling, the wall time of "
        "the labeling actors; outputs made before these were recorded say not recorded): teacher "
        "fine-tuning not recorded; labeling 71 min for 2 of the 3 labeled sets (transfer set 68 min, "
        "SST-2 train 2 min, augmented copies not recorded); 3 students 30 min for 2 of the 3 students." in md
    )


def test_epoch_seconds_sums_a_history_that_records_them():
    h = [{"epoch": 0, "train_seconds": 10.5}, {"epoch": 1, "train_seconds": 20.0}]
    assert run._epoch_seconds({"history": h}) == 30.5
    assert run._epoch_seconds({"history": [*h, {"epoch": 2}]}) is None  # an older epoch record
    assert run._epoch_seconds({}) is None


def test_plot_labels_that_would_overprint_are_one_label_with_a_count():
    rows = [
        {"id": "a", "p50_us": 160.0, "accuracy": 0.864},
        {"id": "b", "p50_us": 165.0, "accuracy": 0.869},  # the most accurate of the crowd names it
        {"id": "c", "p50_us": 158.0, "accuracy": 0.866},
        {"id": "d", "p50_us": 160.0, "accuracy": 0.835},  # same latency, 3 points lower: its own label
        {"id": "e", "p50_us": 730.0, "accuracy": 0.868},  # same accuracy, 4.5x slower: its own label
    ]
    assert report._label_groups(rows) == {
        (165.0, 0.869): ["b", "c", "a"],
        (730.0, 0.868): ["e"],
        (160.0, 0.835): ["d"],
    }


def test_evaluation_is_reused_until_its_model_or_settings_change(tmp_path, monkeypatch):
    calls = []

    def fake_run(cfg):
        calls.append(cfg.latency_samples)
        out = {"models": [{"kind": "student", "accuracy": len(calls)}]}
        Path(cfg.output).parent.mkdir(exist_ok=True)
        Path(cfg.output).write_text(json.dumps(out))
        return out

    monkeypatch.setattr(run.evaluate, "run", fake_run)
    student = tmp_path / "student"
    student.mkdir()
    (student / "_SUCCESS.json").write_text('{"finished_at": "2026-12-03T10:00:00"}')
    path = tmp_path / "eval" / "s.json"
    kw = dict(test=str(tmp_path / "test.tsv"), student=str(student), latency_samples=5)

    def accuracy(**over):
        return run._evaluate(path, [str(student)], **{**kw, **over})["models"][0]["accuracy"]

    assert accuracy() == 1 and accuracy() == 1 and len(calls) == 1  # the second one is reused
    # The student was trained again (force=true): a new completion marker, a new evaluation.
    (student / "_SUCCESS.json").write_text('{"finished_at": "2026-12-03T11:00:00"}')
    assert accuracy() == 2 and accuracy() == 2
    assert accuracy(latency_samples=7) == 3 and calls == [5, 5, 7]  # other settings: evaluated again
    # An evaluation written before the record existed is reused as it is.
    path.with_name("s.inputs.json").unlink()
    assert accuracy(latency_samples=9) == 3 and len(calls) == 3


def test_report_only_without_numbers_is_a_one_line_error(tmp_path, capsys):
    assert main(["--report-only", "--set", f"report_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"reproduce: error: --report-only: {tmp_path}/sst2_imdb.json does not exist (a finished run writes it)"
    )


def test_peers_only_needs_a_report_made_with_the_same_teachers_and_labels(tmp_path, capsys):
    """--peers-only adds peers to a finished report; one with other teacher or label settings is
    refused in one line, before anything runs, and left as it was."""
    assert main(["--peers-only", "--set", f"report_dir={tmp_path}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"reproduce: error: --peers-only: {tmp_path}/sst2_imdb.json does not exist (a finished run writes it)"
    )
    numbers = tmp_path / "sst2_imdb.json"
    numbers.write_text(json.dumps({"config": {"name": "sst2_imdb", "transfer_rows": 5000}}))
    before = numbers.read_text()
    assert main(["--peers-only", "--set", f"report_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"reproduce: error: --peers-only: {numbers} was made with other data_dir, ")
    assert "transfer_rows, seed, finetune, label than this config; run the whole recipe" in err
    assert numbers.read_text() == before


def test_peers_only_checks_the_teachers_before_labeling_and_trains_no_student(tmp_path, monkeypatch):
    """--peers-only: teachers (re)made, checked against the report's test accuracy before the
    transfer set is labeled, then the peers merged into the report; no student is trained."""
    from bert2dnn_ray.config import build
    from bert2dnn_ray.errors import DataError

    cfg = build(
        config.ReproduceConfig,
        {
            "report_dir": str(tmp_path),
            "runs_dir": str(tmp_path / "runs"),
            "student": {"featurizer": {"num_buckets": 1024}},
            "word_order": {"model": {"encoder": "bilstm"}},
        },
    )
    teachers = [
        {"model": "teacher:minilm", "accuracy": 0.9, "p50_us": 9000.0},
        {"model": "teachers:stacked(mean)", "accuracy": 0.91},
    ]
    students = [
        {"id": "stacked_t2", "accuracy": 0.86, "p50_us": 160.0, "int8_p50_us": 75.0},
        {"id": "bilstm_x", "word_order": "bilstm", "accuracy": 0.89, "p50_us": 700.0, "int8_p50_us": 240.0},
    ]
    report_json = {
        "config": cfg.model_dump(),
        "teachers": teachers,
        "students": students,
        "transfer": {"labeled_rows": 1000},
        "test_rows": 872,
        "timings": {"total_s": 1.0},
    }
    calls: list[str] = []
    scored = {"teacher:minilm": 0.9 + 1 / 872, "teachers:stacked(mean)": 0.91}  # one sentence off: fine
    monkeypatch.setattr(run, "_prepare_inputs", lambda cfg, d: {"transfer": "t"})
    monkeypatch.setattr(run, "_finetune", lambda cfg, d, paths: calls.append("finetune") or (None, []))
    monkeypatch.setattr(
        run,
        "_evaluate_teachers",
        lambda *a: {"models": [{"model": m, "accuracy": v, "p50_us": 5000.0} for m, v in scored.items()]},
    )
    monkeypatch.setattr(run.peers, "test_set", lambda paths: (["a text"], None))
    timed = {}  # the architectures retimed here: {encoder: its TrainConfig keys}

    def fake_p50(train, texts, work):
        kind = (train.get("model") or {}).get("encoder", "bag")
        timed[kind] = train
        return (
            {"p50_us": 9.0, "p99_us": 20.0, "mean_us": 10.0, "int8_p50_us": 30.0}
            if kind == "bag"
            else {
                "p50_us": 400.0,
                "p99_us": 900.0,
                "mean_us": 450.0,
                "int8_p50_us": 200.0,
            }
        )

    monkeypatch.setattr(run.retime, "student_p50", fake_p50)
    monkeypatch.setattr(
        run, "_label_sets", lambda *a: calls.append("label") or ({"labeled_rows": 1000}, {}, {})
    )
    monkeypatch.setattr(run.peers, "peer_rows", lambda *a: calls.append("peers") or [{"id": "fasttext_gold"}])
    monkeypatch.setattr(run.train, "run", lambda *a: pytest.fail("no student is trained"))
    written = []
    monkeypatch.setattr(run, "write_report", lambda result, out: written.append((result, out)))

    result = run.add_peers(cfg, json.loads(json.dumps(report_json)))
    assert calls == ["finetune", "label", "peers"]
    assert written == [(result, tmp_path)] and result["peers"] == [{"id": "fasttext_gold"}]
    assert result["peers_run"]["teachers_test_accuracy"] == scored and "peers_s" in result["timings"]
    # Every latency is retimed here; the first run's is kept. The word-order student is timed
    # with the recipe's word_order settings over its student settings.
    assert [t.get("p50_us") for t in result["teachers"]] == [5000.0, None]
    assert result["teachers"][0]["first_run"] == {"p50_us": 9000.0}
    assert [(s["p50_us"], s["int8_p50_us"]) for s in result["students"]] == [(9.0, 30.0), (400.0, 200.0)]
    assert result["students"][1]["first_run"] == {"p50_us": 700.0, "int8_p50_us": 240.0}
    assert "p99_us" not in result["students"][0]  # only the figures a row had
    assert timed["bag"] == cfg.student and timed["bilstm"]["model"]["encoder"] == "bilstm"
    assert timed["bilstm"]["featurizer"] == {"num_buckets": 1024}
    assert result["peers_run"]["retimed"]["bag"]["p50_us"] == 9.0
    again = run.add_peers(cfg, json.loads(json.dumps(result)))  # a second --peers-only keeps the first run's
    assert again["students"][1]["first_run"] == {"p50_us": 700.0, "int8_p50_us": 240.0}

    calls.clear()
    scored["teacher:minilm"] = 0.9 + 2 / 872  # two sentences off: other teachers, nothing labeled
    with pytest.raises(DataError, match=r"teacher:minilm 0\.9023 \(report 0\.9000\); their labels"):
        run.add_peers(cfg, json.loads(json.dumps(report_json)))
    assert calls == ["finetune"]


def test_student_p50_times_a_random_student_of_the_given_shapes(tmp_path):
    """--peers-only retimes each student architecture as a random-weight student of its shapes:
    float32 predict_one and int8 ONNX, one text at a time; the scratch artifact is removed."""
    from recipes.sst2_imdb import retime

    texts = [f"a {w} film about {n} things" for w in ("good", "bad", "dull") for n in range(20)]
    bag = {"featurizer": {"num_buckets": 4096}, "model": {"embedding_dim": 16, "hidden": [16]}}
    lstm = {
        "featurizer": {"num_buckets": 4096, "word_ngrams": [1]},
        "model": {"encoder": "bilstm", "embedding_dim": 8, "encoder_width": 8, "hidden": [8]},
    }
    for name, train in (("bag", bag), ("bilstm", lstm)):
        f = retime.student_p50(train, texts, tmp_path / name)
        assert set(f) == {"p50_us", "p99_us", "mean_us", "int8_p50_us"}
        assert 0 < f["p50_us"] <= f["p99_us"] and f["int8_p50_us"] > 0, (name, f)
        assert not (tmp_path / name).exists()


def test_fasttext_peers_train_on_exactly_the_students_rows(tmp_path):
    """The fastText peers: hard labels of the first max_rows transfer rows in part order, soft labels
    by sampling (each copy's label drawn from the row's probabilities), scored on the test set."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bert2dnn_ray.io import write_json
    from recipes.sst2_imdb import peers

    # sampling follows the probabilities
    drawn = peers.sampled_labels(np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]]), 4000, seed=0).reshape(3, -1)
    assert drawn[0].max() == 0 and drawn[1].min() == 1 and abs(drawn[2].mean() - 0.7) < 0.03

    # a soft-label set of two parts: "good" texts are positive, "bad" negative
    soft = tmp_path / "soft"
    (soft / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for part in range(2):
        y = rng.integers(0, 2, 300)
        texts = [f"{'good great' if v else 'bad awful'} film {i}" for i, v in enumerate(y)]
        p1 = np.where(y == 1, 0.9, 0.1).astype(np.float32)
        col = pa.array(list(np.stack([1 - p1, p1], 1)), type=pa.list_(pa.float32(), 2))
        names.append(f"data/part-{part}.parquet")
        pq.write_table(pa.table({"text": texts, "stacked_probs_t1": col}), soft / names[-1])
    write_json(soft / "manifest.json", {"files": names})
    texts, probs = peers.transfer_rows(str(soft), max_rows=450)
    assert len(texts) == 450 and texts[:300] == pq.read_table(soft / names[0])["text"].to_pylist()
    assert probs.shape == (450, 2)

    test = (["good great film", "bad awful film", "a good film", "an awful film"], np.array([1, 0, 1, 0]))
    gold = (["good great film", "bad awful film"] * 50, np.array([1, 0] * 50))
    in_domain = (["good great film"] * 30, np.tile(np.float32([0.2, 0.8]), (30, 1)))
    rows = peers.fasttext_peers(
        gold,
        (texts, probs),
        test,
        seed=0,
        work=tmp_path / "ft",
        copies=3,
        sizes=(200, 450, 1000),
        in_domain=in_domain,
    )
    assert [r["id"] for r in rows] == [
        "fasttext_teacher_argmax_n200",  # the curve's smaller sizes: the first 200 rows
        "fasttext_gold",
        "fasttext_teacher_argmax",
        "fasttext_teacher_sampled",
        "fasttext_teacher_argmax_aug",  # SST-2 train + copies, then every transfer row
    ]
    assert [r["train_rows"] for r in rows] == [200, 100, 450, 1350, 480]
    assert rows[0]["curve"] == 200 and all("curve" not in r for r in rows[1:])
    for r in rows:
        assert r["accuracy"] == 1.0 and r["p50_us"] > 0 and r["train_seconds"] >= 0
    assert not list((tmp_path / "ft").iterdir())  # training files are removed


def test_peer_rows_average_the_seeds_cover_the_aug_recipe_and_are_reused(tmp_path, monkeypatch):
    """The report's peers: one row per peer over the seeds; with augmented copies labeled, a row on
    the last bag recipe's rows; reused from eval/peers.json while nothing they depend on changed."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bert2dnn_ray.config import build
    from bert2dnn_ray.io import write_json
    from recipes.sst2_imdb import peers

    def soft_set(d: Path, n: int) -> None:
        (d / "data").mkdir(parents=True)
        y = np.arange(n) % 2
        p1 = np.where(y == 1, 0.9, 0.1).astype(np.float32)
        col = pa.array(list(np.stack([1 - p1, p1], 1)), type=pa.list_(pa.float32(), 2))
        texts = [f"{'good great' if v else 'bad awful'} film {i}" for i, v in enumerate(y)]
        pq.write_table(pa.table({"text": texts, "stacked_probs_t1": col}), d / "data/part-0.parquet")
        write_json(d / "manifest.json", {"files": ["data/part-0.parquet"]})

    run_dir = tmp_path / "run"
    for name, n in (("soft_transfer", 300), ("soft_sst2_train", 40), ("soft_augmented", 60)):
        soft_set(run_dir / name, n)
    pq.write_table(
        pa.table({"text": ["good great film", "bad awful film"] * 20, "label": [1, 0] * 20}),
        tmp_path / "sst.parquet",
    )
    (tmp_path / "test.tsv").write_text("sentence\tlabel\na good film\t1\nan awful film\t0\n")
    paths = {"sst2_train": str(tmp_path / "sst.parquet"), "test": str(tmp_path / "test.tsv")}
    cfg = build(config.ReproduceConfig, {"transfer_sizes": [100], "seed_repeats": [1]})

    rows = peers.peer_rows(cfg, run_dir, paths)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {
        "fasttext_teacher_argmax_n100",
        "fasttext_gold",
        "fasttext_teacher_argmax",
        "fasttext_teacher_sampled",
        "fasttext_teacher_argmax_aug",
    }
    assert by_id["fasttext_teacher_argmax_aug"]["train_rows"] == 40 + 60 + 300
    assert by_id["fasttext_teacher_argmax_n100"]["curve"] == 100
    for r in rows:
        assert r["seeds"] == [0, 1] and len(r["accuracy_seeds"]) == 2
        assert r["accuracy"] == np.mean(r["accuracy_seeds"])

    monkeypatch.setattr(peers, "fasttext_peers", lambda *a, **k: pytest.fail("reused, not trained again"))
    assert peers.peer_rows(cfg, run_dir, paths) == rows
    without_copies = build(
        config.ReproduceConfig, {"transfer_sizes": [100], "seed_repeats": [1], "augment": None}
    )
    monkeypatch.undo()
    assert "fasttext_teacher_argmax_aug" not in {
        r["id"] for r in peers.peer_rows(without_copies, run_dir, paths)
    }

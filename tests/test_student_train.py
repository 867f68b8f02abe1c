"""Student training on Ray Train: it learns, checkpoints, and resumes after a SIGKILL."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from raytrain_snapshot import kill_when, registered_checkpoint, registered_step

from bert2dnn_ray import Student, synthetic
from bert2dnn_ray.errors import ConfigError, DataError
from bert2dnn_ray.student import inputs, train

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]


def _soft_labels(tmp_path: Path, n: int = 6000, parts: int = 3) -> tuple[Path, Path]:
    """A soft-label directory in the label stage's format, from generated gold labels."""
    tables = synthetic.generate(
        synthetic.SyntheticConfig(num_labeled=n, num_dev=1500, num_test=10, num_unlabeled=10, seed=21)
    )
    tr = tables["train"]
    y = tr["label"].to_numpy()
    probs = np.full((len(y), 4), 0.05, dtype=np.float32)
    probs[np.arange(len(y)), y] = 0.85
    out = tmp_path / "soft"
    (out / "data").mkdir(parents=True)
    files = []
    for i in range(parts):
        sl = slice(i * n // parts, (i + 1) * n // parts)
        part = pa.table(
            {
                "row_id": tr["id"][sl],
                "text": tr["text"][sl],
                "stacked_probs_t2": pa.FixedSizeListArray.from_arrays(pa.array(probs[sl].reshape(-1)), 4),
            }
        )
        pq.write_table(part, out / "data" / f"part-{i:06d}.parquet")
        files.append(f"data/part-{i:06d}.parquet")
    (out / "manifest.json").write_text(json.dumps({"files": files, "labeled_rows": n}))
    pq.write_table(tables["dev"], tmp_path / "dev.parquet")
    return out, tmp_path / "dev.parquet"


def _cfg(tmp_path: Path, soft: Path, dev: Path, name: str, **kw) -> train.TrainConfig:
    base = dict(
        soft_labels=str(soft),
        dev=str(dev),
        output_dir=str(tmp_path / name / "student"),
        storage_path=str(tmp_path / name / "ckpt"),
        epochs=3,
        batch_size=64,
        learning_rate=0.05,
        num_workers=2,
        featurizer={"num_buckets": 8192},
        model={"hidden": [64, 32]},
        label_names=synthetic.label_names("query_category"),
    )
    base.update(kw)
    # Run options (checkpoints, caching, progress) go to the nested `run` section.
    run = {k: base.pop(k) for k in list(base) if k in train.RunOptions.model_fields}
    return train.TrainConfig.model_validate({**base, "run": run})


def test_train_learns_and_resumes_after_sigkill(session_address, s3_server, tmp_path):
    # Training input is deterministic (ordered blocks, seeded local shuffle), so a resumed run
    # retraces the uninterrupted one; the bar is 0.5 accuracy points.
    soft, dev = _soft_labels(tmp_path)
    ref = train.run(_cfg(tmp_path, soft, dev, "ref"))
    steps_total = ref["global_step"]
    assert steps_total == 3 * int(np.ceil(6000 / 2 / 64))
    assert ref["best"]["dev_accuracy"] > 0.85
    assert len(ref["history"]) == 3
    for h in ref["history"]:  # where each epoch's time went (rank 0): input wait is part of the epoch
        assert h["train_seconds"] > 0 and 0 <= h["input_wait_seconds"] < h["train_seconds"], h
        assert 0.6 < h["batch_class_spread"] < 1.6, h  # rows in a random order (ClassMix)

    # Checkpoints on object storage (a loopback S3), as on a cloud cluster: resume reads them there.
    ckpt_root = f"{s3_server[0]}/student_sigkill/{tmp_path.name}"
    cfg = _cfg(tmp_path, soft, dev, "killed", checkpoint_every_steps=20, storage_path=ckpt_root)
    ckpt_root = f"{ckpt_root}/student"  # <storage_path>/<run_name>
    kill_when(session_address, "train", cfg, tmp_path, lambda: (registered_step(ckpt_root) or 0) >= 20)
    assert not (tmp_path / "killed" / "student" / "_SUCCESS.json").exists()
    at_kill = registered_checkpoint(ckpt_root)["metrics"]  # where the resume starts
    assert at_kill["train_seconds"] > 0, at_kill

    resumed = train.run(cfg)
    assert resumed["global_step"] == steps_total  # the step counter continued; it did not restart at 0
    assert resumed["resumed_at_steps"] and resumed["resumed_at_steps"][0] > 0
    assert ref["resumed_at_steps"] == [] and ref["cached_in_object_store"]  # small: read once
    assert len(resumed["history"]) == 3
    gap = abs(resumed["best"]["dev_accuracy"] - ref["best"]["dev_accuracy"])
    assert gap <= 0.005 + 1e-9, (resumed["best"], ref["best"])
    # The input order is deterministic, so the resumed run retraced the reference: the skipped
    # batches were exactly those done before the kill, and the epoch's loss covers all of them.
    for r, k in zip(resumed["history"], ref["history"]):
        assert r["train_loss"] == pytest.approx(k["train_loss"], rel=1e-4), (r, k)
        assert r["batch_class_spread"] == pytest.approx(k["batch_class_spread"], rel=1e-6), (r, k)
    # ... and its time: the epoch the kill interrupted counts its seconds before the checkpoint too.
    killed_epoch = resumed["history"][at_kill["epoch"]]
    assert killed_epoch["train_seconds"] >= at_kill["train_seconds"], (killed_epoch, at_kill)
    assert 0 <= killed_epoch["input_wait_seconds"] < killed_epoch["train_seconds"], killed_epoch
    s = Student.load(tmp_path / "killed" / "student")
    p = s.predict(["wireless headphones", "organic green tea"])
    assert p.shape == (2, 4) and s.label_names[0] == "electronics"


def test_streamed_epoch_resumes_by_skipping_the_files_it_trained(session_address, tmp_path, capfd):
    # Rows streamed from Parquet (cache=false: too many for the object store) are not replayed on
    # a resume: the files of the epoch trained before the kill are skipped whole, and the epoch
    # ends on the files left (see student/resume.py for the margin of the shuffle buffers).
    soft, dev = _soft_labels(tmp_path, n=24000, parts=24)
    cfg = _cfg(tmp_path, soft, dev, "stream", epochs=2, cache=False, checkpoint_every_steps=20)
    steps = 24000 // 2 // 64 + 1  # per epoch: 12,000 rows per worker, batches of 64
    run_dir = tmp_path / "stream" / "ckpt" / "student"

    def mid_epoch() -> bool:  # a registered checkpoint far enough into an epoch to skip files
        m = (registered_checkpoint(run_dir) or {}).get("metrics", {})
        return m.get("epoch_step", 0) >= 120

    kill_when(session_address, "train", cfg, tmp_path, mid_epoch)
    at = registered_checkpoint(run_dir)["metrics"]
    capfd.readouterr()
    resumed = train.run(cfg)
    [skip] = resumed["resume_skipped"]
    assert skip["global_step"] == at["global_step"] == resumed["resumed_at_steps"][0]
    # Whole files (1,000 rows each) trained before the kill, less two shuffle buffers' margin.
    trained = at["epoch_step"] * 64 * 2
    assert skip["skipped_files"] >= 1 and skip["skipped_rows"] == 1000 * skip["skipped_files"]
    assert skip["skipped_rows"] <= trained - 2 * (4096 + 64 + 64), (skip, trained)
    assert "skipping" in capfd.readouterr().err
    # The resumed epoch trained the files left (each worker half of them), then the next epochs.
    left = 24000 - skip["skipped_rows"]
    after = -(-left // 2 // 64) + (cfg.epochs - at["epoch"] - 1) * steps
    assert resumed["global_step"] == at["global_step"] + after
    assert len(resumed["history"]) == 2 and resumed["best"]["dev_accuracy"] > 0.85
    assert not resumed["cached_in_object_store"]


def test_resume_point_and_skipped_prefix(tmp_path):
    from bert2dnn_ray.student import resume

    run = tmp_path / "run"
    assert resume.point(str(run)) is None  # a new run
    run.mkdir()
    snap = run / resume.SNAPSHOT

    def latest(metrics):
        snap.write_text(json.dumps({"latest_checkpoint_result": {"metrics": metrics}}))
        return resume.point(str(run))

    assert latest({"epoch": 1, "epoch_step": 7, "global_step": 50, "train_loss": 0.3}) == {
        "epoch": 1,
        "epoch_step": 7,
        "global_step": 50,
    }
    assert latest({"epoch": 1, "epoch_completed": 1, "global_step": 50}) is None  # an epoch's end
    assert latest({"epoch": 1, "global_step": 50}) is None  # a checkpoint of an older version
    snap.write_text("{not json")
    assert resume.point(str(run)) is None
    assert resume.skip_prefix([100, 100, 50], 249) == (2, 200)
    assert resume.skip_prefix([100, 100, 50], 250) == (3, 250)
    assert resume.skip_prefix([100], 99) == (0, 0)
    assert resume.margin_rows(64, 64, 4096, 2) == 2 * (4096 + 128)


def test_train_rejects_missing_soft_label_column(tmp_path):
    soft, dev = _soft_labels(tmp_path, n=60)
    with pytest.raises(DataError, match="no column 'stacked_probs_t1'"):
        train.run(_cfg(tmp_path, soft, dev, "x", temperature=1.0))
    with pytest.raises(DataError, match="no manifest.json"):
        train.run(_cfg(tmp_path, tmp_path, dev, "y"))
    # Neither the probabilities at T nor logits to compute them from.
    with pytest.raises(DataError, match="no column 'stacked_probs_t3' .*, nor 'stacked_logits' to compute"):
        train.run(_cfg(tmp_path, soft, dev, "z", temperature=3.0))


def _with_logits(src: Path, dest: Path, keep_probs: bool) -> Path:
    """A copy of a soft-label dir with ``stacked_logits`` (log of its T=2 probabilities), with or
    without the probabilities column (a label run configured without that temperature)."""
    (dest / "data").mkdir(parents=True)
    for f in sorted((src / "data").glob("*.parquet")):
        t = pq.read_table(f)
        probs = np.stack(t["stacked_probs_t2"].to_numpy(zero_copy_only=False))
        flat = pa.array(np.log(probs).reshape(-1).astype(np.float32))
        if not keep_probs:
            t = t.drop_columns(["stacked_probs_t2"])
        t = t.append_column("stacked_logits", pa.FixedSizeListArray.from_arrays(flat, probs.shape[1]))
        pq.write_table(t, dest / "data" / f.name)
    (dest / "manifest.json").write_text((src / "manifest.json").read_text())
    return dest


def test_soft_targets_from_logits_are_the_label_stage_probabilities():
    from bert2dnn_ray.metrics import softmax
    from bert2dnn_ray.student.loss import soft_targets

    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 3.0]], dtype=np.float32)
    for t in (1.0, 3.0, 0.5):
        got = soft_targets(list(logits), t).numpy()
        np.testing.assert_allclose(got, softmax(logits, t), atol=1e-6)
    probs = np.array([[0.7, 0.2, 0.1]], dtype=np.float32)
    np.testing.assert_array_equal(soft_targets(list(probs), None).numpy(), probs)  # as they are


def test_train_at_a_temperature_the_labels_lack(ray_session, tmp_path):
    soft, dev = _soft_labels(tmp_path, n=3000)
    logits = _with_logits(soft, tmp_path / "logits", keep_probs=False)
    # T=3 has no probabilities column anywhere: the student trains on softmax(logits / 3).
    m = train.run(_cfg(tmp_path, logits, dev, "t3", temperature=3.0, epochs=1, num_workers=1))
    assert m["soft_label_column"] == "stacked_logits" and m["soft_label_temperature"] == 3.0
    assert m["best"]["dev_accuracy"] > 0.8  # the softened targets keep the teacher's argmax
    # T=2 where one set has its probabilities and the other only logits: both from logits. The
    # driver decides the column and builds the rows (no training run needed to check them): read by
    # Ray Data tasks (driver_read_max_mb=0), capped, globally shuffled there and cached.
    full = _with_logits(soft, tmp_path / "full", keep_probs=True)
    cfg = _cfg(
        tmp_path,
        logits,
        dev,
        "mixed",
        soft_labels=[str(full), str(logits)],
        max_rows=640,
        shuffle="global",
        driver_read_max_mb=0,
    )
    src = inputs.find(cfg)
    assert src.soft_col == "stacked_logits" and src.soft_temperature == 2.0 and src.rows == 640
    ds, cached = inputs.dataset(cfg, src)
    assert cached and ds.count() == 640
    assert set(ds.schema().names) >= {"stacked_logits", inputs.IDS}
    # One set with probabilities only, one with logits only: no column serves both.
    with pytest.raises(
        DataError, match="soft: no column 'stacked_logits', and another soft-label set has no"
    ):
        train.run(_cfg(tmp_path, soft, dev, "none", soft_labels=[str(soft), str(logits)]))


def _with_soft(src: Path, dest: Path, uniform: bool, gold: bool, n: int | None = None) -> Path:
    """A copy of a soft-label dir: soft labels made uninformative (uniform) and/or gold labels added."""
    tables = synthetic.generate(
        synthetic.SyntheticConfig(num_labeled=6000, num_dev=1500, num_test=10, num_unlabeled=10, seed=21)
    )
    gold_by_id = dict(zip(tables["train"]["id"].to_pylist(), tables["train"]["label"].to_pylist()))
    (dest / "data").mkdir(parents=True)
    files, rows = [], 0
    for f in sorted((src / "data").glob("*.parquet")):
        t = pq.read_table(f)
        if n is not None:
            t = t.slice(0, max(0, min(t.num_rows, n - rows)))
        if uniform:
            flat = pa.array(np.full(t.num_rows * 4, 0.25, dtype=np.float32))
            t = t.set_column(2, "stacked_probs_t2", pa.FixedSizeListArray.from_arrays(flat, 4))
        if gold:
            labels = [gold_by_id[i] for i in t["row_id"].to_pylist()]
            labels[0] = None  # a null gold label: that row keeps the soft term only
            t = t.append_column("label", pa.array(labels, pa.int64()))
        pq.write_table(t, dest / "data" / f.name)
        files.append(f"data/{f.name}")
        rows += t.num_rows
    (dest / "manifest.json").write_text(json.dumps({"files": files, "labeled_rows": rows}))
    return dest


def test_hard_label_term_union_and_max_rows(ray_session, tmp_path):
    soft, dev = _soft_labels(tmp_path)
    # Uniform soft labels carry no signal: only the gold-label term can teach the student.
    # (With hard_label_weight 0 the target is the uniform distribution alone; its loss gradient
    # is the same for every class, so nothing but the gold term can separate them.)
    uniform_gold = _with_soft(soft, tmp_path / "uniform_gold", uniform=True, gold=True)
    # A second, soft-only set (no label column: those rows get the soft term only), also uniform.
    soft_part = _with_soft(soft, tmp_path / "soft_part", uniform=True, gold=False, n=2000)
    kw = dict(epochs=1, columns={"text": "text", "label": "label"}, dev_columns={"text": "text"})
    # One run checks all three: the gold term, the union of both sets, and the first-N-rows cap,
    # on the streaming path that large data takes (cache=false: no object-store copy).
    mixed = train.run(
        _cfg(
            tmp_path,
            soft_part,
            dev,
            "mixed",
            soft_labels=[str(uniform_gold), str(soft_part)],
            hard_label_weight=1.0,
            max_rows=7000,
            cache=False,
            prune_checkpoints=True,
            **kw,
        )
    )
    assert mixed["train_rows"] == 7000 and not mixed["cached_in_object_store"]
    # Every set has the label stage's probabilities at T=2: they are used as they are.
    assert mixed["soft_label_column"] == "stacked_probs_t2" and mixed["soft_label_temperature"] is None
    # prune_checkpoints: once the student is written, its run's checkpoints are gone (it serves).
    assert not (tmp_path / "mixed" / "ckpt" / "student").exists()
    assert (tmp_path / "mixed" / "student" / "_SUCCESS.json").exists()
    assert Student.load(tmp_path / "mixed" / "student").predict(["organic green tea"]).shape == (1, 4)
    assert mixed["best"]["dev_accuracy"] > 0.85
    steps_per_epoch = -(-7000 // 2 // 64)
    assert mixed["global_step"] == steps_per_epoch
    # Finished: the same settings skip to it (run-only ones, like cache, may differ); others are
    # refused in one line instead of passing this student off as theirs.
    again = dict(soft_labels=[str(uniform_gold), str(soft_part)], hard_label_weight=1.0, **kw)
    assert train.run(_cfg(tmp_path, soft_part, dev, "mixed", max_rows=7000, cache=True, **again)) == mixed
    with pytest.raises(ConfigError, match=r"other settings \(max_rows: 7000 -> 6000\); set force=true"):
        train.run(_cfg(tmp_path, soft_part, dev, "mixed", max_rows=6000, **again))

    # init_from: a student of the same shape is the starting point. With a vanishing learning rate
    # the continued student is the one it started from (a random start would be near 0.25).
    done = os.path.relpath(tmp_path / "mixed" / "student")  # relative: workers run elsewhere
    cont = train.run(
        _cfg(tmp_path, soft_part, dev, "cont", init_from=done, learning_rate=1e-12, max_rows=640, **again)
    )
    assert cont["best"]["dev_accuracy"] == pytest.approx(mixed["best"]["dev_accuracy"], abs=1e-3)
    with pytest.raises(
        ConfigError, match=r"init_from: .* another shape of student \(hidden: \[64, 32\] there"
    ):
        train.run(_cfg(tmp_path, soft_part, dev, "other", init_from=done, model={"hidden": [32]}, **again))

    with pytest.raises(DataError, match="no soft-label set has the gold label column"):
        train.run(_cfg(tmp_path, soft_part, dev, "nogold", hard_label_weight=0.5, **kw))
    with pytest.raises(ConfigError, match=r"shuffle=global needs the rows cached .*cache=False"):
        train.run(_cfg(tmp_path, soft_part, dev, "global", shuffle="global", cache=False, **kw))


def test_word_order_student_trains_data_parallel_and_serves(ray_session, tmp_path, capfd):
    # A student that reads its words in order: the same trainer (2 workers, sparse embedding
    # gradients through the LSTMs, Adam), the same artifact; it learns the task as the bag does.
    # (The CNN encoder takes the same path through the trainer; its layers, padding, gradients and
    # artifact are tested in test_student_artifact.py, without a training run's ~15 s start-up.)
    encoder = "bilstm"
    soft, dev = _soft_labels(tmp_path, n=3000)
    cfg = _cfg(
        tmp_path,
        soft,
        dev,
        encoder,
        epochs=3,
        batch_size=16,
        optimizer="adam",
        learning_rate=0.01,
        featurizer={"num_buckets": 8192, "word_ngrams": [1]},
        model={"encoder": encoder, "embedding_dim": 16, "encoder_width": 16, "hidden": [32]},
        progress_seconds=0.2,
    )
    m = train.run(cfg)
    assert m["best"]["dev_accuracy"] > 0.85, m["best"]
    assert m["history"][0]["train_seconds"] > 0.2
    cap = capfd.readouterr()  # rank 0's progress lines, forwarded by Ray to this process
    assert re.search(
        r"\[student\] epoch 1/3 step [\d,]+/94 \(\d+%\), [\d,]+ rows/s, loss [\d.]+; about", cap.out + cap.err
    )
    s = Student.load(tmp_path / encoder / "student")
    assert s.model.encoder == encoder
    texts = ["organic green tea", "cheap red iphone case", "running shoes for men"]
    np.testing.assert_allclose(np.stack([s.predict_one(t) for t in texts]), s.predict(texts), atol=1e-6)


def test_length_grouped_batches_are_deterministic_and_keep_every_row():
    # A resumed run skips the batches it trained before the failure by counting them, so the
    # grouped batches must come out the same way every time (same seed and epoch).
    class Shard:  # what iter_batches gives a worker: windows of featurized rows in a fixed order
        def iter_batches(self, batch_size, **_):
            ids = np.empty(1000, dtype=object)
            ids[:] = [np.arange(2 + 2 * ((i * 37) % 50)) for i in range(1000)]  # 2-100 features
            for i in range(0, 1000, batch_size):
                yield {"ids": ids[i : i + batch_size], "row": np.arange(i, min(i + batch_size, 1000))}

    cfg = train.TrainConfig(batch_size=16, model={"encoder": "bilstm"}, featurizer={"word_ngrams": [1]})
    assert inputs.group_by_length(cfg) == 50 and inputs.group_by_length(train.TrainConfig()) == 0
    a = list(inputs.batches(Shard(), cfg, 0))
    b = list(inputs.batches(Shard(), cfg, 0))
    assert [x["row"].tolist() for x in a] == [x["row"].tolist() for x in b]
    assert sorted(np.concatenate([x["row"] for x in a]).tolist()) == list(range(1000))
    assert len(a) == 63  # windows of 800 rows and 200: 50 + 13 batches, as many as without grouping
    spread = np.mean([np.ptp([len(t) for t in x["ids"]]) for x in a])
    assert spread < 10  # similar lengths within a batch (the rows' lengths span 2-100 features)
    c = list(inputs.batches(Shard(), cfg, 1))  # another epoch: another order
    assert [x["row"].tolist() for x in c] != [x["row"].tolist() for x in a]
    plain = list(inputs.batches(Shard(), train.TrainConfig(batch_size=16), 0))
    assert [len(x["row"]) for x in plain] == [16] * 62 + [8]  # bag: the batches as read


def test_global_shuffle_permutes_all_rows_once_seeded_and_mixes_the_sets():
    # A union of sets is read set after set; shuffle: global mixes them before training.
    first = pa.table({"text": [f"sst {i}" for i in range(300)], "p": np.zeros(300)})
    second = pa.table({"text": [f"imdb {i}" for i in range(700)], "p": np.ones(700)})
    tables = [first.slice(0, 150), first.slice(150), second]
    out = inputs._permuted(tables, seed=3)
    assert len(out) == 3 and sum(t.num_rows for t in out) == 1000  # as many blocks as files
    texts = [x for t in out for x in t["text"].to_pylist()]
    assert sorted(texts) == sorted(first["text"].to_pylist() + second["text"].to_pylist())
    for t in out:  # every block holds both sets in about their shares (0.3 / 0.7)
        share = float(np.mean(t["p"].to_numpy()))
        assert 0.55 < share < 0.85, share
    assert [x for t in inputs._permuted(tables, seed=3) for x in t["text"].to_pylist()] == texts
    assert [x for t in inputs._permuted(tables, seed=4) for x in t["text"].to_pylist()] != texts


def test_featurized_rows_are_the_featurizers_ids():
    """Rows are featurized in Ray Data (or by the driver) into an ``ids`` list per row; a batch of
    them is the featurizer's own flat (ids, offsets), whatever layout Ray Data hands it in."""
    from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig

    fcfg = FeaturizerConfig(num_buckets=4096, pair_cross=True)
    texts, pairs = ["red shoes", "a", "wireless noise cancelling headphones"], ["Nike Red", "b c", "Sony"]
    batch = pa.table({"q": texts, "t": pairs, "p": [0.1, 0.2, 0.3]})
    out = inputs.featurize(batch, fcfg.model_dump(mode="json"), "q", "t")
    assert out.column_names == ["p", "ids"] and out["ids"].type.value_type == pa.int32()
    want_ids, want_off = Featurizer(fcfg).batch(texts, pairs)
    got_ids, got_off = inputs.flat_ids(out.to_pydict()["ids"])
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_array_equal(got_off, want_off)
    same = np.empty(2, dtype=object)
    same[:] = [np.array([1, 2]), np.array([3, 4])]
    for col in (same, np.array([[1, 2], [3, 4]])):  # ragged rows, or a 2-D array of equal ones
        ids, off = inputs.flat_ids(col)
        assert ids.tolist() == [1, 2, 3, 4] and off.tolist() == [0, 2]


def test_distillation_loss_by_hand():
    """Soft cross-entropy against the teacher's probabilities; on rows with a gold label, mixed with
    the gold cross-entropy by hard_label_weight; rows without one (-1) keep the soft term only."""
    import torch

    from bert2dnn_ray.student.loss import DistillationLoss

    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    soft = torch.softmax(torch.randn(4, 3), -1)
    gold = torch.tensor([2, -1, 0, 1])
    soft_ce = -(soft * torch.log_softmax(logits, -1)).sum(-1)
    hard_ce = torch.nn.functional.cross_entropy(logits, gold.clamp(min=0), reduction="none")
    torch.testing.assert_close(DistillationLoss()(logits, soft), soft_ce.mean())
    torch.testing.assert_close(DistillationLoss(0.0)(logits, soft, gold), soft_ce.mean())
    w = 0.3
    want = torch.where(gold >= 0, (1 - w) * soft_ce + w * hard_ce, soft_ce).mean()
    torch.testing.assert_close(DistillationLoss(w)(logits, soft, gold), want)
    # On one-hot targets the soft term is plain cross-entropy.
    onehot = torch.nn.functional.one_hot(gold.clamp(min=0), 3).float()
    torch.testing.assert_close(DistillationLoss()(logits, onehot), hard_ce.mean())
    with pytest.raises(ValueError, match="hard_label_weight"):
        DistillationLoss(1.5)
    # At temperature T (Hinton et al.): the soft term compares softmax(logits / T) with the
    # teacher's T-probabilities, times T^2; the gold term stays at T = 1.
    t = 2.0
    soft_ce_t = -(soft * torch.log_softmax(logits / t, -1)).sum(-1) * t * t
    torch.testing.assert_close(DistillationLoss(0.0, t)(logits, soft), soft_ce_t.mean())
    want_t = torch.where(gold >= 0, (1 - w) * soft_ce_t + w * hard_ce, soft_ce_t).mean()
    torch.testing.assert_close(DistillationLoss(w, t)(logits, soft, gold), want_t)
    # Its minimum is the student whose T = 1 logits are the teacher's: logits / T reproduce the
    # teacher's T-probabilities, so the served softmax(logits) is on the teacher's own scale.
    teacher_logits = torch.randn(4, 3) * 3
    soft_t = torch.softmax(teacher_logits / t, -1)
    x = torch.zeros(4, 3, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = DistillationLoss(0.0, t)(x, soft_t)
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(
        torch.softmax(x.detach(), -1), torch.softmax(teacher_logits, -1), atol=1e-3, rtol=0
    )
    with pytest.raises(ValueError, match="temperature"):
        DistillationLoss(0.0, 0.0)


def test_sparse_embedding_gradients_are_dense_on_several_gpus():
    """The GPU path's CPU twin: NCCL has no sparse all-reduce, so data-parallel GPU workers train
    the embedding with dense gradients; one GPU, or CPUs (gloo), keep them sparse."""
    from bert2dnn_ray.student.loop import sparse_gradients

    cfg = train.TrainConfig()  # adagrad, sparse_embeddings: true
    assert sparse_gradients(cfg, "cpu", 4) == (True, None)
    assert sparse_gradients(cfg, "cuda", 1) == (True, None)
    dense, why = sparse_gradients(cfg, "cuda", 2)
    assert not dense and "NCCL has no sparse all-reduce" in why
    assert sparse_gradients(train.TrainConfig(optimizer="sgd"), "cpu", 2) == (False, None)
    assert sparse_gradients(train.TrainConfig(sparse_embeddings=False), "cpu", 2) == (False, None)


def test_class_mix_tells_rows_in_runs_from_a_random_order():
    from bert2dnn_ray.student.loop import ClassMix

    rng = np.random.default_rng(0)
    y = (rng.random(60_000) < 0.44).astype(np.int64)

    def mix(classes: np.ndarray, batch: int = 128) -> ClassMix:
        m = ClassMix(3)  # a class no row has is left out
        for i in range(0, len(classes), batch):
            m.add(classes[i : i + batch])
        return m

    assert mix(y).spread() == pytest.approx(1.0, abs=0.1) and mix(y).warning(4096) is None
    # Runs of one class a 4,096-row buffer cannot mix: a log sorted by class, or reviews in blocks.
    runs = np.repeat(rng.random(60) < 0.44, 1000).astype(np.int64)
    for ordered in (np.sort(y), runs):
        m = mix(ordered)
        assert m.spread() > 5 and "train.shuffle: global" in m.warning(4096)
    # Too few batches to tell: no warning, whatever the spread.
    assert mix(np.sort(y)[:1280]).warning(4096) is None
    # The sums ride in a checkpoint: a resumed epoch goes on where it stopped.
    half = mix(y[:30_080])  # 235 batches
    resumed = ClassMix(3, half.sums())
    for i in range(30_080, 60_000, 128):
        resumed.add(y[i : i + 128])
    assert resumed.spread() == pytest.approx(mix(y).spread())
    assert ClassMix(3).spread() is None

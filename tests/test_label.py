"""Soft-labeling: schema, temperatures, stacking, quarantine, manifest, resume after SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from label_jobs import sigkill_label_job

from bert2dnn_ray import label
from bert2dnn_ray.errors import ConfigError, DataError
from bert2dnn_ray.metrics import softmax

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = "red blue wireless shoes tea organic phone case sofa lamp running size large cheap".split()
    return [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(n)]


def _cfg(inp: Path, out: Path, teachers: list[tuple[str, Path]], **kw) -> label.LabelConfig:
    return label.LabelConfig(
        input=str(inp),
        output_dir=str(out),
        teachers=[label.TeacherSpec(name=n, path=str(p), max_length=16, batch_size=32) for n, p in teachers],
        **kw,
    )


def _read(out: Path) -> pa.Table:
    return pq.read_table(out / "data").sort_by("row_id")


def test_label_schema_temperatures_stacking_and_quarantine(ray_session, tiny_bert_factory, tmp_path):
    t1, t2 = tiny_bert_factory(3, seed=0), tiny_bert_factory(3, seed=1)
    texts = _texts(300)
    texts[5] = None
    texts[6] = ""
    texts[7] = "   \t "
    texts[8] = "long " * 40  # > max_length tokens: labeled on truncated text and flagged
    inp = tmp_path / "in"
    inp.mkdir()
    pq.write_table(pa.table({"text": texts}), inp / "a.parquet", row_group_size=100)
    (inp / "b.txt").write_bytes(b"good text one\n\xff\xfe broken utf8\n\nlast line\n")
    out = tmp_path / "out"
    m = label.run(_cfg(inp, out, [("a", t1), ("b", t2)], temperatures=[1.0, 2.0], chunk_rows=100))

    assert m["chunks"] == 4  # 3 row groups of a.parquet + the text file
    assert m["input_rows"] == 304
    assert m["input_rows"] == m["labeled_rows"] + m["quarantined_rows"]
    assert m["quarantined_rows"] == 5
    assert m["quarantine_reasons"] == {"null": 1, "empty": 3, "invalid_utf8": 1}
    assert m["truncated_rows"] >= 1
    for name in ("a", "b"):  # per-teacher stats: predicted classes, truncation, inference time
        ts = m["teachers"][name]
        assert sum(ts["class_counts"]) == 299 and ts["truncated"] >= 1
        # seconds is recorded to the millisecond, the rate from the unrounded time (and to 0.1 row/s)
        sec = ts["seconds"]
        assert sec > 0 and 299 / (sec + 5e-4) - 0.05 <= ts["rows_per_s"] <= 299 / max(sec - 5e-4, 1e-9) + 0.05

    t = _read(out)
    assert t.num_rows == 299
    ids = t["row_id"].to_pylist()
    assert len(set(ids)) == len(ids)
    # Parquet rows are named by their row, lines by their byte offset (b"good text one\n" is 14 bytes)
    assert "a.parquet:0" in ids and "b.txt@0" in ids and "b.txt@30" in ids
    assert "a.parquet:5" not in ids
    for name in ("a", "b", "stacked"):
        logits = np.stack(t[f"{name}_logits"].to_numpy(zero_copy_only=False))
        p1 = np.stack(t[f"{name}_probs_t1"].to_numpy(zero_copy_only=False))
        p2 = np.stack(t[f"{name}_probs_t2"].to_numpy(zero_copy_only=False))
        assert logits.shape == (299, 3)
        np.testing.assert_allclose(p1.sum(1), 1.0, atol=1e-5)
        np.testing.assert_allclose(p1, softmax(logits, 1.0), atol=1e-6)
        np.testing.assert_allclose(p2, softmax(logits, 2.0), atol=1e-6)
        assert (p2.max(1) <= p1.max(1) + 1e-6).all()  # higher temperature is flatter
    la = np.stack(t["a_logits"].to_numpy(zero_copy_only=False))
    lb = np.stack(t["b_logits"].to_numpy(zero_copy_only=False))
    ls = np.stack(t["stacked_logits"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(ls, (la + lb) / 2, atol=1e-5)
    trunc = dict(zip(ids, t["truncated"].to_pylist(), strict=True))
    assert trunc["a.parquet:8"] is True and trunc["a.parquet:0"] is False

    q = pq.read_table(out / "quarantine")
    reasons = dict(zip(q["row_id"].to_pylist(), q["reason"].to_pylist(), strict=True))
    assert reasons["a.parquet:5"] == "null:text"
    assert reasons["a.parquet:6"] == "empty:text" and reasons["a.parquet:7"] == "empty:text"
    assert reasons["b.txt@14"] == "invalid_utf8:text"
    assert reasons["b.txt@29"] == "empty:text"

    # Run again: nothing to redo, same manifest counts.
    m2 = label.run(_cfg(inp, out, [("a", t1), ("b", t2)], temperatures=[1.0, 2.0], chunk_rows=100))
    assert m2["labeled_rows"] == m["labeled_rows"]
    assert m2["label_seconds_this_run"] < m["label_seconds_this_run"] + 1
    # The labeling wall time comes from the committed chunks, so a run with nothing to do keeps it.
    assert 0 < m["labeling_wall_seconds"] <= m["label_seconds_this_run"]
    assert m2["labeling_wall_seconds"] == m["labeling_wall_seconds"]
    # the teacher actor's peak memory: a process with torch and two BERTs loaded, under 8 GiB
    assert 100 * 2**20 < m["actor_peak_rss_bytes"] < 8 * 2**30


def test_wall_seconds_is_the_union_of_chunk_intervals():
    def chunk(a, b):
        return {"started_at": a, "finished_at": b}

    # Two actors overlapping (10-20, 15-25), a resume after a pause (100-110) and a chunk inside
    # another's interval: 15 s + 10 s, not the 36 s of the intervals summed.
    stats = [chunk(100.0, 110.0), chunk(10.0, 20.0), chunk(15.0, 25.0), chunk(11.0, 12.0)]
    assert label.wall_seconds(stats) == 25.0
    assert label.wall_seconds([]) == 0.0
    assert label.wall_seconds([chunk(1.0, 2.0), {"chunk_id": "old"}]) is None  # an older chunk record


def test_label_errors_before_work(ray_session, tiny_bert_factory, tmp_path):
    t1 = tiny_bert_factory(2)
    pq.write_table(pa.table({"query": ["x"]}), tmp_path / "in.parquet")
    with pytest.raises(DataError, match="missing column 'text'"):
        label.run(_cfg(tmp_path / "in.parquet", tmp_path / "o1", [("a", t1)]))
    with pytest.raises(ConfigError, match="teacher 'bad'"):
        label.run(_cfg(tmp_path / "in.parquet", tmp_path / "o2", [("bad", tmp_path / "in.parquet")]))
    with pytest.raises(DataError, match="no such file"):
        label.run(_cfg(tmp_path / "nope.parquet", tmp_path / "o3", [("a", t1)]))
    t3 = tiny_bert_factory(3)
    with pytest.raises(ConfigError, match="disagree on the number of classes"):
        label.run(_cfg(tmp_path / "in.parquet", tmp_path / "o4", [("a", t1), ("c", t3)]))
    assert not (tmp_path / "o1" / "data").exists()
    # more memory per actor than a local Ray has: an error at once (no retries), not a pool that waits
    pq.write_table(pa.table({"text": ["good", "bad"]}), tmp_path / "ok.parquet")
    with pytest.raises(
        ConfigError, match=r"memory_per_actor_gb=100000 is more than this machine's Ray memory"
    ):
        label.run(_cfg(tmp_path / "ok.parquet", tmp_path / "o5", [("a", t1)], memory_per_actor_gb=100_000))
    assert not list((tmp_path / "o5").glob("data/*.parquet"))


def test_actor_options_reserve_memory_only_when_asked(ray_session):
    cfg = label.LabelConfig(cpus_per_actor=0.5)
    # A dead actor fails the pool's run (label_chunks reruns what is unfinished): never restarted.
    assert label.actor_options(cfg) == {"num_cpus": 0.5, "num_gpus": None, "max_restarts": 0}
    cfg = label.LabelConfig(num_gpus_per_actor=1, memory_per_actor_gb=3.5)
    # a GPU actor's tokenizer may use its own threads (the workers' default keeps them off)
    assert label.actor_options(cfg) == {
        "num_cpus": 1,
        "num_gpus": 1,
        "memory": 3.5 * 2**30,
        "max_restarts": 0,
        "runtime_env": {"env_vars": {"TOKENIZERS_PARALLELISM": "true"}},
    }
    with pytest.raises(ValueError, match="memory_per_actor_gb"):
        label.LabelConfig(memory_per_actor_gb=0)


def test_a_teacher_actor_ends_itself_once_its_pool_run_is_over(ray_session, tmp_path):
    """Ray Data drops a failed pool's actors without killing them (one still busy would hold its
    CPUs or GPU until the driver exits): each watches the attempt file the driver keeps."""
    import threading

    from bert2dnn_ray import io
    from bert2dnn_ray.label.actor import attempt_state, watch_attempt

    marker = str(tmp_path / "_attempt.json")
    assert attempt_state(marker, "a") == "ended"
    io.write_json(marker, {"token": "a"})
    assert (attempt_state(marker, "a"), attempt_state(marker, "b")) == ("current", "replaced")
    Path(marker).write_text('{"tok')  # a torn read ends nothing
    assert attempt_state(marker, "a") == "current"

    @ray_session.remote(num_cpus=0.1)
    class Watched:
        def __init__(self, token: str):
            threading.Thread(target=watch_attempt, args=(marker, token, 0.1), daemon=True).start()

        def ping(self) -> str:
            return "alive"

    def dies(actor) -> bool:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                ray_session.get(actor.ping.remote(), timeout=5)
            except ray_session.exceptions.ActorDiedError:
                return True
            time.sleep(0.1)
        return False

    io.write_json(marker, {"token": "a"})
    a, b = Watched.remote("a"), Watched.remote("b")
    assert dies(b)  # its run was replaced by "a"
    time.sleep(0.5)
    assert ray_session.get(a.ping.remote()) == "alive"  # the current run's actor stays
    io.remove(marker)  # labeling is over
    assert dies(a)


def test_label_logreg_stacker(ray_session, tiny_bert_factory, tmp_path, capsys):
    t1, t2 = tiny_bert_factory(2, seed=0), tiny_bert_factory(2, seed=1)
    texts = _texts(200, seed=3)
    pq.write_table(pa.table({"text": texts}), tmp_path / "u.parquet")
    labels = np.array([int("red" in t) for t in texts])
    pq.write_table(pa.table({"text": texts, "label": labels}), tmp_path / "dev.parquet")
    cfg = _cfg(tmp_path / "u.parquet", tmp_path / "o", [("a", t1), ("b", t2)])
    cfg.stack = label.StackConfig(method="logreg", dev=str(tmp_path / "dev.parquet"))
    cfg.memory_per_actor_gb = 0.5  # reserved by the actor (a local Ray has GiBs of it), and reported
    m = label.run(cfg)
    peak = m["actor_peak_rss_bytes"] / 2**30
    err = capsys.readouterr().err
    assert f"teacher actors peaked at {peak:.1f} GiB of memory each" in err
    assert ("above memory_per_actor_gb=0.5: raise it" in err) == (peak > 0.5)
    assert m["stacking"]["method"] == "logreg" and m["stacking"]["dev_rows"] == 200
    st = json.loads((tmp_path / "o" / "stacker.json").read_text())
    t = _read(tmp_path / "o")
    x = np.concatenate([np.stack(t[f"{n}_logits"].to_numpy(zero_copy_only=False)) for n in ("a", "b")], 1)
    z = x @ np.asarray(st["coef"]).T + np.asarray(st["intercept"])
    want = np.concatenate([np.zeros_like(z), z], 1)
    np.testing.assert_allclose(np.stack(t["stacked_logits"].to_numpy(zero_copy_only=False)), want, atol=1e-4)


def test_label_resume_after_sigkill_matches_uninterrupted_run(session_address, tiny_bert_factory, tmp_path):
    """One text file split into byte ranges (8 chunks), the job killed after some commit: the
    resumed run labels every line once, with the ids of an uninterrupted run."""
    teacher = tiny_bert_factory(2, seed=5)
    texts = _texts(8000, seed=7)
    (tmp_path / "u.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    ref = tmp_path / "ref"
    m_ref = label.run(_cfg(tmp_path / "u.txt", ref, [("t", teacher)], chunk_rows=1000))
    assert m_ref["chunks"] == 8 and m_ref["labeled_rows"] == 8000  # one file, labeled in parallel chunks

    out = tmp_path / "killed"
    cfg = _cfg(tmp_path / "u.txt", out, [("t", teacher)], chunk_rows=1000, num_actors=1)
    chunks = out / "_chunks"
    sigkill_label_job(cfg, tmp_path, session_address, chunks)
    done_before = len(list(chunks.glob("*.json")))
    assert 0 < done_before < 8
    assert not (out / "manifest.json").exists()
    # What a writer killed between write and rename leaves (the kill above may or may not have
    # caught one): the finished run removes them.
    (out / "data").mkdir(exist_ok=True)
    (out / "data" / f".tmp-{'ab' * 16}-part-000001.parquet").write_bytes(b"partial")
    (chunks / ".000001.json.tmp-4242").write_text("{")

    m = label.run(cfg)
    assert m["input_rows"] == m["labeled_rows"] == 8000
    a, b = _read(ref), _read(out)
    assert b["row_id"].to_pylist() == a["row_id"].to_pylist()  # every row exactly once
    np.testing.assert_allclose(
        np.stack(b["t_logits"].to_numpy(zero_copy_only=False)),
        np.stack(a["t_logits"].to_numpy(zero_copy_only=False)),
        atol=1e-5,
    )
    assert sorted(p.name for p in (out / "data").iterdir()) == sorted(
        p.name for p in (ref / "data").iterdir()
    )
    assert not any(p.name.startswith(".") for p in out.rglob("*"))


def test_dedup_distinct_and_join_match_plain_labeling(ray_session, tiny_bert_factory, tmp_path):
    teacher = tiny_bert_factory(2, seed=2)
    rng = np.random.default_rng(0)
    popular = _texts(40, seed=11)
    texts = [popular[i] for i in rng.zipf(1.5, 1500) % 40] + _texts(500, seed=12)
    texts[3] = None  # quarantined before de-duplication
    texts[10] = "  " + (texts[11] or "x").upper() + "  "  # normalisation happens before the dedup key
    pq.write_table(
        pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts}),
        tmp_path / "u.parquet",
        row_group_size=500,
    )

    def cfg(out, **kw):
        kw = {"chunk_rows": 500, **kw}
        c = _cfg(tmp_path / "u.parquet", tmp_path / out, [("t", teacher)], **kw)
        return c.model_copy(update={"columns": c.columns.model_copy(update={"id": "id"})})

    plain = label.run(cfg("plain"))
    joined = label.run(cfg("join", dedup="join", dedup_partitions=4, chunk_rows=100))  # 20 chunks
    distinct = label.run(cfg("distinct", dedup="distinct", dedup_partitions=4))
    # Files per shuffle partition, not per chunk x partition: each phase wrote at most 4 files,
    # each holding about a quarter of the rows (a hash partition's).
    for phase, total in (
        ("_dedup/distinct-*/*.parquet", joined["distinct_input_rows"]),
        ("data/join-*/*.parquet", 1999),
    ):
        files = list((tmp_path / "join").glob(phase))
        assert 1 <= len(files) <= 4, (phase, files)
        assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) <= total
        assert max(pq.ParquetFile(f).metadata.num_rows for f in files) <= total / 2, phase
    assert len(joined["files"]) == len(list((tmp_path / "join").glob("data/join-*/*.parquet")))
    a, b = _read(tmp_path / "plain"), _read(tmp_path / "join")
    # Each file of a shuffle phase is in a random order, not the input's (which a hash partition
    # keeps): a row's place in its file is uncorrelated with its place in the input.
    first_seen: dict[str, int] = {}
    for rid, t in zip(a["row_id"].to_pylist(), a["text"].to_pylist(), strict=True):
        first_seen[t] = min(first_seen.get(t, 10**9), int(rid[1:]))  # normalised texts
    for m, out, col, place in (
        (distinct, "distinct", "text", lambda t: first_seen[t]),
        (joined, "join", "row_id", lambda r: int(r[1:])),
    ):
        for f in m["files"]:
            got = [place(x) for x in pq.read_table(tmp_path / out / f)[col].to_pylist()]
            assert len(got) >= 50
            rho = np.corrcoef(np.argsort(np.argsort(got)), np.arange(len(got)))[0, 1]
            assert abs(rho) < 0.4, (f, rho)

    assert joined["input_rows"] == plain["input_rows"] == 2000
    assert joined["quarantined_rows"] == plain["quarantined_rows"] == 1
    assert b.num_rows == a.num_rows == joined["labeled_rows"] == 1999
    assert b["row_id"].to_pylist() == a["row_id"].to_pylist()  # one output row per input row
    assert b["text"].to_pylist() == a["text"].to_pylist()
    np.testing.assert_allclose(
        np.stack(b["t_logits"].to_numpy(zero_copy_only=False)),
        np.stack(a["t_logits"].to_numpy(zero_copy_only=False)),
        atol=1e-5,
    )

    d = pq.read_table(tmp_path / "distinct" / "data")
    n_distinct = len(set(a["text"].to_pylist()))
    assert d.num_rows == distinct["distinct_rows"] == n_distinct < 1999
    assert sum(d["count"].to_pylist()) == 1999
    assert distinct["dedup_ratio"] == pytest.approx(1 - n_distinct / 1999)
    assert distinct["input_rows"] == 2000 and distinct["quarantined_rows"] == 1
    # The labels of a distinct text are the plain run's labels of any row with that text.
    by_text = dict(
        zip(a["text"].to_pylist(), np.stack(a["t_logits"].to_numpy(zero_copy_only=False)), strict=True)
    )
    dl = np.stack(d["t_logits"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(dl, np.stack([by_text[t] for t in d["text"].to_pylist()]), atol=1e-5)
    # Running again redoes nothing and gives the same manifest.
    again = label.run(cfg("join", dedup="join", dedup_partitions=4, chunk_rows=100))
    assert (
        again["labeled_rows"] == joined["labeled_rows"] and again["distinct_rows"] == joined["distinct_rows"]
    )
    # The labeling wall time of the distinct texts is carried up to the deduplicating run's manifest.
    for m in (joined, distinct):
        assert 0 < m["labeling_wall_seconds"] <= m["label_seconds_this_run"]
    assert again["labeling_wall_seconds"] == joined["labeling_wall_seconds"]


def test_shuffled_block_order_is_random_and_independent_of_arrival():
    from bert2dnn_ray.label.dedup import KEY, shuffled

    keys = [f"{i * 2654435761 % 2**64:016x}" for i in range(1000)]
    block = pa.table({KEY: keys, "n": list(range(1000))})
    out = shuffled(block)
    assert sorted(out["n"].to_pylist()) == list(range(1000))  # every row once
    assert shuffled(block.take(np.random.default_rng(1).permutation(1000))).equals(out)
    assert not out.equals(block.sort_by(KEY)) and not out.equals(block)
    assert abs(np.corrcoef(out["n"].to_numpy(), np.arange(1000))[0, 1]) < 0.2
    assert shuffled(block.slice(0, 1)).equals(block.slice(0, 1))


def test_teacher_runner_prefetch_matches_inline(tiny_bert_factory):
    """The GPU path's prefetch (next batch tokenised on a thread) is run here on CPU: same logits,
    same truncation flags, same row order as the inline path, across many length-sorted batches."""
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    rng = np.random.default_rng(3)
    words = ["cheap", "red", "shoes", "phone", "case", "usb", "cable", "for", "kids", "wireless"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 30)))) for _ in range(203)]
    pairs = [" ".join(rng.choice(words, size=int(rng.integers(1, 5)))) for _ in range(203)]
    spec = TeacherSpec(name="t", path=str(tiny_bert_factory(3)), max_length=16, batch_size=8)
    inline = TeacherRunner(spec, prefetch=False)
    pre = TeacherRunner(spec, prefetch=True)
    assert pre.prefetch and not inline.prefetch
    for p in (None, pairs):
        a, ta = inline.logits(texts, p)
        b, tb = pre.logits(texts, p)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
        assert ta.tolist() == tb.tolist() and 0 < ta.sum() < len(texts)
        # Row i of the output is text i, whatever batch it ran in.
        one, _ = inline.logits([texts[150]], None if p is None else [p[150]])
        np.testing.assert_allclose(a[150], one[0], rtol=0, atol=1e-4)


# ------------------------------------------------------------------ first contact (issue 31)


def test_temperatures_must_be_positive():
    for bad in ([0], [-1], [1.0, 0.0]):
        with pytest.raises(ValueError, match="every temperature must be > 0"):
            label.LabelConfig(temperatures=bad)


def test_problems_found_before_any_work_are_one_line(ray_session, tiny_bert_factory, tmp_path, capsys):
    """keep_columns naming a missing column, an output directory that cannot be created, a teacher
    without a trained head: each a one-line error at once (no Ray retries), nothing labeled."""
    t1 = tiny_bert_factory(2)
    pq.write_table(pa.table({"text": ["good", "bad"]}), tmp_path / "in.parquet")
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"in\.parquet: missing keep_columns 'gold'"):
        label.run(_cfg(tmp_path / "in.parquet", tmp_path / "o1", [("a", t1)], keep_columns=["gold"]))
    assert not (tmp_path / "o1" / "data").exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(DataError, match=r"a_file/out: cannot create the output directory"):
        label.run(_cfg(tmp_path / "in.parquet", blocker / "out", [("a", t1)]))
    # A plain pretrained encoder (no classification head) would label with a random head.
    from transformers import BertConfig, BertModel

    enc = tmp_path / "encoder_only"
    BertModel(
        BertConfig(
            vocab_size=64,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            num_labels=2,
        )
    ).save_pretrained(enc)
    import shutil

    for f in Path(t1).glob("*.txt"):
        shutil.copy(f, enc)
    for f in Path(t1).glob("tokenizer*"):
        shutil.copy(f, enc)
    with pytest.raises(
        ConfigError, match=r"has no trained classification head .*classifier\.bias.*fine-tune it first"
    ):
        label.run(_cfg(tmp_path / "in.parquet", tmp_path / "o3", [("enc", enc)]))
    assert time.monotonic() - t0 < 60  # no retries: Ray would retry a failing task for ~30 s a time
    assert not list((tmp_path / "o3").glob("data/*.parquet"))


def test_bad_rows_found_inside_tasks_are_quarantined_or_one_line(ray_session, tiny_bert_factory, tmp_path):
    """A JSONL log with a few odd rows is labeled and the odd rows quarantined with their reason; a
    CSV whose quoting swallows rows stops the run at once with the file and line."""
    t1 = tiny_bert_factory(2)
    inp = tmp_path / "log"
    inp.mkdir()
    rows = [{"text": f"query {i}"} for i in range(40)]
    rows[3]["text"], rows[7]["text"] = 12345, {"q": "nested"}
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    (inp / "a.jsonl").write_text("\n".join(lines) + "\n")
    m = label.run(_cfg(inp, tmp_path / "out", [("a", t1)]))
    assert m["input_rows"] == 41 and m["labeled_rows"] == 38 and m["quarantined_rows"] == 3
    assert m["quarantine_reasons"] == {"not_text": 2, "invalid_json": 1}
    q = pq.read_table(tmp_path / "out" / "quarantine").to_pylist()
    at = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]  # each line's byte offset
    assert {r["row_id"]: r["reason"] for r in q} == {
        f"a.jsonl@{at[3]}": "not_text:text",
        f"a.jsonl@{at[7]}": "not_text:text",
        f"a.jsonl@{at[40]}": "invalid_json",
    }
    csv_in = tmp_path / "csv"
    csv_in.mkdir()
    (csv_in / "a.csv").write_text("text,label\nfine,1\n")
    (csv_in / "b.csv").write_text('text,label\nok,1\n"swallowed,1\nrow two,0\nrow three",1\n')
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"b\.csv: line 3: a quoted field spans lines"):
        label.run(_cfg(csv_in, tmp_path / "out_csv", [("a", t1)]))
    assert time.monotonic() - t0 < 60


def test_finished_output_is_never_overwritten_by_other_settings(
    ray_session, tiny_bert_factory, tmp_path, capsys
):
    t1 = tiny_bert_factory(2)
    pq.write_table(pa.table({"text": _texts(50), "gold": [1] * 50}), tmp_path / "u.parquet")
    out = tmp_path / "o"
    m = label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1)]))
    stamp = (out / "manifest.json").stat().st_mtime_ns
    # The same settings (and other run-only ones): the finished output is returned as it is.
    again = label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1)], num_actors=2))
    assert again == m and (out / "manifest.json").stat().st_mtime_ns == stamp
    capsys.readouterr()
    for change, named in [
        ({"temperatures": [1.0]}, "temperatures: [1.0, 2.0] -> [1.0]"),
        ({"keep_columns": ["gold"]}, "keep_columns: [] -> ['gold']"),
        ({"stack": label.StackConfig(method="weighted")}, "stack.method: 'mean' -> 'weighted'"),
    ]:
        with pytest.raises(ConfigError, match="was written with other settings") as ei:
            label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1)], **change))
        assert named in str(ei.value) and "force=true" in str(ei.value)
    with pytest.raises(ConfigError, match=r"teacher_names: \['a'\] -> \['a', 'b'\]"):
        label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1), ("b", tiny_bert_factory(2, seed=1))]))
    assert (out / "manifest.json").stat().st_mtime_ns == stamp
    # force: starts over with the new settings.
    forced = label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1)], temperatures=[1.0], force=True))
    assert forced["temperatures"] == [1.0] and forced["settings"]["temperatures"] == [1.0]
    assert "a_probs_t2" not in pq.read_table(out / "data").column_names


def test_a_second_run_into_a_live_output_is_refused(ray_session, tiny_bert_factory, tmp_path):
    """A double submit: the second run names the live one instead of labeling everything again; a
    lease whose process is gone (a killed run) is taken over."""
    import socket

    from bert2dnn_ray.label import lease

    t1 = tiny_bert_factory(2)
    pq.write_table(pa.table({"text": _texts(20)}), tmp_path / "u.parquet")
    out = tmp_path / "o"
    out.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        held = {
            "host": socket.gethostname(),
            "pid": live.pid,
            "started": "2026-12-05T10:00:00+00:00",
            "renewed_at": time.time(),
            "token": "other",
        }
        (out / lease.LEASE).write_text(json.dumps(held))
        with pytest.raises(ConfigError) as ei:
            label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1)]))
        msg = str(ei.value)
        assert f"pid {live.pid}" in msg and socket.gethostname() in msg and "2026-12-05T10:00:00" in msg
        assert not (out / "data").exists()
        # Another host's lease, renewed recently: live; not renewed for long: stale.
        other = {**held, "host": "elsewhere", "pid": 1}
        assert not lease.holder_gone(other)
        assert lease.holder_gone({**other, "renewed_at": time.time() - lease.STALE_S - 1})
    finally:
        live.kill()
        live.wait()
    m = label.run(_cfg(tmp_path / "u.parquet", out, [("a", t1)]))  # its process is gone: taken over
    assert m["labeled_rows"] == 20 and not (out / lease.LEASE).exists()


def test_progress_has_rows_rate_and_time_left(ray_session, tiny_bert_factory, tmp_path, capsys):
    t1 = tiny_bert_factory(2)
    pq.write_table(pa.table({"text": _texts(300)}), tmp_path / "u.parquet", row_group_size=100)
    label.run(_cfg(tmp_path / "u.parquet", tmp_path / "o", [("a", t1)], chunk_rows=100))
    err = capsys.readouterr().err
    assert "100/300 rows (33%)" in err and "rows/s" in err and "left" in err
    assert "300/300 rows (100%)" in err

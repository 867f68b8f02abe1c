"""The label store (``label.store``): a daily run labels only the texts the same teachers have not
labeled before; its output equals a full relabel's; a changed teacher reuses nothing; a run killed
at any point resumes exactly once."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from label_jobs import sigkill_label_job

from bert2dnn_ray import label
from bert2dnn_ray.errors import ConfigError
from bert2dnn_ray.label import store as label_store

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]
WORDS = "red blue wireless shoes tea organic phone case sofa lamp running size large cheap green mini".split()


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(2, 9))) for _ in range(n)]


def _day(path: Path, head: list[str], fresh: list[str], n: int, seed: int) -> Path:
    """A day's log: ``n`` heavy-tailed draws from ``head`` plus every ``fresh`` text once."""
    rng = np.random.default_rng(seed)
    texts = [head[i] for i in rng.zipf(1.3, n) % len(head)] + fresh
    rng.shuffle(texts)
    pq.write_table(pa.table({"id": [f"{path.stem}-{i}" for i in range(len(texts))], "text": texts}), path)
    return path


def _cfg(inp: Path, out: Path, teacher: Path, store: Path | None, **kw) -> label.LabelConfig:
    return label.LabelConfig.model_validate(
        {
            "input": str(inp),
            "output_dir": str(out),
            "columns": {"text": "text", "id": "id"},
            "teachers": [
                {
                    "name": "t",
                    "path": str(teacher),
                    "max_length": 16,
                    "batch_size": 32,
                    "batch_invariant": True,
                }
            ],
            "dedup": "join",
            "dedup_partitions": 1,
            "chunk_rows": 200,
            "store": str(store) if store else None,
            **kw,
        }
    )


def _logits(t: pa.Table) -> np.ndarray:
    return np.stack(t["t_logits"].to_numpy(zero_copy_only=False))


def _labels(t: pa.Table) -> np.ndarray:
    """Every label column (logits and probabilities of the teacher and of the stacked label)."""
    cols = sorted(c for c in t.column_names if "_logits" in c or "_probs_" in c)
    return np.concatenate([np.stack(t[c].to_numpy(zero_copy_only=False)) for c in cols], 1)


def _read(out: Path) -> pa.Table:
    return pq.read_table(out / "data").sort_by("row_id")


def _stored(store: Path) -> pa.Table:
    (fp,) = [p for p in store.iterdir() if p.is_dir()]
    runs = [yaml.safe_load((p).read_text()) for p in (fp / "runs").glob("*.json")]
    files = [fp / "runs" / r["dir"] / f for r in runs for f in r["files"]]
    return pa.concat_tables((pq.read_table(f) for f in files), promote_options="permissive")


@pytest.fixture(scope="module")
def days(ray_session, tiny_bert_factory, tmp_path_factory):
    """Day 1 labeled into a store, and a full relabel of day 2 (most of whose distinct texts were in
    day 1), shared by the tests; each test copies the store before it writes to it."""
    tmp = tmp_path_factory.mktemp("days")
    teacher = tiny_bert_factory(2, seed=21)
    head = _texts(300, seed=1)
    day1 = _day(tmp / "day1.parquet", head[:250], _texts(100, seed=2), 1500, seed=3)
    day2 = _day(tmp / "day2.parquet", head[50:], _texts(400, seed=4), 1500, seed=5)
    m1 = label.run(_cfg(day1, tmp / "out1", teacher, tmp / "store"))
    full = label.run(_cfg(day2, tmp / "full2", teacher, None))
    return {"teacher": teacher, "day1": day1, "day2": day2, "tmp": tmp, "m1": m1, "full": full}


def _store_copy(days, tmp_path: Path) -> Path:
    shutil.copytree(days["tmp"] / "store", tmp_path / "store")
    return tmp_path / "store"


def test_reuse_equals_a_full_relabel(days, tmp_path):
    teacher, day2, m1, full = days["teacher"], days["day2"], days["m1"], days["full"]
    assert m1["reuse"]["reused_distinct"] == 0 and m1["reuse"]["labeled_distinct"] == m1["distinct_rows"]
    store = _store_copy(days, tmp_path)
    m2 = label.run(_cfg(day2, tmp_path / "out2", teacher, store))

    # Every input row once, as a full relabel of day 2 has it.
    a, b = _read(days["tmp"] / "full2"), _read(tmp_path / "out2")
    assert b["row_id"].to_pylist() == a["row_id"].to_pylist() and b.num_rows == 1900
    assert b["text"].to_pylist() == a["text"].to_pylist()
    # Batch-invariant teachers: the reuse run's labels are the full relabel's, bit for bit.
    np.testing.assert_array_equal(_labels(b), _labels(a))
    assert set(b.column_names) == set(a.column_names)

    # What came from the store, and what the teachers labeled.
    day1_texts = set(_read(days["tmp"] / "out1")["text"].to_pylist())
    day2_texts = set(a["text"].to_pylist())
    r = m2["reuse"]
    assert r["reused_distinct"] == len(day2_texts & day1_texts) > 0
    assert r["labeled_distinct"] == len(day2_texts - day1_texts) > 0
    assert r["reused_rows"] == sum(t in day1_texts for t in a["text"].to_pylist())
    assert r["reused_rows"] + r["labeled_input_rows"] == 1900
    assert m2["labeled_rows"] == 1900 and m2["distinct_rows"] == full["distinct_rows"]
    assert r["reused_fraction"] == pytest.approx(r["reused_distinct"] / len(day2_texts))
    assert r["teacher_seconds_saved"] > 0 and r["store_rows_before"] == m1["distinct_rows"]

    # Reused labels are the stored ones, bit for bit.
    out1 = _read(days["tmp"] / "out1")
    first = dict(zip(out1["text"].to_pylist(), _logits(out1), strict=True))
    reused = [i for i, t in enumerate(b["text"].to_pylist()) if t in day1_texts]
    np.testing.assert_array_equal(_logits(b)[reused], np.stack([first[b["text"][i].as_py()] for i in reused]))

    # The store now holds each text of both days once.
    stored = _stored(store)
    assert sorted(stored["text"].to_pylist()) == sorted(day1_texts | day2_texts)

    # Day 2 again into a new output: everything reused, no teacher work; distinct mode too.
    m3 = label.run(_cfg(day2, tmp_path / "again", teacher, store, dedup="distinct"))
    assert m3["reuse"]["labeled_distinct"] == 0 and m3["reuse"]["reused_fraction"] == 1.0
    assert m3["distinct_rows"] == len(day2_texts) and m3["labeling_wall_seconds"] == 0.0
    d = pq.read_table([str(tmp_path / "again" / f) for f in m3["files"]])
    assert sorted(d["text"].to_pylist()) == sorted(day2_texts) and sum(d["count"].to_pylist()) == 1900
    by_text = dict(zip(b["text"].to_pylist(), _logits(b), strict=False))
    np.testing.assert_array_equal(_logits(d), np.stack([by_text[t] for t in d["text"].to_pylist()]))
    assert _stored(store).num_rows == stored.num_rows  # nothing new to add


def test_a_changed_teacher_reuses_nothing(days, tmp_path):
    from safetensors.torch import load_file, save_file

    teacher, day1 = days["teacher"], days["day1"]
    changed = tmp_path / "changed"
    shutil.copytree(teacher, changed)
    weights = load_file(changed / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 1e-3  # one weight
    save_file(weights, changed / "model.safetensors", metadata={"format": "pt"})

    store = _store_copy(days, tmp_path)
    m = label.run(_cfg(day1, tmp_path / "out2", changed, store))
    assert m["reuse"]["reused_distinct"] == 0 and m["reuse"]["store_rows_before"] == 0
    assert len([p for p in store.iterdir() if p.is_dir()]) == 2  # one directory per fingerprint
    # Settings that change the labels change the fingerprint; where a run executes does not.
    base = _cfg(day1, tmp_path / "x", teacher, store)
    stacker = {"method": "mean", "teachers": ["t"]}
    fp = label_store.fingerprint(base, stacker)[0]
    t = base.teachers[0]
    for other in (
        base.model_copy(update={"teachers": [t.model_copy(update={"max_length": 32})]}),
        base.model_copy(update={"temperatures": [1.0, 3.0]}),
        base.model_copy(update={"num_gpus_per_actor": 1.0}),
    ):
        assert label_store.fingerprint(other, stacker)[0] != fp
    assert label_store.fingerprint(base, {**stacker, "coef": [[1.0]]})[0] != fp
    assert (
        label_store.fingerprint(base.model_copy(update={"num_actors": 3, "read_cpus": 0.5}), stacker)[0] == fp
    )
    # A batch-invariant teacher's batch shape is part of its arithmetic; otherwise batch_size is not.
    for invariant, same in ((True, False), (False, True)):
        a = base.model_copy(update={"teachers": [t.model_copy(update={"batch_invariant": invariant})]})
        b = a.model_copy(update={"teachers": [a.teachers[0].model_copy(update={"batch_size": 7})]})
        assert (label_store.fingerprint(a, stacker)[0] == label_store.fingerprint(b, stacker)[0]) is same


def test_store_needs_dedup(days, tmp_path):
    with pytest.raises(ConfigError, match="label.store .* set label.dedup to join"):
        label.run(_cfg(days["day1"], tmp_path / "o", days["teacher"], tmp_path / "s", dedup="none"))


def test_a_reuse_run_killed_resumes_exactly_once(session_address, days, tmp_path):
    """SIGKILL while the new texts are labeled: nothing of the killed run is read from the store;
    another run adds the same new texts meanwhile; the resumed run's output holds each row once and
    the store each text once (the resumed run drops what the other one added)."""
    teacher, day2, full = days["teacher"], days["day2"], days["full"]
    store = _store_copy(days, tmp_path)
    before = _stored(store).num_rows

    out = tmp_path / "out2"
    cfg = _cfg(day2, out, teacher, store, chunk_rows=50, num_actors=1)
    sigkill_label_job(cfg, tmp_path, session_address, out / "_dedup" / "labels" / "_chunks")
    assert (out / "_dedup" / "reuse.json").exists() and not (out / "manifest.json").exists()
    # An interrupted commit's files (no commit record) are never read.
    (fp,) = [p for p in store.iterdir() if p.is_dir()]
    junk = fp / "runs" / "deadbeef-00000000"
    junk.mkdir()
    pq.write_table(_stored(store).slice(0, 5), junk / "part-0.parquet")
    assert _stored(store).num_rows == before
    other = label.run(_cfg(day2, tmp_path / "other", teacher, store))  # takes over the dead run's lease

    m = label.run(cfg)
    a, b = _read(days["tmp"] / "full2"), _read(out)
    assert b["row_id"].to_pylist() == a["row_id"].to_pylist()
    np.testing.assert_array_equal(_labels(b), _labels(a))
    assert m["reuse"]["reused_distinct"] + m["reuse"]["labeled_distinct"] == full["distinct_rows"]
    stored = _stored(store)
    added = other["reuse"]["labeled_distinct"]
    assert added == m["reuse"]["labeled_distinct"] > 0  # both labeled day 2's new texts ...
    assert stored.num_rows == len(set(stored["text"].to_pylist())) == before + added  # ... stored once

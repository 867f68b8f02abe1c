"""The synthetic e-commerce generator: determinism, shapes, difficulty and the held-out-noun design."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from bert2dnn_ray import synthetic
from bert2dnn_ray.synthetic import HELDOUT_NOUNS, LABEL_NAMES, SyntheticConfig, generate, label_names, write
from bert2dnn_ray.text import normalize, tokenize

SMALL = {"num_labeled": 300, "num_dev": 50, "num_test": 100, "num_unlabeled": 1000}


@cache
def _data(task: str = "query_category", **kw: float) -> dict[str, pa.Table]:
    return generate(SyntheticConfig(task=task, **kw))


def _default() -> dict[str, pa.Table]:
    return _data()


def _big() -> dict[str, pa.Table]:
    return _data(num_labeled=5000, num_dev=200, num_test=2000, num_unlabeled=20000)


def _tokens(text: str) -> set[str]:
    return set(tokenize(normalize(text)))


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# ------------------------------------------------------------------------------------------ config


def test_config_defaults_and_validation() -> None:
    cfg = SyntheticConfig()
    assert (cfg.task, cfg.num_labeled, cfg.num_dev, cfg.num_test, cfg.num_unlabeled) == (
        "query_category",
        1200,
        300,
        500,
        20000,
    )
    assert (cfg.seed, cfg.label_noise) == (13, 0.02)
    with pytest.raises(ValidationError):
        SyntheticConfig(num_rows=5)  # unknown key
    with pytest.raises(ValidationError):
        SyntheticConfig(task="sentiment")
    with pytest.raises(ValidationError):
        SyntheticConfig(num_labeled=-1)


def test_label_names() -> None:
    assert label_names("query_category") == ["electronics", "fashion", "home", "grocery"]
    assert label_names("query_title") == ["irrelevant", "relevant"]
    assert LABEL_NAMES["query_category"] == label_names("query_category")
    label_names("query_title").append("x")  # a copy: the constant is not changed
    assert label_names("query_title") == ["irrelevant", "relevant"]
    with pytest.raises(ValueError, match="unknown synthetic task"):
        label_names("nope")


# ------------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("task", ["query_category", "query_title"])
def test_same_seed_byte_identical_tables(task: str) -> None:
    a = generate(SyntheticConfig(task=task, **SMALL))
    b = generate(SyntheticConfig(task=task, **SMALL))
    assert list(a) == list(b) == ["train", "dev", "test", "unlabeled"]
    for split in a:
        assert a[split].equals(b[split], check_metadata=True)
        assert _ipc_bytes(a[split]) == _ipc_bytes(b[split])


def test_written_files_byte_identical(tmp_path) -> None:
    cfg = SyntheticConfig(**SMALL)
    p1 = write(cfg, tmp_path / "a")
    p2 = write(cfg, tmp_path / "b" / "nested")
    assert set(p1) == {"train", "dev", "test", "unlabeled"}
    for split, path in p1.items():
        assert path.name == f"{split}.parquet" and path.is_file()
        assert path.read_bytes() == p2[split].read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "dev.parquet",
        "test.parquet",
        "train.parquet",
        "unlabeled.parquet",
    ]


def test_written_files_zstd_and_roundtrip(tmp_path) -> None:
    cfg = SyntheticConfig(**SMALL)
    tables = generate(cfg)
    paths = write(cfg, tmp_path)
    for split, path in paths.items():
        meta = pq.ParquetFile(path).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        back = pq.read_table(path)
        assert back.equals(tables[split])
        assert json.loads(back.schema.metadata[b"label_names"]) == label_names("query_category")


def test_different_seed_differs() -> None:
    a = generate(SyntheticConfig(seed=1, **SMALL))
    b = generate(SyntheticConfig(seed=2, **SMALL))
    for split in a:
        ta, tb = a[split].column("text").to_pylist(), b[split].column("text").to_pylist()
        assert sum(x != y for x, y in zip(ta, tb, strict=True)) > 0.5 * len(ta)


def test_splits_have_independent_streams() -> None:
    """Changing one split's size leaves the others unchanged."""
    a = generate(SyntheticConfig(**SMALL))
    b = generate(SyntheticConfig(**{**SMALL, "num_unlabeled": 3000, "num_dev": 80}))
    assert a["train"].equals(b["train"])
    assert a["test"].equals(b["test"])


def test_dict_and_none_configs() -> None:
    assert generate(dict(SMALL))["train"].equals(generate(SyntheticConfig(**SMALL))["train"])
    assert generate(None)["train"].num_rows == 1200


def test_empty_splits() -> None:
    for task in ("query_category", "query_title"):
        out = generate(SyntheticConfig(task=task, num_labeled=0, num_dev=0, num_test=0, num_unlabeled=0))
        assert all(t.num_rows == 0 for t in out.values())
        assert "label" in out["train"].column_names


# ------------------------------------------------------------------------------- shapes and schemas


def test_sizes_and_schema_query_category() -> None:
    data = _default()
    assert {k: v.num_rows for k, v in data.items()} == {
        "train": 1200,
        "dev": 300,
        "test": 500,
        "unlabeled": 20000,
    }
    for split in ("train", "dev", "test"):
        assert [(f.name, f.type) for f in data[split].schema] == [
            ("id", pa.string()),
            ("text", pa.string()),
            ("label", pa.int64()),
        ]
    assert data["unlabeled"].column_names == ["id", "text"]
    for table in data.values():
        assert table.schema.field("id").type == pa.string()
        assert table.schema.field("text").type == pa.string()
        assert json.loads(table.schema.metadata[b"label_names"]) == [
            "electronics",
            "fashion",
            "home",
            "grocery",
        ]
        assert table.schema.metadata[b"task"] == b"query_category"
        assert table.column("text").null_count == 0
        texts = table.column("text").to_pylist()
        assert all(t and t == t.strip() and "  " not in t for t in texts)


def test_queries_look_like_queries() -> None:
    texts = _default()["unlabeled"].column("text").to_pylist()
    lengths = np.array([len(t.split()) for t in texts])
    assert 2.0 <= lengths.mean() <= 5.0
    assert lengths.max() <= 14
    assert (lengths == 1).mean() > 0.05  # head queries ("tv", "sofa")
    assert len(set(texts)) > 5000


def test_ids_unique() -> None:
    data = _default()
    all_ids: list[str] = []
    for table in data.values():
        ids = table.column("id").to_pylist()
        assert len(set(ids)) == len(ids)
        all_ids += ids
    assert len(set(all_ids)) == len(all_ids)


def test_label_range_and_balance() -> None:
    data = _big()
    for split in ("train", "test"):
        labels = np.asarray(data[split].column("label").to_pylist())
        assert labels.min() >= 0 and labels.max() <= 3
        share = np.bincount(labels, minlength=4) / labels.size
        assert np.all(share >= 0.15) and np.all(share <= 0.35), share


def test_label_noise_flips_about_that_share() -> None:
    kw = {"num_labeled": 4000, "num_dev": 0, "num_test": 0, "num_unlabeled": 0}
    clean = generate(SyntheticConfig(label_noise=0.0, **kw))["train"]
    noisy = generate(SyntheticConfig(label_noise=0.05, **kw))["train"]
    assert clean.column("text").equals(noisy.column("text"))
    a = np.asarray(clean.column("label").to_pylist())
    b = np.asarray(noisy.column("label").to_pylist())
    assert 0.03 <= (a != b).mean() <= 0.07


# ---------------------------------------------------------------------------- difficulty by design


def test_unlabeled_has_query_log_repeats() -> None:
    texts = _default()["unlabeled"].column("text").to_pylist()
    counts = collections.Counter(texts)
    repeat_ratio = 1 - len(counts) / len(texts)
    assert 0.2 <= repeat_ratio <= 0.45, repeat_ratio
    top = counts.most_common(20)
    assert top[0][1] >= 100  # some queries repeat many times ...
    assert sum(c == 1 for c in counts.values()) > 3000  # ... over a long tail of singletons
    # Labeled splits only have the natural collisions of short queries.
    train = _default()["train"].column("text").to_pylist()
    assert 1 - len(set(train)) / len(train) < repeat_ratio


def test_heldout_nouns_only_in_test_and_unlabeled() -> None:
    data = _big()
    assert len(HELDOUT_NOUNS) >= 8
    assert {"earbuds", "sofa", "sneakers", "yogurt"} <= set(HELDOUT_NOUNS)
    seen = {split: set() for split in data}
    for split, table in data.items():
        for text in table.column("text").to_pylist():
            seen[split] |= _tokens(text)
    held = set(HELDOUT_NOUNS)
    assert not held & seen["train"], held & seen["train"]
    assert not held & seen["dev"], held & seen["dev"]
    assert held <= seen["unlabeled"]
    assert len(held & seen["test"]) >= len(held) - 1
    # They are a noticeable share of the transfer set.
    texts = data["unlabeled"].column("text").to_pylist()
    share = np.mean([bool(held & _tokens(t)) for t in texts])
    assert 0.03 <= share <= 0.15, share


def test_ambiguous_heads_carry_both_labels() -> None:
    data = _big()
    by_text: dict[str, set[int]] = collections.defaultdict(set)
    for split in ("train", "test"):
        t = data[split]
        for text, label in zip(t.column("text").to_pylist(), t.column("label").to_pylist(), strict=True):
            by_text[text.lower()].add(label)
    for head in ("apple", "case", "watch"):
        assert len(by_text[head]) >= 2, (head, by_text[head])
    # ... while context decides: "apple watch" is electronics far more often than not.
    assert any(text.startswith("apple ") or text.endswith(" apple") for text in by_text)


def test_bag_of_words_learnable_but_not_trivial() -> None:
    """Logistic regression on word counts: >= 85% on test, < 100%, and weak on held-out nouns."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    data = _big()
    train, test = data["train"].to_pydict(), data["test"].to_pydict()
    assert len(train["text"]) == 5000
    vec = CountVectorizer(tokenizer=lambda s: tokenize(normalize(s)), lowercase=False, token_pattern=None)
    x_train = vec.fit_transform(train["text"])
    clf = LogisticRegression(C=5.0, max_iter=2000).fit(x_train, train["label"])
    pred = clf.predict(vec.transform(test["text"]))
    y = np.asarray(test["label"])
    acc = float((pred == y).mean())
    assert 0.85 <= acc < 1.0, acc
    held = np.asarray([bool(set(HELDOUT_NOUNS) & _tokens(t)) for t in test["text"]])
    assert held.sum() >= 50
    acc_held = float((pred[held] == y[held]).mean())
    acc_rest = float((pred[~held] == y[~held]).mean())
    # Gold train labels alone do not teach the held-out nouns: the transfer set must.
    assert acc_held < acc_rest - 0.2, (acc_held, acc_rest)


# ------------------------------------------------------------------------------------- pair task


def test_query_title_task() -> None:
    data = _data("query_title", num_labeled=3000, num_dev=100, num_test=1500, num_unlabeled=5000)
    for split in ("train", "dev", "test"):
        t = data[split]
        assert t.column_names == ["id", "query", "title", "label"]
        assert [f.type for f in t.schema] == [pa.string(), pa.string(), pa.string(), pa.int64()]
        labels = np.asarray(t.column("label").to_pylist())
        assert set(np.unique(labels)) <= {0, 1}
        if split != "dev":
            assert 0.4 <= labels.mean() <= 0.6
    assert data["unlabeled"].column_names == ["id", "query", "title"]
    for t in data.values():
        assert json.loads(t.schema.metadata[b"label_names"]) == ["irrelevant", "relevant"]
        assert t.schema.metadata[b"task"] == b"query_title"
        assert len(set(t.column("id").to_pylist())) == t.num_rows
    held = set(HELDOUT_NOUNS)
    train_words = set().union(*(_tokens(q) for q in data["train"].column("query").to_pylist()))
    assert not held & train_words
    unl_words = set().union(*(_tokens(q) for q in data["unlabeled"].column("query").to_pylist()))
    assert len(held & unl_words) >= len(held) - 1
    for split in data:
        for title in data[split].column("title").to_pylist():
            assert title and not held & _tokens(title), title
    titles = data["train"].column("title").to_pylist()
    assert len(set(titles)) > 0.9 * len(titles)
    assert np.mean([len(t.split()) for t in titles]) >= 4


def test_query_title_relevance_is_attribute_aware() -> None:
    """A relevant title never contradicts the query's colour; some irrelevant ones share the product."""
    data = _data("query_title", num_labeled=3000, num_dev=0, num_test=0, num_unlabeled=0, label_noise=0.0)
    t = data["train"].to_pydict()
    colours = {c.lower() for c, _ in synthetic.COLOURS}
    contradictions = 0
    for query, title, label in zip(t["query"], t["title"], t["label"], strict=True):
        q_col = colours & _tokens(re.sub(r"(?i)black fr\w+", "", query))  # "black friday" is no colour
        t_col = colours & _tokens(title.split(",", 1)[1] if "," in title else "")
        if label == 1 and q_col and t_col and not q_col & t_col and not ({"grey", "gray"} >= q_col | t_col):
            contradictions += 1
    assert contradictions == 0


# ----------------------------------------------------------------------------------------- imports

ROOT = Path(__file__).resolve().parents[1]


def _loaded_after(statement: str) -> list[bool]:
    """Whether the generator and the vocabulary are imported after ``statement``, in a fresh process."""
    code = (
        f"{statement}; import sys; print('bert2dnn_ray.synthetic.generator' in sys.modules, "
        "'bert2dnn_ray.synthetic.vocabulary' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return [w == "True" for w in r.stdout.split()]


def test_loading_labeled_data_does_not_import_the_generator() -> None:
    assert _loaded_after("import bert2dnn_ray.data") == [False, False]


def test_the_package_and_its_stage_do_not_import_the_generator() -> None:
    stmt = "import bert2dnn_ray.synthetic as s; from bert2dnn_ray.synthetic import stage; s.label_names('query_title')"
    assert _loaded_after(stmt) == [False, False]
    assert _loaded_after("from bert2dnn_ray.synthetic import generate") == [True, True]  # the probe works
    # The lazy names still resolve, to the generator's and the vocabulary's own objects.
    from bert2dnn_ray.synthetic import generator, vocabulary

    assert synthetic.generate is generator.generate and synthetic.write is generator.write
    assert synthetic.HELDOUT_NOUNS is vocabulary.HELDOUT_NOUNS
    with pytest.raises(AttributeError):
        _ = synthetic.no_such_name

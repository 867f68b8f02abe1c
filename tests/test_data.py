"""Labeled sets: loading, label validation (errors name file and row), split, trainability."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray.data import Columns, LabeledSet, check_trainable, infer_num_labels, load_labeled, split
from bert2dnn_ray.errors import DataError


def _csv(path: Path, rows: list[tuple[str, str]], header: str = "text,label") -> str:
    path.write_text(header + "\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    return str(path)


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_load_labeled_normalises_text_and_reads_pairs(tmp_path):
    p = tmp_path / "pairs.parquet"
    pq.write_table(
        pa.table(
            {
                "query": ["  red\u00a0shoes ", "ｔｅａ\u3000cup", "x"],
                "title": ["Red Shoes", "tea\tcup\x07", "y"],
                "y": [0, 2, 1],
                "extra": [1.0, 2.0, 3.0],
            }
        ),
        p,
    )
    ds = load_labeled(str(p), Columns(text="query", pair="title", label="y"), num_labels=3)
    assert ds.texts == ["red shoes", "tea cup", "x"]
    assert ds.pairs == ["Red Shoes", "tea cup", "y"]
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [0, 2, 1]
    assert len(ds) == 3 and ds.source == str(p)


def test_float_and_string_integer_labels_are_accepted(tmp_path):
    ds = load_labeled(_csv(tmp_path / "f.csv", [("a", "1.0"), ("b", "0.0"), ("c", "2.0")]), Columns())
    assert ds.labels.tolist() == [1, 0, 2] and ds.labels.dtype == np.int64
    ds = load_labeled(
        _jsonl(
            tmp_path / "s.jsonl",
            [{"text": "a", "label": "1"}, {"text": "b", "label": " 0 "}, {"text": "c", "label": "1.0"}],
        ),
        Columns(),
        num_labels=2,
    )
    assert ds.labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    "rows, fragment",
    [
        ([("a", "1"), ("b", "abc"), ("c", "0")], "row 1: label 'abc' in column 'label' is not an integer"),
        ([("a", "1"), ("b", "0"), ("c", "1.5")], "row 2: label 1.5 in column 'label' is not an integer"),
        ([("a", "1"), ("b", "-1")], "row 1: label -1 in column 'label' is negative"),
        ([("a", "1"), ("b", "0"), ("c", "2")], "row 2: label 2 in column 'label' is out of range 0..1"),
        ([("a", "1"), ("b", "")], "row 1: label column 'label' is missing (null)"),
    ],
)
def test_bad_labels_name_file_and_row(tmp_path, rows, fragment):
    p = _csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError) as ei:
        load_labeled(p, Columns(), num_labels=2)
    msg = str(ei.value)
    assert msg == f"{p}: {fragment}"


@pytest.mark.parametrize(
    "label, fragment",
    [
        (None, "row 1: label column 'label' is missing (null)"),
        ("abc", "row 1: label 'abc' in column 'label' is not an integer"),
        ("1.5", "row 1: label '1.5' in column 'label' is not an integer"),
        ("nan", "row 1: label 'nan' in column 'label' is not an integer"),
        ("", "row 1: label '' in column 'label' is not an integer"),
    ],
)
def test_bad_labels_in_jsonl(tmp_path, label, fragment):
    p = _jsonl(tmp_path / "bad.jsonl", [{"text": "a", "label": "1"}, {"text": "b", "label": label}])
    with pytest.raises(DataError) as ei:
        load_labeled(p, Columns())
    assert str(ei.value) == f"{p}: {fragment}"


def test_boolean_and_mixed_type_labels_in_jsonl(tmp_path):
    p = _jsonl(tmp_path / "b.jsonl", [{"text": "a", "label": True}, {"text": "b", "label": False}])
    with pytest.raises(DataError) as ei:
        load_labeled(p, Columns())
    assert str(ei.value) == f"{p}: row 0: label True in column 'label' is not an integer"
    # Mixed types in one column: the file is read line by line, and the row is named.
    p = _jsonl(tmp_path / "m.jsonl", [{"text": "a", "label": "1"}, {"text": "b", "label": True}])
    with pytest.raises(DataError, match=r"m\.jsonl: row 1: label 'true' in column 'label' is not an integer"):
        load_labeled(p, Columns())
    # A text that is not a string in a labeled set: an error naming the row and column.
    p = _jsonl(tmp_path / "t.jsonl", [{"text": "a", "label": 1}, {"text": 7, "label": 0}])
    with pytest.raises(DataError, match=r"t\.jsonl: row 1: column 'text' is not a string"):
        load_labeled(p, Columns())


def test_missing_label_key_in_jsonl_is_null(tmp_path):
    p = _jsonl(tmp_path / "k.jsonl", [{"text": "a", "label": 1}, {"text": "b"}])
    with pytest.raises(DataError, match=r"k\.jsonl: row 1: label column 'label' is missing \(null\)"):
        load_labeled(p, Columns())


def test_errors_in_a_directory_name_the_file_and_its_row(tmp_path):
    d = tmp_path / "train"
    d.mkdir()
    _csv(d / "part-0.csv", [("a", "1"), ("b", "0"), ("c", "1")])
    bad = _csv(d / "part-1.csv", [("d", "0"), ("e", "7")])
    with pytest.raises(DataError) as ei:
        load_labeled(str(d), Columns(), num_labels=2)
    assert str(ei.value) == f"{bad}: row 1: label 7 in column 'label' is out of range 0..1"
    # without the bad file the directory loads in file order
    Path(bad).unlink()
    _jsonl(d / "part-1.jsonl", [{"text": "d", "label": 0.0}, {"text": "e", "label": 1}])
    ds = load_labeled(str(d), Columns(), num_labels=2)
    assert ds.texts == ["a", "b", "c", "d", "e"] and ds.labels.tolist() == [1, 0, 1, 0, 1]


def test_missing_column_null_text_and_empty_set(tmp_path):
    p = _csv(tmp_path / "c.csv", [("a", "1")], header="sentence,label")
    with pytest.raises(DataError, match=r"c\.csv: .*'text'"):
        load_labeled(p, Columns())
    p = _jsonl(tmp_path / "n.jsonl", [{"text": "a", "label": 1}, {"text": None, "label": 0}])
    with pytest.raises(DataError, match=r"n\.jsonl: row 1: text column 'text' is missing \(null\)"):
        load_labeled(p, Columns())
    e = tmp_path / "e.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())}), e)
    with pytest.raises(DataError, match=r"e\.parquet: the labeled set is empty"):
        load_labeled(str(e), Columns())


def test_invalid_utf8_text_names_file_and_row(tmp_path):
    p = tmp_path / "u.tsv"
    p.write_bytes(b"text\tlabel\nok\t1\nbad \xff\t0\n")
    with pytest.raises(DataError, match=r"u\.tsv: row 1: column 'text' is not valid UTF-8"):
        load_labeled(str(p), Columns())


def _ds(n: int, pairs: bool = False) -> LabeledSet:
    return LabeledSet(
        [f"t{i}" for i in range(n)],
        [f"p{i}" for i in range(n)] if pairs else None,
        np.arange(n, dtype=np.int64) % 3,
        "mem",
    )


def test_split_is_seeded_disjoint_and_complete():
    ds = _ds(100, pairs=True)
    rest, held = split(ds, 0.2, seed=7)
    assert len(held) == 20 and len(rest) == 80
    assert set(rest.texts).isdisjoint(held.texts)
    assert set(rest.texts) | set(held.texts) == set(ds.texts)
    # rows stay aligned: text, pair and label come from the same source row
    for part in (rest, held):
        for t, p, y in zip(part.texts, part.pairs, part.labels):
            i = int(t[1:])
            assert p == f"p{i}" and y == i % 3
        assert [int(t[1:]) for t in part.texts] == sorted(int(t[1:]) for t in part.texts)  # original order
    rest2, held2 = split(ds, 0.2, seed=7)
    assert held2.texts == held.texts and rest2.texts == rest.texts
    _, held3 = split(ds, 0.2, seed=8)
    assert held3.texts != held.texts
    _, tiny = split(_ds(5), 0.01, seed=0)
    assert len(tiny) == 1  # at least one row is held out
    assert split(_ds(10), 0.25, seed=0)[1].pairs is None


def test_check_trainable_and_infer_num_labels():
    with pytest.raises(DataError, match="mem: the training set is empty"):
        check_trainable(LabeledSet([], None, np.array([], np.int64), "mem"), 2)
    one = LabeledSet(["a", "b"], None, np.array([1, 1]), "mem")
    with pytest.raises(
        DataError, match=r"mem: the training set has only one class \(1\); need at least two of 3"
    ):
        check_trainable(one, 3)
    check_trainable(_ds(6), 3)  # no error

    assert infer_num_labels(_ds(6)) == 3
    assert infer_num_labels(LabeledSet(["a"], None, np.array([0]), "m")) == 2  # at least binary
    assert infer_num_labels(_ds(3), LabeledSet(["a"], None, np.array([5]), "m")) == 6
    empty = LabeledSet([], None, np.array([], np.int64), "m")
    assert infer_num_labels(empty, _ds(2)) == 2
    assert infer_num_labels(empty) == 2  # used to raise ValueError (max of nothing)

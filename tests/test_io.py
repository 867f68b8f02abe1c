"""Reading and writing tables: formats, path resolution, one-line DataErrors naming the file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray import io
from bert2dnn_ray.errors import DataError

ROWS = [
    {"text": "wireless headphones", "label": 1},
    {"text": "organic green tea", "label": 0},
    {"text": 'a "quoted" word, with comma', "label": 1},
]


def _write_all_formats(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    paths = {}
    paths["parquet"] = d / "x.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), paths["parquet"])
    paths["jsonl"] = d / "x.jsonl"
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    paths["csv"] = d / "x.csv"
    paths["csv"].write_text(
        'text,label\nwireless headphones,1\norganic green tea,0\n"a ""quoted"" word, with comma",1\n',
        encoding="utf-8",
    )
    paths["tsv"] = d / "x.tsv"
    paths["tsv"].write_text(
        "text\tlabel\n" + "".join(f"{r['text']}\t{r['label']}\n" for r in ROWS), encoding="utf-8"
    )
    paths["csv.gz"] = d / "y.csv.gz"
    paths["csv.gz"].write_bytes(gzip.compress(paths["csv"].read_bytes()))
    return paths


def test_file_format():
    assert io.file_format("a/b.parquet") == "parquet"
    assert io.file_format("B.PQ") == "parquet"
    assert io.file_format("x.ndjson") == "jsonl"
    assert io.file_format("x.json") == "jsonl"
    assert io.file_format("x.tsv.gz") == "tsv"
    assert io.file_format("x.txt.zst") == "text"
    assert io.file_format("s3://bucket/x.csv") == "csv"
    with pytest.raises(DataError, match=r"x\.xlsx: unsupported file type '\.xlsx'"):
        io.file_format("x.xlsx")
    with pytest.raises(DataError, match=r"unsupported file type '\(none\)'"):
        io.file_format("README")


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "tsv", "csv.gz"])
def test_read_every_format(tmp_path, fmt):
    p = _write_all_formats(tmp_path)[fmt]
    t = io.read_table(str(p), columns=["text", "label"], text_columns=["text"])
    assert t.column_names == ["text", "label"]
    assert t.to_pylist() == ROWS
    assert pa.types.is_string(t.schema.field("text").type)
    assert pa.types.is_integer(t.schema.field("label").type)


def test_read_text_file_lines_and_invalid_utf8(tmp_path):
    p = tmp_path / "u.txt"
    p.write_bytes(b"first line\r\nbad \xff\xfe bytes\n\n  spaced  \nlast without newline")
    fs, files = io.resolve_files(str(p))
    res = io.read_file(fs, files[0], text_columns=["query"])
    assert res.table.column_names == ["query"]
    assert res.table["query"].to_pylist() == ["first line", None, "", "  spaced  ", "last without newline"]
    assert res.invalid_utf8 == {"query": [1]}
    with pytest.raises(DataError) as ei:
        io.read_table(str(p), text_columns=["text"])
    assert str(ei.value) == f"{p}: row 1: column 'text' is not valid UTF-8"


def test_sst2_style_tsv_with_double_quotes(tmp_path):
    """SST-2 TSVs have unbalanced double quotes inside sentences: quoting must be off for TSV."""
    sentences = [
        "it 's a charming and often affecting journey . \"",
        '" the emperor \'s new clothes " is a delight',
        'unflinchingly bleak and desperate "',
        "a quote-free line , with a comma",
        '""',
    ]
    labels = [1, 1, 0, 1, 0]
    p = tmp_path / "train.tsv"
    p.write_text(
        "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in zip(sentences, labels)), encoding="utf-8"
    )
    t = io.read_table(str(p), columns=["sentence", "label"], text_columns=["sentence"])
    assert t["sentence"].to_pylist() == sentences
    assert t["label"].to_pylist() == labels


def test_tsv_invalid_utf8_row_is_reported(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_bytes(b"sentence\tlabel\nfine\t1\nalso fine\t0\nbroken \xc3\x28 here\t1\n")
    fs, _ = io.resolve_files(str(p))
    res = io.read_file(fs, str(p), columns=["sentence", "label"], text_columns=["sentence"])
    assert res.invalid_utf8 == {"sentence": [2]}
    assert res.table["sentence"].to_pylist() == ["fine", "also fine", None]
    assert res.table["label"].to_pylist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"bad\.tsv: row 2: column 'sentence' is not valid UTF-8"):
        io.read_table(str(p), text_columns=["sentence"])


def test_directory_skips_hidden_underscore_and_non_data_files(tmp_path):
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    (d / "_tmp").mkdir()
    (d / ".hidden").mkdir()
    for name in [
        "a.parquet",
        "sub/b.parquet",
        "_tmp/c.parquet",
        ".hidden/d.parquet",
        ".e.parquet",
        "_f.parquet",
    ]:
        pq.write_table(pa.table({"text": [name]}), d / name)
    (d / "_SUCCESS").write_text("", encoding="utf-8")
    (d / "README.md").write_text("not data", encoding="utf-8")
    fs, files = io.resolve_files(str(d))
    assert isinstance(fs, pafs.LocalFileSystem)
    assert files == [str(d / "a.parquet"), str(d / "sub" / "b.parquet")]
    assert io.read_table(str(d))["text"].to_pylist() == ["a.parquet", "sub/b.parquet"]


def test_glob_and_file_uri(tmp_path):
    d = tmp_path / "g"
    (d / "sub").mkdir(parents=True)
    for name in ["p1.csv", "p2.csv", "q.csv", "sub/p3.csv", ".p4.csv", "_p5.csv"]:
        (d / name).write_text(f"text,label\n{name},1\n", encoding="utf-8")
    # * and ? stay within one path component, and never match hidden names
    assert io.resolve_files(str(d / "p*.csv"))[1] == [str(d / "p1.csv"), str(d / "p2.csv")]
    assert io.resolve_files(str(d / "*.csv"))[1] == [str(d / n) for n in ("p1.csv", "p2.csv", "q.csv")]
    assert io.resolve_files(str(d / "p?.csv"))[1] == [str(d / "p1.csv"), str(d / "p2.csv")]
    assert io.resolve_files(str(d / "*" / "*.csv"))[1] == [str(d / "sub" / "p3.csv")]
    assert io.resolve_files(str(d / "**" / "p*.csv"))[1] == [
        str(d / n) for n in ("p1.csv", "p2.csv", "sub/p3.csv")
    ]
    assert io.resolve_files(str(d / "_p*.csv"))[1] == [str(d / "_p5.csv")]  # spelled out: allowed
    # file:// URIs: a file, a directory and a glob
    uri = (d / "q.csv").as_uri()
    assert uri.startswith("file://")
    assert io.read_table(uri)["text"].to_pylist() == ["q.csv"]
    assert io.read_table(d.as_uri())["text"].to_pylist() == ["p1.csv", "p2.csv", "q.csv", "sub/p3.csv"]
    assert io.read_table(d.as_uri() + "/p*.csv")["text"].to_pylist() == ["p1.csv", "p2.csv"]
    with pytest.raises(DataError, match=r"nothing\*\.csv: no data files found"):
        io.resolve_files(str(d / "nothing*.csv"))


def test_resolve_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.parquet: no such file or directory"):
        io.resolve_files(str(tmp_path / "missing.parquet"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty: no data files found"):
        io.resolve_files(str(empty))
    odd = tmp_path / "x.xlsx"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.xlsx: unsupported file type"):
        io.resolve_files(str(odd))


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "tsv"])
def test_missing_column_names_file_and_column(tmp_path, fmt):
    p = _write_all_formats(tmp_path)[fmt]
    with pytest.raises(DataError) as ei:
        io.read_table(str(p), columns=["text", "sentence"], text_columns=["text", "sentence"])
    msg = str(ei.value)
    assert msg.startswith(f"{p}: ") and "'sentence'" in msg and "\n" not in msg


def test_unreadable_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot read as parquet"):
        io.read_table(str(broken))
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl: cannot read as jsonl"):
        io.read_table(str(bad_json))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\na,1\nb,0,extra\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ragged\.csv: cannot read as csv"):
        io.read_table(str(ragged))
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        io.parquet_row_groups(pafs.LocalFileSystem(), str(broken))


def test_parquet_row_groups_and_rows(tmp_path):
    p = tmp_path / "rg.parquet"
    pq.write_table(pa.table({"text": [str(i) for i in range(10)], "n": list(range(10))}), p, row_group_size=4)
    fs = pafs.LocalFileSystem()
    assert io.parquet_row_groups(fs, str(p)) == [4, 4, 2]
    t = io.read_parquet_rows(fs, str(p), [1, 2], ["n"])
    assert t.column_names == ["n"] and t["n"].to_pylist() == [4, 5, 6, 7, 8, 9]
    with pytest.raises(DataError, match=r"rg\.parquet: missing column 'label'"):
        io.read_parquet_rows(fs, str(p), [0], ["label"])


def test_decode_text_column():
    arr, bad = io.decode_text_column(pa.array([b"ok", None, b"\xe2\x82", "é".encode()], pa.binary()))
    assert arr.type == pa.string() and arr.to_pylist() == ["ok", None, None, "é"] and bad == [2]
    arr, bad = io.decode_text_column(pa.chunked_array([pa.array([1, 2])]))
    assert arr.to_pylist() == ["1", "2"] and bad == []
    s = pa.array(["x"])
    assert io.decode_text_column(s) == (s, [])


def test_read_tables_keeps_files_apart_and_schemas_promote(tmp_path):
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(pa.table({"text": ["a"], "label": pa.array([1], pa.int32())}), d / "1.parquet")
    pq.write_table(pa.table({"text": ["b", "c"], "label": pa.array([0, 1], pa.int64())}), d / "2.parquet")
    parts = io.read_tables(str(d))
    assert [(Path(p).name, t.num_rows) for p, t in parts] == [("1.parquet", 1), ("2.parquet", 2)]
    t = io.read_table(str(d))
    assert t["label"].type == pa.int64() and t["label"].to_pylist() == [1, 0, 1]


def test_write_parquet_atomic_leaves_no_temp_files(tmp_path, monkeypatch):
    out = tmp_path / "nested" / "dir" / "part-0.parquet"
    table = pa.table({"a": list(range(100)), "s": [str(i) for i in range(100)]})
    io.write_parquet_atomic(table, str(out))
    io.write_parquet_atomic(table.slice(0, 10), out.as_uri())  # overwrite through a file:// URI
    assert sorted(p.name for p in out.parent.iterdir()) == ["part-0.parquet"]
    assert pq.read_table(out).equals(table.slice(0, 10))
    assert pq.ParquetFile(out).metadata.row_group(0).column(0).compression == "ZSTD"

    def half_write(tbl, where, **kw):
        Path(where).write_bytes(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(io.pq, "write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        io.write_parquet_atomic(table, str(out))
    assert sorted(p.name for p in out.parent.iterdir()) == ["part-0.parquet"]  # temp file removed
    assert pq.read_table(out).num_rows == 10  # the old file is intact


def test_remove_temp_files_deletes_only_killed_writers_leftovers(tmp_path):
    from bert2dnn_ray.runtime import write_json_atomic

    d = tmp_path / "out"
    io.write_parquet_atomic(pa.table({"a": [1]}), str(d / "data" / "part-0.parquet"))
    write_json_atomic(d / "_chunks" / "0.json", {"rows": 1})
    kept = {"data/part-0.parquet", "_chunks/0.json", "data/.hidden", "notes.tmp-12", ".tmp-x-part.parquet"}
    for name in ("data/.hidden", "notes.tmp-12", ".tmp-x-part.parquet"):  # not our temp names
        (d / name).write_text("keep")
    for name in (f"data/.tmp-{'0f' * 16}-part-1.parquet", "_chunks/.1.json.tmp-31337"):  # ours
        (d / name).write_text("partial")
    assert io.remove_temp_files(str(d)) == 2
    (d / "_chunks" / ".2.json.tmp-7").write_text("partial")
    assert io.remove_temp_files(d.as_uri()) == 1  # a file:// output is a local one
    assert {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()} == kept
    assert io.remove_temp_files(str(d)) == 0
    assert io.remove_temp_files(str(tmp_path / "missing")) == 0
    assert io.remove_temp_files("s3://bucket/out") == 0  # object stores leave no temp files


def test_text_json_helpers_and_join(tmp_path):
    p = str(tmp_path / "a" / "b.txt")
    io.write_text(p, "héllo\n")
    assert io.exists(p) and io.read_text(p) == "héllo\n"
    assert not io.exists(str(tmp_path / "nope"))
    j = str(tmp_path / "m.json")
    io.write_json(j, {"x": [1, 2]})
    assert json.loads(io.read_text(j)) == {"x": [1, 2]}
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]
    assert io.join("s3://bucket/run", "data", "x.parquet") == "s3://bucket/run/data/x.parquet"
    assert io.join("runs/x", "data") == str(Path("runs/x", "data"))


# ------------------------------------------------------------------ s3:// (a loopback moto server)
def test_s3_tables_json_and_done_markers(s3_server):
    from bert2dnn_ray.runtime import is_done, mark_done, read_json

    bucket, _ = s3_server
    base = f"{bucket}/io_tables"
    io.write_parquet_atomic(pa.table({"text": ["a", "b", "c"]}), f"{base}/in/part-0.parquet")
    t = io.read_table(f"{base}/in", text_columns=["text"])
    assert t["text"].to_pylist() == ["a", "b", "c"]
    assert not is_done(f"{base}/stage")
    mark_done(f"{base}/stage", {"rows": 3})
    assert is_done(f"{base}/stage") and read_json(f"{base}/stage/_SUCCESS.json")["rows"] == 3
    assert io.parent(f"{base}/stage/") == base and io.parent("/a/b") == "/a"


def test_staged_dir_uploads_on_success_only(s3_server, tmp_path):
    bucket, _ = s3_server
    uri = f"{bucket}/io_staged/model"
    with io.staged_dir(uri) as d:
        assert not d.exists() and d.name == "model"
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "w.txt").write_text("v1")
        (d / "config.json").write_text("{}")
    assert io.read_text(f"{uri}/sub/w.txt") == "v1" and io.exists(f"{uri}/config.json")
    with pytest.raises(RuntimeError, match="boom"):
        with io.staged_dir(uri) as d:
            d.mkdir()
            (d / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert not io.exists(f"{uri}/half.txt") and io.read_text(f"{uri}/sub/w.txt") == "v1"  # untouched
    # A second successful write replaces the directory: files it no longer has are gone.
    with io.staged_dir(uri) as d:
        d.mkdir()
        (d / "only.txt").write_text("v2")
    assert io.exists(f"{uri}/only.txt") and not io.exists(f"{uri}/config.json")
    # Local paths are used as they are.
    with io.staged_dir(str(tmp_path / "out")) as d:
        assert d == tmp_path / "out"


def test_localize_caches_and_refreshes(s3_server, tmp_path, monkeypatch):
    bucket, _ = s3_server
    monkeypatch.setenv("BERT2DNN_CACHE", str(tmp_path / "cache"))
    uri = f"{bucket}/io_localize/m"
    io.write_text(f"{uri}/a.txt", "one")
    io.write_text(f"{uri}/d/b.txt", "two")
    local = Path(io.localize(uri))
    assert (local / "a.txt").read_text() == "one" and (local / "d" / "b.txt").read_text() == "two"
    assert str(local).startswith(str(tmp_path / "cache"))
    (local / "marker").write_text("cached")  # a cache hit returns the same copy, untouched
    assert Path(io.localize(uri)) == local and (local / "marker").exists()
    io.write_text(f"{uri}/a.txt", "changed!")  # the remote changed: fetched again
    again = Path(io.localize(uri))
    assert (again / "a.txt").read_text() == "changed!" and not (again / "marker").exists()
    assert io.localize(str(tmp_path)) == str(tmp_path)  # local paths pass through
    with pytest.raises(DataError, match="io_localize/missing: no such directory"):
        io.localize(f"{bucket}/io_localize/missing")
    with pytest.raises(DataError, match="io_localize/m/a.txt: "):  # a file, not a directory
        io.localize(f"{uri}/a.txt")


def test_teacher_and_student_load_from_s3(s3_server, tmp_path, monkeypatch, tiny_bert_factory):
    import numpy as np

    from bert2dnn_ray import Student, hf
    from bert2dnn_ray.errors import ArtifactError, ConfigError
    from bert2dnn_ray.featurizer import FeaturizerConfig
    from bert2dnn_ray.student import StudentModelConfig, StudentNet, save_student

    bucket, _ = s3_server
    monkeypatch.setenv("BERT2DNN_CACHE", str(tmp_path / "cache"))
    teacher = tiny_bert_factory(3, seed=1)
    io.upload_dir(teacher, f"{bucket}/models/tiny")
    model = hf.load_classifier(f"{bucket}/models/tiny")
    assert model.config.num_labels == 3 and hf.load_tokenizer(f"{bucket}/models/tiny") is not None
    with pytest.raises(ConfigError, match="models/nope: no such directory"):
        hf.load_classifier(f"{bucket}/models/nope")

    mcfg = StudentModelConfig(hidden=[8], num_labels=2)
    fcfg = FeaturizerConfig(num_buckets=64)
    save_student(tmp_path / "student", StudentNet(mcfg, 64), fcfg, mcfg, ["neg", "pos"])
    io.upload_dir(tmp_path / "student", f"{bucket}/students/s")
    texts = ["cheap flights", "red shoes"]
    got = Student.load(f"{bucket}/students/s").predict(texts)
    np.testing.assert_allclose(got, Student.load(tmp_path / "student").predict(texts), atol=1e-7)
    with pytest.raises(ArtifactError, match="students/none: no such directory"):
        Student.load(f"{bucket}/students/none")

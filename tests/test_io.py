"""Storage: atomic writes, temp-file sweeps, JSON, done markers, staging and caching on s3://."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray import io, tables
from bert2dnn_ray.errors import DataError


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
    d = tmp_path / "out"
    io.write_parquet_atomic(pa.table({"a": [1]}), str(d / "data" / "part-0.parquet"))
    io.write_json(d / "_chunks" / "0.json", {"rows": 1})
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
    io.remove(j)
    io.remove(j)  # already gone: nothing to do
    assert not io.exists(j)
    assert io.join("s3://bucket/run", "data", "x.parquet") == "s3://bucket/run/data/x.parquet"
    assert io.join("runs/x", "data") == str(Path("runs/x", "data"))


# ------------------------------------------------------------------ s3:// (a loopback moto server)
def test_s3_tables_json_and_done_markers(s3_server):
    from bert2dnn_ray.rundir import is_done, mark_done

    bucket, _ = s3_server
    base = f"{bucket}/io_tables"
    io.write_parquet_atomic(pa.table({"text": ["a", "b", "c"]}), f"{base}/in/part-0.parquet")
    t = tables.read_table(f"{base}/in", text_columns=["text"])
    assert t["text"].to_pylist() == ["a", "b", "c"]
    assert not is_done(f"{base}/stage")
    mark_done(f"{base}/stage", {"rows": 3})
    assert is_done(f"{base}/stage") and io.read_json(f"{base}/stage/_SUCCESS.json")["rows"] == 3
    io.remove(f"{base}/stage/_SUCCESS.json")
    io.remove(f"{base}/stage/_SUCCESS.json")
    assert not is_done(f"{base}/stage")
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

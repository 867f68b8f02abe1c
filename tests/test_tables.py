"""Reading input tables: every format, globs, hidden files, bad rows reported (never dropped)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray import tables
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
    assert tables.file_format("a/b.parquet") == "parquet"
    assert tables.file_format("B.PQ") == "parquet"
    assert tables.file_format("x.ndjson") == "jsonl"
    assert tables.file_format("x.json") == "jsonl"
    assert tables.file_format("x.tsv.gz") == "tsv"
    assert tables.file_format("x.txt.zst") == "text"
    assert tables.file_format("s3://bucket/x.csv") == "csv"
    with pytest.raises(DataError, match=r"x\.xlsx: unsupported file type '\.xlsx'"):
        tables.file_format("x.xlsx")
    with pytest.raises(DataError, match=r"unsupported file type '\(none\)'"):
        tables.file_format("README")


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "tsv", "csv.gz"])
def test_read_every_format(tmp_path, fmt):
    p = _write_all_formats(tmp_path)[fmt]
    t = tables.read_table(str(p), columns=["text", "label"], text_columns=["text"])
    assert t.column_names == ["text", "label"]
    assert t.to_pylist() == ROWS
    assert pa.types.is_string(t.schema.field("text").type)
    assert pa.types.is_integer(t.schema.field("label").type)


def test_read_text_file_lines_and_invalid_utf8(tmp_path):
    p = tmp_path / "u.txt"
    p.write_bytes(b"first line\r\nbad \xff\xfe bytes\n\n  spaced  \nlast without newline")
    fs, files = tables.resolve_files(str(p))
    res = tables.read_file(fs, files[0], text_columns=["query"])
    assert res.table.column_names == ["query"]
    assert res.table["query"].to_pylist() == ["first line", None, "", "  spaced  ", "last without newline"]
    assert res.bad_rows == {1: "invalid_utf8:query"}
    with pytest.raises(DataError) as ei:
        tables.read_table(str(p), text_columns=["text"])
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
    t = tables.read_table(str(p), columns=["sentence", "label"], text_columns=["sentence"])
    assert t["sentence"].to_pylist() == sentences
    assert t["label"].to_pylist() == labels


def test_tsv_invalid_utf8_row_is_reported(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_bytes(b"sentence\tlabel\nfine\t1\nalso fine\t0\nbroken \xc3\x28 here\t1\n")
    fs, _ = tables.resolve_files(str(p))
    res = tables.read_file(fs, str(p), columns=["sentence", "label"], text_columns=["sentence"])
    assert res.bad_rows == {2: "invalid_utf8:sentence"}
    assert res.table["sentence"].to_pylist() == ["fine", "also fine", None]
    assert res.table["label"].to_pylist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"bad\.tsv: row 2: column 'sentence' is not valid UTF-8"):
        tables.read_table(str(p), text_columns=["sentence"])


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
    fs, files = tables.resolve_files(str(d))
    assert isinstance(fs, pafs.LocalFileSystem)
    assert files == [str(d / "a.parquet"), str(d / "sub" / "b.parquet")]
    assert tables.read_table(str(d))["text"].to_pylist() == ["a.parquet", "sub/b.parquet"]


def test_glob_and_file_uri(tmp_path):
    d = tmp_path / "g"
    (d / "sub").mkdir(parents=True)
    for name in ["p1.csv", "p2.csv", "q.csv", "sub/p3.csv", ".p4.csv", "_p5.csv"]:
        (d / name).write_text(f"text,label\n{name},1\n", encoding="utf-8")
    # * and ? stay within one path component, and never match hidden names
    assert tables.resolve_files(str(d / "p*.csv"))[1] == [str(d / "p1.csv"), str(d / "p2.csv")]
    assert tables.resolve_files(str(d / "*.csv"))[1] == [str(d / n) for n in ("p1.csv", "p2.csv", "q.csv")]
    assert tables.resolve_files(str(d / "p?.csv"))[1] == [str(d / "p1.csv"), str(d / "p2.csv")]
    assert tables.resolve_files(str(d / "*" / "*.csv"))[1] == [str(d / "sub" / "p3.csv")]
    assert tables.resolve_files(str(d / "**" / "p*.csv"))[1] == [
        str(d / n) for n in ("p1.csv", "p2.csv", "sub/p3.csv")
    ]
    assert tables.resolve_files(str(d / "_p*.csv"))[1] == [str(d / "_p5.csv")]  # spelled out: allowed
    # file:// URIs: a file, a directory and a glob
    uri = (d / "q.csv").as_uri()
    assert uri.startswith("file://")
    assert tables.read_table(uri)["text"].to_pylist() == ["q.csv"]
    assert tables.read_table(d.as_uri())["text"].to_pylist() == ["p1.csv", "p2.csv", "q.csv", "sub/p3.csv"]
    assert tables.read_table(d.as_uri() + "/p*.csv")["text"].to_pylist() == ["p1.csv", "p2.csv"]
    with pytest.raises(DataError, match=r"nothing\*\.csv: no data files found"):
        tables.resolve_files(str(d / "nothing*.csv"))


def test_resolve_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.parquet: no such file or directory"):
        tables.resolve_files(str(tmp_path / "missing.parquet"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty: no data files found"):
        tables.resolve_files(str(empty))
    odd = tmp_path / "x.xlsx"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.xlsx: unsupported file type"):
        tables.resolve_files(str(odd))


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "tsv"])
def test_missing_column_names_file_and_column(tmp_path, fmt):
    p = _write_all_formats(tmp_path)[fmt]
    with pytest.raises(DataError) as ei:
        tables.read_table(str(p), columns=["text", "sentence"], text_columns=["text", "sentence"])
    msg = str(ei.value)
    assert msg.startswith(f"{p}: ") and "'sentence'" in msg and "\n" not in msg


def test_unreadable_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot read as parquet"):
        tables.read_table(str(broken))
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl: cannot read as jsonl"):
        tables.read_table(str(bad_json))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\na,1\nb,0,extra\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ragged\.csv: cannot read as csv"):
        tables.read_table(str(ragged))
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        tables.parquet_row_groups(pafs.LocalFileSystem(), str(broken))


def test_parquet_row_groups_and_rows(tmp_path):
    p = tmp_path / "rg.parquet"
    pq.write_table(pa.table({"text": [str(i) for i in range(10)], "n": list(range(10))}), p, row_group_size=4)
    fs = pafs.LocalFileSystem()
    assert tables.parquet_row_groups(fs, str(p)) == [4, 4, 2]
    t = tables.read_parquet_rows(fs, str(p), [1, 2], ["n"])
    assert t.column_names == ["n"] and t["n"].to_pylist() == [4, 5, 6, 7, 8, 9]
    with pytest.raises(DataError, match=r"rg\.parquet: missing column 'label'"):
        tables.read_parquet_rows(fs, str(p), [0], ["label"])


def test_decode_text_column():
    arr, bad = tables.decode_text_column(pa.array([b"ok", None, b"\xe2\x82", "é".encode()], pa.binary()))
    assert arr.type == pa.string() and arr.to_pylist() == ["ok", None, None, "é"] and bad == [2]
    arr, bad = tables.decode_text_column(pa.chunked_array([pa.array([1, 2])]))
    assert arr.to_pylist() == ["1", "2"] and bad == []
    s = pa.array(["x"])
    assert tables.decode_text_column(s) == (s, [])


def test_read_tables_keeps_files_apart_and_schemas_promote(tmp_path):
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(pa.table({"text": ["a"], "label": pa.array([1], pa.int32())}), d / "1.parquet")
    pq.write_table(pa.table({"text": ["b", "c"], "label": pa.array([0, 1], pa.int64())}), d / "2.parquet")
    parts = tables.read_tables(str(d))
    assert [(Path(p).name, t.num_rows) for p, t in parts] == [("1.parquet", 1), ("2.parquet", 2)]
    t = tables.read_table(str(d))
    assert t["label"].type == pa.int64() and t["label"].to_pylist() == [1, 0, 1]


def test_csv_unbalanced_quote_is_refused_with_its_line(tmp_path):
    """An unbalanced quote swallows the rows after it into one value: refused, naming the line (was:
    exit 0 with 2 rows read for 4 data lines)."""
    p = tmp_path / "q.csv"
    p.write_text('text,label\nfine,1\n"good movie,1\nbad movie,0\nok",1\nlast,0\n', encoding="utf-8")
    with pytest.raises(DataError) as ei:
        tables.read_table(str(p), columns=["text", "label"], text_columns=["text"])
    msg = str(ei.value)
    assert msg.startswith(f"{p}: line 3: a quoted field spans lines") and "Parquet" in msg and "\n" not in msg
    # The same in a column that is not read: still refused (the rows would be merged all the same).
    p2 = tmp_path / "q2.csv"
    p2.write_text('id,text\n"1,a\n2",b\n3,c\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"q2\.csv: line 2: a quoted field spans lines"):
        tables.read_table(str(p2), columns=["text"], text_columns=["text"])
    # Quotes that close on their line are fine, commas and escaped quotes inside them too.
    ok = tmp_path / "ok.csv"
    ok.write_text('text,label\n"a, b",1\n"say ""hi""",0\n', encoding="utf-8")
    assert tables.read_table(str(ok), text_columns=["text"])["text"].to_pylist() == ["a, b", 'say "hi"']


def test_jsonl_rows_with_non_text_values_are_reported_not_fatal(tmp_path):
    """One odd row in a JSONL log is a bad row (the label stage quarantines it), not a refused file;
    a file that is not JSONL at all is still a one-line error."""
    p = tmp_path / "log.jsonl"
    lines = [{"text": "a"}, {"text": "b"}, {"text": 9}, {"text": {"x": 1}}, {"text": "e"}]
    p.write_text(
        "\n".join(json.dumps(r) for r in lines) + "\n{broken\n" + '{"text": "g"}\n', encoding="utf-8"
    )
    fs, files = tables.resolve_files(str(p))
    res = tables.read_file(fs, files[0], columns=["text"], text_columns=["text"])
    assert res.table.num_rows == 7
    assert res.bad_rows == {2: "not_text:text", 3: "not_text:text", 5: "invalid_json"}
    assert res.table["text"].to_pylist() == ["a", "b", "9", '{"x": 1}', "e", None, "g"]
    not_jsonl = tmp_path / "x.jsonl"
    not_jsonl.write_text("text,label\na,1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl: cannot read as jsonl"):
        tables.read_file(fs, str(not_jsonl), text_columns=["text"])


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "tsv", "csv.gz"])
def test_peek_columns_reads_only_the_header(tmp_path, fmt):
    p = _write_all_formats(tmp_path)[fmt]
    fs, files = tables.resolve_files(str(p))
    assert tables.peek_columns(fs, files[0]) == ["text", "label"]
    t = tmp_path / "u.txt"
    t.write_text("one\ntwo\n")
    assert tables.peek_columns(fs, str(t)) is None

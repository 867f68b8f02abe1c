"""Byte-range reading of line formats: any split of a file into ranges reads each row exactly once,
with the same byte offsets (row ids) as reading the file whole."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from bert2dnn_ray import tables
from bert2dnn_ray.errors import DataError

FILES = {
    # CRLF, a BOM, blank lines, a last line without its line end, non-ASCII, quotes and commas
    "q.txt": "\ufeffred shoes\r\n\r\nwireless headphones\nStraße über\n  \nlast line without newline",
    "q.jsonl": '\ufeff{"text": "a b"}\r\n\n{"text": "ß", "id": 2}\n   \n{"text": "x"}\n{"text": "no newline"}',
    "q.csv": '\ufefftext,label\r\n"a, quoted",1\r\n\r\nplain,0\n"say ""hi""",1\nlast,0',
    "q.tsv": "sentence\tlabel\nit 's \" a quote\t1\n\nnext\t0\r\nlast one\t1\n",
}
TEXT = {"q.txt": "text", "q.jsonl": "text", "q.csv": "text", "q.tsv": "sentence"}


def _write(tmp_path: Path, name: str) -> str:
    p = tmp_path / name
    p.write_bytes(FILES[name].encode("utf-8"))
    return str(p)


COLUMNS = {"q.txt": None, "q.jsonl": ["text", "id"], "q.csv": None, "q.tsv": None}


def _read(path: str, name: str, byte_range=None):
    return tables.read_file(
        pafs.LocalFileSystem(), path, COLUMNS[name], text_columns=[TEXT[name]], byte_range=byte_range
    )


def _rows(res) -> list[tuple[int, dict]]:
    return list(zip(res.offsets.tolist(), res.table.to_pylist(), strict=True))


def _split_read(path: str, name: str, cuts: list[int]) -> list[tuple[int, dict]]:
    size = Path(path).stat().st_size
    edges = [0, *sorted(cuts), size]
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        out += _rows(_read(path, name, (a, b)))
    return out


@pytest.mark.parametrize("name", list(FILES))
def test_every_two_way_split_reads_each_row_once_with_its_offset(tmp_path, name):
    path = _write(tmp_path, name)
    whole = _rows(_read(path, name))
    assert whole and len({o for o, _ in whole}) == len(whole)
    size = Path(path).stat().st_size
    for cut in range(size + 1):  # every edge, inside lines and at line ends
        assert _split_read(path, name, [cut]) == whole, (name, cut)


@pytest.mark.parametrize("name", list(FILES))
def test_random_many_way_splits(tmp_path, name):
    path = _write(tmp_path, name)
    whole = _rows(_read(path, name))
    size = Path(path).stat().st_size
    rng = random.Random(7)
    for _ in range(200):
        cuts = [rng.randint(0, size) for _ in range(rng.randint(1, 8))]
        assert _split_read(path, name, cuts) == whole, (name, cuts)


def test_what_each_format_reads(tmp_path):
    """The BOM is dropped, CRLF accepted; text keeps empty lines as rows (quarantined later),
    JSONL and CSV skip blank lines; the offsets point at each row's line."""
    text = _read(_write(tmp_path, "q.txt"), "q.txt")
    raw = FILES["q.txt"].encode("utf-8")
    assert text.table["text"].to_pylist() == [
        "red shoes",
        "",
        "wireless headphones",
        "Straße über",
        "  ",
        "last line without newline",
    ]
    assert [raw[o:].split(b"\n")[0].rstrip(b"\r") for o in text.offsets[1:]] == [
        b"",
        b"wireless headphones",
        "Straße über".encode(),
        b"  ",
        b"last line without newline",
    ]
    js = _read(_write(tmp_path, "q.jsonl"), "q.jsonl")
    assert js.table["text"].to_pylist() == ["a b", "ß", "x", "no newline"]
    assert js.table["id"].to_pylist() == [None, 2, None, None]  # a key a row leaves out is null
    csv = _read(_write(tmp_path, "q.csv"), "q.csv")
    assert csv.table.to_pylist() == [
        {"text": "a, quoted", "label": 1},
        {"text": "plain", "label": 0},
        {"text": 'say "hi"', "label": 1},
        {"text": "last", "label": 0},
    ]
    raw = FILES["q.csv"].encode("utf-8")
    assert raw[csv.offsets[1] :].startswith(b"plain,0")
    tsv = _read(_write(tmp_path, "q.tsv"), "q.tsv")
    assert tsv.table["sentence"].to_pylist() == ["it 's \" a quote", "next", "last one"]


def test_a_quoted_field_spanning_lines_in_a_range_names_its_byte(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text('text,label\nfine,1\nstill fine,0\n"opens,1\nand never closes,0\n', encoding="utf-8")
    raw = p.read_bytes()
    with pytest.raises(DataError, match=r"bad\.csv: line 4: a quoted field spans lines"):
        _read(str(p), "q.csv")
    start, bad_at = raw.index(b"still"), raw.index(b'"opens')
    with pytest.raises(DataError, match=rf"bad\.csv: byte {bad_at}: a quoted field spans lines"):
        _read(str(p), "q.csv", (start, len(raw)))

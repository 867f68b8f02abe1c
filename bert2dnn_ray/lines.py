"""Line formats (plain text, JSONL, CSV/TSV) read from bytes: a whole file, or a byte range of one.

A byte range ``[start, end)`` of a file *owns* the lines whose first byte lies in it, so the ranges
of a file split it into lines exactly once, wherever their edges fall (a line straddling an edge
belongs to the range it starts in). Every row comes with its line's byte offset in the file, and
that offset names the row (``<file>@<offset>``) the same way however the file is split, resumed or
re-planned. A UTF-8 byte-order mark at the start of a file is dropped; CRLF line ends are accepted.

Per format: plain text has one row per line (an empty line is a row: the label stage quarantines
it); JSONL one row per non-blank line; CSV/TSV one row per non-empty line after the header (a range
not at the file's start reads the header line too). A CSV row is one line: a quoted field that spans
lines is refused, naming its line (or its byte offset, in a range that does not start the file).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from .errors import DataError, one_line

BOM = b"\xef\xbb\xbf"
NL = 10  # b"\n"
NL_BYTES = b"\n"
_WINDOW = 1 << 16


@dataclass
class Parsed:
    table: pa.Table
    offsets: np.ndarray  # int64 [rows]: each row's line start, a byte offset in the file
    bad_rows: dict[int, str]


def next_line_start(f, pos: int, size: int) -> int:
    """The start of the first line that begins at or after ``pos`` (``size`` when none does)."""
    if pos <= 0:
        return 0
    at = pos - 1  # a line begins at pos exactly when the byte before it ends a line
    while at < size:
        window = f.read_at(min(_WINDOW, size - at), at)
        i = window.find(b"\n")
        if i >= 0:
            return at + i + 1
        at += len(window)
    return size


def read_range(f, start: int, end: int, size: int) -> tuple[bytes, int]:
    """The bytes of the lines that ``[start, end)`` owns, and the offset of the first of them."""
    s = next_line_start(f, start, size)
    e = size if end >= size else next_line_start(f, end, size)
    return (f.read_at(e - s, s) if e > s else b""), s


def header_line(f, size: int) -> bytes:
    """The file's first line (its header), with its line end."""
    e = next_line_start(f, 1, size) if size else 0
    return f.read_at(e, 0) if e else b""


def _lines(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (excluding the line end, CR included) of every line of ``data``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == NL)
    starts = np.concatenate(([0], nl + 1)).astype(np.int64)
    ends = np.concatenate((nl, [len(buf)])).astype(np.int64)
    if len(buf) == 0 or buf[-1] == NL:  # nothing after the last line end
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13) if len(buf) else np.zeros(0, bool)
    return starts, ends - cr


def parse(
    fmt: str,
    data: bytes,
    base: int,
    path: str,
    text_columns: Sequence[str] = (),
    header: bytes | None = None,
    text_name: str = "text",
) -> Parsed:
    """Rows of ``data``, the lines of a file starting at byte ``base`` (``header``: the file's
    header line, for a CSV/TSV range that does not start the file or owns no line)."""
    bom = base == 0 and data.startswith(BOM)
    if bom:
        data = data[len(BOM) :]
    starts, ends = _lines(data)
    shift = len(BOM) if bom else 0
    if fmt == "text":
        return _text(data, starts, base + shift, text_name)
    if fmt == "jsonl":
        return _jsonl(data, starts[_has_text(data, starts, ends)], ends, base + shift, path, text_columns)
    nonempty = ends > starts
    starts = starts[nonempty]
    if base == 0 and len(starts):  # the range starts the file: its first line is the header
        starts, header = starts[1:], None
    elif header is None:
        raise DataError(f"{path}: cannot read as {fmt} (the file is empty: no header line)")
    else:
        data = header + data
    return _csv(fmt, data, starts, base + shift, len(header or b""), path, text_columns)


def _has_text(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each line has a character other than whitespace (JSONL skips blank lines)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    solid = np.concatenate(([0], np.cumsum(~np.isin(buf, (9, 10, 11, 12, 13, 32)))))
    return solid[ends] > solid[starts]


def _text(data: bytes, starts: np.ndarray, base: int, name: str) -> Parsed:
    """One row per line (bytes; decoded by the caller, which reports invalid UTF-8)."""
    clean = data.replace(b"\r\n", b"\n")
    values = pc.split_pattern(pa.array([clean], pa.large_binary()), b"\n").values
    if len(clean) == 0 or clean.endswith(b"\n"):
        values = values.slice(0, len(values) - 1)
    assert len(values) == len(starts), "line count"
    return Parsed(pa.table({name: values}), starts + base, {})


def _jsonl(
    data: bytes, starts: np.ndarray, ends: np.ndarray, base: int, path: str, text_columns: Sequence[str]
) -> Parsed:
    try:
        table = pajson.read_json(pa.BufferReader(data)) if len(starts) else pa.table({})
        if table.num_rows == len(starts):
            return Parsed(table, starts + base, {})
        err = f"{table.num_rows} rows for {len(starts)} lines"
    except pa.ArrowInvalid as e:
        err = one_line(e)
    # pyarrow refuses the whole (a row whose text is a number...): read it line by line
    line_ends = dict(zip(*_lines(data)))
    try:
        table, bad = json_rows(
            [data[s : line_ends[s]] for s in starts], path, text_columns, first_line=base == 0
        )
    except DataError:
        raise DataError(f"{path}: cannot read as jsonl ({err})") from None
    return Parsed(table, starts + base, bad)


def json_object(line: bytes | str, path: str, first: bool) -> dict | None:
    """A JSONL line's object, or None when it is not one; the first line of a file not being one
    means the file is not JSONL at all (an error)."""
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        if first:
            raise DataError(f"{path}: cannot read as jsonl (line 1 is not a JSON object)")
        return None
    return obj


def json_rows(
    lines: Sequence[bytes], path: str, text_columns: Sequence[str], first_line: bool
) -> tuple[pa.Table, dict[int, str]]:
    """JSONL lines read one by one: rows whose text is not a string (their JSON form is kept, for the
    quarantine) and lines that are not JSON objects are reported instead of failing the file."""
    rows: list[dict] = []
    bad: dict[int, str] = {}
    for i, line in enumerate(lines):
        obj = json_object(line, path, first=first_line and i == 0)
        if obj is None:
            bad[i] = "invalid_json"
            rows.append({})
            continue
        for c in text_columns:
            v = obj.get(c)
            if v is not None and not isinstance(v, str):
                bad.setdefault(i, f"not_text:{c}")
                obj[c] = json.dumps(v)
        rows.append(obj)
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    cols = {}
    for name in names:
        vals = [r.get(name) for r in rows]
        try:
            cols[name] = pa.array(vals)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed types: their JSON text
            cols[name] = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v) for v in vals], pa.string()
            )
    return (pa.table(cols) if cols else pa.table({})), bad


def _csv(
    fmt: str, data: bytes, starts: np.ndarray, base: int, head: int, path: str, text_columns: Sequence[str]
) -> Parsed:
    convert = pacsv.ConvertOptions(
        column_types={c: pa.binary() for c in text_columns}, strings_can_be_null=False
    )
    parse_opts = pacsv.ParseOptions(
        delimiter="\t" if fmt == "tsv" else ",",
        quote_char=False if fmt == "tsv" else '"',
        newlines_in_values=fmt == "csv",
    )
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            parse_options=parse_opts,
            convert_options=convert,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
        )
        if table.num_rows == len(starts):
            return Parsed(table, starts + base, {})
        err = None  # a row that spans lines: a quoted field with a line break
    except pa.ArrowInvalid as e:
        err = e
    where = _first_open_quote(data, head) if fmt == "csv" else None
    if where is None:
        if err is not None:
            raise DataError(f"{path}: cannot read as {fmt} ({one_line(err)})") from None
        raise DataError(f"{path}: cannot read as {fmt} ({table.num_rows} rows for {len(starts)} lines)")
    if base == 0 and head == 0:
        place = f"line {data.count(NL_BYTES, 0, where) + 1}"
    else:
        place = f"byte {where - head + base}"
    raise DataError(
        f"{path}: {place}: a quoted field spans lines (an unbalanced quote, or a value with a line "
        "break); every CSV row must be one line: fix the quoting, or convert the file to Parquet or JSONL"
    )


def _first_open_quote(data: bytes, skip: int) -> int | None:
    """The start of the first line (at or after byte ``skip``) that leaves a quote open: an odd
    number of ``"`` on a line (an escaped quote is two) means its quoted field goes on past it."""
    starts, ends = _lines(data)
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.concatenate(([0], np.cumsum(buf == 34)))
    odd = ((quotes[ends] - quotes[starts]) % 2 == 1) & (starts >= skip)
    hit = np.flatnonzero(odd)
    return int(starts[hit[0]]) if len(hit) else None

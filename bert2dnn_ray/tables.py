"""Reading input tables: Parquet, JSONL, CSV/TSV and plain text (one text per line), from a file, a
directory, a glob or a URI, compressed or not.

Every problem is a :class:`DataError` naming the file (and row, column) at fault. A row that cannot
be used is *reported*, not dropped: :func:`read_file` returns it in ``bad_rows`` with its reason,
so the label stage quarantines it and a labeled set's loader refuses it with its row:

* ``invalid_utf8:<column>``: a text that is not valid UTF-8;
* ``not_text:<column>``: a JSONL value that is a number, object or list where a text belongs
  (its JSON form is kept, for the quarantine);
* ``invalid_json``: a JSONL line that is not a JSON object (a file whose first line is not one is
  not JSONL at all: an error).

A CSV row is one line: a quoted field that spans lines (an unbalanced quote swallowing the rows
after it, or a multi-line value) is an error naming the line, never a silent merge of rows.
"""

from __future__ import annotations

import csv
import fnmatch
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from . import lines
from .errors import DataError, one_line
from .io import filesystem

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "text",
    ".text": "text",
}
_COMPRESSION = (".gz", ".bz2", ".zst", ".lz4")


def file_format(path: str) -> str:
    """Format from the file name (compression suffixes are looked through)."""
    name = path.lower()
    for suffix in _COMPRESSION:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    ext = posixpath.splitext(name)[1]
    if ext not in FORMATS:
        raise DataError(
            f"{path}: unsupported file type {ext or '(none)'!r}; use one of {sorted(set(FORMATS))}"
        )
    return FORMATS[ext]


def _visible(path: str) -> bool:
    base = posixpath.basename(path)
    return not (base.startswith(".") or base.startswith("_"))


def resolve_files(uri: str) -> tuple[pafs.FileSystem, list[str]]:
    """Expand a file, directory (recursive) or glob into a sorted list of data files."""
    fs, path = filesystem(uri)
    if any(ch in path for ch in "*?["):
        root = path
        while any(ch in root for ch in "*?["):
            root = posixpath.dirname(root)
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        pats = posixpath.relpath(path, root).split("/")
        files = [
            i.path
            for i in infos
            if i.type == pafs.FileType.File and _glob_match(posixpath.relpath(i.path, root).split("/"), pats)
        ]
    else:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise DataError(f"{uri}: no such file or directory")
        if info.type == pafs.FileType.Directory:
            infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            files = [
                i.path
                for i in infos
                if i.type == pafs.FileType.File
                and _visible(i.path)
                and all(_visible(part) for part in posixpath.relpath(i.path, path).split("/")[:-1])
            ]
            files = [f for f in files if _is_data_file(f)]
        else:
            files = [path]
    files = sorted(files)
    if not files:
        raise DataError(f"{uri}: no data files found")
    for f in files:
        file_format(f)
    return fs, files


def _glob_match(parts: list[str], pats: list[str]) -> bool:
    """Shell-style match of path components: ``*``/``?`` stay within one component, ``**`` spans
    any number of them, and wildcards never match hidden (``.``/``_``) names."""
    if not pats:
        return not parts
    pat = pats[0]
    if pat == "**":
        if _glob_match(parts, pats[1:]):
            return True
        return bool(parts) and _visible(parts[0]) and _glob_match(parts[1:], pats)
    if not parts or not fnmatch.fnmatchcase(parts[0], pat):
        return False
    if not _visible(parts[0]) and _visible(pat):  # hidden names only when spelled out
        return False
    return _glob_match(parts[1:], pats[1:])


def _is_data_file(path: str) -> bool:
    try:
        file_format(path)
        return True
    except DataError:
        return False


def decode_text_column(col: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, list[int]]:
    """Binary → string; rows that are not valid UTF-8 become null and are returned by index."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr, []
    if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        return pc.cast(arr, pa.string()), []
    try:
        return pc.cast(arr, pa.string()), []
    except pa.ArrowInvalid:
        out, bad = [], []
        for i, v in enumerate(arr.to_pylist()):
            if v is None:
                out.append(None)
                continue
            try:
                out.append(v.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(None)
                bad.append(i)
        return pa.array(out, pa.string()), bad


def parquet_row_groups(fs: pafs.FileSystem, path: str) -> list[int]:
    """Row counts of each row group (metadata only)."""
    try:
        with fs.open_input_file(path) as f:
            md = pq.ParquetFile(f).metadata
            return [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({one_line(e)})") from None


def parquet_layout(fs: pafs.FileSystem, path: str, text_columns: Sequence[str]) -> tuple[list[int], float]:
    """Row counts of each row group, and the text columns' uncompressed bytes per row (metadata only)."""
    try:
        with fs.open_input_file(path) as f:
            md = pq.ParquetFile(f).metadata
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({one_line(e)})") from None
    groups = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    cols = [j for j in range(md.num_columns) if md.schema.column(j).path.split(".")[0] in text_columns]
    size = sum(
        md.row_group(i).column(j).total_uncompressed_size for i in range(md.num_row_groups) for j in cols
    )
    return groups, size / max(1, sum(groups))


def read_parquet_rows(
    fs: pafs.FileSystem, path: str, row_groups: Sequence[int], columns: Sequence[str] | None
) -> pa.Table:
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        missing = [c for c in (columns or []) if c not in pf.schema_arrow.names]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r} (has {pf.schema_arrow.names})")
        return pf.read_row_groups(list(row_groups), columns=list(columns) if columns else None)


@dataclass
class ReadResult:
    table: pa.Table
    bad_rows: dict[int, str] = field(default_factory=dict)  # row (within this table) -> reason
    offsets: np.ndarray | None = None  # line formats: each row's byte offset in its file


def is_compressed(path: str) -> bool:
    return path.lower().endswith(_COMPRESSION)


def read_file(
    fs: pafs.FileSystem,
    path: str,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    byte_range: tuple[int, int] | None = None,
) -> ReadResult:
    """Read one file, or the lines a ``byte_range`` of an uncompressed line-format file owns
    (:mod:`bert2dnn_ray.lines`). ``text_columns`` are read as bytes and decoded row by row if
    needed; rows that cannot be used are returned in ``bad_rows`` (see the module docstring)."""
    fmt = file_format(path)
    offsets = None
    bad: dict[int, str] = {}
    try:
        if fmt == "parquet":
            with fs.open_input_file(path) as f:
                pf = pq.ParquetFile(f)
                missing = [c for c in (columns or []) if c not in pf.schema_arrow.names]
                if missing:
                    raise DataError(f"{path}: missing column {missing[0]!r} (has {pf.schema_arrow.names})")
                table = pf.read(columns=list(columns) if columns else None)
        else:
            header = None
            if byte_range is None:
                with fs.open_input_stream(path) as f:  # decompresses .gz, .zst...
                    data, base = f.read(), 0
            else:
                with fs.open_input_file(path) as f:
                    size = f.size()
                    data, base = lines.read_range(f, byte_range[0], byte_range[1], size)
                    if fmt in ("csv", "tsv") and (base > 0 or not data):
                        header = lines.header_line(f, size)
            name = (columns or text_columns or ["text"])[0]
            parsed = lines.parse(fmt, data, base, path, text_columns, header=header, text_name=name)
            table, offsets, bad = parsed.table, parsed.offsets, dict(parsed.bad_rows)
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, KeyError) as e:
        raise DataError(f"{path}: cannot read as {fmt} ({one_line(e)})") from None
    if columns:
        missing = [c for c in columns if c not in table.column_names]
        if missing and fmt == "jsonl" and byte_range is not None:
            # a range's rows may all leave a key out: null (the file's columns were checked)
            for c in missing:
                table = table.append_column(c, pa.nulls(table.num_rows, pa.string()))
        elif missing:
            raise DataError(f"{path}: missing column {missing[0]!r} (has {table.column_names})")
        table = table.select(list(columns))
    for c in text_columns:
        if c in table.column_names:
            arr, invalid = decode_text_column(table[c])
            table = table.set_column(table.column_names.index(c), c, arr)
            for i in invalid:
                bad.setdefault(i, f"invalid_utf8:{c}")
    return ReadResult(table, dict(sorted(bad.items())), offsets)


def peek_columns(fs: pafs.FileSystem, path: str) -> list[str] | None:
    """The column names of a file from its header alone (Parquet footer, CSV/TSV header line, the
    keys of JSONL's first lines); None for plain text (one column: the text)."""
    fmt = file_format(path)
    if fmt == "text":
        return None
    try:
        if fmt == "parquet":
            with fs.open_input_file(path) as f:
                return list(pq.ParquetFile(f).schema_arrow.names)
        with fs.open_input_stream(path) as f:
            head = f.read(1 << 20)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: cannot read as {fmt} ({one_line(e)})") from None
    head_lines = head.decode("utf-8-sig", errors="replace").splitlines()
    if fmt in ("csv", "tsv"):
        if not head_lines:
            raise DataError(f"{path}: cannot read as {fmt} (the file is empty: no header line)")
        return next(csv.reader([head_lines[0]], delimiter="\t" if fmt == "tsv" else ","))
    names: list[str] = []
    for n, line in enumerate(ln for ln in head_lines[:100] if ln.strip()):
        obj = lines.json_object(line, path, first=n == 0)
        names += [k for k in obj or () if k not in names]
    return names


def bad_row_message(path: str, row: int, reason: str) -> str:
    """One line for a row that cannot be used, e.g. ``f.jsonl: row 9: column 'text' is not a string``."""
    kind, _, col = reason.partition(":")
    if kind == "invalid_json":
        return f"{path}: cannot read as jsonl (row {row} is not a JSON object)"
    what = {"invalid_utf8": "is not valid UTF-8", "not_text": "is not a string"}.get(kind, kind)
    return f"{path}: row {row}: column {col!r} {what}"


def iter_tables(
    uri: str, columns: Sequence[str] | None = None, text_columns: Sequence[str] = ()
) -> Iterator[tuple[str, pa.Table]]:
    """``(path, table)`` for each file under ``uri`` in order, one file in memory at a time, so
    that errors can name the file and row. A row that cannot be used is an error naming it."""
    fs, files = resolve_files(uri)
    for path in files:
        res = read_file(fs, path, columns=columns, text_columns=text_columns)
        for row, reason in res.bad_rows.items():
            raise DataError(bad_row_message(path, row, reason))
        yield path, res.table


def read_tables(
    uri: str, columns: Sequence[str] | None = None, text_columns: Sequence[str] = ()
) -> list[tuple[str, pa.Table]]:
    """Every file of ``iter_tables``, read at once."""
    return list(iter_tables(uri, columns, text_columns))


def read_table(uri: str, columns: Sequence[str] | None = None, text_columns: Sequence[str] = ()) -> pa.Table:
    """Read every file under ``uri`` into one table (for labeled sets that fit in memory); a row
    that cannot be used is an error naming the file and row."""
    tables = [t for _, t in read_tables(uri, columns, text_columns)]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowInvalid as e:
        raise DataError(f"{uri}: files have incompatible schemas ({e})") from None

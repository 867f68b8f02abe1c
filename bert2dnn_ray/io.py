"""Reading and writing tables: Parquet, JSONL, CSV/TSV and plain text, on any pyarrow filesystem.

Paths may be a file, a directory, a glob, or a URI (``s3://``, ``gs://``, ``file://``).
Every problem is a :class:`DataError` naming the file (and column) at fault.

Directory outputs (teachers, students, exports) are written locally and uploaded when the
path is a URI (:func:`staged_dir`); directory inputs at a URI are downloaded once per node
into a cache (:func:`localize`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .errors import DataError

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


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it, for a local path or a URI."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(uri))
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as e:  # pyarrow raises several types
        raise DataError(f"{uri}: cannot open filesystem ({e})") from None


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


@dataclass
class ReadResult:
    table: pa.Table
    invalid_utf8: dict[str, list[int]]  # column -> row indices (within this table) that were not UTF-8


def read_file(
    fs: pafs.FileSystem,
    path: str,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
) -> ReadResult:
    """Read one whole file. ``text_columns`` are read as bytes and decoded row by row if needed."""
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            with fs.open_input_file(path) as f:
                pf = pq.ParquetFile(f)
                missing = [c for c in (columns or []) if c not in pf.schema_arrow.names]
                if missing:
                    raise DataError(f"{path}: missing column {missing[0]!r} (has {pf.schema_arrow.names})")
                table = pf.read(columns=list(columns) if columns else None)
        elif fmt == "text":
            with fs.open_input_stream(path) as f:
                data = f.read()
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
            name = (columns or text_columns or ["text"])[0]
            table = pa.table({name: pa.array(lines, pa.binary())})
        else:
            with fs.open_input_stream(path) as f:
                if fmt == "jsonl":
                    table = pajson.read_json(f)
                else:
                    convert = pacsv.ConvertOptions(
                        column_types={c: pa.binary() for c in text_columns},
                        include_columns=list(columns) if columns else None,
                        strings_can_be_null=False,
                    )
                    parse = pacsv.ParseOptions(
                        delimiter="\t" if fmt == "tsv" else ",",
                        quote_char=False if fmt == "tsv" else '"',
                        newlines_in_values=fmt == "csv",
                    )
                    table = pacsv.read_csv(
                        f,
                        parse_options=parse,
                        convert_options=convert,
                        read_options=pacsv.ReadOptions(block_size=1 << 24),
                    )
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, KeyError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: cannot read as {fmt} ({msg})") from None
    if columns:
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r} (has {table.column_names})")
        table = table.select(list(columns))
    invalid: dict[str, list[int]] = {}
    for c in text_columns:
        if c in table.column_names:
            arr, bad = decode_text_column(table[c])
            table = table.set_column(table.column_names.index(c), c, arr)
            if bad:
                invalid[c] = bad
    return ReadResult(table, invalid)


def parquet_row_groups(fs: pafs.FileSystem, path: str) -> list[int]:
    """Row counts of each row group (metadata only)."""
    try:
        with fs.open_input_file(path) as f:
            md = pq.ParquetFile(f).metadata
            return [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})") from None


def read_parquet_rows(
    fs: pafs.FileSystem, path: str, row_groups: Sequence[int], columns: Sequence[str] | None
) -> pa.Table:
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        missing = [c for c in (columns or []) if c not in pf.schema_arrow.names]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r} (has {pf.schema_arrow.names})")
        return pf.read_row_groups(list(row_groups), columns=list(columns) if columns else None)


def iter_tables(
    uri: str, columns: Sequence[str] | None = None, text_columns: Sequence[str] = ()
) -> Iterator[tuple[str, pa.Table]]:
    """``(path, table)`` for each file under ``uri`` in order, one file in memory at a time, so
    that errors can name the file and row.

    Rows that are not valid UTF-8 in ``text_columns`` are an error naming the file and row.
    """
    fs, files = resolve_files(uri)
    for path in files:
        res = read_file(fs, path, columns=columns, text_columns=text_columns)
        for col, rows in res.invalid_utf8.items():
            raise DataError(f"{path}: row {rows[0]}: column {col!r} is not valid UTF-8")
        yield path, res.table


def read_tables(
    uri: str, columns: Sequence[str] | None = None, text_columns: Sequence[str] = ()
) -> list[tuple[str, pa.Table]]:
    """Every file of ``iter_tables``, read at once."""
    return list(iter_tables(uri, columns, text_columns))


def read_table(uri: str, columns: Sequence[str] | None = None, text_columns: Sequence[str] = ()) -> pa.Table:
    """Read every file under ``uri`` into one table (for labeled sets that fit in memory).

    Rows that are not valid UTF-8 in ``text_columns`` are an error naming the file and row.
    """
    tables = [t for _, t in read_tables(uri, columns, text_columns)]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowInvalid as e:
        raise DataError(f"{uri}: files have incompatible schemas ({e})") from None


def write_parquet_atomic(
    table: pa.Table, uri: str, compression: str = "zstd", row_group_size: int | None = None
) -> None:
    """Write a Parquet file so that readers never see a partial file (rename on local disks;
    object stores publish on close)."""
    fs, path = filesystem(uri)
    parent = posixpath.dirname(path)
    fs.create_dir(parent, recursive=True)
    if isinstance(fs, pafs.LocalFileSystem):
        tmp = posixpath.join(parent, f".tmp-{uuid.uuid4().hex}-{posixpath.basename(path)}")
        try:
            pq.write_table(table, tmp, compression=compression, filesystem=fs, row_group_size=row_group_size)
            os.replace(tmp, path)
        except BaseException:  # never leave a partial temp file behind
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    else:
        pq.write_table(table, path, compression=compression, filesystem=fs, row_group_size=row_group_size)


# The temp names of write_parquet_atomic (.tmp-<uuid hex>-<name>) and runtime.write_json_atomic
# (.<name>.tmp-<pid>): a writer killed between write and rename leaves one behind.
_TEMP_NAME = re.compile(r"^\.(tmp-[0-9a-f]{32}-.+|.+\.tmp-\d+)$")


def remove_temp_files(uri: str) -> int:
    """Delete the temp files that killed atomic writers left under a local directory (recursively);
    returns how many. Call it only once no writer is live there (a finished stage). No-op for URIs:
    object stores publish on close and leave no temp files."""
    if uri.startswith("file://"):
        uri = filesystem(uri)[1]
    if "://" in uri or not os.path.isdir(uri):
        return 0
    n = 0
    for root, _, files in os.walk(uri):
        for f in files:
            if _TEMP_NAME.match(f):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, f))
                    n += 1
    return n


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def write_text(uri: str, text: str) -> None:
    fs, path = filesystem(uri)
    fs.create_dir(posixpath.dirname(path), recursive=True)
    with fs.open_output_stream(path) as f:
        f.write(text.encode("utf-8"))


def read_text(uri: str) -> str:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as f:
        return f.read().decode("utf-8")


def write_json(uri: str, data) -> None:
    if "://" not in uri:
        from .runtime import write_json_atomic

        write_json_atomic(uri, data)
    else:
        write_text(uri, json.dumps(data, indent=2, default=str) + "\n")


def join(base: str, *parts: str) -> str:
    """Join path parts for local paths and URIs alike."""
    if "://" in base:
        return posixpath.join(base, *parts)
    return str(Path(base, *parts))


def is_uri(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def parent(uri: str) -> str:
    """The directory that holds ``uri`` (local paths and URIs alike)."""
    if is_uri(uri):
        return posixpath.dirname(uri.rstrip("/"))
    return str(Path(uri).parent)


def read_json(uri: str):
    return json.loads(read_text(uri))


def upload_dir(local_dir: str | os.PathLike, uri: str) -> None:
    """Replace the directory at ``uri`` with a copy of ``local_dir``."""
    fs, path = filesystem(uri)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)
    fs.create_dir(path, recursive=True)
    pafs.copy_files(str(local_dir), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


@contextlib.contextmanager
def staged_dir(uri: str) -> Iterator[Path]:
    """Where a stage writes a directory output: ``uri`` itself when it is a local path; for a
    URI, a local staging directory that is uploaded to ``uri`` (replacing it) when the block
    ends without an error. The yielded directory does not exist yet."""
    if not is_uri(uri):
        yield Path(uri)
        return
    tmp = tempfile.mkdtemp(prefix="bert2dnn-stage-")
    try:
        local = Path(tmp, posixpath.basename(uri.rstrip("/")) or "out")
        yield local
        if local.exists():
            upload_dir(local, uri)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cache_root() -> Path:
    """Local cache for directories read from URIs (``BERT2DNN_CACHE``, else ~/.cache/bert2dnn)."""
    return Path(os.environ.get("BERT2DNN_CACHE") or Path.home() / ".cache" / "bert2dnn")


def localize(uri: str) -> str:
    """A local directory with the contents of the directory ``uri``; local paths pass through.

    The copy is cached per URI and refreshed when the remote listing (names, sizes, mtimes)
    changes, so a re-trained model at the same URI is fetched again. Safe for concurrent
    callers on one node (each downloads into its own temp dir and renames it into place).
    """
    if not is_uri(uri):
        return uri
    fs, path = filesystem(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except OSError as e:  # e.g. a file, not a directory; no permission
        raise DataError(f"{uri}: cannot list the directory ({e})") from None
    files = sorted(
        (posixpath.relpath(i.path, path), i.size, i.mtime_ns or 0)
        for i in infos
        if i.type == pafs.FileType.File
    )
    if not files:
        raise DataError(f"{uri}: no such directory (or it is empty)")
    key = hashlib.sha256(uri.encode()).hexdigest()[:20]
    stamp = hashlib.sha256(json.dumps(files).encode()).hexdigest()
    root = cache_root() / "remote"
    dest = root / key
    stamp_file = dest / ".bert2dnn-source.json"
    with contextlib.suppress(OSError, ValueError):
        if json.loads(stamp_file.read_text())["stamp"] == stamp:
            return str(dest)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        pafs.copy_files(path, str(tmp), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
        (tmp / stamp_file.name).write_text(json.dumps({"uri": uri, "stamp": stamp}))
        old = root / f".{key}-old-{uuid.uuid4().hex}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(dest, old)  # a stale copy: move it aside, then delete it
        try:
            os.rename(tmp, dest)
        except OSError:  # another process put a fresh copy in place first
            pass
        shutil.rmtree(old, ignore_errors=True)
    except Exception as e:
        raise DataError(f"{uri}: cannot download ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)

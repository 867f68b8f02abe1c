"""Storage: local paths and URIs (``s3://``, ``gs://``, ``file://``) through pyarrow filesystems.

Files are written atomically (:func:`atomic_path`, :func:`write_parquet_atomic`,
:func:`write_json`): readers never see a partial file. Directory outputs (teachers, students,
exports) are written locally and uploaded when the path is a URI (:func:`staged_dir`); directory
inputs at a URI are downloaded once per node into a cache (:func:`localize`). Reading input tables
(formats, globs, bad rows) is :mod:`bert2dnn_ray.tables`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .errors import DataError, one_line


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it, for a local path or a URI."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(uri))
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as e:  # pyarrow raises several types
        raise DataError(f"{uri}: cannot open filesystem ({e})") from None


def temp_name(name: str) -> str:
    """The name of a file being written beside ``name``: hidden from readers (a dot name) and
    recognised by :func:`remove_temp_files`."""
    return f".tmp-{uuid.uuid4().hex}-{name}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Write a local file or directory atomically: the block writes to the yielded temp path beside
    ``path``, which replaces ``path`` when the block ends without an error (a directory at ``path``
    is removed first) and is removed otherwise. Readers never see a partial output; a writer killed
    in the block leaves only a temp name, which :func:`remove_temp_files` sweeps."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(temp_name(p.name))
    try:
        yield tmp
        if p.is_dir() and tmp.is_dir():
            shutil.rmtree(p)
        os.replace(tmp, p)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_parquet_atomic(
    table: pa.Table, uri: str, compression: str = "zstd", row_group_size: int | None = None
) -> None:
    """Write a Parquet file so that readers never see a partial file (rename on local disks;
    object stores publish on close)."""
    fs, path = filesystem(uri)
    if isinstance(fs, pafs.LocalFileSystem):
        with atomic_path(path) as tmp:
            pq.write_table(table, str(tmp), compression=compression, row_group_size=row_group_size)
    else:
        fs.create_dir(posixpath.dirname(path), recursive=True)
        pq.write_table(table, path, compression=compression, filesystem=fs, row_group_size=row_group_size)


# The temp names of atomic_path (.tmp-<uuid hex>-<name>) and of earlier versions' JSON writer
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


def make_dirs(uri: str, what: str = "output directory") -> None:
    """Create the directory ``uri`` (and its parents) or fail with one line naming it: a stage calls
    this before any work, so an output that cannot be written stops the run at once."""
    fs, path = filesystem(uri)
    try:
        fs.create_dir(path, recursive=True)
    except OSError as e:
        raise DataError(f"{uri}: cannot create the {what} ({one_line(e)})") from None
    if isinstance(fs, pafs.LocalFileSystem) and not os.access(path, os.W_OK | os.X_OK):
        raise DataError(f"{uri}: the {what} is not writable")


def list_files(d: str, suffix: str = ".parquet") -> list[str]:
    """The files under directory ``d`` (recursively) ending in ``suffix``, sorted, as paths or URIs;
    hidden and temp files are left out; [] when ``d`` does not exist."""
    fs, path = filesystem(d)
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    scheme = d.split("://", 1)[0] + "://" if "://" in d else ""
    return sorted(
        scheme + i.path
        for i in infos
        if i.type == pafs.FileType.File
        and i.path.endswith(suffix)
        and not posixpath.basename(i.path).startswith(".")
    )


def read_json_dir(d: str) -> list[Any]:
    """Every ``*.json`` file directly under directory ``d`` (not hidden or temp), parsed; read in
    parallel, since on object storage each file is a round trip. [] when ``d`` does not exist."""
    from concurrent.futures import ThreadPoolExecutor

    fs, path = filesystem(d)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    paths = [
        i.path
        for i in infos
        if i.type == pafs.FileType.File
        and i.path.endswith(".json")
        and not posixpath.basename(i.path).startswith(".")
    ]

    def read(p: str) -> Any:
        with fs.open_input_stream(p) as f:
            return json.loads(f.read())

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(read, paths))


def parquet_rows(files: list[str], column: str | None = None) -> int:
    """Rows of Parquet files (from their metadata), or the sum of one numeric column."""
    import pyarrow.compute as pc

    total = 0
    for f in files:
        fs, p = filesystem(f)
        with fs.open_input_file(p) as fh:
            if column is None:
                total += pq.ParquetFile(fh).metadata.num_rows
            else:
                total += int(pc.sum(pq.read_table(fh, columns=[column])[column]).as_py() or 0)
    return total


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def remove(uri: str) -> None:
    """Delete a file if it is there (local path or URI)."""
    fs, path = filesystem(uri)
    try:
        fs.delete_file(path)
    except OSError:  # not there (or already gone)
        pass


def write_text(uri: str, text: str) -> None:
    fs, path = filesystem(uri)
    fs.create_dir(posixpath.dirname(path), recursive=True)
    with fs.open_output_stream(path) as f:
        f.write(text.encode("utf-8"))


def read_text(uri: str) -> str:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as f:
        return f.read().decode("utf-8")


def _json_default(o: Any) -> Any:
    """NumPy scalars and arrays, tensors, paths, sets and tuples as JSON; anything else as a string."""
    if hasattr(o, "tolist"):  # numpy scalars and arrays, torch tensors
        return o.tolist()
    if isinstance(o, set | tuple):
        return list(o)
    return str(o)


def write_json(uri: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON to a local path (atomically) or a URI."""
    text = json.dumps(data, indent=2, default=_json_default) + "\n"
    if is_uri(uri):
        write_text(str(uri), text)
        return
    path = filesystem(str(uri))[1]
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


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


def read_json(uri: str | os.PathLike) -> Any:
    return json.loads(read_text(str(uri)))


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

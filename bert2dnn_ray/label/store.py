"""The label store (``label.store``): soft labels kept across labeling runs, so that a daily run
sends the teachers only the texts they have not labeled before.

Contract
--------
* **Key.** A stored label belongs to a normalised text (and pair), its ``text_key`` and the text
  itself: a lookup matches both (the 64-bit key alone could collide in a store of billions).
* **Fingerprint.** Labels are reused only under the same *fingerprint*: a hash of each teacher's
  files (weights, config, tokenizer: their SHA-256), its ``max_length``, ``dtype`` and
  ``batch_invariant`` (with its ``batch_size``), the device
  kind it runs on (CPU or GPU: their arithmetic differs), the temperatures, the stacker (its
  coefficients too) and this format's version. A teacher with one weight changed has another
  fingerprint and reuses nothing. Every fingerprint has its own directory; its record
  (``_store.json``) says what went into it.
* **Layout.** ``<store>/<fingerprint>/runs/<run_id>-<attempt>/*.parquet`` hold the labels one run
  added (``text_key``, the text column(s), every label column, ``truncated``), each text once;
  ``runs/<run_id>.json`` commits them, written last. Readers read only committed runs' listed
  files: what an interrupted run wrote is never read as complete. No file per key: a run adds
  about one file per labeled chunk.
* **Lookup** is a Ray Data hash join (``left_outer``, ``dedup_partitions`` partitions, bounded
  memory per partition as in :mod:`.dedup`) of the run's distinct texts with the store; the hits'
  labels are copied as stored, bit for bit; the misses are labeled as usual and then committed to
  the store. The lookup is a committed phase of the run (``_dedup/reuse.json``, its snapshot of the
  store), so a resumed run reuses exactly what it reused before.
* **One writer.** A run holds the fingerprint's lease (:mod:`.lease`) from lookup to commit. A run
  resumed after another committed the same texts in between drops those before committing
  (an anti-join), so each text stays in the store once.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import posixpath
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .. import hf, io, softlabels
from ..errors import ConfigError, one_line
from ..progress import log
from .config import LabelConfig

VERSION = 1
STORE_RECORD = "_store.json"
RUNS = "runs"
REUSE = "_dedup/reuse.json"
KEY = "text_key"  # the same key as de-duplication's (dedup.KEY; not imported: dedup imports this)
# The files of a checkpoint that decide its outputs: weights, config and tokenizer.
MODEL_FILES = (
    "*.safetensors",
    "*.bin",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def model_files(model: str) -> dict[str, str]:
    """SHA-256 of each file of the checkpoint ``model`` that decides its outputs (:data:`MODEL_FILES`).
    A hub id is resolved to its downloaded snapshot (downloaded now if it is not cached)."""
    path = Path(hf.resolve_model(model))
    if not path.is_dir():
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(str(model), allow_patterns=list(MODEL_FILES)))
        except Exception as e:
            raise ConfigError(f"label.store: cannot fingerprint teacher {model!r} ({one_line(e)})") from None
    files = sorted(
        p for p in path.iterdir() if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in MODEL_FILES)
    )
    if not files:
        raise ConfigError(f"label.store: {path} has no weights or tokenizer files to fingerprint")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((p.name for p in files), pool.map(_sha256, files), strict=True))


def fingerprint(cfg: LabelConfig, stacker: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The fingerprint of ``cfg``'s labels (see the module docstring): its id and its record."""
    device = "gpu" if cfg.num_gpus_per_actor > 0 else "cpu"
    record = {
        "version": VERSION,
        "device": device,
        "teachers": [
            {
                "name": t.name,
                "files": model_files(t.path),
                "max_length": t.max_length,
                "dtype": "fp32" if t.dtype == "auto" and device == "cpu" else t.dtype,
                # batch-invariant logits are another arithmetic, and a function of the batch's shape
                "batch_invariant": t.batch_invariant,
                "batch_size": t.batch_size if t.batch_invariant else None,
            }
            for t in cfg.teachers
        ],
        "temperatures": cfg.temperatures,
        "stacker": stacker,
        "text_columns": len(cfg.columns.texts),
    }
    blob = json.dumps(record, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24], record


class Store:
    """The labels of one fingerprint in a store directory."""

    def __init__(self, root: str, fp: str):
        self.root = root
        self.fp = fp
        self.dir = io.join(root, fp)

    def init(self, record: dict[str, Any]) -> None:
        io.make_dirs(self.dir, "label store")
        path = io.join(self.dir, STORE_RECORD)
        if not io.exists(path):
            io.write_json(path, {"fingerprint": self.fp, **record})

    def runs(self) -> dict[str, dict[str, Any]]:
        """The committed runs, by run id (their commit records)."""
        return {r["run_id"]: r for r in io.read_json_dir(io.join(self.dir, RUNS))}

    def files(self, runs: list[dict[str, Any]]) -> list[str]:
        return [io.join(self.dir, RUNS, r["dir"], f) for r in runs for f in r["files"]]

    def teacher_seconds_per_row(self) -> float | None:
        """Teacher seconds per labeled row over the committed runs (for the time a reuse saved)."""
        runs = [r for r in self.runs().values() if r.get("teacher_seconds") and r.get("rows")]
        rows = sum(r["rows"] for r in runs)
        return sum(r["teacher_seconds"] for r in runs) / rows if rows else None

    def commit(
        self,
        cfg: LabelConfig,
        reuse: dict[str, Any],
        label_files: list[str],
        parts: int,
        teacher_seconds: float | None,
    ) -> dict[str, Any] | None:
        """Add the labels this run made (``label_files``) to the store, once: a no-op when the run's
        commit record is there already. Returns the record (None: nothing to add)."""
        import ray.data

        run_id = reuse["run_id"]
        record_path = io.join(self.dir, RUNS, f"{run_id}.json")
        if io.exists(record_path):
            return io.read_json(record_path)
        if not label_files:
            return None
        texts = cfg.columns.texts
        ds = ray.data.read_parquet(label_files).rename_columns({softlabels.ROW_ID: KEY})
        names = ds.columns()
        keep = [KEY, *texts, *[c for c in names if softlabels.is_label_column(c)], softlabels.TRUNCATED]
        ds = ds.select_columns(keep)
        newer = [r for rid, r in self.runs().items() if rid not in set(reuse["store_runs"])]
        if newer:  # committed since this run's lookup (it was resumed after another run)
            seen = ray.data.read_parquet(self.files(newer), columns=[KEY, *texts])
            ds = ds.join(seen, join_type="left_anti", num_partitions=parts, on=(KEY, *texts))
        rel = f"{run_id}-{uuid.uuid4().hex[:8]}"
        out = io.join(self.dir, RUNS, rel)
        ds.write_parquet(out)
        files = io.list_files(out)
        record = {
            "run_id": run_id,
            "dir": rel,
            "files": [posixpath.basename(f) for f in files],
            "rows": io.parquet_rows(files),
            "teacher_seconds": teacher_seconds,
            "output_dir": cfg.output_dir,
            "committed_at": time.time(),
        }
        io.write_json(record_path, record)
        self._remove_stale(run_id, rel)
        log("label", f"label store: {record['rows']:,} new labels committed to {self.dir}")
        return record

    def _remove_stale(self, run_id: str, keep: str) -> None:
        """Attempt directories of this run that its commit does not list (a killed attempt's)."""
        fs, path = io.filesystem(io.join(self.dir, RUNS))
        for info in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
            name = posixpath.basename(info.path)
            if info.type == pafs.FileType.Directory and name.startswith(f"{run_id}-") and name != keep:
                fs.delete_dir(info.path)


SPLIT_COUNTS = ("hit_rows", "miss_rows", "hit_input_rows", "hit_truncated")


def split(
    batch: pa.Table, misses_dir: str, hits_dir: str, texts: list[str], label_cols: list[str]
) -> pa.Table:
    """Ray Data task over the lookup join's output: the rows without a stored label (misses) to one
    file, the rows with one (hits, in the columns of a labeled part) to another; returns the counts."""
    miss = pc.is_null(batch[softlabels.logits_column(softlabels.STACKED)])
    misses = batch.filter(miss).select([KEY, *texts, "count"])
    hits = batch.filter(pc.invert(miss)).rename_columns(
        [softlabels.ROW_ID if c == KEY else c for c in batch.column_names]
    )
    hits = hits.select([softlabels.ROW_ID, *texts, "count", *label_cols, softlabels.TRUNCATED])
    name = f"part-{uuid.uuid4().hex[:16]}.parquet"
    if misses.num_rows:
        io.write_parquet_atomic(misses, io.join(misses_dir, name))
    if hits.num_rows:
        io.write_parquet_atomic(hits, io.join(hits_dir, name))
    counts = {
        "hit_rows": hits.num_rows,
        "miss_rows": misses.num_rows,
        "hit_input_rows": int(pc.sum(hits["count"]).as_py() or 0),
        "hit_truncated": int(pc.sum(hits[softlabels.TRUNCATED]).as_py() or 0),
    }
    return pa.table({k: [v] for k, v in counts.items()})


def lookup(
    cfg: LabelConfig, store: Store, distinct: dict[str, Any], parts: int, hits_parent: str
) -> dict[str, Any]:
    """The reuse phase (committed by ``_dedup/reuse.json``, made now if not yet): split the run's
    distinct texts into *hits* (labels copied from the store into ``<hits_parent>/reused-<attempt>/``,
    in the columns of a labeled part) and *misses* (``_dedup/reuse-<attempt>/misses``, to label)."""
    import ray
    import ray.data

    path = io.join(cfg.output_dir, REUSE)
    if io.exists(path):
        return io.read_json(path)
    t0 = time.perf_counter()
    texts = cfg.columns.texts
    runs = store.runs()
    info: dict[str, Any] = {
        "run_id": uuid.uuid4().hex[:16],
        "store": store.dir,
        "fingerprint": store.fp,
        "store_runs": sorted(runs),
        "store_rows": sum(r["rows"] for r in runs.values()),
    }
    distinct_dir = io.join(cfg.output_dir, distinct["dir"])
    if not runs:
        info.update(misses_dir=distinct["dir"], hits_files=[], hit_rows=0, hit_input_rows=0, hit_truncated=0)
        info["miss_rows"] = distinct["distinct_rows"]
    else:
        attempt = uuid.uuid4().hex[:12]
        stored = store.files(list(runs.values()))
        fs, first = io.filesystem(stored[0])
        label_cols = [c for c in pq.read_schema(first, filesystem=fs).names if softlabels.is_label_column(c)]
        left = ray.data.read_parquet(io.list_files(distinct_dir))
        right = ray.data.read_parquet(stored)
        misses_rel = f"_dedup/reuse-{attempt}/misses"
        hits_rel = f"{hits_parent}/reused-{attempt}"
        joined = left.join(right, join_type="left_outer", num_partitions=parts, on=(KEY, *texts))
        counts = joined.map_batches(
            split,
            batch_size=None,  # one partition's block: a file of hits and one of misses per partition
            batch_format="pyarrow",
            fn_kwargs={
                "misses_dir": io.join(cfg.output_dir, misses_rel),
                "hits_dir": io.join(cfg.output_dir, hits_rel),
                "texts": texts,
                "label_cols": label_cols,
            },
        ).to_arrow_refs()
        totals = pa.concat_tables(ray.get(counts))
        hit_files = io.list_files(io.join(cfg.output_dir, hits_rel))
        info.update({k: int(pc.sum(totals[k]).as_py() or 0) for k in SPLIT_COUNTS})
        info.update(
            misses_dir=misses_rel if info["miss_rows"] else None,  # split() writes a file per non-empty part
            hits_files=[f"{hits_rel}/{posixpath.basename(f)}" for f in hit_files],
        )
    info["seconds"] = round(time.perf_counter() - t0, 3)
    io.write_json(path, info)
    log(
        "label",
        f"label store: {info['hit_rows']:,} of {info['hit_rows'] + info['miss_rows']:,} distinct texts "
        f"({info['hit_input_rows']:,} input rows) reused from {store.dir} "
        f"({info['store_rows']:,} stored labels); {info['miss_rows']:,} to label",
    )
    return info

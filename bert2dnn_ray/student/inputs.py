"""The student's training input: which soft-label column it learns from, the rows, and each worker's
batches.

:func:`find` checks the soft-label sets before any work (columns, classes, row counts; the
probabilities at ``temperature`` when every set has them, else the logits they are computed from)
and :func:`dataset` reads them into a Ray dataset whose rows hold the texts' feature ids (``ids``,
made by :func:`featurize` in Ray Data tasks, or by the driver for rows it reads itself), the soft
label and the gold label: cached in the object store when they fit (featurized once for every
epoch), streamed from Parquet otherwise, its files in a seeded random order (:func:`stream_order`);
``shuffle: global`` permutes the cached rows once. A worker's epoch is :func:`batches`: the same
batches in the same order on every run of one config (seeded by ``seed`` + epoch), so a resumed
epoch skips exactly those it trained before; a streamed one resumes on :func:`remaining`, the
files it had not finished (:mod:`.resume`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import data as data_mod
from .. import io, softlabels
from ..errors import ConfigError, DataError
from ..progress import log
from . import encoders
from .config import TrainConfig


@dataclass
class SoftLabels:
    """The soft-label sets a run trains on, checked: what to read from where."""

    parts: list[tuple[list[str], bool]]  # per set: its part files, and whether it has the gold column
    columns: list[str]  # text (and pair) column(s), then the soft column
    soft_col: str
    soft_temperature: float | None  # softmax(logits / T) at batch time when the set has only logits
    hard_col: str | None  # the gold label column (hard_label_weight > 0)
    num_labels: int
    rows: int  # rows trained on (max_rows applied)
    est_bytes: float  # estimated in-memory bytes of the columns read, for those rows
    manifest: dict[str, Any]  # the first set's manifest

    @property
    def from_logits(self) -> bool:
        return self.soft_temperature is not None


def soft_columns(cfg: TrainConfig) -> tuple[str, str]:
    """The soft-label column of ``target`` at ``temperature``, and the logits it is computed from."""
    return softlabels.probs_column(cfg.target, cfg.temperature), softlabels.logits_column(cfg.target)


def find(cfg: TrainConfig) -> SoftLabels:
    """Check the soft-label sets of ``cfg.soft_labels`` (one line naming the problem) and describe them."""
    sources = [cfg.soft_labels] if isinstance(cfg.soft_labels, str) else list(cfg.soft_labels)
    if not sources:
        raise ConfigError("train.soft_labels is an empty list")
    probs_col, logits_col = soft_columns(cfg)
    wanted = [cfg.columns.text] + ([cfg.columns.pair] if cfg.columns.pair else [])
    hard_col = cfg.columns.label if cfg.hard_label_weight > 0 else None
    found = [(src, *_soft_label_source(src, wanted, (probs_col, logits_col))) for src in sources]
    # The probabilities at T when every set has them, otherwise the logits they are computed from.
    from_logits = not all(probs_col in schema.names for _, _, schema, _, _, _ in found)
    soft_col = logits_col if from_logits else probs_col
    soft_temperature = cfg.temperature if from_logits else None
    wanted.append(soft_col)
    parts, rows, num_labels, manifest, est_bytes = [], 0, None, {}, 0.0
    for src, files, schema, n, m, col_bytes in found:
        if soft_col not in schema.names:
            raise DataError(
                f"{src}: no column {logits_col!r}, and another soft-label set has no {probs_col!r}: "
                f"every set needs {probs_col!r}, or every set {logits_col!r} to compute it from"
            )
        est_bytes += sum(col_bytes.get(c, 0.0) for c in wanted) * n
        k = schema.field(soft_col).type.list_size
        if num_labels is not None and k != num_labels:
            raise DataError(f"{src}: {soft_col} has {k} classes, {sources[0]} has {num_labels}")
        num_labels, manifest = k, manifest or m
        parts.append((files, hard_col in schema.names if hard_col else False))
        rows += n
    if hard_col and not any(has for _, has in parts):
        raise DataError(f"hard_label_weight > 0 but no soft-label set has the gold label column {hard_col!r}")
    if rows == 0:
        raise DataError(f"{cfg.soft_labels}: the soft-label set is empty")
    all_rows = rows
    if cfg.max_rows:
        rows = min(rows, cfg.max_rows)
    return SoftLabels(
        parts=parts,
        columns=wanted,
        soft_col=soft_col,
        soft_temperature=soft_temperature,
        hard_col=hard_col,
        num_labels=num_labels,
        rows=rows,
        est_bytes=est_bytes * rows / max(1, all_rows),
        manifest=manifest,
    )


def dataset(cfg: TrainConfig, src: SoftLabels) -> tuple[Any, bool]:
    """The training rows as a Ray dataset, and whether they are cached in the object store."""
    import ray.data

    parts, wanted, hard_col, rows = src.parts, src.columns, src.hard_col, src.rows
    need_bytes = src.est_bytes
    cached = _use_cache(cfg, need_bytes)
    if cfg.shuffle == "global" and not cached:
        raise ConfigError(
            f"train.shuffle=global needs the rows cached in Ray's object store, and these {rows:,} rows "
            f"(~{need_bytes / 2**20:,.0f} MB) are not (cache={cfg.run.cache!r}, cache_max_mb={cfg.run.cache_max_mb:g}); "
            "set cache: true with enough object store, or shuffle: local"
        )
    t0 = time.perf_counter()
    feat = _feat_kwargs(cfg)
    if cached and need_bytes <= cfg.run.driver_read_max_mb * 2**20:
        # Small: read and featurize here and put the rows in the object store directly (no read
        # tasks, whose worker processes cost seconds to start on a small machine).
        tables = [featurize(t, **feat) for t in _read_parts_here(parts, wanted, hard_col, cfg.max_rows)]
        if cfg.shuffle == "global":
            tables = _permuted(tables, cfg.seed)
        ds = ray.data.from_arrow(tables)
        log("train", f"read {rows} rows into Ray's object store in {time.perf_counter() - t0:.1f}s")
    else:
        order = None if cached else stream_order(cfg, src)
        if order is not None:  # streamed: the files in a seeded random order (then the shuffle buffer)
            ds = _read(order[0], wanted, hard_col, order[1])
        else:
            ds = None
            for files, has_gold in parts:
                part = _read(files, wanted, hard_col, has_gold)
                ds = part if ds is None else ds.union(part)
            if cfg.max_rows:
                ds = ds.limit(cfg.max_rows)
            if not cached:  # streamed, sets with and without gold labels: Ray orders the blocks
                ds = ds.randomize_block_order(seed=cfg.seed)
        ds.context.execution_options.preserve_order = True  # files and blocks in order (see `ingest`)
        # batches of a bounded size: a block can be a whole partition of a join (a million rows)
        ds = ds.map_batches(featurize, fn_kwargs=_feat_kwargs(cfg), batch_format="pyarrow", batch_size=16384)
        if cached:
            # Read once into the object store: every epoch re-reads memory instead of starting a
            # new read pipeline (seconds per epoch on a small machine). Streaming stays the way
            # for data that does not fit.
            if cfg.shuffle == "global":  # seeded, and cached once: every epoch reads this order
                ds = ds.random_shuffle(seed=cfg.seed)
            ds = ds.materialize()
            log("train", f"cached {rows} rows in Ray's object store in {time.perf_counter() - t0:.1f}s")
    return ds, cached


def stream_order(cfg: TrainConfig, src: SoftLabels) -> tuple[list[str], bool] | None:
    """The files of a streamed epoch in their seeded random order, and whether they have the gold
    column; None where Ray orders the blocks instead (``max_rows``, or sets with and without gold
    labels: those are read set by set), and a resumed epoch then skips no files."""
    if cfg.max_rows or len({has for _, has in src.parts}) != 1:
        return None
    files = [f for fs, _ in src.parts for f in fs]
    perm = np.random.default_rng(cfg.seed).permutation(len(files))
    return [files[i] for i in perm], src.parts[0][1]


def remaining(
    cfg: TrainConfig, src: SoftLabels, at: dict[str, int], world: int
) -> tuple[Any, dict[str, Any]] | None:
    """A streamed epoch resumed at ``at`` (:func:`.resume.point`): the dataset of its files left to
    train on, the ones trained before skipped whole, and what was skipped; None when nothing can
    be skipped (the workers then discard the batches trained before)."""
    from . import resume

    order = stream_order(cfg, src)
    if order is None:
        return None
    files, has_gold = order
    rows = resume.file_rows(files)
    window = cfg.batch_size * max(1, group_by_length(cfg))
    trained = at["epoch_step"] * cfg.batch_size * world
    trained -= resume.margin_rows(cfg.batch_size, window, shuffle_buffer(cfg), world)
    k, skipped = resume.skip_prefix(rows, max(0, trained))
    if k == 0:
        return None
    left = sum(rows[k:])
    log("train", resume.describe(at, k, len(files), skipped, left))
    ds = _read(files[k:], src.columns, src.hard_col, has_gold)
    ds.context.execution_options.preserve_order = True
    ds = ds.map_batches(featurize, fn_kwargs=_feat_kwargs(cfg), batch_format="pyarrow", batch_size=16384)
    info = {**at, "skipped_files": k, "files": len(files), "skipped_rows": skipped, "rows_left": left}
    return ds, info


def _read(files: list[str], wanted: list[str], hard_col: str | None, has_gold: bool) -> Any:
    import ray.data

    ds = ray.data.read_parquet(files, columns=wanted + ([hard_col] if has_gold else []))
    if hard_col:  # one int64 gold column everywhere: -1 where a row has no gold label
        ds = ds.map_batches(
            _gold_column, fn_kwargs={"col": hard_col, "present": has_gold}, batch_format="pyarrow"
        )
    return ds


def _feat_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    return {
        "fcfg": cfg.featurizer.model_dump(mode="json"),
        "text_col": cfg.columns.text,
        "pair_col": cfg.columns.pair,
    }


IDS = "ids"
_FEATURIZERS: dict[str, Any] = {}


def featurize(batch: Any, fcfg: dict[str, Any], text_col: str, pair_col: str | None) -> Any:
    """A batch of soft-labeled rows with its texts turned into feature ids: ``ids`` (a list per row)
    in place of the text (and pair) column. The featurizer is the one saved with the student."""
    import json

    import pyarrow as pa

    from ..featurizer import Featurizer, FeaturizerConfig

    key = json.dumps(fcfg, sort_keys=True)
    feat = _FEATURIZERS.get(key)
    if feat is None:
        feat = _FEATURIZERS[key] = Featurizer(FeaturizerConfig.model_validate(fcfg))
    pairs = batch[pair_col].to_pylist() if pair_col else None
    ids, offsets = feat.batch(batch[text_col].to_pylist(), pairs)
    dtype = np.int32 if feat.num_buckets <= 2**31 else np.int64
    bounds = np.append(offsets, len(ids)).astype(np.int64)
    col = pa.LargeListArray.from_arrays(pa.array(bounds), pa.array(ids.astype(dtype)))
    return batch.drop_columns([c for c in (text_col, pair_col) if c]).append_column(IDS, col)


def flat_ids(col: Any) -> tuple[np.ndarray, np.ndarray]:
    """A batch's ``ids`` column (as Ray Data hands it: an array of arrays, or 2-D when every row has
    as many) as the featurizer's flat ``(ids, offsets)``."""
    rows = list(col)
    lens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(lens[:-1], out=offsets[1:])
    flat = np.concatenate(rows).astype(np.int64, copy=False) if rows else np.zeros(0, dtype=np.int64)
    return flat, offsets


def group_by_length(cfg: TrainConfig) -> int:
    if cfg.group_by_length is not None:
        return cfg.group_by_length
    return 50 if encoders.get(cfg.model.encoder).sequence else 0


def shuffle_buffer(cfg: TrainConfig) -> int:
    """Rows in a worker's local shuffle buffer: 8 batches or 2 length-grouping windows, at least 4096."""
    return max(8 * cfg.batch_size, 2 * cfg.batch_size * max(1, group_by_length(cfg)), 4096)


def batches(shard: Any, cfg: TrainConfig, epoch: int):
    """One epoch of a worker's batches, in a deterministic order (seeded by ``seed`` + epoch), so
    a resumed run can skip exactly the batches it trained before; length-grouped windows
    (``group_by_length``, by the number of features) are cut into batches the same way every time."""
    group = group_by_length(cfg)
    window = cfg.batch_size * max(1, group)
    rng = np.random.default_rng(cfg.seed + epoch)
    for batch in shard.iter_batches(
        batch_size=window,
        batch_format="numpy",
        drop_last=False,
        local_shuffle_buffer_size=shuffle_buffer(cfg),
        local_shuffle_seed=cfg.seed + epoch,
    ):
        if group:
            yield from data_mod.group_by_length(batch, cfg.batch_size, rng, (IDS,))
        else:
            yield batch


def _soft_label_source(
    src: str, wanted: list[str], soft: tuple[str, str]
) -> tuple[list[str], Any, int, dict[str, Any], dict[str, float]]:
    """Files, schema, row count, manifest and estimated in-memory bytes per row of each column
    (from the first file's footer) of one label-stage output; checks that the ``wanted`` columns
    and one of the ``soft`` columns (the probabilities, or the logits to compute them from) are there."""
    import pyarrow.parquet as pq

    files = softlabels.files(src)
    fs, first = io.filesystem(files[0])
    with fs.open_input_file(first) as f:
        pf = pq.ParquetFile(f)
        schema, meta = pf.schema_arrow, pf.metadata
    col_bytes: dict[str, float] = {}
    for j in range(meta.num_columns):
        name = meta.schema.column(j).path.split(".")[0]
        size = sum(meta.row_group(i).column(j).total_uncompressed_size for i in range(meta.num_row_groups))
        col_bytes[name] = col_bytes.get(name, 0.0) + size / max(1, meta.num_rows)
    avail = sorted(n for n in schema.names if "_probs_" in n or n.endswith("_logits"))
    for col in wanted:
        if col not in schema.names:
            raise DataError(f"{first}: no column {col!r} in the soft labels (soft-label columns: {avail})")
    if not any(col in schema.names for col in soft):
        raise DataError(
            f"{first}: no column {soft[0]!r} in the soft labels, nor {soft[1]!r} to compute it from "
            f"(soft-label columns: {avail})"
        )
    manifest = softlabels.read_manifest(src)
    rows = manifest.get("labeled_rows")
    if rows is None:
        rows = 0
        for path in files:
            with fs.open_input_file(io.filesystem(path)[1]) as f:
                rows += pq.ParquetFile(f).metadata.num_rows
    return files, schema, int(rows), manifest, col_bytes


def _read_parts_here(
    parts: list[tuple[list[str], bool]], wanted: list[str], hard_col: str | None, max_rows: int | None
) -> list[Any]:
    """The training rows as Arrow tables, one per file in order (what the read tasks would
    produce), with the gold column normalised as ``_gold_column`` does; the first ``max_rows``."""
    import pyarrow.parquet as pq

    tables, left = [], max_rows if max_rows else float("inf")
    for files, has_gold in parts:
        for path in files:
            if left <= 0:
                return tables
            fs, p = io.filesystem(path)
            with fs.open_input_file(p) as f:
                t = pq.read_table(f, columns=wanted + ([hard_col] if has_gold else []))
            if hard_col:
                t = _gold_column(t, hard_col, has_gold)
            t = t.slice(0, int(min(left, t.num_rows)))
            left -= t.num_rows
            tables.append(t.combine_chunks())
    return tables


def _permuted(tables: list[Any], seed: int) -> list[Any]:
    """``shuffle: global`` on rows read here: one seeded permutation of all of them, cut into as
    many blocks as there were files (so workers still split the rows between them)."""
    import pyarrow as pa

    t = pa.concat_tables(tables)
    t = t.take(np.random.default_rng(seed).permutation(t.num_rows))
    size = -(-t.num_rows // max(1, len(tables)))
    return [t.slice(i, size).combine_chunks() for i in range(0, t.num_rows, size)] or [t]


def _use_cache(cfg: TrainConfig, est_bytes: float) -> bool:
    """Whether to hold the training rows in the object store (``cache``; see TrainConfig)."""
    if cfg.run.cache != "auto":
        return bool(cfg.run.cache)
    import ray

    store = float(ray.cluster_resources().get("object_store_memory", 0.0))
    # Arrow in memory is about Parquet's uncompressed size; 1.5x leaves room for the rest.
    need = 1.5 * est_bytes
    return need <= cfg.run.cache_max_mb * 2**20 and need <= 0.25 * store


def _gold_column(batch: Any, col: str, present: bool) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if present:
        gold = pc.fill_null(batch.column(col).cast(pa.int64()), -1)
        return batch.set_column(batch.schema.get_field_index(col), col, gold)
    return batch.append_column(col, pa.array(np.full(batch.num_rows, -1, dtype=np.int64)))

"""Soft-labeling: stream unlabeled texts through one or more teachers with Ray Data.

The input is planned into deterministic *chunks* (Parquet row groups, or whole files for the
line formats). A pool of Ray actors — GPU or fractional-CPU — each loads every teacher once and
turns a chunk into one Parquet part: logits per teacher, probabilities at each temperature and
the stacked soft label. Parts (``data/part-*.parquet``) are written atomically and a chunk is committed by its stats file,
so a killed job run again skips committed chunks and redoes the rest: the output holds each
input row exactly once. Bad rows go to ``quarantine/`` with their reason.

Output schema (one row per labeled input row) — see README "Soft-label schema":
``row_id``, the text column(s) (normalised), ``truncated``, ``<teacher>_logits``,
``<teacher>_probs_t<T>`` for each temperature, ``stacked_logits``, ``stacked_probs_t<T>``.
"""

from __future__ import annotations

import json
import posixpath
import sys
import time
from collections import Counter
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from . import io
from .config import Strict
from .data import Columns
from .errors import ConfigError, DataError
from .metrics import softmax
from .runtime import actor_cpus, cluster_address, init_ray, log, torch_threads
from .teachers import TeacherRunner, TeacherSpec, model_num_labels
from .text import normalize_array

MANIFEST = "manifest.json"


class StackConfig(Strict):
    method: Literal["mean", "weighted", "logreg"] = Field(
        "mean",
        description="mean of logits, weighted mean (teacher.weight), or logistic regression over logits",
    )
    dev: str | None = Field(None, description="labeled dev set to fit the 'logreg' stacker on")
    label_column: str = "label"
    C: float = Field(1.0, gt=0, description="inverse regularisation of the logreg stacker")


class LabelConfig(Strict):
    input: str | None = Field(None, description="unlabeled texts: file, directory, glob or URI")
    columns: Columns = Columns()
    output_dir: str | None = Field(None, description="where part-*.parquet, quarantine/ and manifest.json go")
    teachers: list[TeacherSpec] = Field(default_factory=list)
    temperatures: list[float] = Field(default_factory=lambda: [1.0, 2.0], min_length=1)
    stack: StackConfig = StackConfig()
    keep_columns: list[str] = Field(
        default_factory=list, description="input columns copied unchanged to the output (e.g. a gold label)"
    )
    dedup: Literal["none", "distinct", "join"] = Field(
        "none",
        description="none: label every row; distinct: label each distinct text once, one output row per distinct "
        "text with its count; join: label each distinct text once and join the labels back to every row",
    )
    dedup_partitions: int = Field(16, ge=1, description="hash partitions for de-duplication (~1 per 1M rows)")
    chunk_rows: int = Field(50_000, ge=1, description="target rows per chunk (unit of work and of resume)")
    num_actors: int = Field(1, ge=1, description="teacher actor pool size")
    num_gpus_per_actor: float = Field(0.0, ge=0)
    cpus_per_actor: float | None = Field(None, gt=0, description="default: a fraction on small machines")
    torch_threads: int | None = Field(None, ge=1)
    memory_per_actor_gb: float | None = Field(
        None,
        gt=0,
        description="host memory Ray reserves for each teacher actor, so a node gets no more actors than fit "
        "(default: none reserved; the label stage logs the actors' peak to size it)",
    )
    trust_remote_code: bool = False
    max_attempts: int = Field(
        3, ge=1, description="runs of the actor pool; after a lost node/actor only unfinished chunks rerun"
    )
    address: str | None = None


def temp_suffix(t: float) -> str:
    return f"t{t:g}".replace(".", "p")


def _fsl(values: np.ndarray) -> pa.FixedSizeListArray:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


# ----------------------------------------------------------------------------- planning


def plan_chunks(cfg: LabelConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Deterministic chunk list and an input signature (to refuse resuming onto other input)."""
    fs, files = io.resolve_files(cfg.input)
    _, root = io.filesystem(cfg.input)
    import pyarrow.fs as pafs

    if fs.get_file_info(root).type != pafs.FileType.Directory:
        root = posixpath.dirname(files[0])
    scheme = cfg.input.split("://", 1)[0] + "://" if "://" in cfg.input else ""
    chunks: list[dict[str, Any]] = []
    sig_files = []
    for fi, path in enumerate(files):
        info = fs.get_file_info(path)
        sig_files.append([path, info.size])
        if io.file_format(path) == "parquet":
            groups = io.parquet_row_groups(fs, path)
            cur: list[int] = []
            cur_rows, offset, start = 0, 0, 0
            for gi, n in enumerate(groups):
                if cur and cur_rows + n > cfg.chunk_rows:
                    chunks.append(_chunk(fi, scheme, path, root, len(chunks), cur, start, cur_rows))
                    start, cur, cur_rows = offset, [], 0
                if n > cfg.chunk_rows:  # a big row group is split into slices of chunk_rows
                    for s0 in range(0, n, cfg.chunk_rows):
                        ln = min(cfg.chunk_rows, n - s0)
                        chunks.append(_chunk(fi, scheme, path, root, len(chunks), [gi], offset + s0, ln, s0))
                    offset += n
                    start = offset
                    continue
                cur.append(gi)
                cur_rows += n
                offset += n
            if cur:
                chunks.append(_chunk(fi, scheme, path, root, len(chunks), cur, start, cur_rows))
        else:
            chunks.append(_chunk(fi, scheme, path, root, len(chunks), [], 0, -1))
    return chunks, {"input": cfg.input, "files": sig_files}


def _chunk(
    fi: int,
    scheme: str,
    path: str,
    root: str,
    n: int,
    groups: list[int],
    start: int,
    rows: int,
    slice_start: int = -1,
) -> dict[str, Any]:
    """A unit of work: row groups of one file (or a slice of one big row group), or a whole file."""
    return {
        "chunk_id": f"{n:06d}",
        "uri": scheme + path,
        "name": posixpath.relpath(path, root),
        "file_index": fi,
        "row_groups": groups,
        "row_offset": start,
        "rows": rows,
        "slice_start": slice_start,
    }


# ----------------------------------------------------------------------------- the actor


def _read(cfg: LabelConfig, spec: dict[str, Any]) -> tuple[pa.Table, dict[str, list[int]]]:
    cols = cfg.columns
    text_cols = cols.texts
    wanted = text_cols + ([cols.id] if cols.id else []) + list(cfg.keep_columns)
    fs, path = io.filesystem(spec["uri"])
    if spec["row_groups"]:
        table = io.read_parquet_rows(fs, path, spec["row_groups"], wanted)
        if spec["slice_start"] >= 0:
            table = table.slice(spec["slice_start"], spec["rows"])
        invalid: dict[str, list[int]] = {}
        for c in text_cols:
            arr, bad = io.decode_text_column(table[c])
            table = table.set_column(table.column_names.index(c), c, arr)
            if bad:
                invalid[c] = bad
        return table, invalid
    res = io.read_file(fs, path, columns=wanted, text_columns=text_cols)
    return res.table, res.invalid_utf8


def prepare_rows(cfg: LabelConfig, spec: dict[str, Any]) -> tuple[pa.Table, dict[str, Any]]:
    """Read one chunk, normalise its text, and set bad rows aside.

    Returns the good rows (``row_id``, normalised text column(s), ``keep_columns``) and stats.
    Bad rows (null, empty/whitespace-only, invalid UTF-8) are written to
    ``<output_dir>/quarantine/part-<chunk>.parquet`` with their reason: never dropped silently.
    """
    cols = cfg.columns
    table, invalid = _read(cfg, spec)
    n = table.num_rows
    rel = spec["name"]
    if cols.id:
        row_ids = pc.cast(table[cols.id], pa.string()).combine_chunks()
    else:
        start = spec["row_offset"]
        row_ids = pa.array([f"{rel}:{i}" for i in range(start, start + n)], pa.string())
    reason = np.full(n, "", dtype=object)
    text_cols = cols.texts
    norm: dict[str, pa.Array] = {}
    for c in text_cols:
        raw = table[c].combine_chunks()
        for i in invalid.get(c, []):
            reason[i] = reason[i] or f"invalid_utf8:{c}"
        nulls = np.asarray(raw.is_null().to_numpy(zero_copy_only=False))
        normed = normalize_array(raw)
        empty = np.asarray(
            pc.fill_null(pc.equal(pc.utf8_length(normed), 0), False).to_numpy(zero_copy_only=False)
        )
        for i in np.nonzero(nulls & (reason == ""))[0]:
            reason[i] = f"null:{c}"
        for i in np.nonzero(empty & (reason == ""))[0]:
            reason[i] = f"empty:{c}"
        norm[c] = normed
    bad = reason != ""
    good = pa.array(np.nonzero(~bad)[0], pa.int64())
    out: dict[str, Any] = {"row_id": row_ids.take(good)}
    for c in text_cols:
        out[c] = norm[c].take(good)
    for c in cfg.keep_columns:
        out[c] = table[c].combine_chunks().take(good)
    if bad.any():
        bidx = pa.array(np.nonzero(bad)[0], pa.int64())
        q = {
            "row_id": row_ids.take(bidx),
            "reason": pa.array(list(reason[bad]), pa.string()),
            "source_file": pa.array([rel] * int(bad.sum()), pa.string()),
        }
        for c in text_cols:
            q[c] = table[c].combine_chunks().take(bidx)
        io.write_parquet_atomic(
            pa.table(q), io.join(cfg.output_dir, "quarantine", f"part-{spec['chunk_id']}.parquet")
        )
    stats = {
        "chunk_id": spec["chunk_id"],
        "file": rel,
        "input_rows": n,
        "quarantined_rows": int(bad.sum()),
        "quarantine_reasons": dict(Counter(r.split(":")[0] for r in reason[bad])),
    }
    return pa.table(out), stats


class ChunkLabeler:
    """Ray Data actor: loads the teachers once; labels one chunk per call and writes it."""

    def __init__(self, payload: dict[str, Any]):
        import torch

        cfg = LabelConfig.model_validate(payload["cfg"])
        self.cfg = cfg
        self.stacker = payload["stacker"]
        device = "cuda" if cfg.num_gpus_per_actor > 0 and torch.cuda.is_available() else "cpu"
        if device == "cpu":
            torch.set_num_threads(payload["threads"])
        self.runners = [TeacherRunner(t, device, cfg.trust_remote_code) for t in cfg.teachers]

    def __call__(self, batch: pa.Table) -> pa.Table:
        stats = [self.label_chunk(spec) for spec in batch.to_pylist()]
        return pa.table({"chunk_id": [s["chunk_id"] for s in stats], "stats": [json.dumps(s) for s in stats]})

    def label_chunk(self, spec: dict[str, Any]) -> dict[str, Any]:
        t0, started_at = time.perf_counter(), time.time()
        cfg, cols = self.cfg, self.cfg.columns
        good, stats = prepare_rows(cfg, spec)
        texts = good[cols.text].to_pylist()
        pairs = good[cols.pair].to_pylist() if cols.pair else None
        out: dict[str, Any] = {name: good[name] for name in good.column_names}
        all_logits, truncated_any = [], np.zeros(good.num_rows, dtype=bool)
        teacher_stats = {}
        for runner in self.runners:
            t_teacher = time.perf_counter()
            logits, trunc = runner.logits(texts, pairs)
            t_teacher = time.perf_counter() - t_teacher
            all_logits.append(logits)
            truncated_any |= trunc
            name = runner.spec.name
            out[f"{name}_logits"] = _fsl(logits)
            for t in cfg.temperatures:
                out[f"{name}_probs_{temp_suffix(t)}"] = _fsl(softmax(logits, t))
            teacher_stats[name] = {
                "seconds": t_teacher,
                "truncated": int(trunc.sum()),
                "class_counts": np.bincount(logits.argmax(1), minlength=logits.shape[1]).tolist()
                if len(logits)
                else [],
            }
        stacked = stack_logits(all_logits, self.stacker)
        out["stacked_logits"] = _fsl(stacked)
        for t in cfg.temperatures:
            out[f"stacked_probs_{temp_suffix(t)}"] = _fsl(softmax(stacked, t))
        out["truncated"] = pa.array(truncated_any)
        io.write_parquet_atomic(
            pa.table(out), io.join(cfg.output_dir, "data", f"part-{spec['chunk_id']}.parquet")
        )
        stats.update(
            labeled_rows=good.num_rows,
            truncated_rows=int(truncated_any.sum()),
            teachers=teacher_stats,
            seconds=time.perf_counter() - t0,
            started_at=started_at,
            finished_at=time.time(),
            actor_peak_rss_bytes=peak_rss_bytes(),
        )
        # The stats file commits the chunk: written last, atomically.
        io.write_json(io.join(cfg.output_dir, "_chunks", f"{spec['chunk_id']}.json"), stats)
        return stats


# ----------------------------------------------------------------------------- stacking


def stack_logits(all_logits: list[np.ndarray], stacker: dict[str, Any]) -> np.ndarray:
    """Combine teachers' logits into the stacked soft label's logits."""
    if stacker["method"] == "logreg":
        x = np.concatenate(all_logits, axis=1).astype(np.float64)
        coef, icpt = np.asarray(stacker["coef"]), np.asarray(stacker["intercept"])
        z = x @ coef.T + icpt
        if z.shape[1] == 1:  # binary logistic regression: logits (0, z)
            z = np.concatenate([np.zeros_like(z), z], axis=1)
        return z.astype(np.float32)
    w = np.asarray(stacker.get("weights") or [1.0] * len(all_logits), dtype=np.float64)
    w = w / w.sum()
    return np.tensordot(w, np.stack(all_logits).astype(np.float64), axes=1).astype(np.float32)


def fit_stacker(cfg: LabelConfig, num_labels: int) -> dict[str, Any]:
    if cfg.stack.method == "mean":
        return {"method": "mean", "weights": None}
    if cfg.stack.method == "weighted":
        w = [t.weight for t in cfg.teachers]
        if sum(w) <= 0:
            raise ConfigError("label.teachers: weights must not all be zero for 'weighted' stacking")
        return {"method": "weighted", "weights": w}
    if not cfg.stack.dev:
        raise ConfigError("label.stack.dev is required for stack.method=logreg (a labeled dev set)")
    from sklearn.linear_model import LogisticRegression

    from .data import load_labeled

    cols = cfg.columns.model_copy(update={"label": cfg.stack.label_column})
    dev = load_labeled(cfg.stack.dev, cols, num_labels)
    log("label", f"fitting logreg stacker on {len(dev)} dev rows")
    feats = [
        TeacherRunner(t, "cpu", cfg.trust_remote_code).logits(dev.texts, dev.pairs)[0] for t in cfg.teachers
    ]
    x = np.concatenate(feats, axis=1)
    clf = LogisticRegression(C=cfg.stack.C, max_iter=1000).fit(x, dev.labels)
    acc = float((clf.predict(x) == dev.labels).mean())
    return {
        "method": "logreg",
        "coef": clf.coef_.tolist(),
        "intercept": clf.intercept_.tolist(),
        "dev_accuracy": acc,
        "dev_rows": len(dev),
    }


# ----------------------------------------------------------------------------- driver


def _committed(output_dir: str) -> dict[str, dict[str, Any]]:
    import pyarrow.fs as pafs

    fs, path = io.filesystem(io.join(output_dir, "_chunks"))
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    done = {}
    for i in infos:
        if i.path.endswith(".json") and not posixpath.basename(i.path).startswith("."):
            with fs.open_input_stream(i.path) as f:
                s = json.loads(f.read())
            done[s["chunk_id"]] = s
    return done


def validate(cfg: LabelConfig) -> int:
    """Everything that can be checked before work starts; returns the number of classes."""
    if not cfg.input:
        raise ConfigError("label.input is required (unlabeled texts)")
    if not cfg.output_dir:
        raise ConfigError("label.output_dir is required")
    if not cfg.teachers:
        raise ConfigError("label.teachers: at least one teacher is required")
    names = [t.name for t in cfg.teachers]
    if len(set(names)) != len(names) or "stacked" in names:
        raise ConfigError(f"label.teachers: names must be unique and not 'stacked' (got {names})")
    ks = {t.name: model_num_labels(t, cfg.trust_remote_code) for t in cfg.teachers}
    if len(set(ks.values())) != 1:
        raise ConfigError(f"label.teachers: teachers disagree on the number of classes {ks}")
    return next(iter(ks.values()))


def _check_columns(cfg: LabelConfig, chunks: list[dict[str, Any]]) -> None:
    """Read the schema of the first file so a wrong column name fails before any work."""
    fs, path = io.filesystem(chunks[0]["uri"])
    cols = cfg.columns
    wanted = cols.texts + ([cols.id] if cols.id else [])
    if io.file_format(path) == "parquet":
        import pyarrow.parquet as pq

        with fs.open_input_file(path) as f:
            names = pq.ParquetFile(f).schema_arrow.names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r} (has {names})")
    elif io.file_format(path) != "text":
        io.read_file(fs, path, columns=wanted, text_columns=wanted[:1])


def _input_signature_check(cfg: LabelConfig, signature: dict[str, Any]) -> None:
    sig_path = io.join(cfg.output_dir, "_input_signature.json")
    if io.exists(sig_path):
        old = json.loads(io.read_text(sig_path))
        if old != json.loads(json.dumps(signature)):
            raise ConfigError(f"{cfg.output_dir}: holds labels of a different input; use a new output_dir")
    else:
        io.write_json(sig_path, signature)


def _stacker(cfg: LabelConfig, num_labels: int) -> dict[str, Any]:
    stacker_path = io.join(cfg.output_dir, "stacker.json")
    if io.exists(stacker_path):
        return json.loads(io.read_text(stacker_path))
    stacker = fit_stacker(cfg, num_labels)
    io.write_json(stacker_path, stacker)
    return stacker


def run(cfg: LabelConfig) -> dict[str, Any]:
    """Label ``input`` into ``output_dir``; resumable. Returns the manifest."""
    num_labels = validate(cfg)
    chunks, signature = plan_chunks(cfg)
    _check_columns(cfg, chunks)
    _input_signature_check(cfg, signature)
    stacker = _stacker(cfg, num_labels)
    if cfg.dedup != "none":
        from . import dedup

        return dedup.run(cfg, chunks, stacker)
    t0 = time.perf_counter()
    label_chunks(cfg, chunks, stacker)
    manifest = write_manifest(cfg, chunks, stacker, time.perf_counter() - t0)
    log(
        "label",
        f"done: {manifest['input_rows']} input rows = {manifest['labeled_rows']} labeled + "
        f"{manifest['quarantined_rows']} quarantined ({manifest['truncated_rows']} truncated) -> {cfg.output_dir}",
    )
    return manifest


def label_chunks(cfg: LabelConfig, chunks: list[dict[str, Any]], stacker: dict[str, Any]) -> None:
    """Label every chunk not yet committed under ``cfg.output_dir`` with the actor pool.

    A failure while the pool runs (a lost node or actor, an out-of-memory kill) costs only the
    chunks in flight: committed chunks stay, and the unfinished ones are planned and run again,
    up to ``max_attempts`` times in all.
    """
    for attempt in range(1, cfg.max_attempts + 1):
        done = _committed(cfg.output_dir)
        pending = [c for c in chunks if c["chunk_id"] not in done]
        log(
            "label",
            f"{len(chunks)} chunks planned, {len(done)} already done, {len(pending)} to label "
            f"with {len(cfg.teachers)} teacher(s)"
            + (f" (attempt {attempt}/{cfg.max_attempts})" if attempt > 1 else ""),
        )
        if not pending:
            return
        try:
            _label_pending(cfg, pending, stacker)
            _log_actor_memory(cfg, [c["chunk_id"] for c in pending])
            return
        except Exception as e:  # noqa: BLE001 - the error is re-raised after the last attempt
            if attempt == cfg.max_attempts or isinstance(e, ConfigError):
                raise
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log(
                "label",
                f"attempt {attempt} failed ({type(e).__name__}: {msg[:200]}); retrying unfinished chunks",
            )


def peak_rss_bytes() -> int | None:
    """This process's peak resident memory so far (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes; Linux: KiB


def _log_actor_memory(cfg: LabelConfig, chunk_ids: list[str]) -> None:
    """Log the teacher actors' peak memory over these committed chunks, to size ``memory_per_actor_gb``."""
    done = _committed(cfg.output_dir)
    peaks = [p for c in chunk_ids if (p := done.get(c, {}).get("actor_peak_rss_bytes"))]
    if not peaks:
        return
    gib = max(peaks) / 2**30
    if cfg.memory_per_actor_gb is None:
        hint = f"; on a cluster set memory_per_actor_gb (e.g. {gib * 1.25:.1f}) so Ray places no more actors than fit"
    elif gib > cfg.memory_per_actor_gb:
        hint = f", above memory_per_actor_gb={cfg.memory_per_actor_gb:g}: raise it"
    else:
        hint = f" (memory_per_actor_gb={cfg.memory_per_actor_gb:g})"
    log("label", f"teacher actors peaked at {gib:.1f} GiB of memory each{hint}")


def actor_options(cfg: LabelConfig) -> dict[str, Any]:
    """The Ray resources each teacher actor asks for."""
    opts: dict[str, Any] = {
        "num_cpus": actor_cpus(cfg.cpus_per_actor, cfg.num_actors) if not cfg.num_gpus_per_actor else 1,
        "num_gpus": cfg.num_gpus_per_actor or None,
    }
    if cfg.memory_per_actor_gb is not None:
        opts["memory"] = int(cfg.memory_per_actor_gb * 2**30)
    return opts


def _label_pending(cfg: LabelConfig, pending: list[dict[str, Any]], stacker: dict[str, Any]) -> None:
    import ray
    import ray.data

    t0 = time.perf_counter()
    init_ray(cfg.address)
    opts = actor_options(cfg)
    have = ray.cluster_resources().get("memory", 0.0)
    if "memory" in opts and cluster_address(cfg.address) is None and opts["memory"] > have:
        # A local Ray never grows: an actor asking for more than it has would wait forever.
        raise ConfigError(
            f"label.memory_per_actor_gb={cfg.memory_per_actor_gb:g} is more than this machine's Ray "
            f"memory ({have / 2**30:.1f} GiB); lower it or leave it unset"
        )
    payload = {"cfg": cfg.model_dump(), "stacker": stacker, "threads": torch_threads(cfg.torch_threads)}
    items = [{**c, "row_groups": list(c["row_groups"])} for c in pending]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(
        ChunkLabeler,
        fn_constructor_kwargs={"payload": payload},
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=cfg.num_actors),
        **opts,
    )
    rows = 0
    for i, row in enumerate(ds.iter_rows(), start=1):
        s = json.loads(row["stats"])
        rows += s["input_rows"]
        el = time.perf_counter() - t0
        log(
            "label",
            f"chunk {s['chunk_id']} done ({i}/{len(pending)}): {s['labeled_rows']} labeled, "
            f"{s['quarantined_rows']} quarantined; {rows / max(el, 1e-9):,.0f} rows/s",
        )


def write_manifest(
    cfg: LabelConfig, chunks: list[dict[str, Any]], stacker: dict[str, Any], seconds: float, **extra: Any
) -> dict[str, Any]:
    return commit_manifest(cfg, {**summarize(cfg, chunks, stacker, seconds), **extra})


def commit_manifest(cfg: LabelConfig, manifest: dict[str, Any]) -> dict[str, Any]:
    """Check that every input row is accounted for, remove the temp files a killed run left behind,
    then write ``manifest.json`` (and the done marker of a local output): the labeling run is complete."""
    if cfg.dedup == "distinct":
        assert manifest["input_rows"] == manifest["distinct_input_rows"] + manifest["quarantined_rows"]
    else:
        assert manifest["input_rows"] == manifest["labeled_rows"] + manifest["quarantined_rows"]
    stale = io.remove_temp_files(cfg.output_dir)
    if stale:
        log("label", f"removed {stale} temp file(s) that a killed run left in {cfg.output_dir}")
    io.write_json(io.join(cfg.output_dir, MANIFEST), manifest)
    from .runtime import mark_done

    if "://" not in cfg.output_dir:
        mark_done(cfg.output_dir, {"rows": manifest["labeled_rows"]})
    return manifest


def summarize(
    cfg: LabelConfig, chunks: list[dict[str, Any]], stacker: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Totals over the committed chunks of ``cfg.output_dir`` (every chunk must be committed)."""
    done = _committed(cfg.output_dir)
    missing = [c["chunk_id"] for c in chunks if c["chunk_id"] not in done]
    if missing:
        raise RuntimeError(
            f"label: {len(missing)} chunks did not complete (first {missing[0]}); run again to resume"
        )
    stats = [done[c["chunk_id"]] for c in chunks]
    reasons: Counter = Counter()
    teachers: dict[str, dict[str, Any]] = {}
    for s in stats:
        reasons.update(s["quarantine_reasons"])
        for name, ts in s["teachers"].items():
            agg = teachers.setdefault(name, {"truncated": 0, "class_counts": None, "seconds": 0.0})
            agg["truncated"] += ts["truncated"]
            agg["seconds"] += ts.get("seconds", 0.0)  # chunks committed by an older version lack it
            if ts["class_counts"]:
                cc = np.asarray(ts["class_counts"])
                agg["class_counts"] = (
                    cc if agg["class_counts"] is None else np.asarray(agg["class_counts"]) + cc
                ).tolist()
    labeled = sum(s["labeled_rows"] for s in stats)
    for agg in teachers.values():  # inference time summed over the actors, and its rate per actor
        agg["rows_per_s"] = round(labeled / agg["seconds"], 1) if agg["seconds"] > 0 else None
        agg["seconds"] = round(agg["seconds"], 3)
    manifest = {
        "input": cfg.input,
        "chunks": len(chunks),
        "input_rows": sum(s["input_rows"] for s in stats),
        "labeled_rows": sum(s["labeled_rows"] for s in stats),
        "quarantined_rows": sum(s["quarantined_rows"] for s in stats),
        "quarantine_reasons": dict(reasons),
        "truncated_rows": sum(s["truncated_rows"] for s in stats),
        "teachers": {t.name: {**t.model_dump(), **teachers.get(t.name, {})} for t in cfg.teachers},
        "temperatures": cfg.temperatures,
        "stacking": {k: v for k, v in stacker.items() if k not in ("coef", "intercept")},
        "columns": cfg.columns.model_dump(),
        "label_seconds_this_run": seconds,
        "labeling_wall_seconds": wall_seconds(stats),
        "actor_peak_rss_bytes": max((p for s in stats if (p := s.get("actor_peak_rss_bytes"))), default=None),
        "files": sorted(f"data/part-{c['chunk_id']}.parquet" for c in chunks),
        "dedup": cfg.dedup,
    }
    return manifest


def wall_seconds(stats: list[dict[str, Any]]) -> float | None:
    """Wall-clock seconds during which some actor was labeling one of these committed chunks.

    The union of the chunks' ``[started_at, finished_at]`` intervals, over every run that
    committed one: parallel actors are not counted twice, and the idle time between a run and its
    resume is not counted at all. ``None`` when a chunk lacks its times (an older version's).
    """
    spans = [(s.get("started_at"), s.get("finished_at")) for s in stats]
    if any(a is None or b is None for a, b in spans):
        return None
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return round(total, 3)


def soft_label_files(output_dir: str) -> list[str]:
    """The part files of a completed labeling run (for the student's trainer)."""
    path = io.join(output_dir, MANIFEST)
    if not io.exists(path):
        raise DataError(f"{output_dir}: no {MANIFEST}; run `bert2dnn label` first (or let it finish)")
    m = json.loads(io.read_text(path))
    return [io.join(output_dir, f) for f in m["files"]]

"""Student training: the hashed n-gram FFN fit on soft labels, data-parallel with Ray Train.

Loss (per example)::

    (1 - w) * CE(teacher_probs_T, softmax(student_logits)) + w * CE(gold_label, softmax(student_logits))

where ``teacher_probs_T`` is the chosen soft-label column (a teacher's or the stacked one) at
temperature T (when the soft labels have no column for that T: the softmax of the same source's
logits divided by T, so any temperature trains without labeling again), and
``w = hard_label_weight`` applies to the rows that have a gold label (``columns.label``); rows
without one (a null label, or a soft-label set without the column, such as an unlabeled transfer
set trained together with a labeled one) keep the soft term only.
Checkpoints (every epoch and every ``checkpoint_every_steps``) hold the current weights, the
optimizer, the step counters and the best-so-far weights, so a killed run resumes mid-epoch
with its step counter intact. At the end the best epoch (by dev accuracy) is saved as a
servable student artifact in ``output_dir``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .. import data as data_mod
from .. import io, softlabels
from ..config import Strict
from ..errors import ConfigError, DataError
from ..featurizer import FeaturizerConfig
from ..metrics import softmax
from ..progress import log
from ..rundir import changed_settings, fresh_run, mark_done, skip_if_done
from ..runtime import init_ray, torch_threads, torch_trainer
from .model import StudentModelConfig


class TrainConfig(Strict):
    soft_labels: str | list[str] | None = Field(
        None,
        description="output_dir of `bert2dnn label` (has manifest.json), or a list of them to train on their union",
    )
    columns: data_mod.Columns = Field(
        data_mod.Columns(), description="text/pair columns (and gold label, if any)"
    )
    target: str = Field("stacked", description="soft-label source: 'stacked' or a teacher name")
    temperature: float = Field(
        2.0,
        gt=0,
        description="use the <target>_probs_t<T> column; without one, softmax(<target>_logits / T)",
    )
    hard_label_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="weight of gold-label CE on rows that have a gold label (columns.label; null or "
        "missing = soft label only)",
    )
    max_rows: int | None = Field(
        None, ge=1, description="train on the first N soft-labeled rows only (transfer-size studies)"
    )
    dev: str | None = Field(
        None, description="labeled dev set, evaluated every epoch; selects the best epoch"
    )
    dev_columns: data_mod.Columns | None = Field(None, description="column names in dev (default: columns)")
    label_names: list[str] | None = None
    init_from: str | None = Field(
        None,
        description="a student artifact (directory or URI) to start from instead of random weights, "
        "e.g. yesterday's student on today's soft labels; its featurizer, network and classes must match",
    )
    featurizer: FeaturizerConfig = FeaturizerConfig()
    model: StudentModelConfig = StudentModelConfig()
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(128, ge=1, description="per worker")
    group_by_length: int | None = Field(
        None,
        ge=0,
        description="length-grouped batches: sort each window of N batches by text length, then shuffle "
        "the batch order (a cnn pads to, and a bilstm steps through, a batch's longest text); 0 = off. "
        "Default: 50 for model.encoder cnn / bilstm, off for bag (its cost does not depend on order)",
    )
    optimizer: Literal["adagrad", "adam", "adamw", "sgd"] = "adagrad"
    learning_rate: float = Field(0.01, gt=0)
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    num_workers: int = Field(2, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float | None = Field(None, gt=0)
    torch_threads: int | None = Field(None, ge=1)
    checkpoint_every_steps: int = Field(0, ge=0, description="0: only at epoch ends")
    keep_checkpoints: int = Field(2, ge=1)
    prune_checkpoints: bool = Field(
        False,
        description="delete this run's Ray Train checkpoints once the student is written "
        "(they only serve to resume an unfinished run; each holds the weights and optimizer state)",
    )
    storage_path: str | None = Field(
        None, description="Ray Train storage (default output_dir/../_checkpoints)"
    )
    run_name: str = Field("student", description="Ray Train run name (same name + storage = resume)")
    output_dir: str | None = Field(None, description="the best student, as a servable artifact")
    force: bool = False
    address: str | None = None
    max_failures: int = Field(3, ge=0, description="worker/node failures Ray Train recovers from")
    progress_seconds: float = Field(
        60.0, gt=0, description="a progress line (step, rows/s, time left in the epoch) at most this often"
    )
    sparse_embeddings: bool = Field(
        True,
        description="sparse embedding gradients (adagrad/adam): only touched rows are synced and updated",
    )
    shuffle: Literal["local", "global"] = Field(
        "local",
        description="local: the rows in file order (a union's sets one after another) through a seeded "
        "shuffle buffer of a few thousand rows per epoch; global: one seeded permutation of all rows "
        "first (mixes a union's sets; needs the rows cached), then the same per-epoch buffer",
    )
    cache: bool | Literal["auto"] = Field(
        "auto",
        description="hold the training rows in Ray's object store (read once; each epoch then costs "
        "no new read pipeline). auto: when they fit in cache_max_mb and a quarter of the object store",
    )
    cache_max_mb: float = Field(2048, gt=0, description="size limit of cache=auto (estimated in-memory MB)")
    driver_read_max_mb: float = Field(
        256,
        ge=0,
        description="cached rows up to this size (estimated MB) are read by the driver itself and put in "
        "the object store (no read tasks to start); larger ones are read by Ray Data tasks. 0: always tasks",
    )


# Settings that change where or how a run executes, not the student it writes: a finished student
# is reused under any of them. Every other setting is saved with the student and must match.
_RUN_ONLY_SETTINGS = {
    "force",
    "address",
    "output_dir",
    "storage_path",
    "run_name",
    "use_gpu",
    "cpus_per_worker",
    "torch_threads",
    "checkpoint_every_steps",
    "keep_checkpoints",
    "prune_checkpoints",
    "max_failures",
    "progress_seconds",
    "cache",
    "cache_max_mb",
    "driver_read_max_mb",
}


def _settings(cfg: TrainConfig) -> dict[str, Any]:
    return cfg.model_dump(mode="json", exclude=_RUN_ONLY_SETTINGS)


def _soft_columns(cfg: TrainConfig) -> tuple[str, str]:
    """The soft-label column of ``target`` at ``temperature``, and the logits it is computed from."""
    return softlabels.probs_column(cfg.target, cfg.temperature), softlabels.logits_column(cfg.target)


def _soft_targets(col: Any, temperature: float | None) -> Any:
    """A batch's soft-label column as float32 targets [B, K]: probabilities as they are, or (with a
    ``temperature``) logits turned into softmax(logits / T) by the function the label stage
    writes its ``_probs_t<T>`` columns with."""
    import torch

    target = _as_matrix(col)
    return torch.from_numpy(target if temperature is None else softmax(target, temperature))


def _as_matrix(col: Any) -> np.ndarray:
    arr = np.asarray(col)
    if arr.dtype == object:
        arr = np.stack(arr)
    return arr.astype(np.float32, copy=False)


def _check_init(cfg: TrainConfig, num_labels: int) -> None:
    """``init_from`` must be a student of this run's shape: same featurizer, network and classes."""
    from .artifact import read_meta

    _, meta = read_meta(cfg.init_from)

    def flat(fcfg: FeaturizerConfig, mcfg: Any) -> dict[str, Any]:
        return {**{f"featurizer.{k}": v for k, v in fcfg.model_dump().items()}, **mcfg.model_dump()}

    have = flat(meta["featurizer"], meta["model"])
    want = flat(cfg.featurizer, cfg.model.model_copy(update={"num_labels": num_labels}))
    want.pop("dropout")  # a training setting, not a shape
    diff = [f"{k}: {a!r} there, {b!r} here" for k, a, b in changed_settings(have, want)]
    if diff:
        raise ConfigError(f"train.init_from: {cfg.init_from} is another shape of student ({'; '.join(diff)})")


def _train_loop(c: dict[str, Any]) -> None:  # every Ray Train worker
    import ray.train
    import ray.train.torch
    import torch
    from safetensors.torch import load_file, save_file

    from ..featurizer import Featurizer
    from ..metrics import classification_metrics
    from .model import StudentNet

    cfg = TrainConfig.model_validate(c["cfg"])
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(c["threads"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    feat = Featurizer(cfg.featurizer)
    mcfg = cfg.model.model_copy(update={"num_labels": c["num_labels"]})
    model = StudentNet(mcfg, cfg.featurizer.num_buckets)
    sparse = cfg.sparse_embeddings and cfg.optimizer in ("adagrad", "adam")
    model.embedding.sparse = sparse  # only the rows a batch touches get gradients
    if sparse:
        # The sparse gradients come from torch's own embedding backward, so their indices are valid
        # by construction; say so, rather than leave torch to warn once per worker that the checks
        # are "implicitly disabled".
        torch.sparse.check_sparse_tensor_invariants.disable()
    emb, rest = [model.embedding.weight], [p for n, p in model.named_parameters() if n != "embedding.weight"]
    opts: list[torch.optim.Optimizer]
    if cfg.optimizer == "adagrad":  # Adagrad takes sparse gradients as they are (no weight decay on them)
        opts = [
            torch.optim.Adagrad(emb, lr=cfg.learning_rate, weight_decay=0.0 if sparse else cfg.weight_decay),
            torch.optim.Adagrad(rest, lr=cfg.learning_rate, weight_decay=cfg.weight_decay),
        ]
    elif cfg.optimizer == "adam" and sparse:
        opts = [
            torch.optim.SparseAdam(emb, lr=cfg.learning_rate),
            torch.optim.Adam(rest, lr=cfg.learning_rate, weight_decay=cfg.weight_decay),
        ]
    elif cfg.optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        opts = [cls(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)]
    else:
        opts = [
            torch.optim.SGD(
                model.parameters(), lr=cfg.learning_rate, momentum=0.9, weight_decay=cfg.weight_decay
            )
        ]
    steps_per_epoch = max(1, math.ceil(c["rows"] / world / cfg.batch_size))
    total = steps_per_epoch * cfg.epochs

    def lr_at(step: int) -> float:
        if cfg.lr_schedule == "linear":
            return cfg.learning_rate * max(0.0, 1 - step / total)
        if cfg.lr_schedule == "cosine":
            return cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        return cfg.learning_rate

    state = {"epoch": 0, "epoch_step": 0, "global_step": 0, "best_acc": -1.0, "best_epoch": -1, "history": []}
    best_weights = None
    ckpt = ray.train.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d:
            model.load_state_dict(load_file(os.path.join(d, "model.safetensors")))
            saved = torch.load(os.path.join(d, "optimizer.pt"), weights_only=True)
            for o, sd in zip(opts, saved, strict=True):
                o.load_state_dict(sd)
            state = io.read_json(os.path.join(d, "state.json"))
            state.setdefault("resumed_at_steps", []).append(state["global_step"])
            bp = os.path.join(d, "best.safetensors")
            if os.path.exists(bp):
                best_weights = load_file(bp)
            elif state["best_epoch"] >= 0:  # no separate file: this checkpoint is the best epoch
                best_weights = {k: v.clone() for k, v in model.state_dict().items()}
        if rank == 0:
            print(
                f"[student] resuming at epoch {state['epoch'] + 1}, step {state['global_step']}", flush=True
            )
    elif cfg.init_from:
        from .artifact import Student

        model.load_state_dict(Student.load(c["init_from"]).model.state_dict())
    model.to(device)
    ddp = ray.train.torch.prepare_model(model)
    shard = ray.train.get_dataset_shard("train")
    soft_col, text_col, pair_col = c["soft_col"], cfg.columns.text, cfg.columns.pair
    hard_col = cfg.columns.label if cfg.hard_label_weight > 0 else None
    dev = c["dev"]

    def report(metrics: dict[str, Any]) -> None:
        # Rank 0 writes the checkpoint to a local directory; Ray Train uploads it to the run's
        # storage in a background thread (ASYNC) and deletes the local copy, so training goes on
        # during the copy. A checkpoint is registered (and resumable) once its upload is done;
        # the run waits for the last upload before it ends.
        ck = None
        if rank == 0:
            tmp = tempfile.mkdtemp(prefix="student_ckpt_")
            sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(sd, os.path.join(tmp, "model.safetensors"))
            torch.save([o.state_dict() for o in opts], os.path.join(tmp, "optimizer.pt"))
            if best_weights is not None and state["best_epoch"] != metrics.get("epoch_completed"):
                save_file(best_weights, os.path.join(tmp, "best.safetensors"))
            io.write_json(os.path.join(tmp, "state.json"), state)
            ck = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(
            metrics,
            checkpoint=ck,
            checkpoint_upload_mode=ray.train.CheckpointUploadMode.ASYNC,
            delete_local_checkpoint_after_upload=True,
        )

    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        ddp.train()
        skip = state["epoch_step"]
        # A run resumed mid-epoch carries the epoch's running sums, so its epoch metrics cover
        # every batch of the epoch, not just those after the failure: loss, agreement, rows, and the
        # seconds and input wait up to the checkpoint (a checkpoint older than those has 3 sums).
        sums = state.pop("epoch_sums", [])
        loss_sum, agree, seen, secs_before, wait_before = (*sums, *[0.0, 0, 0, 0.0, 0.0][len(sums) :])
        # Where this worker's epoch time goes: waiting for input batches vs the rest (featurize,
        # forward, backward, optimizer, mid-epoch checkpoints).
        t_epoch = t_ready = time.perf_counter()
        input_wait = 0.0
        next_progress = t_epoch + cfg.progress_seconds
        for bi, batch in enumerate(_batches(shard, cfg, epoch, (text_col, pair_col))):
            if bi < skip:
                t_ready = time.perf_counter()
                continue  # resuming mid-epoch: these steps were done before the failure
            input_wait += time.perf_counter() - t_ready
            ids, offsets = feat.batch(list(batch[text_col]), list(batch[pair_col]) if pair_col else None)
            ids_t = torch.from_numpy(ids).to(device)
            off_t = torch.from_numpy(offsets).to(device)
            target = _soft_targets(batch[soft_col], c["soft_temperature"]).to(device)
            for o in opts:
                for g in o.param_groups:
                    g["lr"] = lr_at(state["global_step"])
            logits = ddp(ids_t, off_t)
            logp = torch.log_softmax(logits, dim=-1)
            per_row = -(target * logp).sum(-1)
            if hard_col:
                gold = torch.as_tensor(np.asarray(batch[hard_col], dtype=np.int64), device=device)
                hard = -logp.gather(1, gold.clamp(min=0)[:, None])[:, 0]
                w = cfg.hard_label_weight
                per_row = torch.where(gold >= 0, (1 - w) * per_row + w * hard, per_row)
            loss = per_row.mean()
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss.backward()
            for o in opts:
                o.step()
            loss_sum += float(loss.detach()) * len(target)
            agree += int((logits.argmax(-1) == target.argmax(-1)).sum())
            seen += len(target)
            state["epoch_step"] += 1
            state["global_step"] += 1
            if cfg.checkpoint_every_steps and state["global_step"] % cfg.checkpoint_every_steps == 0:
                secs = secs_before + time.perf_counter() - t_epoch
                state["epoch_sums"] = [loss_sum, agree, seen, secs, wait_before + input_wait]
                report(
                    {
                        "epoch": epoch,
                        "global_step": state["global_step"],
                        "train_loss": loss_sum / max(1, seen),
                        "train_seconds": round(secs, 3),
                    }
                )
            t_ready = time.perf_counter()
            if rank == 0 and t_ready >= next_progress:
                next_progress = t_ready + cfg.progress_seconds
                # steps/s since this epoch started (or resumed: the skipped steps took no time)
                rate = (state["epoch_step"] - skip) / (t_ready - t_epoch)
                left = max(0, steps_per_epoch - state["epoch_step"]) / max(rate, 1e-9)
                print(
                    f"[student] epoch {epoch + 1}/{cfg.epochs} step {state['epoch_step']:,}/{steps_per_epoch:,} "
                    f"({state['epoch_step'] / steps_per_epoch:.0%}), {rate * cfg.batch_size * world:,.0f} rows/s, "
                    f"loss {loss_sum / max(1, seen):.4f}; about {left / 60:.1f} min left in the epoch",
                    flush=True,
                )
        train_s = secs_before + time.perf_counter() - t_epoch
        input_wait += wait_before
        metrics: dict[str, Any] = {
            "epoch": epoch,
            "epoch_completed": epoch,
            "global_step": state["global_step"],
            "train_loss": loss_sum / max(1, seen),
            "train_teacher_agreement": agree / max(1, seen),
            "train_seconds": round(train_s, 3),
            "input_wait_seconds": round(input_wait, 3),
        }
        if rank == 0 and dev is not None:
            model.eval()
            with torch.inference_mode():
                probs = []
                for s in range(0, len(dev["labels"]), 4096):
                    ids, offsets = feat.batch(
                        dev["texts"][s : s + 4096], dev["pairs"][s : s + 4096] if dev["pairs"] else None
                    )
                    probs.append(
                        torch.softmax(
                            model(torch.from_numpy(ids).to(device), torch.from_numpy(offsets).to(device)), -1
                        )
                        .cpu()
                        .numpy()
                    )
            m = classification_metrics(np.concatenate(probs), np.asarray(dev["labels"]))
            metrics.update({f"dev_{k}": v for k, v in m.items()})
            print(
                f"[student] epoch {epoch + 1}/{cfg.epochs} step {state['global_step']} loss {metrics['train_loss']:.4f} "
                f"dev acc {m['accuracy']:.4f} auc {m.get('auc', float('nan')):.4f} "
                f"teacher agreement {metrics['train_teacher_agreement']:.4f}; {train_s:.1f}s, "
                f"{input_wait / max(train_s, 1e-9):.0%} of it waiting for input",
                flush=True,
            )
        score = metrics.get("dev_accuracy", -metrics["train_loss"])
        state["history"].append(metrics)
        state["epoch"] = epoch + 1
        state["epoch_step"] = 0
        state.pop("epoch_sums", None)  # the next epoch starts its sums at zero
        if rank == 0 and score > state["best_acc"]:
            state["best_acc"], state["best_epoch"] = score, epoch
            best_weights = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
        report(metrics)


def _group_by_length(cfg: TrainConfig) -> int:
    if cfg.group_by_length is not None:
        return cfg.group_by_length
    return 0 if cfg.model.encoder == "bag" else 50


def _batches(shard: Any, cfg: TrainConfig, epoch: int, text_cols: tuple[str, str | None]):
    """One epoch of a worker's batches, in a deterministic order (seeded by ``seed`` + epoch), so
    a resumed run can skip exactly the batches it trained before; length-grouped windows
    (``group_by_length``) are cut into batches the same way every time."""
    group = _group_by_length(cfg)
    window = cfg.batch_size * max(1, group)
    rng = np.random.default_rng(cfg.seed + epoch)
    for batch in shard.iter_batches(
        batch_size=window,
        batch_format="numpy",
        drop_last=False,
        local_shuffle_buffer_size=max(8 * cfg.batch_size, 2 * window, 4096),
        local_shuffle_seed=cfg.seed + epoch,
    ):
        if group:
            yield from data_mod.group_by_length(batch, cfg.batch_size, rng, tuple(c for c in text_cols if c))
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
    if cfg.cache != "auto":
        return bool(cfg.cache)
    import ray

    store = float(ray.cluster_resources().get("object_store_memory", 0.0))
    # Arrow in memory is about Parquet's uncompressed size; 1.5x leaves room for the rest.
    need = 1.5 * est_bytes
    return need <= cfg.cache_max_mb * 2**20 and need <= 0.25 * store


def _gold_column(batch: Any, col: str, present: bool) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if present:
        gold = pc.fill_null(batch.column(col).cast(pa.int64()), -1)
        return batch.set_column(batch.schema.get_field_index(col), col, gold)
    return batch.append_column(col, pa.array(np.full(batch.num_rows, -1, dtype=np.int64)))


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Train the student on ``soft_labels``; save the best epoch to ``output_dir``."""
    import ray.data
    import ray.train
    from safetensors.torch import load_file

    from .artifact import save_student
    from .model import StudentNet

    if not cfg.soft_labels:
        raise ConfigError("train.soft_labels is required (output_dir of the label stage)")
    if not cfg.output_dir:
        raise ConfigError("train.output_dir is required")
    done = skip_if_done("train", cfg.output_dir, _settings(cfg), force=cfg.force, record="metrics.json")
    if done is not None:
        return done
    sources = [cfg.soft_labels] if isinstance(cfg.soft_labels, str) else list(cfg.soft_labels)
    if not sources:
        raise ConfigError("train.soft_labels is an empty list")
    probs_col, logits_col = _soft_columns(cfg)
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
    dev = None
    if cfg.dev:
        dcols = cfg.dev_columns or cfg.columns
        d = data_mod.load_labeled(cfg.dev, dcols, num_labels)
        dev = {"texts": d.texts, "pairs": d.pairs, "labels": d.labels.tolist()}
    label_names = cfg.label_names or manifest.get("label_names") or [str(i) for i in range(num_labels)]
    if len(label_names) != num_labels:
        raise ConfigError(f"train.label_names has {len(label_names)} names for {num_labels} classes")

    if cfg.init_from:
        _check_init(cfg, num_labels)

    init_ray(cfg.address)
    storage = cfg.storage_path or io.join(io.parent(cfg.output_dir), "_checkpoints")
    if "://" not in storage:
        storage = os.path.abspath(storage)
    if cfg.force:
        fresh_run(storage, cfg.run_name)
    need_bytes = est_bytes * rows / max(1, all_rows)
    cached = _use_cache(cfg, need_bytes)
    if cfg.shuffle == "global" and not cached:
        raise ConfigError(
            f"train.shuffle=global needs the rows cached in Ray's object store, and these {rows:,} rows "
            f"(~{need_bytes / 2**20:,.0f} MB) are not (cache={cfg.cache!r}, cache_max_mb={cfg.cache_max_mb:g}); "
            "set cache: true with enough object store, or shuffle: local"
        )
    t0 = time.perf_counter()
    if cached and need_bytes <= cfg.driver_read_max_mb * 2**20:
        # Small: read here and put the rows in the object store directly (no read tasks, whose
        # worker processes cost seconds to start on a small machine).
        tables = _read_parts_here(parts, wanted, hard_col, cfg.max_rows)
        if cfg.shuffle == "global":
            tables = _permuted(tables, cfg.seed)
        ds = ray.data.from_arrow(tables)
        log("train", f"read {rows} rows into Ray's object store in {time.perf_counter() - t0:.1f}s")
    else:
        ds = None
        for files, has_gold in parts:
            part = ray.data.read_parquet(files, columns=wanted + ([hard_col] if has_gold else []))
            if hard_col:  # one int64 gold column everywhere: -1 where a row has no gold label
                part = part.map_batches(
                    _gold_column, fn_kwargs={"col": hard_col, "present": has_gold}, batch_format="pyarrow"
                )
            ds = part if ds is None else ds.union(part)
        if cfg.max_rows:
            ds = ds.limit(cfg.max_rows)
        ds.context.execution_options.preserve_order = True  # files and blocks in order (see `ingest`)
        if cached:
            # Read once into the object store: every epoch re-reads memory instead of starting a
            # new read pipeline (seconds per epoch on a small machine). Streaming stays the way
            # for data that does not fit.
            if cfg.shuffle == "global":  # seeded, and cached once: every epoch reads this order
                ds = ds.random_shuffle(seed=cfg.seed)
            ds = ds.materialize()
            log("train", f"cached {rows} rows in Ray's object store in {time.perf_counter() - t0:.1f}s")
    # Deterministic input: the same blocks reach the same worker in the same order on every run,
    # so a resumed epoch skips exactly the batches it trained before the failure, and two runs
    # of one config see the same data. (Locality-aware sharding would trade that for less
    # cross-node traffic; the student's rows are small.)
    ingest = ray.train.DataConfig.default_ingest_options()
    ingest.preserve_order = True
    threads = torch_threads(cfg.torch_threads)
    if not cfg.use_gpu:
        threads = max(1, threads // cfg.num_workers)
    trainer = torch_trainer(
        _train_loop,
        {
            "cfg": cfg.model_dump(),
            "num_labels": num_labels,
            "rows": rows,
            "soft_col": soft_col,
            "soft_temperature": soft_temperature,
            "dev": dev,
            "threads": threads,
            # Workers run in another directory: a local path is made absolute.
            "init_from": cfg.init_from
            and (cfg.init_from if io.is_uri(cfg.init_from) else os.path.abspath(cfg.init_from)),
        },
        name=cfg.run_name,
        storage_path=storage,
        num_workers=cfg.num_workers,
        use_gpu=cfg.use_gpu,
        cpus_per_worker=cfg.cpus_per_worker,
        keep_checkpoints=cfg.keep_checkpoints,
        max_failures=cfg.max_failures,
        datasets={"train": ds},
        dataset_config=ray.train.DataConfig(execution_options=ingest, enable_shard_locality=False),
    )
    log(
        "train",
        f"student: {rows} soft-labeled rows ({soft_col}"
        + (f" / T={soft_temperature:g}, softmaxed" if from_logits else "")
        + f"), {num_labels} classes, {cfg.epochs} epochs, "
        f"{cfg.num_workers} worker(s), buckets {cfg.featurizer.num_buckets}",
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError("student training produced no checkpoint")
    with result.checkpoint.as_directory() as d:
        state = io.read_json(os.path.join(d, "state.json"))
        bp = os.path.join(d, "best.safetensors")
        weights = load_file(bp if os.path.exists(bp) else os.path.join(d, "model.safetensors"))
    mcfg = cfg.model.model_copy(update={"num_labels": num_labels})
    model = StudentNet(mcfg, cfg.featurizer.num_buckets)
    model.load_state_dict(weights)
    best = state["history"][state["best_epoch"]] if state["best_epoch"] >= 0 else state["history"][-1]
    metrics = {
        "best_epoch": state["best_epoch"],
        "best": best,
        "history": state["history"],
        "global_step": state["global_step"],
        "resumed_at_steps": state.get("resumed_at_steps", []),
        "soft_label_column": soft_col,
        "soft_label_temperature": soft_temperature,
        "train_rows": rows,
        "cached_in_object_store": cached,
        "settings": _settings(cfg),
    }
    with io.staged_dir(cfg.output_dir) as local_out:  # a URI output is written here, then uploaded
        save_student(
            local_out,
            model.eval(),
            cfg.featurizer,
            mcfg,
            label_names,
            metrics=metrics,
            extra={
                "text_columns": {"text": cfg.columns.text, "pair": cfg.columns.pair},
                "temperature": cfg.temperature,
                "target": cfg.target,
            },
        )
    mark_done(cfg.output_dir, {"dev_accuracy": best.get("dev_accuracy")})
    if cfg.prune_checkpoints:
        fresh_run(storage, cfg.run_name)
        log("train", f"student: pruned the run's checkpoints under {io.join(storage, cfg.run_name)}")
    log(
        "train",
        f"student: best epoch {state['best_epoch'] + 1}, dev accuracy {best.get('dev_accuracy', float('nan')):.4f}, "
        f"{state['global_step']} steps -> {cfg.output_dir}",
    )
    return metrics

"""The per-worker training loop of the student (every Ray Train worker runs :func:`train_loop`).

It reads top to bottom: 1. set up (seed, threads, device, featurizer); 2. the network and its
optimizers, resumed from the run's last checkpoint (or started from ``init_from``); 3. each epoch:
batches (featurized by Ray Data, :mod:`.inputs`) -> forward -> distillation loss -> backward ->
step, with mid-epoch checkpoints and progress lines; 4. the epoch's end: dev evaluation, best
weights, how evenly the teachers' classes spread over the batches (:class:`ClassMix`, a warning
when the rows come in runs), a checkpoint and a report.

Checkpoints (every epoch and every ``run.checkpoint_every_steps``) hold the current weights, the
optimizers, the step counters and the best-so-far weights, so a killed run resumes mid-epoch with
its step counter intact: rows cached in the object store replay the epoch and skip exactly the
batches trained before (the input order is deterministic, :func:`.inputs.batches`); a streamed
epoch skips the files trained before instead of re-reading them (:mod:`.resume`).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from typing import Any

import numpy as np

from .. import io
from ..runtime import train_worker
from .config import TrainConfig
from .inputs import IDS, batches, flat_ids, shuffle_buffer
from .loss import DistillationLoss, soft_targets


def lr_schedule(cfg: TrainConfig, total_steps: int):
    """The learning rate at a global step: constant, or decayed linearly or on a cosine to 0."""

    def lr_at(step: int) -> float:
        if cfg.lr_schedule == "linear":
            return cfg.learning_rate * max(0.0, 1 - step / total_steps)
        if cfg.lr_schedule == "cosine":
            return cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        return cfg.learning_rate

    return lr_at


def sparse_gradients(cfg: TrainConfig, device_type: str, world: int) -> tuple[bool, str | None]:
    """Whether the embedding gets sparse gradients, and why not when the config asks for them.

    Sparse gradients (adagrad, adam) sync and update only the rows a batch touches. NCCL, the
    backend of data-parallel training on GPUs, has no sparse all-reduce, so several GPU workers
    use dense ones (Adagrad's update is the same either way; Adam then updates every row's moments).
    """
    if not (cfg.sparse_embeddings and cfg.optimizer in ("adagrad", "adam")):
        return False, None
    if device_type == "cuda" and world > 1:
        return False, "dense embedding gradients on GPUs: NCCL has no sparse all-reduce"
    return True, None


def new_state() -> dict[str, Any]:
    return {"epoch": 0, "epoch_step": 0, "global_step": 0, "best_acc": -1.0, "best_epoch": -1, "history": []}


def save_checkpoint(d: str, model, opts, state: dict[str, Any], best_weights: dict | None) -> None:
    """A checkpoint directory: weights, optimizers, counters, and the best epoch's weights when they
    are not these."""
    import torch
    from safetensors.torch import save_file

    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(d, "model.safetensors"))
    torch.save([o.state_dict() for o in opts], os.path.join(d, "optimizer.pt"))
    if best_weights is not None:
        save_file(best_weights, os.path.join(d, "best.safetensors"))
    io.write_json(os.path.join(d, "state.json"), state)


def load_checkpoint(d: str, model, opts) -> tuple[dict[str, Any], dict | None]:
    """Restore ``model`` and ``opts`` from a checkpoint directory; return its state and best weights."""
    import torch
    from safetensors.torch import load_file

    model.load_state_dict(load_file(os.path.join(d, "model.safetensors")))
    saved = torch.load(os.path.join(d, "optimizer.pt"), weights_only=True)
    for o, sd in zip(opts, saved, strict=True):
        o.load_state_dict(sd)
    state = io.read_json(os.path.join(d, "state.json"))
    state.setdefault("resumed_at_steps", []).append(state["global_step"])
    best = None
    bp = os.path.join(d, "best.safetensors")
    if os.path.exists(bp):
        best = load_file(bp)
    elif state["best_epoch"] >= 0:  # no separate file: this checkpoint is the best epoch
        best = {k: v.clone() for k, v in model.state_dict().items()}
    return state, best


def dev_metrics(model, feat, dev: dict[str, Any], device) -> dict[str, float]:
    """Accuracy, AUC and F1 of ``model`` on the dev set (rank 0, at each epoch's end)."""
    import torch

    from ..metrics import classification_metrics

    model.eval()
    probs = []
    with torch.inference_mode():
        for s in range(0, len(dev["labels"]), 4096):
            ids, offsets = feat.batch(
                dev["texts"][s : s + 4096], dev["pairs"][s : s + 4096] if dev["pairs"] else None
            )
            logits = model(torch.from_numpy(ids).to(device), torch.from_numpy(offsets).to(device))
            probs.append(torch.softmax(logits, -1).cpu().numpy())
    return classification_metrics(np.concatenate(probs), np.asarray(dev["labels"]))


class ClassMix:
    """How evenly the teachers' classes (each row's argmax) spread over an epoch's batches, against
    a random order: ``spread`` is the root of the batches' class-share variance over a random
    order's (p(1 - p) / rows per batch), about 1 for a random order; the largest over the classes.
    Rows in runs of one class (a log sorted by time, source or class) that the shuffle buffer does
    not mix give a much larger one. Its sums ride in the checkpoint (``sums``) so a resumed epoch
    covers all its batches."""

    WARN = 2.0  # spread above which the epoch's end says so (past MIN_BATCHES batches)
    MIN_BATCHES = 20

    def __init__(self, num_labels: int, sums: list | None = None):
        self.counts, self.squares, self.rows, self.batches = (
            (np.asarray(sums[0], float), np.asarray(sums[1], float), sums[2], sums[3])
            if sums
            else (np.zeros(num_labels), np.zeros(num_labels), 0, 0)
        )

    def add(self, classes: np.ndarray) -> None:
        n = np.bincount(classes, minlength=len(self.counts))[: len(self.counts)].astype(float)
        self.counts += n
        self.squares += n * n / max(1, len(classes))
        self.rows += len(classes)
        self.batches += 1

    def sums(self) -> list:
        return [self.counts.tolist(), self.squares.tolist(), self.rows, self.batches]

    def spread(self) -> float | None:
        if not self.batches or not self.rows:
            return None
        p = self.counts / self.rows
        seen = (p > 0) & (p < 1)
        if not seen.any():
            return None
        chi = (self.squares[seen] - p[seen] ** 2 * self.rows) / (self.batches * p[seen] * (1 - p[seen]))
        return float(np.sqrt(max(0.0, chi.max())))

    def warning(self, buffer_rows: int) -> str | None:
        s = self.spread()
        if s is None or s <= self.WARN or self.batches < self.MIN_BATCHES:
            return None
        return (
            f"[student] the teachers' classes spread over this epoch's batches {s:.1f}x as unevenly as "
            f"in a random order: the rows come in runs (sorted by time, source or class?) that the "
            f"shuffle buffer ({buffer_rows:,} rows) does not mix; set train.shuffle: global, or label "
            "with label.dedup, which writes the rows in a random order"
        )


def train_loop(c: dict[str, Any]) -> None:  # every Ray Train worker
    import ray.train
    import ray.train.torch
    import torch

    from ..featurizer import Featurizer
    from .model import StudentNet

    # 1. Set up.
    cfg = TrainConfig.model_validate(c["cfg"])
    rank, world, device = train_worker(cfg.seed, c["threads"])
    feat = Featurizer(cfg.featurizer)

    # 2. The network and its optimizers: resumed, started from init_from, or new.
    mcfg = cfg.model.model_copy(update={"num_labels": c["num_labels"]})
    model = StudentNet(mcfg, cfg.featurizer.num_buckets)
    sparse, why_dense = sparse_gradients(cfg, device.type, world)
    if why_dense and rank == 0:
        print(f"[student] {why_dense}", flush=True)
    if sparse:
        # The sparse gradients come from torch's own embedding backward, so their indices are valid
        # by construction; say so, rather than leave torch to warn once per worker that the checks
        # are "implicitly disabled".
        torch.sparse.check_sparse_tensor_invariants.disable()
    opts = model.configure_optimizers(cfg.optimizer, cfg.learning_rate, cfg.weight_decay, sparse)
    steps_per_epoch = max(1, math.ceil(c["rows"] / world / cfg.batch_size))
    lr_at = lr_schedule(cfg, steps_per_epoch * cfg.epochs)
    state, best_weights = new_state(), None
    ckpt = ray.train.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d:
            state, best_weights = load_checkpoint(d, model, opts)
        if rank == 0:
            print(
                f"[student] resuming at epoch {state['epoch'] + 1}, step {state['global_step']}", flush=True
            )
    elif cfg.init_from:
        from .serve import Student

        model.load_state_dict(Student.load(c["init_from"]).model.state_dict())
    model.to(device)
    ddp = ray.train.torch.prepare_model(model)
    loss_fn = DistillationLoss(cfg.hard_label_weight, cfg.temperature)
    shard = ray.train.get_dataset_shard("train")
    # A streamed epoch resumed where the driver saw it stop reads only the files left
    # (:mod:`.resume`); otherwise the epoch replays its batches and discards those trained before.
    resume, resume_shard = c.get("resume"), None
    if ckpt and resume and state["global_step"] == resume["global_step"]:
        resume_shard = ray.train.get_dataset_shard("resume")
    soft_col = c["soft_col"]
    hard_col = cfg.columns.label if cfg.hard_label_weight > 0 else None

    def report(metrics: dict[str, Any]) -> None:
        # Rank 0 writes the checkpoint to a local directory; Ray Train uploads it to the run's
        # storage in a background thread (ASYNC) and deletes the local copy, so training goes on
        # during the copy. A checkpoint is registered (and resumable) once its upload is done;
        # the run waits for the last upload before it ends.
        ck = None
        if rank == 0:
            tmp = tempfile.mkdtemp(prefix="student_ckpt_")
            separate_best = best_weights is not None and state["best_epoch"] != metrics.get("epoch_completed")
            save_checkpoint(tmp, model, opts, state, best_weights if separate_best else None)
            ck = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(
            metrics,
            checkpoint=ck,
            checkpoint_upload_mode=ray.train.CheckpointUploadMode.ASYNC,
            delete_local_checkpoint_after_upload=True,
        )

    # 3. The epochs.
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        ddp.train()
        skip = first = state["epoch_step"]
        epoch_shard = shard
        if resume_shard is not None and epoch == resume["epoch"]:
            epoch_shard, skip, resume_shard = resume_shard, 0, None
            done = {k: resume[k] for k in ("global_step", "skipped_files", "skipped_rows")}
            state.setdefault("resume_skipped", []).append(done)
        # A run resumed mid-epoch carries the epoch's running sums, so its epoch metrics cover
        # every batch of the epoch, not just those after the failure: loss, agreement, rows, the
        # seconds and input wait up to the checkpoint, and the class mix (older checkpoints: fewer).
        sums = state.pop("epoch_sums", [])
        loss_sum, agree, seen, secs_before, wait_before = (*sums[:5], *[0.0, 0, 0, 0.0, 0.0][len(sums) :])
        mix = ClassMix(c["num_labels"], sums[5] if len(sums) > 5 else None)
        # Where this worker's epoch time goes: waiting for input batches (read and featurized by
        # Ray Data) vs the rest (forward, backward, optimizer, mid-epoch checkpoints).
        t_epoch = t_ready = time.perf_counter()
        input_wait = 0.0
        next_progress = t_epoch + cfg.run.progress_seconds
        for bi, batch in enumerate(batches(epoch_shard, cfg, epoch)):
            if bi < skip:
                t_ready = time.perf_counter()
                continue  # resuming mid-epoch: these steps were done before the failure
            input_wait += time.perf_counter() - t_ready
            ids, offsets = flat_ids(batch[IDS])  # featurized in Ray Data (inputs.featurize)
            target = soft_targets(batch[soft_col], c["soft_temperature"]).to(device)
            gold = None
            if hard_col:
                gold = torch.as_tensor(np.asarray(batch[hard_col], dtype=np.int64), device=device)
            for o in opts:
                for g in o.param_groups:
                    g["lr"] = lr_at(state["global_step"])
            logits = ddp(torch.from_numpy(ids).to(device), torch.from_numpy(offsets).to(device))
            loss = loss_fn(logits, target, gold)
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss.backward()
            for o in opts:
                o.step()
            loss_sum += float(loss.detach()) * len(target)
            teacher_top = target.argmax(-1)
            agree += int((logits.argmax(-1) == teacher_top).sum())
            mix.add(teacher_top.cpu().numpy())
            seen += len(target)
            state["epoch_step"] += 1
            state["global_step"] += 1
            every = cfg.run.checkpoint_every_steps
            if every and state["global_step"] % every == 0:
                secs = secs_before + time.perf_counter() - t_epoch
                state["epoch_sums"] = [loss_sum, agree, seen, secs, wait_before + input_wait, mix.sums()]
                report(
                    {
                        "epoch": epoch,
                        "epoch_step": state["epoch_step"],
                        "global_step": state["global_step"],
                        "train_loss": loss_sum / max(1, seen),
                        "train_seconds": round(secs, 3),
                    }
                )
            t_ready = time.perf_counter()
            if rank == 0 and t_ready >= next_progress:
                next_progress = t_ready + cfg.run.progress_seconds
                # steps/s since this epoch started (or resumed: the skipped steps took no time)
                rate = (state["epoch_step"] - first) / (t_ready - t_epoch)
                left = max(0, steps_per_epoch - state["epoch_step"]) / max(rate, 1e-9)
                print(
                    f"[student] epoch {epoch + 1}/{cfg.epochs} step {state['epoch_step']:,}/{steps_per_epoch:,} "
                    f"({state['epoch_step'] / steps_per_epoch:.0%}), {rate * cfg.batch_size * world:,.0f} rows/s, "
                    f"loss {loss_sum / max(1, seen):.4f}; about {left / 60:.1f} min left in the epoch",
                    flush=True,
                )

        # 4. The epoch's end: dev metrics, the best epoch so far, a checkpoint and a report.
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
            "batch_class_spread": mix.spread(),
        }
        if rank == 0 and epoch == 0 and cfg.shuffle == "local":
            warn = mix.warning(shuffle_buffer(cfg))
            if warn:
                print(warn, flush=True)
        if rank == 0 and c["dev"] is not None:
            m = dev_metrics(model, feat, c["dev"], device)
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

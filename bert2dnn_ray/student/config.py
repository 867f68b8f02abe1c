"""The student training stage's config: the *recipe* (what student is made: data, network,
optimisation), which is recorded with the student, and the nested ``run`` options (where and how it
runs: GPUs, checkpoints, caching, progress), which are not."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .. import data as data_mod
from ..config import Strict
from ..featurizer import FeaturizerConfig
from .model import StudentModelConfig


class RunOptions(Strict):
    """Where and how a training run executes: none of these change the student it writes, so a
    finished student is reused under any of them (they are not recorded with it)."""

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
    max_failures: int = Field(3, ge=0, description="worker/node failures Ray Train recovers from")
    progress_seconds: float = Field(
        60.0, gt=0, description="a progress line (step, rows/s, time left in the epoch) at most this often"
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
    learning_rate: float = Field(
        0.05,
        gt=0,
        description="BERT2DNN's code used 0.01; 0.05 with Adagrad scored 0.8559 against 0.8429 on SST-2 with "
        "400k teacher-labeled IMDB sentences (dev 0.8527 vs 0.8458; docs/student_vs_fasttext.md)",
    )
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    num_workers: int = Field(2, ge=1)
    output_dir: str | None = Field(None, description="the best student, as a servable artifact")
    run: RunOptions = Field(
        RunOptions(), description="where and how the run executes (not recorded with the student)"
    )
    force: bool = False
    address: str | None = None
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


# Besides ``run``: the output's location, and the two keys every stage has.
NOT_RECORDED = {"run", "output_dir", "force", "address"}


def settings(cfg: TrainConfig) -> dict[str, Any]:
    """The recipe: the settings recorded with the student (a finished one is reused only with the same)."""
    return cfg.model_dump(mode="json", exclude=NOT_RECORDED)

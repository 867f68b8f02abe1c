"""The label stage's config, and which of its settings make the output (vs. where and how it runs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..config import Strict
from ..data import Columns
from ..teachers import TeacherSpec


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
    temperatures: list[float] = Field(
        default_factory=lambda: [1.0, 2.0],
        min_length=1,
        description="softmax temperatures of the <source>_probs_t<T> columns (each > 0)",
    )
    stack: StackConfig = StackConfig()
    keep_columns: list[str] = Field(
        default_factory=list, description="input columns copied unchanged to the output (e.g. a gold label)"
    )
    dedup: Literal["none", "distinct", "join"] = Field(
        "none",
        description="none: label every row; distinct: label each distinct text once, one output row per distinct "
        "text with its count; join: label each distinct text once and join the labels back to every row",
    )
    store: str | None = Field(
        None,
        description="label store (a directory or s3:// / gs:// URI) kept across runs: a text (and pair) that the "
        "same teachers with the same settings labeled before is copied from it, not labeled again; this run's new "
        "labels are added to it. Needs dedup: distinct or join",
    )
    dedup_partitions: int | Literal["auto"] = Field(
        "auto",
        description="hash partitions of de-duplication's shuffles (auto: about one per million input rows)",
    )
    chunk_rows: int | Literal["auto"] = Field(
        "auto",
        description="rows per chunk, the unit of work and of resume (one part file each); auto: parts of about "
        "128 MB, and at least 4 chunks per actor of a small input",
    )
    num_actors: int = Field(1, ge=1, description="teacher actor pool size")
    num_gpus_per_actor: float = Field(0.0, ge=0)
    cpus_per_actor: float | None = Field(None, gt=0, description="default: a fraction on small machines")
    read_cpus: float | None = Field(
        None,
        gt=0,
        description="CPUs of each task that reads and prepares chunks for the actors (default: a fraction "
        "on a local machine, 1 on a cluster)",
    )
    torch_threads: int | None = Field(None, ge=1)
    memory_per_actor_gb: float | None = Field(
        None,
        gt=0,
        description="host memory Ray reserves for each teacher actor, so a node gets no more actors than fit "
        "(default: none reserved; the label stage logs the actors' peak to size it)",
    )
    trust_remote_code: bool = False
    max_attempts: int = Field(
        3,
        ge=1,
        description="runs of the actor pool in a row that may fail without committing a chunk; after a lost "
        "node or actor only the unfinished chunks run again",
    )
    force: bool = Field(
        False,
        description="start over: delete an output made with other settings (or a complete one) and label again",
    )
    address: str | None = None

    @field_validator("chunk_rows", "dedup_partitions")
    @classmethod
    def _positive_or_auto(cls, v: int | str) -> int | str:
        if v != "auto" and v < 1:
            raise ValueError("must be >= 1 (or auto)")
        return v

    @field_validator("temperatures")
    @classmethod
    def _positive_temperatures(cls, v: list[float]) -> list[float]:
        bad = [t for t in v if not t > 0]
        if bad:
            raise ValueError(f"every temperature must be > 0 (softmax(logits / T)), got {bad[0]!r}")
        return v


# Where and how a run executes: they never change what it writes, so a run may resume or skip to a
# finished output under other values of these. Every other setting is recorded with the output.
RUN_ONLY = {
    "input",  # checked on its own: the input's files and sizes (_input_signature.json)
    "output_dir",
    "num_actors",
    "num_gpus_per_actor",
    "cpus_per_actor",
    "read_cpus",
    "torch_threads",
    "memory_per_actor_gb",
    "trust_remote_code",
    "max_attempts",
    "force",
    "address",
}
TEACHER_RUN_ONLY = {"batch_size"}


def settings(cfg: LabelConfig) -> dict[str, Any]:
    """The settings that make a labeling output (recorded with it; a resume or a skip needs the same)."""
    out = cfg.model_dump(mode="json", exclude=RUN_ONLY)
    # Teachers by name (each compared setting by setting), and their names in order (a teacher
    # added, removed or reordered is a change too).
    out["teacher_names"] = [t["name"] for t in out["teachers"]]
    out["teachers"] = {
        t["name"]: {k: v for k, v in t.items() if k not in TEACHER_RUN_ONLY} for t in out["teachers"]
    }
    return out

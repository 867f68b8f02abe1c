"""The recipe's config: its own keys, and each stage's section (checked by that stage's config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from bert2dnn_ray.config import Strict
from bert2dnn_ray.student.model import StudentModelConfig

STUDENT_EPOCHS = 4  # unless the config's student section says otherwise


class ReproduceConfig(Strict):
    name: str = "sst2_imdb"
    runs_dir: str = "runs"
    data_dir: str = Field("data", description="output of `make data` (bert2dnn datasets)")
    transfer_rows: int | None = Field(
        None, ge=1000, description="seeded sample of IMDB sentences to label; null = all"
    )
    transfer_sizes: list[int] = Field(default_factory=lambda: [10_000, 30_000, 100_000, 300_000])
    seed: int = 0
    finetune: dict[str, Any] = Field(default_factory=dict, description="FinetuneConfig keys")
    label: dict[str, Any] = Field(
        default_factory=dict, description="LabelConfig keys (+ the teachers' max_length, batch_size, dtype)"
    )
    student: dict[str, Any] = Field(default_factory=dict, description="TrainConfig keys shared by students")
    gold_mix_weight: float = Field(0.5, gt=0, lt=1)
    augment: dict[str, Any] | None = Field(
        default_factory=dict,
        description="AugmentConfig keys for perturbed copies of SST-2 train (null: no augmented students)",
    )
    augment_transfer_sizes: list[int] = Field(
        default_factory=lambda: [100_000], description="transfer sizes of the augmented students (+ all)"
    )
    seed_repeats: list[int] = Field(
        default_factory=lambda: [1, 2],
        description="more seeds of the last bag student in the table (the best recipe) and of the "
        "word-order student, trained and scored the same way: the report gives their spread ([]: none)",
    )
    word_order: dict[str, Any] | None = Field(
        None,
        description="TrainConfig keys over `student` for one more student, on the last recipe's data, "
        "that reads the words in order (`model: {encoder: bilstm}` or cnn); null: none",
    )
    report_dir: str = "benchmarks/results"
    latency_samples: int = 200

    @field_validator("word_order")
    @classmethod
    def _reads_in_order(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and StudentModelConfig.model_validate(v.get("model") or {}).encoder == "bag":
            raise ValueError("model.encoder must be cnn or bilstm (the bag students are the other rows)")
        return v


def run_dir_of(cfg: ReproduceConfig) -> Path:
    """One run directory per scale: labels, students and their checkpoints of a 150k-sentence
    sample must never be resumed by (or mixed into) a run at another size."""
    name = cfg.name if cfg.transfer_rows is None else f"{cfg.name}_{cfg.transfer_rows}"
    return Path(cfg.runs_dir, name)

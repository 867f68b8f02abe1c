"""The one list of stages: the CLI's commands, the pipeline's steps, ``bert2dnn submit``'s stages and
the ``jobs/`` entry points are all derived from :data:`STAGES`.

A stage is a module with a typed config class and one ``run(config)``. Adding one: write its module,
add it here (in pipeline order), add ``jobs/<job>.py`` (the same three lines as its siblings), and,
if it is a pipeline step, fill its config in :func:`bert2dnn_ray.pipeline.resolve`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    name: str  # the CLI command, submit's stage, the pipeline's step
    module: str  # the module with the config class and run(config)
    config: str  # the config class's name
    help: str
    job: str | None = None  # jobs/<job>.py, the Ray Job entry point
    command: bool = True  # a `bert2dnn <name>` command
    step: bool = True  # a step of `bert2dnn pipeline`

    def load(self) -> tuple[Any, type]:
        """The stage's module and config class (importing the module)."""
        mod = importlib.import_module(self.module)
        return mod, getattr(mod, self.config)


STAGES: tuple[Stage, ...] = (
    Stage(
        "datasets",
        "bert2dnn_ray.datasets",
        "DatasetsConfig",
        "prepare SST-2 and the IMDB transfer set (from ../shared/data or the official sources)",
        job="prepare_data",
        step=False,
    ),
    Stage(
        "data",
        "bert2dnn_ray.synthetic.stage",
        "DataConfig",
        "generate the embedded synthetic dataset (the pipeline's data step)",
        command=False,
    ),
    Stage(
        "finetune",
        "bert2dnn_ray.teacher",
        "FinetuneConfig",
        "fine-tune teacher(s) on labeled data with Ray Train",
        job="finetune_teacher",
    ),
    Stage(
        "augment",
        "bert2dnn_ray.augment",
        "AugmentConfig",
        "perturbed copies of in-domain texts (word drop/replace, n-gram spans) to soft-label",
        job="augment",
    ),
    Stage(
        "label",
        "bert2dnn_ray.label",
        "LabelConfig",
        "soft-label unlabeled texts with the teacher(s) on Ray Data",
        job="label",
    ),
    Stage(
        "train",
        "bert2dnn_ray.student.train",
        "TrainConfig",
        "train the FFN student on soft labels with Ray Train",
        job="train_student",
    ),
    Stage(
        "evaluate",
        "bert2dnn_ray.evaluate",
        "EvalConfig",
        "accuracy, AUC, retention and latency of teachers and student",
        job="evaluate",
    ),
    Stage(
        "export",
        "bert2dnn_ray.export",
        "ExportConfig",
        "export the student (safetensors + ONNX) for CPU serving",
        job="export",
    ),
    Stage(
        "pipeline",
        "bert2dnn_ray.pipeline",
        "PipelineConfig",
        "run data, finetune, augment (optional), label, train, evaluate, export",
        job="pipeline",
        step=False,
    ),
)

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
COMMANDS: tuple[str, ...] = tuple(s.name for s in STAGES if s.command)
PIPELINE_STEPS: tuple[str, ...] = tuple(s.name for s in STAGES if s.step)
JOB_SCRIPTS: dict[str, str] = {s.name: f"jobs/{s.job}.py" for s in STAGES if s.job}

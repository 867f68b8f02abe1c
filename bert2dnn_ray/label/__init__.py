"""Soft-labeling: stream unlabeled texts through one or more teachers with Ray Data.

The input is planned into deterministic *chunks* (:mod:`.plan`). A pool of Ray actors — GPU or
fractional-CPU — each loads every teacher once and turns a chunk into one Parquet part
(:mod:`.actor`): logits per teacher, probabilities at each temperature and the stacked soft label
(:mod:`bert2dnn_ray.stacking`), in the columns of the soft-label contract
(:mod:`bert2dnn_ray.softlabels`). A chunk is committed by its stats file, so a killed job run again
skips committed chunks and redoes the rest (:mod:`.pool`): the output holds each input row exactly
once. Bad rows go to ``quarantine/`` with their reason (:mod:`.rows`). ``dedup`` labels each
distinct text once (:mod:`.dedup`). The manifest completes the output and records its settings
(:mod:`.manifest`); one run at a time holds an output (:mod:`.lease`). The driver is :mod:`.run`.
"""

from ..teachers import TeacherSpec
from .config import LabelConfig, StackConfig
from .manifest import wall_seconds
from .pool import actor_options
from .run import run

__all__ = ["LabelConfig", "StackConfig", "TeacherSpec", "actor_options", "run", "wall_seconds"]

"""What to generate: the tasks, their label names, the splits and :class:`SyntheticConfig`.

Light on purpose: importing this module builds no table and imports neither the vocabulary nor the
generator, so configs and label names cost nothing to load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import Strict

Task = Literal["query_category", "query_title"]

LABEL_NAMES: dict[str, list[str]] = {
    "query_category": ["electronics", "fashion", "home", "grocery"],
    "query_title": ["irrelevant", "relevant"],
}

SPLITS: tuple[str, ...] = ("train", "dev", "test", "unlabeled")


class SyntheticConfig(Strict):
    """How much synthetic data to make, and of which task."""

    task: Task = "query_category"
    num_labeled: int = Field(1200, ge=0)
    num_dev: int = Field(300, ge=0)
    num_test: int = Field(500, ge=0)
    num_unlabeled: int = Field(20000, ge=0)
    seed: int = Field(13, ge=0)
    label_noise: float = Field(0.02, ge=0.0, le=0.5)


def label_names(task: str) -> list[str]:
    """The class names of ``task``, in label order."""
    try:
        return list(LABEL_NAMES[task])
    except KeyError:
        raise ValueError(f"unknown synthetic task {task!r}; expected one of {sorted(LABEL_NAMES)}") from None

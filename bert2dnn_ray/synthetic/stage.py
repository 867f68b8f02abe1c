"""The data stage: write the embedded synthetic dataset (or, later, prepared public sets).

:class:`DataConfig` is the base of the pipeline's ``data`` section. The generator is imported only
when :func:`run` generates, so loading the config builds no table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .. import io
from ..config import Strict
from ..errors import ConfigError
from ..progress import log
from .config import SyntheticConfig


class DataConfig(Strict):
    source: Literal["synthetic", "files"] = "synthetic"
    output_dir: str | None = None
    synthetic: SyntheticConfig = SyntheticConfig()


def run(cfg: DataConfig) -> dict[str, str]:
    """Write train/dev/test/unlabeled Parquet files to ``output_dir``; return their paths."""
    from .generator import write

    if cfg.source != "synthetic":
        raise ConfigError("the data stage only generates data for source=synthetic")
    if not cfg.output_dir:
        raise ConfigError("data.output_dir is required")
    scfg = cfg.synthetic
    log("data", f"generating synthetic '{scfg.task}' data into {cfg.output_dir}")
    with io.staged_dir(cfg.output_dir) as out:  # a URI output is written here, then uploaded
        written = write(scfg, out)
    paths = {k: io.join(cfg.output_dir, Path(v).name) for k, v in written.items()}
    for name, p in paths.items():
        log("data", f"{name:>9}: {p}")
    return paths

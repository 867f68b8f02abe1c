"""``python -m recipes.sst2_imdb``: run the recipe, or rebuild its report (``--report-only``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bert2dnn_ray.config import apply_overrides, build, read_yaml
from bert2dnn_ray.errors import Bert2dnnError, DataError
from bert2dnn_ray.runtime import init_ray

from . import __doc__ as overview
from .config import ReproduceConfig
from .report import write_report
from .run import add_peers, peers_report, run

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recipes.sst2_imdb", description=overview.split("\n\n")[0])
    ap.add_argument(
        "--config", default=str(ROOT / "jobs/configs/sst2_imdb.yaml"), help="default: %(default)s"
    )
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, repeatable (e.g. transfer_rows=60000, student.epochs=3)",
    )
    ap.add_argument("--address", default=None, help="Ray cluster (default RAY_ADDRESS or a local Ray)")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild the report and plots from sst2_imdb.json in report_dir (benchmarks/results); nothing runs",
    )
    ap.add_argument(
        "--peers-only",
        action="store_true",
        help="add the fastText peers to the finished report in report_dir: teachers and transfer "
        "labels (skipped when done), the peers, the report again; no student is trained",
    )
    args = ap.parse_args(argv)
    try:
        cfg = build(
            ReproduceConfig, apply_overrides(read_yaml(args.config), args.overrides), source=args.config
        )
        if args.report_only:
            numbers = Path(cfg.report_dir, "sst2_imdb.json")
            if not numbers.is_file():
                raise DataError(f"--report-only: {numbers} does not exist (a finished run writes it)")
            write_report(json.loads(numbers.read_text()), Path(cfg.report_dir))
            return 0
        report = peers_report(cfg) if args.peers_only else None  # checked before Ray starts
        init_ray(args.address)
        if report is not None:
            add_peers(cfg, report)
        else:
            run(cfg)
    except Bert2dnnError as e:
        print(f"reproduce: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

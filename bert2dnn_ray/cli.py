"""``bert2dnn``: one command per pipeline stage, plus the whole pipeline.

Every command takes ``--config FILE.yaml`` and any number of ``--set key=value`` overrides
(dotted keys, YAML values). Config problems are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from . import stages
from .config import add_config_args
from .errors import Bert2dnnError, one_line

COMMANDS = stages.COMMANDS


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(ann))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + (
            " (optional)" if len(args) < len(typing.get_args(ann)) else ""
        )
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(ann))}]"
    return getattr(ann, "__name__", str(ann))


def _list_item_model(ann: Any) -> type[BaseModel] | None:
    """The section type of a ``list[Section]`` (or optional) annotation, else None."""
    for a in (ann, *typing.get_args(ann)):
        if typing.get_origin(a) is list:
            (item,) = typing.get_args(a) or (None,)
            if isinstance(item, type) and issubclass(item, BaseModel):
                return item
    return None


def describe(model: type[BaseModel], prefix: str = "", depth: int = 0) -> list[str]:
    """One line per config key (recursing into sections), for --help."""
    lines = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        key = f"{prefix}{name}"
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if sub is None:
            for a in typing.get_args(ann):
                if isinstance(a, type) and issubclass(a, BaseModel) and typing.get_origin(ann) is not list:
                    sub = a
        if sub is not None and depth < 2:
            lines.append(f"  {key}.*  ({f.description or sub.__name__})")
            lines.extend(describe(sub, prefix=f"{key}.", depth=depth + 1))
            continue
        item = _list_item_model(ann)
        if item is not None and depth < 2:  # a list of sections: each item's keys, by index
            default = f.get_default(call_default_factory=True) if not f.is_required() else "REQUIRED"
            n = f"{len(default)} item(s)" if isinstance(default, list) else repr(default)
            desc = f" — {f.description}" if f.description else ""
            lines.append(f"  {key} (list of {item.__name__}; default {n}){desc}; each item N:")
            lines.extend(describe(item, prefix=f"{key}.N.", depth=depth + 1))
            continue
        default = f.get_default(call_default_factory=True) if not f.is_required() else "REQUIRED"
        if isinstance(default, BaseModel):
            default = "{...}"
        elif isinstance(default, list) and default and isinstance(default[0], BaseModel):
            default = f"[{len(default)} item(s)]"
        desc = f" — {f.description}" if f.description else ""
        lines.append(f"  {key} ({_type_name(ann)}; default {default!r}){desc}")
    return lines


def _load(cmd: str) -> tuple[Any, type[BaseModel]]:
    return stages.BY_NAME[cmd].load()


def build_parser(with_keys: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bert2dnn",
        description="Distill BERT-class teachers into tiny feed-forward students on Ray (BERT2DNN).",
        epilog="Run `bert2dnn COMMAND --help` for the config keys of a command. "
        "Examples: `bert2dnn pipeline --config jobs/configs/smoke.yaml`, "
        "`bert2dnn label --config label.yaml --set num_actors=4 --set teachers.0.batch_size=256`.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in stages.COMMANDS:
        help_ = stages.BY_NAME[cmd].help
        epilog = None
        if with_keys:
            _, cls = _load(cmd)
            epilog = (
                "config keys (YAML file or --set KEY=VALUE; list items by index, e.g. teachers.0.name):\n"
                + "\n".join(describe(cls))
            )
        sp = sub.add_parser(
            cmd,
            help=help_,
            description=help_,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_config_args(
            sp,
            "YAML config file (keys listed below)",
            "override a config key (repeatable; dotted keys, YAML values)",
        )
        sp.add_argument(
            "--address",
            metavar="ADDR",
            help="Ray cluster to join (default: RAY_ADDRESS, else start a local Ray)",
        )
        sp.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    from . import submit

    submit.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Build config-key help only when help is asked for (imports every stage).
    wants_help = any(a in ("-h", "--help") for a in argv)
    parser = build_parser(with_keys=wants_help)
    args = parser.parse_args(argv)
    try:
        if args.command == "submit":
            from . import submit

            return submit.main(args)
        return _run(args)
    except Bert2dnnError as e:
        print(f"bert2dnn {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a file or directory the system refused (disk full, permissions...)
        print(f"bert2dnn {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"bert2dnn {args.command}: interrupted (run the same command again to resume)", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from .config import apply_overrides, build, read_yaml, to_yaml

    mod, cls = _load(args.command)
    data = read_yaml(args.config) if args.config else {}
    data = apply_overrides(data, args.overrides)  # in order; numeric parts index lists
    if args.address and "address" in cls.model_fields:  # evaluate/export do not use Ray
        data["address"] = args.address
    cfg = build(cls, data, source=args.config or "config")
    if args.print_config:
        print(to_yaml(cfg), end="")
        return 0
    run: Callable[[Any], Any] = mod.run
    run(cfg)
    return 0


def job_stage(script: str) -> str:
    """The stage whose Ray Job entry point ``jobs/<job>.py`` is."""
    from pathlib import Path

    job = Path(script).stem
    (stage,) = [s.name for s in stages.STAGES if s.job == job]
    return stage


def job_main(script: str, argv: list[str]) -> int:
    """The body of every ``jobs/<job>.py``: its stage's command with the script's arguments."""
    return main([job_stage(script), *argv])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Typed configs: YAML files plus ``--set key=value`` overrides, validated by pydantic.

Every stage config derives from :class:`StageConfig` (unknown keys are errors). Problems are
raised as :class:`ConfigError` with one line naming the file and the key at fault.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError

T = TypeVar("T", bound=BaseModel)


class Strict(BaseModel):
    """Base for all config sections: unknown keys are rejected, values validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.epochs=3")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``key=value`` overrides applied in order (values parsed
    as YAML). Numeric parts index into lists (``teachers.0.batch_size=64``); the last part may be
    one past the end of a list to append an item."""
    data = copy.deepcopy(data)
    for item in overrides or []:
        path, value = _parse_override(item)
        node: Any = data
        for i, part in enumerate(path):
            last = i == len(path) - 1
            where = ".".join(path[:i])
            if isinstance(node, list):
                if not part.isdigit():
                    raise ConfigError(f"--set {item!r}: '{where}' is a list; index it with a number")
                idx = int(part)
                if idx > len(node) or (idx == len(node) and not last):
                    raise ConfigError(f"--set {item!r}: index {idx} out of range for '{where}'")
                if last:
                    if idx == len(node):
                        node.append(value)
                    else:
                        node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    nxt = node.get(part)
                    if nxt is None:
                        nxt = [] if path[i + 1].isdigit() else {}
                        node[part] = nxt
                    node = nxt
            else:
                raise ConfigError(f"--set {item!r}: '{where}' is not a section")
    return data


def add_config_args(parser: Any, config_help: str, set_help: str) -> None:
    """``--config/-c FILE.yaml`` and ``--set/-s KEY=VALUE`` (repeatable, collected in ``overrides``)
    on an argparse parser."""
    parser.add_argument("--config", "-c", metavar="FILE.yaml", help=config_help)
    parser.add_argument(
        "--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help
    )


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config file ({type(e).__name__}: {e})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys to values")
    return data


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem, naming the dotted key (first problem first)."""
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e.get("loc", ())) or "<root>"
        if e.get("type") == "extra_forbidden":
            parts.append(f"unknown key '{key}'")
        elif e.get("type") == "missing":
            parts.append(f"missing required key '{key}'")
        else:
            got = e.get("input")
            got_s = f" (got {got!r})" if not isinstance(got, dict | list) else ""
            parts.append(f"key '{key}': {e.get('msg')}{got_s}")
    return f"{source}: " + "; ".join(parts)


def build(model: type[T], data: dict[str, Any], source: str = "config") -> T:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from None


def load_config(model: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Load ``path`` (YAML) into ``model``, applying ``--set`` overrides first."""
    data = read_yaml(path) if path else {}
    data = apply_overrides(data, overrides)
    return build(model, data, source=str(path) if path else "config")


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

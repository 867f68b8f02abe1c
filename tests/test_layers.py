"""The package's layering (docs/architecture.md), checked on its import graph: no import cycle, no
module importing a higher layer, no stage reaching into another stage. Imports inside functions
count (they are imports all the same).

Layers, lowest first; a module may import its own layer and the ones below:

0. foundation: errors, text, metrics, config, progress
1. plumbing: io, tables, lines, tokens, runtime, stages (the registry: names only)
2. shared contracts: rundir, softlabels, stacking, featurizer, hf, data
3. models: teachers (inference), student's network and servable artifact
4. stages: label, teacher (fine-tuning), augment, student training, evaluate, export, synthetic,
   datasets; one stage never imports another
5. entry points: pipeline, cli, submit, the package's __init__ and __main__
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "bert2dnn_ray"

LAYERS: dict[str, int] = {
    **dict.fromkeys(["errors", "text", "metrics", "config", "progress"], 0),
    **dict.fromkeys(["io", "tables", "lines", "tokens", "runtime", "stages"], 1),
    **dict.fromkeys(["rundir", "softlabels", "stacking", "featurizer", "hf", "data"], 2),
    **dict.fromkeys(
        [
            "teachers",
            "student",
            "student.model",
            "student.encoders",
            "student.artifact",
            "student.servable",
            "student.serve",
            "student.compiled",
            "student.onnx",
        ],
        3,
    ),
    **dict.fromkeys(
        [
            "label",
            "teacher",
            "augment",
            "student.train",
            "student.loop",
            "student.inputs",
            "student.config",
            "student.loss",
            "evaluate",
            "export",
            "synthetic",
            "datasets",
        ],
        4,
    ),
    **dict.fromkeys(["pipeline", "cli", "submit", "__main__", ""], 5),
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports (relative or absolute, anywhere in the file)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if name else []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
                targets = [mod] + [f"{mod}.{a.name}" if mod else a.name for a in node.names]
            else:
                mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            targets = [
                f"bert2dnn_ray.{t}" if node.level and t else ("bert2dnn_ray" if node.level else t)
                for t in targets
            ]
        for t in targets:
            if t == "bert2dnn_ray" or t.startswith("bert2dnn_ray."):
                rel = t[len("bert2dnn_ray.") :] if t != "bert2dnn_ray" else ""
                # (the package itself is imported before any of its modules: not an edge)
                if rel and rel in MODULES and rel != name and not name.startswith(rel + "."):
                    found.add(rel)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> tuple[int, str]:
    """(layer, unit) of a module: its longest prefix in LAYERS."""
    parts = name.split(".") if name else [""]
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key], parts[0]
    raise AssertionError(f"bert2dnn_ray.{name} has no layer: add it to LAYERS (and docs/architecture.md)")


def test_every_module_has_a_layer():
    for name in MODULES:
        _layer(name)


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_imports_a_higher_layer_or_another_stage():
    bad = []
    for name, deps in GRAPH.items():
        layer, unit = _layer(name)
        for dep in deps:
            dep_layer, dep_unit = _layer(dep)
            if dep_layer > layer:
                bad.append(f"{name} (layer {layer}) imports {dep} (layer {dep_layer})")
            elif layer == dep_layer == 4 and unit != dep_unit:
                bad.append(f"stage {name} imports another stage's {dep}")
    assert not bad, "\n".join(bad)


def test_the_check_sees_imports_inside_functions():
    """A function-level import counts: label.run imports dedup, the CLI every stage lazily."""
    assert "label.dedup" in GRAPH["label.run"] and "stages" in GRAPH["cli"]
    assert "student.onnx" in GRAPH["student.serve"]  # Student.export_onnx imports it when called

"""Fail on an import cycle among aimem's modules or an import that points up a layer.

Usage: ``python tools/check_imports.py`` (exit 0: clean; 1: findings, one per line).

Every import counts, wherever it stands: at module level, inside a function
(a lazy import only hides a cycle until the function runs), under
``TYPE_CHECKING``, or as ``importlib.import_module("aimem...")``. A package's
own ``__init__`` counts as a module; ``from aimem.x import y`` names the module
``aimem.x.y`` when that is one, else ``aimem.x``.

Layers, lowest first. A module may import its own layer or a lower one, never
a higher one; inside a layer the imports must not form a cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "aimem"

# (layer, module names or prefixes ending in "."), lowest first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "helpers",
        (
            "aimem._version",
            "aimem.learn",
            "aimem.ops",
            "aimem.errors",
            "aimem.paths",
            "aimem.fsutil",
            "aimem.timeutil",
            "aimem.jsontext",
            "aimem.learn.signatures",
            "aimem.learn.stats_math",
            "aimem.redact",
            "aimem.learn.search",
            "aimem.ops.export_formats",
            "aimem.ops.csvformat",
            "aimem.ops.demo",
            "aimem.learn.templates",
            "aimem.learn.estimate",
            "aimem.input_limits",
        ),
    ),
    # Validated records and the segment file format: what the store reads and writes.
    ("records", ("aimem.records", "aimem.ops.archive")),
    ("store", ("aimem.store", "aimem.store.")),
    (
        "engine",
        (
            "aimem.learn.learning",
            "aimem.learn.advice",
            "aimem.learn.alerts",
            "aimem.learn.analytics",
            "aimem.learn.context",
            "aimem.learn.knowledge",
            "aimem.ops.segment_storage",
            "aimem.ops.maintenance",
            "aimem.ops.backup",
            "aimem.ops.transfer",
            "aimem.ops.sync",
            "aimem.ops.import_pipeline",
            "aimem.learn.report",
        ),
    ),
    ("facade", ("aimem.memory",)),
    ("api", ("aimem", "aimem.ops.setup")),
    ("cli", ("aimem.cli", "aimem.cli.", "aimem.__main__")),
)


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    names: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _known(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_known(a.name, modules) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else _known(base, modules))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(_known(node.args[0].value, modules))
    return {m for m in found if m is not None and m != name}


def layer_of(name: str) -> int:
    """The index of the layer ``name`` belongs to (the most specific match wins)."""
    best, best_len = -1, -1
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            matches = name.startswith(pattern) if pattern.endswith(".") else name == pattern
            if matches and len(pattern) > best_len:
                best, best_len = index, len(pattern)
    if best < 0:
        raise SystemExit(f"check_imports: {name} is in no layer; add it to LAYERS")
    return best


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _path_back(graph: dict[str, set[str]], start: str, members: Iterable[str]) -> list[str]:
    """A shortest import path from ``start`` back to itself inside one component."""
    inside = set(members)
    queue: list[list[str]] = [[start]]
    seen = {start}
    while queue:
        path = queue.pop(0)
        for nxt in sorted(graph[path[-1]] & inside):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    return [start]


def findings(root: Path = ROOT) -> list[str]:
    """One line per cycle and per upward import; empty when the package is clean."""
    modules = module_names(root / PACKAGE)
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    lines = []
    for component in cycles(graph):
        path = _path_back(graph, component[0], component)
        lines.append(f"cycle: {' -> '.join(path)} (modules in the cycle: {', '.join(component)})")
    for name in sorted(graph):
        mine = layer_of(name)
        for target in sorted(graph[name]):
            theirs = layer_of(target)
            if theirs > mine:
                lines.append(
                    f"upward: {name} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]})"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        sys.stderr.write("usage: python tools/check_imports.py\n")
        return 2
    lines = findings()
    for line in lines:
        sys.stdout.write(line + "\n")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())

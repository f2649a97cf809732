"""The package layout: no import cycle, no upward import, no build tooling at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools import check_imports

ROOT = Path(__file__).resolve().parents[1]


def test_aimem_has_no_import_cycle_or_upward_import() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_imports.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "")


def test_the_checker_reports_cycles_lazy_imports_and_upward_imports(tmp_path: Path) -> None:
    package = tmp_path / "aimem"
    (package / "store").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "store" / "__init__.py").write_text("")
    # a lazy import closes the cycle: it counts all the same
    (package / "ops").mkdir()
    (package / "ops" / "__init__.py").write_text("")
    (package / "ops" / "backup.py").write_text("def f():\n    from aimem import memory\n")
    (package / "memory.py").write_text("from aimem.ops.backup import f\n")
    (package / "store" / "bulk.py").write_text("from . import sqlite_store\n")
    (package / "store" / "sqlite_store.py").write_text(
        "import importlib\nimportlib.import_module('aimem.store.bulk')\n"
    )
    (package / "errors.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aimem.cli import app\n"
    )
    (package / "cli").mkdir()
    (package / "cli" / "__init__.py").write_text("from aimem import memory\n")
    assert check_imports.findings(tmp_path) == [
        "cycle: aimem.memory -> aimem.ops.backup -> aimem.memory "
        "(modules in the cycle: aimem.memory, aimem.ops.backup)",
        "cycle: aimem.store.bulk -> aimem.store.sqlite_store -> aimem.store.bulk "
        "(modules in the cycle: aimem.store.bulk, aimem.store.sqlite_store)",
        "upward: aimem.errors (helpers) imports aimem.cli (cli)",
        "upward: aimem.ops.backup (engine) imports aimem.memory (facade)",
    ]


def test_build_tooling_is_not_in_the_runtime_package() -> None:
    for path in (ROOT / "aimem").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        # typer._types and typer.models are what the generator reads help from
        for private in ("typer._types", "typer.models", "from tools", "import tools"):
            assert private not in text, f"{path} imports {private}"
    assert not (ROOT / "aimem" / "cli" / "_docs.py").exists()
    assert (ROOT / "tools" / "gen_docs.py").is_file()


_DRIVERS = ("sqlite3", "psycopg", "psycopg2", "psycopg_pool")
_SQL_CALLS = ("execute", "executemany", "executescript")


def sql_outside_store(package_dir: Path) -> list[str]:
    """``file:line: what`` for each driver import or SQL call outside ``aimem/store``."""
    import ast

    found: list[str] = []
    store = package_dir / "store"
    for path in sorted(package_dir.rglob("*.py")):
        if path.is_relative_to(store):
            continue
        where = path.relative_to(package_dir.parent)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                if name.split(".")[0] in _DRIVERS:
                    found.append(f"{where}:{node.lineno}: imports {name}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _SQL_CALLS
            ):
                found.append(f"{where}:{node.lineno}: calls .{node.func.attr}(")
    return found


def test_no_module_outside_the_store_touches_a_database_driver_or_runs_sql() -> None:
    assert sql_outside_store(ROOT / "aimem") == []


def test_the_sql_check_finds_driver_imports_and_execute_calls(tmp_path: Path) -> None:
    package = tmp_path / "aimem"
    (package / "store").mkdir(parents=True)
    (package / "ops").mkdir()
    (package / "store" / "fine.py").write_text(
        "import sqlite3\nsqlite3.connect(':memory:').execute('SELECT 1')\n"
    )
    (package / "ops" / "meta.py").write_text(
        "def f(db):\n    import sqlite3\n    return sqlite3.connect(db).execute('SELECT 1')\n"
    )
    (package / "memory.py").write_text("from psycopg import sql\n")
    assert sql_outside_store(package) == [
        "aimem/memory.py:1: imports psycopg",
        "aimem/ops/meta.py:2: imports sqlite3",
        "aimem/ops/meta.py:3: calls .execute(",
    ]

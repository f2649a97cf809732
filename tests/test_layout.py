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

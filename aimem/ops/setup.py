"""Creating a repository, with or without demo history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aimem.errors import AimemError
from aimem.paths import Location, locate, repository_to_create


def init_repository(
    path: Path | None = None,
    directory: Path | None = None,
    demo: bool = False,
    seed: int = 7,
    location: Location | None = None,
    db: str | None = None,
) -> dict[str, Any]:
    """Create ``AIMemory/`` in ``path`` (or at ``directory``, else the default place).

    ``path`` follows ``aimem.paths.repository_to_create``; ``directory`` is the
    repository folder itself; without either, ``location`` (default
    ``aimem.paths.locate()``) decides, by ``Location.to_create``.

    With ``db`` (a PostgreSQL URL) the history lives in that database: its
    schema is created there first, then the folder gets ``config.json`` naming
    the database without any password (nothing is written when the database
    cannot be reached). With ``demo`` the new repository is filled with a
    generated history. Returns ``memory_directory``, ``existed`` and
    ``demo_records`` (and ``database``, the URL as shown, with ``db``).
    """
    from aimem.memory import AIMemory

    if path is not None:
        root = repository_to_create(Path(path).expanduser().absolute())
    elif directory is not None:
        root = Path(directory).expanduser().absolute()
    else:
        root = (location or locate()).to_create()
    if db is not None:
        return _init_database(root, db, demo, seed)
    existed = (root / "ai_memory.db").exists()
    added = 0
    with AIMemory(root, create=True) as memory:
        if demo:
            existing = memory.get_memory_stats()["total_fixes_attempted"]
            if existing:
                raise AimemError(
                    f"{root} already holds {existing} attempts; --demo only fills an empty repository",
                    hint="use another folder, e.g. 'aimem init /tmp/demo --demo'",
                )
            from aimem.ops.demo import demo_attempts

            added = len(memory.record_many(demo_attempts(seed=seed)))
        memory.sync_knowledge_base()
    return {"memory_directory": str(root), "existed": existed, "demo_records": added}


def _fill_demo(memory: Any, root: Any, seed: int) -> int:
    existing = memory.get_memory_stats()["total_fixes_attempted"]
    if existing:
        raise AimemError(
            f"{root} already holds {existing} attempts; --demo only fills an empty repository",
            hint="use another folder, e.g. 'aimem init /tmp/demo --demo'",
        )
    from aimem.ops.demo import demo_attempts

    return len(memory.record_many(demo_attempts(seed=seed)))


def _init_database(root: Path, db: str, demo: bool, seed: int) -> dict[str, Any]:
    import orjson

    from aimem.fsutil import atomic_write
    from aimem.memory import AIMemory
    from aimem.paths import CONFIG_NAME, DATABASE_NAME, configured_database, create_layout
    from aimem.store.url import display_url, is_database_url

    if not is_database_url(db):
        raise AimemError("--db must be a URL starting with postgresql:// or postgres://")
    shown = display_url(db)
    if (root / DATABASE_NAME).exists():
        raise AimemError(
            f"{root} already holds a repository on SQLite ({DATABASE_NAME}); nothing was changed",
            hint="choose another folder for the repository on PostgreSQL",
        )
    configured = configured_database(root) if (root / CONFIG_NAME).exists() else None
    if configured is not None and display_url(configured) != shown:
        raise AimemError(
            f"{root} already names another database ({display_url(configured)}); "
            "nothing was changed",
            hint="choose another folder, or edit its config.json",
        )
    added = 0
    # The schema first: a server that is down or refuses leaves no folder behind.
    with AIMemory(root, db=db) as memory:
        if demo:
            added = _fill_demo(memory, shown, seed)
        existed = configured is not None
        layout = create_layout(root)
        if configured is None:
            config = orjson.dumps({"database": shown}, option=orjson.OPT_INDENT_2) + b"\n"
            atomic_write(layout.config, config)
    return {
        "memory_directory": str(root),
        "existed": existed,
        "demo_records": added,
        "database": shown,
    }

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
) -> dict[str, Any]:
    """Create ``AIMemory/`` in ``path`` (or at ``directory``, else the default place).

    ``path`` follows ``aimem.paths.repository_to_create``; ``directory`` is the
    repository folder itself; without either, ``location`` (default
    ``aimem.paths.locate()``) decides, by ``Location.to_create``.

    With ``demo`` the new repository is filled with a generated history.
    Returns ``memory_directory``, ``existed`` and ``demo_records``.
    """
    from aimem.memory import AIMemory

    if path is not None:
        root = repository_to_create(Path(path).expanduser().absolute())
    elif directory is not None:
        root = Path(directory).expanduser().absolute()
    else:
        root = (location or locate()).to_create()
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
            from aimem.demo import demo_attempts

            added = len(memory.record_many(demo_attempts(seed=seed)))
        memory.sync_knowledge_base()
    return {"memory_directory": str(root), "existed": existed, "demo_records": added}

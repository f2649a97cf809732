"""Run the aimem command line, stopped at one named step of a cleanup or a thaw.

Test-only fault injection for the crash tests::

    python tests/reliability/paused_aimem.py STEP SIGNAL_FILE ARGS...

wraps the library functions that sit between the durable steps of a cleanup
(or a thaw), runs ``aimem ARGS...``, and when STEP is reached writes
SIGNAL_FILE and sleeps, so that the test can kill -9 the process at exactly
that moment. Nothing in aimem knows about it.

Steps of a cleanup, in order: selected, encoded, pending, temp-written,
renamed, verified, before-commit (inside the transaction), committed.
Steps of a thaw: thaw-before-commit (inside the transaction), thaw-committed.
Other steps: backup-snapshot-taken (a backup holds its snapshot and the
archive lock), output-written (an export or backup wrote its temp file and
has not renamed it yet).

The pause lasts PAUSED_AIMEM_SECONDS (default 600) seconds, then the command
goes on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimem import fsutil
from aimem.ops import archive
from aimem.paths import ARCHIVE_NAME
from aimem.store import snapshot
from aimem.store.sqlite import Store

CLEANUP_STEPS = (
    "selected",
    "encoded",
    "pending",
    "temp-written",
    "renamed",
    "verified",
    "before-commit",
    "committed",
)
THAW_STEPS = ("thaw-before-commit", "thaw-committed")
OTHER_STEPS = ("backup-snapshot-taken", "output-written")


def install(step: str, signal_file: Path) -> None:
    """Patch the library so that the process stops at ``step``."""
    if step not in CLEANUP_STEPS + THAW_STEPS + OTHER_STEPS:
        raise SystemExit(f"unknown step: {step}")
    seconds = float(os.environ.get("PAUSED_AIMEM_SECONDS", "600"))

    def pause(name: str) -> None:
        if name == step:
            signal_file.write_text(name)
            time.sleep(seconds)  # a crash test kills the process long before

    encode_segment = archive.encode_segment
    verify_written = archive.verify_written
    add_pending = Store.add_pending
    commit_segments = Store.commit_segments
    thaw_segment = Store.thaw_segment
    replace = os.replace
    snapshot_to = snapshot.snapshot_to
    sync_output = fsutil._sync_output

    def paused_snapshot_to(*args: Any, **kwargs: Any) -> Any:
        result = snapshot_to(*args, **kwargs)
        pause("backup-snapshot-taken")
        return result

    def paused_sync_output(handle: Any) -> None:
        pause("output-written")
        sync_output(handle)

    def paused_encode_segment(*args: Any, **kwargs: Any) -> Any:
        pause("selected")
        result = encode_segment(*args, **kwargs)
        pause("encoded")
        return result

    def paused_add_pending(self: Store, name: str, action: str, *args: Any) -> None:
        add_pending(self, name, action, *args)
        if action == "cleanup":
            pause("pending")

    def paused_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        segment = Path(dst).parent.name == ARCHIVE_NAME
        if segment:
            pause("temp-written")
        replace(src, dst, *args, **kwargs)
        if segment:
            pause("renamed")

    def paused_verify_written(*args: Any, **kwargs: Any) -> Any:
        problem = verify_written(*args, **kwargs)
        if problem is None:
            pause("verified")
        return problem

    def paused_commit_segments(self: Store, segments: Any, ids: Any, *_: Any) -> None:
        commit_segments(self, segments, ids, lambda: pause("before-commit"))
        pause("committed")

    def paused_thaw_segment(self: Store, name: str, attempts: Any, *_: Any) -> dict[str, int]:
        counts = thaw_segment(self, name, attempts, lambda: pause("thaw-before-commit"))
        pause("thaw-committed")
        return counts

    patches: list[tuple[Any, str, Callable[..., Any]]] = [
        (archive, "encode_segment", paused_encode_segment),
        (archive, "verify_written", paused_verify_written),
        (os, "replace", paused_replace),
        (Store, "add_pending", paused_add_pending),
        (Store, "commit_segments", paused_commit_segments),
        (Store, "thaw_segment", paused_thaw_segment),
        (snapshot, "snapshot_to", paused_snapshot_to),
        (fsutil, "_sync_output", paused_sync_output),
    ]
    for owner, name, function in patches:
        setattr(owner, name, function)


if __name__ == "__main__":
    install(sys.argv[1], Path(sys.argv[2]))
    from aimem.cli import main

    sys.argv = ["aimem", *sys.argv[3:]]
    main()

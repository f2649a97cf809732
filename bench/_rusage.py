"""Measure one command: wall seconds, CPU seconds and its own peak RSS.

    python bench/_rusage.py REPORT.json COMMAND [ARGS ...]

Why a launcher: on Linux a child's ``ru_maxrss`` (from ``os.wait4``) starts at
the resident size of the process that spawned it (``exec`` records the old
address space's high-water mark), so every command the bench ran reported at
least the bench's own size (311 MiB in one run: the bench process had grown
while generating data). This small process spawns the command instead, so
the figure belongs to the command (with this launcher's ~10 MiB as a floor).
stdin, stdout and stderr are the command's; the figures go to REPORT.json.
``measure()`` is the in-process entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve()


def measure(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = subprocess.DEVNULL,
) -> dict[str, Any]:
    """Run ``argv`` through the launcher: {exit, seconds, cpu_seconds, peak_rss_mib}."""
    with tempfile.TemporaryDirectory(prefix="aimem-rusage-") as tmp:
        report = Path(tmp) / "report.json"
        launcher = subprocess.run(
            [sys.executable, "-S", str(HERE), str(report), *argv],
            env=env,
            stdout=stdout,
            stderr=stderr,
            close_fds=True,
            check=False,
        )
        if not report.exists():
            raise RuntimeError(f"bench: could not run {argv} (launcher {launcher.returncode})")
        return dict(json.loads(report.read_text()))


def main(argv: list[str]) -> int:
    report, command = argv[0], argv[1:]
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as error:
        Path(report).write_text(json.dumps({"exit": 127, "error": str(error)}))
        return 127
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    Path(report).write_text(
        json.dumps(
            {
                "exit": code,
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,
            }
        )
    )
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

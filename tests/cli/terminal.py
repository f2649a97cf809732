"""Running aimem on a real terminal (a pty) of a given size."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios


def run_on_terminal(
    args: list[str], env: dict[str, str], columns: int = 80, rows: int = 24
) -> tuple[int, str]:
    """(exit code, what the terminal showed) of ``aimem ARGS`` on a real pty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "aimem", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            process.kill()
            raise AssertionError(f"aimem {args} hung")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = process.wait(timeout=30)
    return code, b"".join(chunks).decode().replace("\r\n", "\n")

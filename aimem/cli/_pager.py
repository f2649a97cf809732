"""Long listings on a terminal go through a pager, as git's do.

The pager is ``$AIMEM_PAGER``, else ``$PAGER``, else ``less``; ``cat`` or an
empty value means none. It runs only when stdout is a terminal and not under
``--no-pager``. ``less`` gets ``LESS=FRX`` unless ``LESS`` is set: it quits at
once when the output fits one screen (F), shows colours (R) and leaves the
output on the screen (X). A pager that cannot be started is skipped: the
output is written as it would be without one. Quitting the pager before the
end is not an error.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextvars import ContextVar

PAGER_ENV = "AIMEM_PAGER"
LESS_DEFAULTS = "FRX"

# Set by the root's --no-pager for one invocation.
NO_PAGER: ContextVar[bool] = ContextVar("aimem_no_pager", default=False)

# The commands whose output people read at length (listings and reports).
# Commands that ask questions (check --repair, cleanup --purge, restore) or
# write data for programs (export, record) are never paged.
PAGED = frozenset(
    {
        "models",
        "recent",
        "show",
        "successful",
        "patterns",
        "analytics",
        "similar",
        "context",
        "search",
        "model",
        "suggest",
        "alerts",
        "kb show",
        "archive list",
        "backup list",
    }
)


def pager_command() -> list[str] | None:
    """The pager to run, split as a shell would; None for no pager."""
    for name in (PAGER_ENV, "PAGER"):
        value = os.environ.get(name)
        if value is not None:
            break
    else:
        value = "less"
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    if not words or words == ["cat"]:
        return None
    return words


def _on_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class _ToPager(io.TextIOWrapper):
    """stdout while a pager shows it: still a terminal to whoever asks (tables
    fit the width, colour stays on), as the pager passes it through."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def paged(command: str) -> Iterator[None]:
    """Run the body with stdout going to the pager, when ``command`` (its path
    below the root, ``kb show``) pages."""
    words = pager_command() if command in PAGED and not NO_PAGER.get() else None
    if words is None or not _on_terminal():
        yield
        return
    env = dict(os.environ)
    env.setdefault("LESS", LESS_DEFAULTS)
    env.setdefault("LV", "-c")
    try:
        # The width is the terminal's, measured before stdout becomes a pipe.
        width = os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        width = 0
    if width > 0:
        env.setdefault("COLUMNS", str(width))
    terminal = sys.stdout
    terminal.flush()
    try:
        pager = subprocess.Popen(words, stdin=subprocess.PIPE, env=env)
    except OSError:  # not installed, not executable: the output is shown without it
        yield
        return
    assert pager.stdin is not None
    stream = _ToPager(
        pager.stdin,
        encoding=terminal.encoding,
        errors=terminal.errors,
        line_buffering=False,
    )
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = env.get("COLUMNS", "")
    sys.stdout = stream
    try:
        yield
        stream.flush()
    except BrokenPipeError:
        pass  # the reader quit the pager before the end: nothing went wrong
    finally:
        sys.stdout = terminal
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
        with contextlib.suppress(OSError, ValueError):
            stream.close()
        _wait(pager)


def _wait(pager: subprocess.Popen[bytes]) -> None:
    # Ctrl-C reaches the pager too, which decides what it means (less stays):
    # the command's output is over, so wait for the reader to finish reading.
    while True:
        try:
            pager.wait()
            return
        except KeyboardInterrupt:
            continue

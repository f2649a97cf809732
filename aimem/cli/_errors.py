"""How failures reach the user: one line on stderr and an exit code.

Used by the typer app (``AimemGroup.main``), the one place where failures
become exit codes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from aimem.errors import KnowledgeFileWarning


def debug() -> bool:
    """``AIMEM_DEBUG=1``: let exceptions through for a traceback."""
    return os.environ.get("AIMEM_DEBUG", "") not in ("", "0")


def error_line(message: str, hint: str | None = None) -> None:
    """``aimem: error: MESSAGE`` (and ``hint: HINT``), each one line, controls escaped."""
    from aimem.cli._output import printable

    sys.stderr.write(f"aimem: error: {printable(message)}\n")
    if hint:
        sys.stderr.write(f"hint: {printable(hint)}\n")
    sys.stderr.flush()


def quiet_stdout() -> None:
    """A closed pipe (aimem ... | head) is not an error worth a message or traceback.

    stdout's file descriptor is pointed at /dev/null too: what is still
    buffered is flushed there at exit instead of failing a second time.
    """
    with contextlib.suppress(OSError, ValueError):  # ValueError: no file descriptor (tests)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    with contextlib.suppress(OSError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


def internal_error_line(failure: Exception) -> None:
    error_line(
        f"internal error: {type(failure).__name__}: {failure} (set AIMEM_DEBUG=1 for a traceback)"
    )


@contextlib.contextmanager
def aftermath_warnings() -> Iterator[None]:
    """Show ``KnowledgeFileWarning`` (the write succeeded, a file could not follow) as
    ``aimem: warning: ...`` on stderr, every time; other warnings as Python shows them."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", KnowledgeFileWarning)
        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *rest: Any, **extra: Any) -> None:
            if issubclass(category, KnowledgeFileWarning):
                sys.stderr.write(f"aimem: warning: {message}\n")
                sys.stderr.flush()
            else:
                shown(message, category, *rest, **extra)

        warnings.showwarning = show
        yield

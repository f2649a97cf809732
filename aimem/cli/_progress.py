"""A tiny progress counter on stderr: only on a terminal, without NO_COLOR and without -q."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from aimem.cli._output import colour_allowed, quiet


def counter(label: str) -> Callable[[int], None] | None:
    """A callback printing ``label: N`` (at most ~10 times a second), or None when not allowed."""
    if quiet() or not colour_allowed(sys.stderr):
        return None
    last = [0.0]

    def show(count: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            sys.stderr.write(f"\r{label}: {count}")
            sys.stderr.flush()

    return show


def done(progress: Callable[..., None] | None) -> None:
    """End the progress line (if one was shown)."""
    if progress is not None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def bar(label: str, width: int = 24) -> Callable[[int, int], None] | None:
    """A callback drawing ``label [####    ] N/TOTAL`` (at most ~10 times a second, and
    once complete), or None when not allowed (as ``counter``)."""
    if quiet() or not colour_allowed(sys.stderr):
        return None
    last = [0.0]

    def show(count: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1 or count >= total:
            last[0] = now
            filled = width if total <= 0 else min(width, width * count // total)
            drawn = "#" * filled + " " * (width - filled)
            sys.stderr.write(f"\r{label} [{drawn}] {count}/{total}")
            sys.stderr.flush()

    return show

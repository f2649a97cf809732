"""The click that typer uses (typer 0.28 vendors it as ``typer._click``)."""

from __future__ import annotations

from typer import _click as click
from typer._click import exceptions as click_exceptions
from typer._click import types as click_types

__all__ = ["click", "click_exceptions", "click_types"]

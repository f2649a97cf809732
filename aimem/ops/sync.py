"""Remotes, push and pull: records moved between two repositories by uid.

Invariants:
- A record is known by its uid. A transfer compares uids, a page at a time,
  and sends exactly the records the receiving side lacks; a uid stored there
  in any form (hot, archived, or purged) counts as present. Nothing but the
  uids is trusted: there is no remembered position that could skip a record.
- The receiving side stores each batch of records in ONE transaction through
  ``transfer.import_rows``, the path ``aimem import`` takes: the same
  validation, redaction, templates and learned aggregates as a record made
  there. A transfer killed at any moment leaves whole batches; the next one
  sends what is still missing, so nothing is lost or stored twice.
- The sending side's archived records (``rows`` segments, each verified
  against its sha256) are sent as records too, and the receiver stores them
  hot (its own ``aimem cleanup`` may archive them again), so the learned state
  matches. Purged records are not sent: their text is gone.
- Remotes live in the repository's meta table (key ``remotes``, a JSON object
  of name -> target), changed in one write transaction. A target is an
  absolute folder path or a PostgreSQL URL, never with its password (libpq's
  PGPASSWORD or ~/.pgpass supplies that).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from aimem.errors import AimemError, InvalidInputError, NotFoundError
from aimem.ops.transfer import import_rows
from aimem.store.url import display_url, is_database_url

if TYPE_CHECKING:
    from aimem.store import Store

REMOTES_KEY = "remotes"
DEFAULT_REMOTE = "origin"
# uids compared per round trip; records per receiving transaction. Larger
# batches pay the aggregate ranking less often; an interrupted transfer redoes
# at most one batch.
COMPARE = 5_000
BATCH = 20_000
SUMMARY_KEYS = ("direction", "remote", "url", "records", "sent", "skipped", "seconds", "dry_run")
Progress = Callable[[int, int], None]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Repository(Protocol):
    """One side of a transfer (``AIMemory`` is one)."""

    store: Store
    redact_secrets: bool

    def iter_archived_rows(self) -> Iterator[dict[str, Any]]: ...


# ---- targets ------------------------------------------------------------------


def is_url(target: str) -> bool:
    """Whether a remote target is a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    return is_database_url(target)


def normalize_target(target: str) -> str:
    """What a remote stores: a URL without its password, or an absolute folder path."""
    if not isinstance(target, str) or not target.strip():
        raise InvalidInputError("target", "must be a folder or a postgresql:// URL")
    if "\n" in target or "\r" in target or "\x00" in target:
        raise InvalidInputError("target", "must be one line")
    if is_url(target):
        return display_url(target)
    if "://" in target:
        raise InvalidInputError(
            "target",
            f"{target.split('://', 1)[0]}:// is not supported",
            hint="a remote is a folder or a postgresql:// URL",
        )
    return str(Path(target).expanduser().absolute())


def check_name(name: str) -> str:
    """A remote name as git allows one: letters, digits, ``.``, ``_``, ``-`` (up to 64)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            "name",
            f"{name!r} is not a valid remote name",
            hint="use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


# ---- the remote list ------------------------------------------------------------


def _parse(value: str | None) -> dict[str, str]:
    if value is None:
        return {}
    try:
        stored = orjson.loads(value)
    except orjson.JSONDecodeError:
        stored = None
    if not isinstance(stored, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in stored.items()
    ):
        from aimem.errors import CorruptRepositoryError

        raise CorruptRepositoryError(
            "the stored list of remotes is not a JSON object of names and targets",
            hint="remove the 'remotes' row of aimem_meta, then add the remotes again",
        )
    return stored


def _dump(remotes: dict[str, str]) -> str | None:
    return orjson.dumps(dict(sorted(remotes.items()))).decode() if remotes else None


def remotes(store: Store) -> list[dict[str, str]]:
    """Every remote, by name: ``[{name, url}]``."""
    return [{"name": n, "url": t} for n, t in sorted(_parse(store.get_meta(REMOTES_KEY)).items())]


def _unknown(name: str, known: Iterable[str]) -> NotFoundError:
    names = sorted(known)
    return NotFoundError(
        f"no such remote: {name!r}",
        hint=f"known remotes: {', '.join(names)}" if names else "add one with 'aimem remote add'",
    )


def add_remote(store: Store, name: str, target: str) -> dict[str, str]:
    """Add a remote (refused when the name is taken); return ``{name, url}``."""
    check_name(name)
    url = normalize_target(target)

    def change(value: str | None) -> str | None:
        current = _parse(value)
        if name in current:
            raise AimemError(
                f"remote {name!r} already exists ({current[name]})",
                hint=f"remove it first with 'aimem remote remove {name}'",
            )
        return _dump({**current, name: url})

    store.update_meta(REMOTES_KEY, change)
    return {"name": name, "url": url}


def remove_remote(store: Store, name: str) -> dict[str, str]:
    """Remove a remote; return what it was (``{name, url}``)."""
    removed: list[str] = []

    def change(value: str | None) -> str | None:
        current = _parse(value)
        if name not in current:
            raise _unknown(name, current)
        removed.append(current.pop(name))
        return _dump(current)

    store.update_meta(REMOTES_KEY, change)
    return {"name": name, "url": removed[0]}


def rename_remote(store: Store, old: str, new: str) -> dict[str, str]:
    """Rename a remote; return ``{name, url}`` under the new name."""
    check_name(new)
    moved: list[str] = []

    def change(value: str | None) -> str | None:
        current = _parse(value)
        if old not in current:
            raise _unknown(old, current)
        if new != old and new in current:
            raise AimemError(f"remote {new!r} already exists ({current[new]})")
        moved.append(current.pop(old))
        return _dump({**current, new: moved[0]})

    store.update_meta(REMOTES_KEY, change)
    return {"name": new, "url": moved[0]}


def resolve(store: Store, name: str | None) -> tuple[str, str]:
    """(name, target) of the remote ``name``; without a name, ``origin`` or the only one."""
    current = _parse(store.get_meta(REMOTES_KEY))
    if name is None:
        if DEFAULT_REMOTE in current or len(current) != 1:
            name = DEFAULT_REMOTE
        else:
            name = next(iter(current))
        if not current:
            raise AimemError(
                "this repository has no remotes yet",
                hint="add one with 'aimem remote add origin TARGET'",
            )
        if name not in current:
            raise AimemError(
                f"no remote named, and none of the {len(current)} remotes is 'origin'",
                hint=f"name one of {', '.join(sorted(current))} (aimem push NAME, aimem pull NAME)",
            )
    if name not in current:
        raise _unknown(name, current)
    return name, current[name]


# ---- transfer ---------------------------------------------------------------------


def _pages(sender: Repository) -> Iterator[tuple[list[dict[str, Any]], list[tuple[int, str]]]]:
    """The sender's records a page at a time, as (rows, pairs): archived records
    come as whole rows, then hot ones as ``(id, uid)`` pairs in id order (their
    rows are read only when the receiver lacks them)."""
    from aimem.ops.archive import KIND_ROWS

    page: list[dict[str, Any]] = []
    archived = sender.iter_archived_rows() if sender.store.segments(KIND_ROWS) else iter(())
    for row in archived:
        page.append(row)
        if len(page) >= COMPARE:
            yield page, []
            page = []
    if page:
        yield page, []
    after = 0
    while pairs := sender.store.uid_page(after, COMPARE):
        yield [], pairs
        after = pairs[-1][0]


def _total(sender: Repository) -> int:
    from aimem.ops.archive import KIND_ROWS

    archived = sum(int(s["row_count"]) for s in sender.store.segments(KIND_ROWS))
    return sender.store.count_rows() + archived


def transfer(
    sender: Repository,
    receiver: Repository,
    *,
    direction: str,
    remote: str,
    url: str,
    dry_run: bool = False,
    progress: Progress | None = None,
    committed: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Send every record ``receiver`` lacks; return the summary (``SUMMARY_KEYS``).

    ``records`` is what the sender holds (hot and archived), ``sent`` what the
    receiver stored (or, with ``dry_run``, would store), ``skipped`` the rest
    (already there). ``committed`` is called after each batch the receiver
    stored. ``progress(done, total)`` follows the records compared.
    """
    started = time.monotonic()
    total = _total(sender)
    source = f"{url} (fix_history id)"
    examined = sent = 0
    pending: list[dict[str, Any]] = []

    def flush(least: int) -> None:
        """Store whole batches while at least ``least`` records wait."""
        nonlocal sent
        while pending and len(pending) >= least:
            batch = pending[:BATCH]
            del pending[:BATCH]
            if dry_run:
                sent += len(batch)
                continue
            _read, added = import_rows(
                receiver.store,
                ((int(row.get("id") or 0), row) for row in batch),
                source,
                redact=receiver.redact_secrets,
            )
            sent += added
            if added and committed is not None:
                committed()

    if progress:
        progress(0, total)
    for rows, pairs in _pages(sender):
        if rows:
            missing = receiver.store.missing_uids([str(r.get("uid")) for r in rows])
            pending += [r for r in rows if r.get("uid") in missing]
        if pairs:
            missing = receiver.store.missing_uids([uid for _, uid in pairs])
            if dry_run:
                sent += len(missing)  # counted: a dry run reads no rows
            elif missing:
                pending += sender.store.rows_by_id([i for i, uid in pairs if uid in missing])
        examined += len(rows) + len(pairs)
        flush(BATCH)
        if progress:
            progress(examined, max(total, examined))
    flush(1)
    summary = {
        "direction": direction,
        "remote": remote,
        "url": url,
        "records": examined,
        "sent": sent,
        "skipped": examined - sent,
        "seconds": round(time.monotonic() - started, 3),
        "dry_run": dry_run,
    }
    return summary

"""The knowledge base: what has been learned per issue type and signature.

Its truth lives in the database (derived from the aggregates, plus entries
imported from other knowledge base files), so it is updated in the same
transaction as every attempt. ``knowledge_base.json`` is its file form,
rewritten atomically under an inter-process lock when it is stale: when a
process that wrote closes or exits, when statistics are read, or on demand.
aimem never overwrites a file it did not write last: a corrupt or hand-edited
file is reported instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from aimem.errors import CorruptRepositoryError, InvalidInputError
from aimem.fsutil import atomic_write, file_lock
from aimem.learn.stats_math import rate
from aimem.paths import Layout
from aimem.store import Store
from aimem.timeutil import now_iso

FORMAT = "aimem-knowledge-base"
VERSION = 1
MAX_SIGNATURES = 2000
RESERVED_KEYS = ("format", "version", "generation", "updated_at")


def render(store: Store) -> dict[str, Any]:
    """The knowledge base as a JSON-ready dict, from the database."""
    issue_types: dict[str, Any] = {}
    for row in store.totals_by("issue_type"):
        name = row["issue_type"]
        issue_types[name] = {
            "attempts": row["attempts"],
            "successes": row["successes"],
            "success_rate": round(rate(row["successes"], row["attempts"]), 4),
            "best_fixes": [
                {
                    "fix_commands": o["fix_commands"],
                    "successes": o["successes"],
                    "attempts": o["attempts"],
                }
                for o in store.fix_outcomes("type", name, limit=3, min_successes=1)
            ],
            "notes": [note for _, note in store.notes_for_type(name, 3)],
        }
    signatures: dict[str, Any] = {}
    learned, learned_total = store.learned_patterns(MAX_SIGNATURES)
    for pattern in learned:
        attempts = pattern["success_count"] + pattern["failure_count"]
        signatures[pattern["issue_signature"]] = {
            "pattern_name": pattern["pattern_name"],
            "issue_type": pattern["issue_type"],
            "model_family": pattern["model_family"],
            "attempts": attempts,
            "successes": pattern["success_count"],
            "best_fix": pattern["best_fix"],
            "last_seen": pattern["last_seen"],
        }
    return {
        "format": FORMAT,
        "version": VERSION,
        "generation": store.generation(),
        "issue_types": issue_types,
        "signatures": signatures,
        "signatures_omitted": max(0, learned_total - len(learned)),
        "imported": store.kb_imported(),
    }


def parse_file(path: Path) -> Any:
    """Read a JSON file, naming the line of a syntax error; nesting within the input limit."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError("", "no such file", str(path)) from None
    except OSError as error:
        raise InvalidInputError("", f"cannot read: {error.strerror}", str(path)) from None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInputError("", f"invalid JSON: {error.msg}", str(path), error.lineno) from None
    from aimem import input_limits

    # Merging and storing walk it recursively (orjson writes at most 254 levels).
    if input_limits.exceeds_depth(document):
        raise InvalidInputError(
            "", f"is nested deeper than {input_limits.MAX_DEPTH} levels", str(path)
        )
    return document


def _deep_merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _deep_merge(old.get(key), value) if key in old else value
        return merged
    return new


def merge_entries(
    store: Store, external: Any, source: str, *, redact: bool = True
) -> dict[str, Any]:
    """Merge an external knowledge base (as ``knowledge_base.update`` did in the seed system).

    Top-level entries are deep-merged into the imported part; an aimem knowledge
    base file contributes its learned sections under their own names. With
    ``redact``, secrets in the entries are replaced as in recorded attempts
    (``aimem.redact``) before anything is stored.
    """
    if not isinstance(external, dict):
        raise InvalidInputError("", "a knowledge base must be a JSON object", source, 1)
    if external.get("format") == FORMAT:
        entries = dict(external.get("imported") or {})
        for section in ("issue_types", "signatures"):
            if external.get(section):
                entries[f"{section}"] = external[section]
    else:
        entries = {k: v for k, v in external.items() if k not in RESERVED_KEYS}
    if redact:
        from aimem.redact import redact_value

        entries = redact_value(entries)
    current = store.kb_imported()
    merged = {
        key: _deep_merge(current.get(key), value) if key in current else value
        for key, value in entries.items()
    }
    store.kb_merge_imported(merged, now_iso())
    return {"source": source, "entries": len(merged), "keys": sorted(merged)}


def _fingerprint(path: Path) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    import hashlib  # here, not at import: read-only commands skip loading OpenSSL

    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


class KnowledgeFile:
    """``knowledge_base.json`` of one repository."""

    def __init__(self, layout: Layout | None, store: Store, *, redact: bool = True) -> None:
        # None: a repository without the file (on PostgreSQL the database alone
        # holds the knowledge base; 'kb export' writes a file on demand).
        self.path: Path | None = None if layout is None else layout.knowledge_base
        self.lock: Path | None = None if layout is None else layout.lock
        self.store = store
        self.redact = redact

    def state(self) -> str:
        """One of: missing, current, stale, modified (edited outside aimem), corrupt."""
        if self.path is None:
            return "current"
        recorded = self._recorded()
        actual = _fingerprint(self.path)
        if actual is None:
            return "missing"
        if recorded is None or recorded.get("sha256") != actual["sha256"]:
            pending = self._recorded("kb_file_pending")
            if pending is not None and pending.get("sha256") == actual["sha256"]:
                # aimem wrote this file but was stopped before recording that it did.
                current = pending.get("generation") == self.store.generation()
                return "current" if current else "stale"
            try:
                orjson.loads(self.path.read_bytes())
            except orjson.JSONDecodeError:
                return "corrupt"
            return "modified"
        return "current" if recorded.get("generation") == self.store.generation() else "stale"

    def stale_mark(self) -> bool:
        """Whether the file was last written for an older history (or never), by
        the generation recorded when aimem wrote it: no file read, no hashing."""
        if self.path is None:
            return False
        recorded = self._recorded()
        return recorded is None or recorded.get("generation") != self.store.generation()

    def _recorded(self, key: str = "kb_file") -> dict[str, Any] | None:
        text = self.store.get_meta(key)
        return None if text is None else dict(orjson.loads(text))

    def adopt_legacy(self) -> bool:
        """Import a knowledge base the seed system left, keeping a copy of it.

        Returns True when a legacy file was adopted.
        """
        if self.path is None or self._recorded() is not None or not self.path.exists():
            return False
        assert self.lock is not None
        with file_lock(self.lock):
            if self._recorded() is not None:
                return False
            try:
                content = orjson.loads(self.path.read_bytes())
            except orjson.JSONDecodeError:
                return False  # reported by check; never overwritten
            if isinstance(content, dict) and content.get("format") != FORMAT:
                backup = self.path.with_name(self.path.name + ".legacy")
                if not backup.exists():
                    atomic_write(backup, self.path.read_bytes(), into_special=False)
                merge_entries(self.store, content, str(self.path), redact=self.redact)
            else:
                # An aimem file this database has no record of (the database was
                # replaced or re-created): keep it before writing the new one.
                orphan = self.path.with_name(self.path.name + ".orphan")
                if orphan.exists():
                    orphan = self.path.with_name(f"{self.path.name}.orphan-{os.getpid()}")
                atomic_write(orphan, self.path.read_bytes(), into_special=False)
            self._write()
        return True

    def sync(self, force: bool = False) -> str:
        """Rewrite the file if it is stale; return its state afterwards.

        A corrupt or hand-edited file is left alone (state ``corrupt`` or
        ``modified``) unless ``force``, which keeps a copy of it first.
        """
        state = self.state()
        if state == "current":
            return state
        assert self.path is not None and self.lock is not None
        with file_lock(self.lock):
            state = self.state()
            if state in ("corrupt", "modified"):
                if not force:
                    return state
                keep = self.path.with_name(f"{self.path.name}.{state}-{os.getpid()}")
                atomic_write(keep, self.path.read_bytes(), into_special=False)
            if state != "current":
                self._write()
        return "current"

    def _write(self) -> None:
        # The render and its generation come from one read transaction.
        with self.store.read_snapshot():
            document = render(self.store)
        document["updated_at"] = now_iso()
        data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        import hashlib

        record = orjson.dumps(
            {
                "generation": document["generation"],
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        ).decode()
        # Announced before the rename, so a kill between the rename and the final
        # record still leaves a file aimem knows as its own (not "modified" forever).
        self.store.set_meta("kb_file_pending", record)
        # The repository's own file: whatever stands in its place is replaced.
        assert self.path is not None
        atomic_write(self.path, data, into_special=False)
        self.store.set_meta("kb_file", record)

    def load(self) -> dict[str, Any]:
        """The file's content, or CorruptRepositoryError naming the problem."""
        if self.path is None:
            return render(self.store)
        try:
            content = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return render(self.store)
        except orjson.JSONDecodeError as error:
            raise CorruptRepositoryError(
                f"{self.path}:{error.lineno}: invalid JSON: {error.msg}",
                hint="run 'aimem check --repair' to regenerate it (a copy is kept)",
            ) from None
        if not isinstance(content, dict):
            raise CorruptRepositoryError(f"{self.path}: not a JSON object")
        return content

    def size(self) -> int:
        """Size in bytes of the knowledge base file (``knowledge_base_size`` in stats);
        without a file, of the document ``kb export`` would write."""
        if self.path is None:
            document = render(self.store)
            document["updated_at"] = now_iso()
            return len(orjson.dumps(document, option=orjson.OPT_INDENT_2)) + 1
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

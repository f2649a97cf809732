"""``AIMemory``: the Python API over one repository folder.

It composes the store (SQL), learning (patterns), analytics, context and the
knowledge base. Every method returns plain JSON-ready values. One instance
owns one database connection (SQLite, or PostgreSQL for a repository whose
config names one); use one instance per thread. ``knowledge_base.json``
follows every write: ``close()`` (or ``with AIMemory() as memory:``) brings it up
to date, and so does the end of a process that never closed (an exit hook),
and ``get_memory_stats()`` right away.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import orjson

from aimem.errors import (
    AimemError,
    CorruptRepositoryError,
    InvalidInputError,
    KnowledgeFileWarning,
    NotFoundError,
)
from aimem.fsutil import atomic_output, atomic_write
from aimem.learn import advice, alerts, analytics, context, learning
from aimem.learn.knowledge import KnowledgeFile, merge_entries, parse_file
from aimem.learn.search import to_match_query
from aimem.learn.signatures import generate_fingerprint, normalize_issue_type
from aimem.learn.signatures import generate_issue_signature as _signature
from aimem.learn.stats_math import confidence, rank_by_wilson, rate, wilson_interval
from aimem.learn.templates import fill, other_model_finder
from aimem.paths import (
    DATABASE_VARIABLE,
    FILE_MODE,
    KNOWLEDGE_BASE_NAME,
    Layout,
    Location,
    create_layout,
    locate,
)
from aimem.records import Attempt, attempt_from_call, normalize_fixer, performance_note
from aimem.store import open_store
from aimem.timeutil import SINCE_HINT, days_ago_iso, since_timestamp

if TYPE_CHECKING:
    from aimem.ops import maintenance as maintenance_types
    from aimem.ops.backup import Retention

STATS_KEYS = (
    "total_fixes_attempted",
    "successful_fixes",
    "success_rate",
    "models_encountered",
    "issue_types_seen",
    "recent_activity_7days",
    "knowledge_base_size",
    "memory_directory",
)
MAX_LIMIT = 10_000


def _sync_at_exit(ref: weakref.ref[AIMemory], layout: Layout) -> None:
    """Bring ``knowledge_base.json`` up to date for an instance that wrote and was
    never closed. Nobody is left to tell of a failure: the file then stays
    stale, and the next ``get_memory_stats`` or ``close`` rewrites it."""
    memory = ref()
    if memory is not None and getattr(memory, "store", None) is not None:
        try:
            memory.close()
            return
        except Exception:
            pass  # e.g. its connection belongs to another thread: use a new one
    if not layout.database.is_file():
        return  # removed since: opening would make a new, empty one
    try:
        store = open_store(layout.database)
        try:
            KnowledgeFile(layout, store).sync()
        finally:
            store.close()
    except Exception:
        pass


def _check_limit(limit: Any, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1 or limit > MAX_LIMIT:
        raise InvalidInputError(name, f"must be a whole number from 1 to {MAX_LIMIT}")
    return limit


_T = TypeVar("_T")
# The shape of one attempt as record_many (and 'aimem record --input') reads it.
ATTEMPT_EXAMPLE = (
    'an attempt looks like {"issue_data": {"model": "qwen2.5:7b", "issue_type": "TIMEOUT", '
    '"description": "timeout after 30s"}, "ai_response": {"fix_commands": ["ollama pull '
    'qwen2.5:7b"]}, "fix_success": true, "verification_success": false}'
)


@contextmanager
def closed_after(items: Iterator[_T]) -> Iterator[Iterator[_T]]:
    """``items``, closed on the way out when it is a generator (its cursors with it)."""
    try:
        yield items
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _check_destination(output_file: str | os.PathLike[str]) -> None:
    """An output file's name must name a file: not empty, not a folder."""
    name = os.fspath(output_file)
    if not str(name).strip():
        raise InvalidInputError("file", "must not be empty")
    if os.path.isdir(name):
        raise InvalidInputError("", "is a folder, not a file", str(name))


def _write_file(output_file: str | os.PathLike[str], data: bytes) -> None:
    """atomic_write, with a missing folder or a refused write as a one-line error."""
    _check_destination(output_file)
    try:
        atomic_write(Path(output_file), data)
    except OSError as error:
        raise _cannot_write(output_file, error) from None


def _cannot_write(output_file: str | os.PathLike[str], error: OSError) -> InvalidInputError:
    """``FILE: cannot write: why`` for an output file (a missing folder, say)."""
    return InvalidInputError("", f"cannot write: {error.strerror or error}", str(output_file))


class AIMemory:
    """The memory of an AI auto-fix framework, stored in one repository folder.

    ``memory_dir`` is the repository folder itself (``AIMemory/``) or a folder
    holding one; when omitted it is ``$AIMEM_DIR``, else the nearest
    ``AIMemory/`` in the current folder or a parent, else ``./AIMemory``. An
    ``aimem.paths.Location`` (``locate()``) says the same and names the setting
    in errors. With ``create=False`` a missing repository raises
    NotARepositoryError instead of being created.

    A repository folder whose ``config.json`` names a PostgreSQL database opens
    that database. ``db`` (a ``postgresql://`` URL; default ``$AIMEM_DB`` when
    ``memory_dir`` is not given either) opens a database directly, overriding
    ``config.json``, and needs no folder at all. The password comes from
    libpq's usual places or the URL, and is never shown (``database_url`` and
    ``memory_dir`` carry the URL without it).
    """

    def __init__(
        self,
        memory_dir: str | os.PathLike[str] | Location | None = None,
        *,
        create: bool = True,
        redact_secrets: bool | None = None,
        db: str | None = None,
    ) -> None:
        from aimem.store.url import display_url, is_database_url

        location = memory_dir if isinstance(memory_dir, Location) else locate(memory_dir)
        if db is None and memory_dir is None:
            db = os.environ.get(DATABASE_VARIABLE) or None
        if db is not None and not is_database_url(db):
            raise InvalidInputError(
                "database", "must be a URL starting with postgresql:// or postgres://"
            )
        found = location.find()
        url = db
        self._layout: Layout | None
        if url is not None:
            # A URL given here overrides config.json, and needs no folder.
            self._layout = Layout(found) if found is not None else None
        elif found is not None and (configured := Layout(found).database_url()) is not None:
            self._layout = Layout(found)
            url = configured
        elif create:
            self._layout = create_layout(found or location.to_create())
            fresh = not self._layout.database.exists()
            if fresh:
                os.close(os.open(self._layout.database, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        else:
            self._layout = location.require()
            if self._layout.database.stat().st_size == 0:
                # Opening would silently make it a new, blank database (found by
                # tests/reliability/test_faults.py): refuse; 'aimem init' re-creates.
                raise CorruptRepositoryError(
                    f"{self._layout.database} is empty (0 bytes): the history is missing",
                    hint="restore a backup, or run 'aimem init' to start a blank history "
                    "(the knowledge base file is kept as knowledge_base.json.orphan)",
                )
        if redact_secrets is None:
            redact_secrets = os.environ.get("AIMEM_REDACT", "1") not in ("0", "false", "no", "off")
        self.redact_secrets = redact_secrets
        self.database_url = None if url is None else display_url(url)
        if url is None:
            assert self._layout is not None
            self.memory_dir: Path | str = self._layout.root
            self.store = open_store(self._layout.database)
        else:
            self.memory_dir = self._layout.root if self._layout is not None else display_url(url)
            self.store = open_store(url)
        # On PostgreSQL the knowledge base lives in the database alone; 'kb
        # export' writes it to a file on demand.
        self.knowledge_file = KnowledgeFile(
            None if url is not None else self._layout, self.store, redact=self.redact_secrets
        )
        self._wrote = False
        self._exit_hook: Callable[[], None] | None = None
        self.knowledge_file.adopt_legacy()
        self._finish_half_done()

    # ---- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Bring ``knowledge_base.json`` up to date (if this instance wrote) and close."""
        if getattr(self, "store", None) is None:
            return
        if self._exit_hook is not None:
            import atexit

            atexit.unregister(self._exit_hook)
            self._exit_hook = None
        try:
            if self._wrote:
                self._sync_after_write()
        finally:
            self.store.close()
            self.store = None  # type: ignore[assignment]

    def _sync_after_write(self) -> None:
        # What was written is committed: a file that cannot follow (a full disk)
        # must not make the write look failed, or a retry would store it twice.
        # The file stays stale (never half-written) until the next sync.
        try:
            self.knowledge_file.sync()
        except (AimemError, OSError) as error:
            import warnings

            warnings.warn(
                KnowledgeFileWarning(
                    f"the changes are stored, but {KNOWLEDGE_BASE_NAME} could not be "
                    f"updated ({error}); the next write or 'aimem check --repair' updates it"
                ),
                stacklevel=3,
            )

    def _written(self) -> None:
        """Note a committed write: the knowledge base file is now stale."""
        if self._wrote:
            return
        self._wrote = True
        # The seed API's usage records and never closes: the file is then
        # brought up to date when the process exits. Registered once per
        # instance, so recording pays nothing more for it.
        if self.knowledge_file.path is None:
            return  # no file to bring up to date
        import atexit

        self._exit_hook = functools.partial(_sync_at_exit, weakref.ref(self), self.layout)
        atexit.register(self._exit_hook)

    def __enter__(self) -> AIMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def layout_info(self) -> Layout:
        return self._folder()

    # ---- recording --------------------------------------------------------

    def record_fix_attempt(
        self,
        issue_data: Mapping[str, Any],
        ai_response: Mapping[str, Any],
        fix_success: bool,
        verification_success: bool,
        execution_time: float | None,
        notes: str | None = None,
        fixer_type: str = "claude",
        *,
        timestamp: str | None = None,
        strict: bool = False,
        max_failures: int = advice.DEFAULT_MAX_FAILURES,
    ) -> int:
        """Record one fix attempt and update everything learned from it; return its id.

        ``issue_data`` holds ``model``, ``issue_type``, ``description`` and
        optionally ``test_prompt``, ``actual_response`` (for the signature) and
        ``system_info``; ``ai_response`` holds ``analysis`` and ``fix_commands``
        (and optionally ``tokens_in``, ``tokens_out``, ``cost_usd``,
        ``fixer_model``). A success is a fix that succeeded and was verified.
        Raises InvalidInputError (nothing written) when a field is wrong.

        Repeat guard: when the fix commands already failed at least
        ``max_failures`` times for this failure's fingerprint and never worked
        for it, warns with ``advice.RepeatedFixWarning``; with ``strict=True``
        raises ``advice.RepeatedFixError`` instead and writes nothing.
        """
        attempt = attempt_from_call(
            issue_data,
            ai_response,
            fix_success,
            verification_success,
            execution_time,
            notes,
            fixer_type,
            timestamp=timestamp,
            redact=self.redact_secrets,
        )
        record_id = self._insert_guarded([attempt], strict, max_failures, single=True)[0]
        assert record_id is not None
        return record_id

    def _insert_guarded(
        self, attempts: list[Attempt], strict: bool, max_failures: int, single: bool = False
    ) -> list[int | None]:
        # The guard reads inside the write transaction, so strict mode holds
        # even when several processes record the same fix at once.
        import warnings

        max_failures = advice._check_max_failures(max_failures)
        single = single or len(attempts) == 1
        keyed = advice.guard_keys(attempts)

        def guard(counts: dict[tuple[str, str], tuple[int, int]]) -> list[tuple[int, Any, int]]:
            repeats = advice.repeats_among(keyed, counts, max_failures)
            if repeats and strict:
                index, attempt, failures = repeats[0]
                raise advice.RepeatedFixError(
                    advice.repeat_message(attempt, failures, None if single else index)
                    + "; nothing was recorded",
                    hint="see 'aimem suggest' for fixes worth trying, or drop --strict",
                )
            return repeats

        ids, repeats = self.store.record_attempts(
            attempts,
            [pair for _, _, pair in keyed],
            guard,
            refuse_at=max_failures if strict else None,
        )
        self._written()
        for index, attempt, failures in repeats:
            warnings.warn(
                advice.repeat_message(attempt, failures, None if single else index),
                advice.RepeatedFixWarning,
                stacklevel=3,
            )
        return ids

    def record_many(
        self,
        attempts: Iterable[Mapping[str, Any]],
        source: str | None = None,
        lines: Sequence[int] | None = None,
        *,
        strict: bool = False,
        max_failures: int = advice.DEFAULT_MAX_FAILURES,
    ) -> list[int]:
        """Record many attempts in one transaction (all or nothing); return their ids.

        Each item has ``record_fix_attempt``'s argument names (``issue_data``,
        ``ai_response``, ``fix_success``, ``verification_success``,
        ``execution_time``, ``notes``, ``fixer_type``, optional ``timestamp``).
        The repeat guard (``strict``, ``max_failures``) is ``record_fix_attempt``'s,
        checked against what was stored before this call.
        """
        validated = [
            self._attempt_from_item(item, source, lines[n - 1] if lines else n)
            for n, item in enumerate(attempts, 1)
        ]
        ids = self._insert_guarded(validated, strict, max_failures)
        return [i for i in ids if i is not None]

    def _attempt_from_item(self, item: Any, source: str | None, line: int) -> Attempt:
        if not isinstance(item, Mapping):
            raise InvalidInputError("", "each attempt must be a JSON object", source, line)
        known = {
            "issue_data",
            "ai_response",
            "fix_success",
            "verification_success",
            "execution_time",
            "notes",
            "fixer_type",
            "timestamp",
        }
        unknown = sorted(set(item) - known)
        if unknown:
            raise InvalidInputError(
                unknown[0],
                "is not an argument of record_fix_attempt",
                source,
                line,
                hint=ATTEMPT_EXAMPLE,
            )
        for required in ("issue_data", "fix_success", "verification_success"):
            if required not in item:
                raise InvalidInputError(required, "is missing", source, line, hint=ATTEMPT_EXAMPLE)
        return attempt_from_call(
            item.get("issue_data"),
            item.get("ai_response", {}),
            item.get("fix_success"),
            item.get("verification_success"),
            item.get("execution_time"),
            item.get("notes"),
            item.get("fixer_type", "claude"),
            timestamp=item.get("timestamp"),
            redact=self.redact_secrets,
            source=source,
            line=line,
        )

    # ---- signatures -------------------------------------------------------

    def generate_issue_signature(self, issue_data: Mapping[str, Any]) -> str:
        """The 16-hex issue signature (type, model family, prompt head, response length)."""
        return _signature(issue_data)

    def generate_fingerprint(self, issue_data: Mapping[str, Any]) -> str:
        """aimem's normalized failure fingerprint (groups rewordings of one failure)."""
        return generate_fingerprint(
            str(issue_data.get("issue_type", "")),
            str(issue_data.get("model", "")),
            str(issue_data.get("description", "")),
            str(issue_data.get("actual_response", "")),
        )

    # ---- queries ----------------------------------------------------------

    def get_memory_stats(self) -> dict[str, Any]:
        """The memory statistics; counts cover all history, archived included.

        ``successful_fixes`` counts attempts that succeeded and were verified.
        """
        totals = self.store.totals()
        return {
            "total_fixes_attempted": totals["attempts"],
            "successful_fixes": totals["successes"],
            "success_rate": round(rate(totals["successes"], totals["attempts"]), 3),
            "models_encountered": totals["models"],
            "issue_types_seen": totals["issue_types"],
            "recent_activity_7days": self._count_since(days_ago_iso(7)),
            "knowledge_base_size": self._knowledge_base_size(),
            "memory_directory": str(self.memory_dir),
        }

    def _knowledge_base_size(self) -> int:
        # The size of the file as it stands for this history: a stale file is
        # rewritten first (the generation mark says so without reading it).
        if self.knowledge_file.stale_mark():
            from contextlib import suppress

            from aimem.errors import AimemError

            # A read-only folder, a held lock: the file's size as it stands.
            with suppress(AimemError, OSError):
                self.knowledge_file.sync()
        return self.knowledge_file.size()

    def query_similar_issues(self, issue_data: Mapping[str, Any], limit: int = 5) -> dict[str, Any]:
        """Past attempts like this issue: ``exact_matches`` (same signature),
        ``model_matches`` (same model and issue type) and ``type_matches`` (same
        issue type, any model), each at most ``limit``, verified successes first
        (exact matches newest first); then aimem's ``fingerprint_matches`` (same
        failure fingerprint, newest first; empty without a description)."""
        if not isinstance(issue_data, Mapping):
            raise InvalidInputError("issue_data", "must be an object")
        _check_limit(limit)
        for key in ("model", "issue_type"):
            value = issue_data.get(key)
            if isinstance(value, str) and not value.strip():
                raise InvalidInputError(f"issue_data.{key}", "must not be empty")
        found: dict[str, Any] = self.store.similar_rows(
            _signature(issue_data),
            str(issue_data.get("model", "")),
            normalize_issue_type(str(issue_data.get("issue_type", ""))),
            limit,
        )
        fingerprint = (
            self.generate_fingerprint(issue_data) if issue_data.get("description") else None
        )
        found["fingerprint_matches"] = (
            self.store.fingerprint_rows(fingerprint, limit) if fingerprint else []
        )
        return found

    def get_model_insights(self, model_name: str, *, strict: bool = False) -> dict[str, Any]:
        """One model's record: totals, success rate, common issues, effective fixes,
        recent history. Unknown models give zero counts (NotFoundError if ``strict``)."""
        characteristics = self.store.model_characteristics(model_name)
        if characteristics is None and strict:
            known = ", ".join(self.store.distinct_values("model_name", limit=5))
            raise NotFoundError(
                f"no history for model {model_name!r}",
                hint=f"known models include: {known}" if known else "no models recorded yet",
            )
        base, totals = self._model_summary(model_name, characteristics)
        low, high = wilson_interval(base["successes"], base["total_tests"])
        return {
            "model_name": base["model_name"],
            "total_tests": base["total_tests"],
            "success_rate": round(base["success_rate"], 4),
            "common_issues": base["common_issues"],
            "effective_fixes": base["effective_fixes"],
            "recent_history": self._model_recent(model_name),
            "successes": base["successes"],
            "wilson_low": low,
            "wilson_high": high,
            "fixers": self.store.fixers_for_model(model_name),
            "avg_execution_time": totals["avg_execution_time"] if totals else None,
            "first_seen": totals["first_seen"] if totals else None,
            "last_seen": totals["last_seen"] if totals else None,
            "last_updated": base["last_updated"],
            "performance_notes": base["performance_notes"],
            "effective_fix_stats": base["effective_fix_stats"],
        }

    def _model_summary(
        self, model_name: str, characteristics: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """What ``get_model_insights`` and a fixer's context both say about a model:
        its characteristics row (or zeros), successes and ranked effective fixes;
        with the model's totals row."""
        totals = self.store.model_totals(model_name)
        base = characteristics or {
            "model_name": model_name,
            "total_tests": 0,
            "success_rate": 0.0,
            "common_issues": [],
            "effective_fixes": [],
            "last_updated": None,
            "performance_notes": None,
        }
        summary = {
            **base,
            "successes": totals[0]["successes"] if totals else 0,
            "effective_fix_stats": self._ranked_outcomes("model", model_name, 5),
        }
        return summary, totals[0] if totals else None

    def set_performance_notes(self, model_name: str, notes: str | None) -> dict[str, Any]:
        """Replace a model's ``performance_notes`` (None or "" clears them); return its insights.

        The notes are the seed's free text about how a model behaves (speed,
        memory, quirks); secrets in them are redacted as in attempts.
        """
        model, text = performance_note(model_name, "" if notes is None else notes, required=False)
        stored = self._redacted(text) if text else None
        self.store.set_performance_notes(model, stored, append=False)
        return self.get_model_insights(model)

    def add_performance_note(self, model_name: str, note: str) -> dict[str, Any]:
        """Add one line to a model's ``performance_notes``; return its insights."""
        model, text = performance_note(model_name, note, required=True)
        self.store.set_performance_notes(model, self._redacted(text), append=True)
        return self.get_model_insights(model)

    def _redacted(self, text: str) -> str:
        if not self.redact_secrets:
            return text
        from aimem.redact import redact_text

        return redact_text(text)

    def _ranked_outcomes(self, scope: str, key: str, limit: int | None) -> list[dict[str, Any]]:
        """Fixes with a verified success in one scope, ranked by Wilson lower bound."""
        outcomes = self.store.fix_outcomes(scope, key, min_successes=1)
        ranked = rank_by_wilson(
            outcomes,
            lambda o: (o["successes"], o["attempts"], o["last_success"], str(o["fix_commands"])),
            limit,
        )
        result = []
        for outcome in ranked:
            low, high = wilson_interval(outcome["successes"], outcome["attempts"])
            result.append(
                {
                    "fix_commands": outcome["fix_commands"],
                    "successes": outcome["successes"],
                    "attempts": outcome["attempts"],
                    "success_rate": round(rate(outcome["successes"], outcome["attempts"]), 4),
                    "confidence": confidence(outcome["attempts"]),
                    "wilson_low": low,
                    "wilson_high": high,
                    "last_success": outcome["last_success"],
                }
            )
        return result

    def _model_recent(self, model_name: str, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.store.model_recent_rows(model_name, limit)
        return [
            {
                "id": row["id"],
                "timestamp": row["timestamp"],
                "issue_type": row["issue_type"],
                "fixer_type": row["fixer_type"],
                "description": row["description"],
                "fix_commands": row["fix_commands"],
                "fix_success": row["fix_success"],
                "verification_success": row["verification_success"],
            }
            for row in rows
        ]

    def models(self) -> list[dict[str, Any]]:
        """Every model with attempts, verified successes, success rate and last seen."""
        result = []
        for row in self.store.model_totals():
            low, high = wilson_interval(row["successes"], row["attempts"])
            result.append(
                {
                    "model_name": row["model_name"],
                    "attempts": row["attempts"],
                    "successes": row["successes"],
                    "success_rate": round(rate(row["successes"], row["attempts"]), 4),
                    "wilson_low": low,
                    "wilson_high": high,
                    "issue_types": row["issue_types"],
                    "last_seen": row["last_seen"],
                }
            )
        return result

    def recent(
        self,
        days: float = 7,
        limit: int | None = None,
        *,
        include_archive: bool = False,
        since: str | None = None,
        model: str | None = None,
        issue_type: str | None = None,
        fixer: str | None = None,
        failed: bool = False,
    ) -> list[dict[str, Any]]:
        """Attempts of the last ``days`` days, newest first (archived ones too if asked).

        ``since`` replaces ``days``: a duration (``7d``, ``12h``, ``30m``) or an
        ISO 8601 date or time (naive = UTC). The filters keep only attempts on
        this model, of this issue type (any spelling), by this fixer (any
        case), or whose fix failed.
        """
        # "not 0 < days <= 36500" also refuses NaN, which every comparison fails
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= 36500:
            raise InvalidInputError("days", "must be a positive number of days (at most 36500)")
        if limit is not None:
            _check_limit(limit)
        cutoff = days_ago_iso(days)
        if since is not None:
            try:
                cutoff = since_timestamp(since)
            except ValueError as error:
                raise InvalidInputError("since", str(error), hint=SINCE_HINT) from None
        filters: dict[str, Any] = {
            "model": _named("model", model),
            "issue_type": None if issue_type is None else normalize_issue_type(issue_type),
            "fixer": None if fixer is None else normalize_fixer(_named("fixer", fixer) or ""),
            "failed": failed,
        }
        rows = self.store.recent_rows(cutoff, limit, filters)
        if include_archive:
            from aimem.ops import maintenance

            rows += [
                row
                for row in maintenance.archived_rows_since(self.store, self._segments_at(), cutoff)
                if row_matches(row, filters)
            ]
            rows.sort(key=lambda r: (r["timestamp"], r["id"] or 0), reverse=True)
            return rows[:limit] if limit is not None else rows
        return rows

    def get_attempt(self, record_id: int) -> dict[str, Any]:
        """One attempt by its id, every field (``aimem show``); an archived one too.

        NotFoundError when no attempt, hot or archived, has this id.
        """
        if isinstance(record_id, bool) or not isinstance(record_id, int) or record_id < 1:
            raise InvalidInputError("id", "must be a positive whole number")
        row = self.store.get_row(record_id)
        if row is not None:
            row["archived"] = False
            return row
        from aimem.ops import maintenance

        for archived in maintenance.archived_rows_since(self.store, self._segments_at(), ""):
            if archived["id"] == record_id:
                archived["archived"] = True
                return archived
        raise NotFoundError(f"no attempt with id {record_id}", hint="see 'aimem recent'")

    def successful_strategies(
        self, issue_type: str | None = None, limit: int = 10, model: str | None = None
    ) -> list[dict[str, Any]]:
        """Fixes that worked, per issue type (``aimem successful``), ranked by the
        95% Wilson lower bound of their success rate (1/1 does not outrank 40/50).

        Fixes are templates (``ollama pull {model}``); with ``model`` they are
        filled in for it, and fixes naming another known model are left out.
        """
        _check_limit(limit)
        types = (
            [normalize_issue_type(issue_type)]
            if issue_type
            else [r["issue_type"] for r in self.store.totals_by("issue_type")]
        )
        names_other = other_model_finder(model, self.store.model_names()) if model else None
        result = []
        for name in types:
            # With a model, fixes naming another one drop out: rank them all, then cut.
            ranked = self._ranked_outcomes("type", name, None if model else limit)
            if model and names_other is not None:
                filled = (_for_model(o, "fix_commands", model, names_other) for o in ranked)
                ranked = [o for o in filled if o["fix_commands"] is not None][:limit]
            result += [{"issue_type": name, **outcome} for outcome in ranked]
        return result

    def patterns(
        self,
        kind: str | None = None,
        min_confidence: float = 0.0,
        issue_type: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Learned patterns: ``exact``, ``model``, ``general``, ``temporal`` and
        ``fingerprint`` (see aimem.learn.learning)."""
        if kind is not None and kind not in learning.PATTERN_KINDS:
            raise InvalidInputError(
                "kind",
                f"unknown pattern kind {kind!r}",
                hint="use exact, model, general, temporal or fingerprint",
            )
        if isinstance(min_confidence, bool) or not 0 <= float(min_confidence) <= 1:
            raise InvalidInputError("min_confidence", "must be between 0 and 1")
        if limit is not None:
            _check_limit(limit)
        if issue_type is not None:
            issue_type = normalize_issue_type(issue_type)
        return learning.patterns(self.store, kind, float(min_confidence), issue_type, limit)

    def search(
        self, text: str, limit: int = 20, include_archive: bool = False
    ) -> list[dict[str, Any]]:
        """Full-text search over descriptions, analyses, commands and notes; best first.

        Each row has ``archived`` (false for hot rows). With ``include_archive``
        archived rows that match follow the hot ones (most occurrences first,
        then newest; their ``rank`` is null): the archive has no index, so this
        reads every segment.
        """
        _check_limit(limit)
        if not isinstance(text, str):
            raise InvalidInputError("text", "must be a string")
        rows = self.store.search(to_match_query(text), limit)
        for row in rows:
            row["archived"] = False
        if include_archive and len(rows) < limit:
            from aimem.learn.search import ArchiveMatcher

            matcher = ArchiveMatcher(text)
            found: list[tuple[int, str, dict[str, Any]]] = []
            for row in self.iter_archived_rows():
                hit = matcher.match(row)
                if hit is not None:
                    found.append((hit[0], hit[1], row))
            found.sort(key=lambda f: f[2]["timestamp"], reverse=True)
            found.sort(key=lambda f: f[0], reverse=True)
            for _, snippet, row in found[: limit - len(rows)]:
                rows.append({**row, "rank": None, "snippet": snippet, "archived": True})
        return rows

    # ---- analytics ---------------------------------------------------------

    def get_daily_statistics(self, days: int = 30) -> list[dict[str, Any]]:
        """Attempts and success rates per UTC day, newest first."""
        return analytics.daily_statistics(self.store, days)

    def get_model_performance_matrix(self) -> list[dict[str, Any]]:
        """Success rate per model and issue type."""
        return analytics.model_performance_matrix(self.store)

    def get_issue_trend_analysis(self, days: int = 30) -> list[dict[str, Any]]:
        """Per issue type: volume now against the week before, and the trend."""
        return analytics.issue_trend_analysis(self.store, days)

    def get_fixer_effectiveness(self) -> list[dict[str, Any]]:
        """Per fixer: attempts, verified successes, success rate and interval, mean time."""
        return analytics.fixer_effectiveness(self.store)

    def analytics(self, days: int = 30) -> dict[str, Any]:
        """The analytics export: the four analyses in one document."""
        return {
            "daily_stats": self.get_daily_statistics(days),
            "model_performance": self.get_model_performance_matrix(),
            "issue_trends": self.get_issue_trend_analysis(days),
            "fixer_comparison": self.get_fixer_effectiveness(),
            "cost": self.get_cost_analysis(),
        }

    def get_cost_analysis(self) -> dict[str, list[dict[str, Any]]]:
        """Cost per verified success by fixer, fixer model and issue type, failed attempts
        counted (see ``analytics.cost_analysis``)."""
        return analytics.cost_analysis(self.store)

    # ---- advice ----------------------------------------------------------------

    def suggest(
        self,
        issue_data: Mapping[str, Any],
        limit: int = advice.DEFAULT_SUGGEST_LIMIT,
        max_failures: int = advice.DEFAULT_MAX_FAILURES,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Fixes worth trying for this issue on this model, ranked by Thompson sampling
        over pooled estimates; whether to ask for a new fix (``explore``); the fixes
        not worth trying again (``avoid``); a one-line recommendation (see
        ``aimem.learn.advice.suggest``). ``seed`` makes the ranking repeatable."""
        _check_limit(limit)
        return advice.suggest(self.store, issue_data, limit, max_failures, seed)

    def gate(
        self,
        issue_data: Mapping[str, Any],
        min_rate: float = 0.0,
        max_failures: int = advice.DEFAULT_MAX_FAILURES,
    ) -> dict[str, Any]:
        """Whether an attempt is worth making: ``decision`` try/skip and ``exit_code``
        0, 3 (repeated failure) or 4 (low confidence) (see ``aimem.learn.advice.gate``)."""
        return advice.gate(self.store, issue_data, min_rate, max_failures)

    def alerts(
        self,
        days: float = 7,
        drift_days: float = 7,
        now: str | None = None,
        kinds: list[str] | None = None,
    ) -> dict[str, Any]:
        """Regressions, fixer drift and issue spikes (see ``aimem.learn.alerts``);
        ``exit_code`` is 0 when nothing was found, 3 otherwise."""
        return alerts.alerts(self.store, days, drift_days, now, kinds)

    def retention_plan(self, keep_failures_per_fingerprint: int) -> dict[str, Any]:
        """Which hot rows outcome-aware retention would archive, and what that means.

        Keeps every verified success and the latest ``keep_failures_per_fingerprint``
        failures of each fingerprint hot (see ``aimem.learn.advice.retention_plan``).
        """
        return advice.retention_plan(self.store, keep_failures_per_fingerprint)

    # ---- context ------------------------------------------------------------

    def build_context(
        self, issue_data: Mapping[str, Any], max_chars: int = context.DEFAULT_MAX_CHARS
    ) -> str:
        """Markdown history for a fixer about to work on ``issue_data``, at most ``max_chars``."""
        if not isinstance(issue_data, Mapping):
            raise InvalidInputError("issue_data", "must be an object")
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 200:
            raise InvalidInputError("max_chars", "must be a whole number of at least 200")
        model = str(issue_data.get("model", "")).strip()
        issue_type = normalize_issue_type(str(issue_data.get("issue_type", "")))
        if not model:
            raise InvalidInputError("issue_data.model", "is missing")
        if not issue_type:
            raise InvalidInputError("issue_data.issue_type", "is missing")
        with self.store.memoized_reads():
            return self._context(issue_data, model, issue_type, max_chars)

    def _context(
        self, issue_data: Mapping[str, Any], model: str, issue_type: str, max_chars: int
    ) -> str:
        # Every fix-outcome question the parts below ask, in one statement (each
        # part then finds its answer in the snapshot's memo): one round trip
        # to a database server instead of one per question.
        self.store.fix_outcomes_many(
            [
                *advice.outcome_questions(advice.issue_key(issue_data)),
                ("type", issue_type, None, 0),  # general_patterns' best fix
                ("type", issue_type, None, 1),  # successful_strategies
                ("model", model, None, 1),  # the model summary's effective fixes
            ]
        )
        signature = _signature(issue_data)
        similar = self.store.similar_rows(signature, model, issue_type, 5)
        found = learning.exact_patterns(self.store, signature=signature)
        family = model.split(":")[0]
        found += learning.model_patterns(self.store, issue_type, family)
        found += learning.general_patterns(self.store, issue_type)
        found += learning.temporal_patterns(self.store, issue_type)
        strategies = self.successful_strategies(issue_type, limit=5)
        notes = [note for _, note in self.store.notes_for_type(issue_type, 3)]
        imported = self.store.kb_imported().get("issue_types", {})
        if isinstance(imported, dict) and isinstance(imported.get(issue_type), dict):
            notes += [str(n) for n in imported[issue_type].get("notes", [])][:3]
        guidance = advice.suggest(self.store, issue_data, limit=3)
        names_other = other_model_finder(model, self.store.model_names())
        found = [_for_model(p, "best_fix", model, names_other) for p in found]
        strategies = [
            s
            for s in (_for_model(s, "fix_commands", model, names_other) for s in strategies)
            if s["fix_commands"] is not None
        ]
        sections = context.build_sections(
            model,
            issue_type,
            self._model_summary(model, self.store.model_characteristics(model))[0],
            similar,
            found,
            strategies,
            notes,
            guidance["failed_for_fingerprint"] if issue_data.get("description") else [],
            guidance,
        )
        return context.render(model, issue_type, sections, max_chars)

    def build_context_for_claude(
        self, issue_data: Mapping[str, Any], max_chars: int = context.DEFAULT_MAX_CHARS
    ) -> str:
        """Another name for ``build_context`` (the seed API's)."""
        return self.build_context(issue_data, max_chars)

    # ---- knowledge base ----------------------------------------------------

    @property
    def knowledge_base(self) -> dict[str, Any]:
        """The knowledge base as a dict (always current, read from the database)."""
        from aimem.learn.knowledge import render

        return render(self.store)

    def sync_knowledge_base(self, force: bool = False) -> str:
        """Rewrite ``knowledge_base.json`` if stale; return its state (see KnowledgeFile.sync)."""
        return self.knowledge_file.sync(force=force)

    def import_knowledge_base(self, source_file: str | os.PathLike[str]) -> dict[str, Any]:
        """Merge an external knowledge base file."""
        path = Path(source_file)
        summary = merge_entries(self.store, parse_file(path), str(path), redact=self.redact_secrets)
        self._written()
        return summary

    def export_knowledge_base(self, output_file: str | os.PathLike[str]) -> str:
        """Write the knowledge base to ``output_file`` (atomically); return the path."""
        data = orjson.dumps(self.knowledge_base, option=orjson.OPT_INDENT_2) + b"\n"
        _write_file(output_file, data)
        return str(output_file)

    # ---- reports -------------------------------------------------------------

    def insights_report(self) -> dict[str, Any]:
        """The comprehensive report: statistics, model insights, knowledge base,
        trends, every pattern of every kind and ``pattern_counts`` (see aimem.learn.report)."""
        from aimem.learn import report

        return report.report(self)

    def export_insights(self, output_file: str | os.PathLike[str]) -> None:
        """Write the report to ``output_file`` as JSON (atomically), streamed."""
        self.export_records(output_file, "report")

    # ---- archive, retention and integrity ---------------------------------

    @property
    def layout(self) -> Layout:
        """The repository folder's layout (AimemError for a database given without one)."""
        return self._folder()

    def _folder(self) -> Layout:
        """The repository folder, for what keeps files (archive segments, locks)."""
        if self._layout is None:
            raise AimemError(
                f"this needs a repository folder; {self.database_url} was given without one",
                hint="run 'aimem init --db URL DIR' to make one, or use --dir DIR",
            )
        return self._layout

    def _segments_at(self) -> Layout | None:
        # The folder of the archive's files; None when the backend keeps its
        # segments in the database and no folder was named (aimem.ops.segment_storage).
        return self._layout

    def _finish_half_done(self) -> None:
        # A cleanup or thaw killed half-way is finished or undone by the next open.
        if not self.store.pending():
            return  # the usual case: no import of the archive machinery on open
        from aimem.ops import maintenance

        if maintenance.recover_if_idle(self.store, self._segments_at()):
            self._written()

    def _count_since(self, since: str) -> int:
        hot = self.store.count_since(since)
        if not self.store.segments_since(since):
            return hot  # nothing archived in the window: stats stays a cheap index count
        from aimem.ops import maintenance

        return hot + maintenance.archived_count_since(self.store, self._segments_at(), since)

    def cleanup(
        self,
        days: float,
        *,
        keep_successful: float | None = None,
        purge: bool = False,
        dry_run: bool = False,
        keep_failures_per_fingerprint: int | None = None,
    ) -> dict[str, Any]:
        """Archive (or with ``purge`` delete) rows older than ``days`` days.

        Verified successes younger than ``keep_successful`` days stay hot.
        Aggregates and statistics are unchanged: they count all history,
        purged rows included. Returns what moved (see aimem.ops.maintenance.cleanup).
        """
        from aimem.ops import maintenance

        result = maintenance.cleanup(
            self.store,
            self._segments_at(),
            days,
            keep_successful=keep_successful,
            purge=purge,
            dry_run=dry_run,
            keep_failures_per_fingerprint=keep_failures_per_fingerprint,
        )
        if result["segments"]:
            self._written()
        return result

    def archive_segments(self) -> list[dict[str, Any]]:
        """The segment index: name, kind, sha256, rows, time range, sizes, created at."""
        return self.store.segments()

    def iter_archived_rows(self) -> Iterator[dict[str, Any]]:
        """Every archived row in the export row format (for ``export --include-archive``).

        Segments oldest first; rows grouped inside a segment (not time order).
        Each segment's sha256 is verified first. Purged rows are not included.
        """
        from aimem.ops import maintenance

        return maintenance.iter_archived_rows(self.store, self._segments_at())

    def thaw(self, name: str) -> dict[str, Any]:
        """Move a segment's rows back into ``fix_history`` (name or unique prefix)."""
        from aimem.ops import maintenance

        result = maintenance.thaw(self.store, self._segments_at(), name)
        self._written()
        return result

    def check(
        self, quick: bool = False, repair: bool = False, dry_run: bool = False
    ) -> maintenance_types.CheckReport:
        """Verify the repository (see aimem.ops.maintenance.check); ``repair`` fixes what it can."""
        from aimem.ops import maintenance

        return maintenance.check(
            self.store,
            self._segments_at(),
            self.knowledge_file,
            quick=quick,
            repair=repair,
            dry_run=dry_run,
        )

    def gc(self, vacuum: bool | None = None) -> dict[str, Any]:
        """WAL checkpoint, optimize, ANALYZE, VACUUM when worth it; bytes reclaimed."""
        from aimem.ops import maintenance

        return maintenance.gc(self.store, self._segments_at(), vacuum)

    # ---- moving memory: export, import, backup --------------------------------

    def iter_export_rows(
        self, since: str | None = None, include_archive: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every record in the export row format (archived first, then hot), streamed."""
        from aimem.errors import AimemError
        from aimem.ops.transfer import parse_since

        start = parse_since(since)
        archived = getattr(self, "iter_archived_rows", None) if include_archive else None
        if include_archive and archived is None:
            raise AimemError(
                "archive support not available in this aimem",
                hint="export without --include-archive",
            )
        if archived is not None:
            # Called without arguments (the archive reader takes none); filtered here.
            for row in archived():
                if start is None or str(row.get("timestamp", "")) >= start:
                    yield row
        yield from self.store.iter_rows(start)

    def export_records(
        self,
        file: str | os.PathLike[str] | BinaryIO,
        fmt: str | None = None,
        since: str | None = None,
        include_archive: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Export to ``file`` (a path, or a binary stream) as report, json, ndjson or csv.

        The format defaults by suffix (``.json`` = the full report, ``.csv``,
        else ndjson). Record formats are streamed; a file is replaced atomically.
        Returns ``{file, format, records}`` (``records`` is None for a report).
        """
        from aimem.ops import transfer
        from aimem.ops.export_formats import export_format_for

        name = str(file) if isinstance(file, (str, os.PathLike)) else getattr(file, "name", "-")
        if isinstance(file, (str, os.PathLike)):
            _check_destination(name)
        resolved = export_format_for(name, fmt)
        if include_archive and getattr(self, "iter_archived_rows", None) is None:
            from aimem.errors import AimemError

            raise AimemError(
                "archive support not available in this aimem",
                hint="export without --include-archive",
            )
        start = transfer.parse_since(since)  # a bad date fails before any file is created

        def write(out: BinaryIO) -> int | None:
            if resolved == "report":
                from aimem.learn.report import iter_report

                for piece in iter_report(self):
                    out.write(piece)
                return None
            if not include_archive and resolved != "csv" and self.store.builds_export_lines:
                # Hot rows built a chunk at a time (same bytes as a dict per row).
                separator = transfer.SEPARATORS[resolved]
                with self.store.export_chunks(start, separator) as chunks:
                    return transfer.write_chunks(out, chunks, resolved, progress)
            # The generators are closed here, while the connection is open: a
            # failed write (a closed pipe) must not leave them to the garbage
            # collector, which would close their cursors after the database.
            with self.store.read_snapshot(), ExitStack() as stack:
                produced: Iterator[tuple[bytes, int]]
                if not include_archive and self.store.builds_export_lines:
                    cells = stack.enter_context(self.store.csv_rows(start))
                    produced = transfer.csv_chunks(cells)
                else:
                    rows = stack.enter_context(
                        closed_after(self.iter_export_rows(since, include_archive))
                    )
                    produced = transfer.record_chunks(rows, resolved)
                stack.enter_context(closed_after(produced))
                return transfer.write_chunks(out, produced, resolved, progress)

        # A row the database driver cannot read (text not UTF-8) fails as an aimem error.
        with self.store.translated_errors():
            if isinstance(file, (str, os.PathLike)):
                try:
                    with atomic_output(Path(file)) as out:
                        count = write(out)
                except (FileNotFoundError, NotADirectoryError) as error:  # no such folder
                    raise _cannot_write(file, error) from None
            else:
                count = write(file)
                file.flush()
        return {"file": name, "format": resolved, "records": count}

    def import_records(
        self,
        file: str | os.PathLike[str] | BinaryIO,
        fmt: str = "auto",
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Import records from an export (ndjson, json, csv) or a database, all or nothing.

        Idempotent (records already present, by uid, are skipped). A bad row
        anywhere raises InvalidInputError ``FILE:LINE: ...`` and nothing changes.
        ``dry_run`` reports the same counts and changes nothing. Returns
        ``{source, format, records, added, already_present, dry_run}``.
        """
        from aimem.ops import transfer

        summary = transfer.import_records(
            self.store,
            file,
            fmt,
            dry_run=dry_run,
            redact=self.redact_secrets,
            progress=progress,
        )
        if summary["added"] and not dry_run:
            self._written()
        return summary

    def backup(
        self,
        dest: str | os.PathLike[str] | None = None,
        keep: int | Retention | None = None,
    ) -> dict[str, Any]:
        """Write one backup bundle into ``dest`` (folder or file; None: the configured
        destination), then apply ``keep`` (a count of newest bundles, or a
        Retention) to this repository's bundles there; see aimem.ops.backup."""
        from aimem.ops.backup import create_bundle

        return create_bundle(self, None if dest is None else Path(dest), keep)

    def prune_bundles(
        self,
        folder: str | os.PathLike[str] | None,
        keep: int | Retention,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Remove this repository's bundles in ``folder`` that ``keep`` does not keep."""
        from aimem.ops.backup import prune_bundles

        return prune_bundles(self, None if folder is None else Path(folder), keep, dry_run)

    def backup_destination(self) -> Path | None:
        """The folder backups go to when none is named ($AIMEM_BACKUP_DIR, else the stored one)."""
        from aimem.ops.backup import backup_destination

        return backup_destination(self)

    def set_backup_destination(self, folder: str | os.PathLike[str]) -> Path:
        """Remember ``folder`` as this repository's default backup destination."""
        from aimem.ops.backup import set_backup_destination

        return set_backup_destination(self, Path(folder))

    @staticmethod
    def list_bundles(folder: str | os.PathLike[str], verify: bool = False) -> list[dict[str, Any]]:
        """The bundles in ``folder``, newest first (``verify``: a full check of each)."""
        from aimem.ops.backup import list_bundles

        return list_bundles(Path(folder), verify)

    @staticmethod
    def verify_bundles(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """A full verify_bundle report of every bundle in ``folder``."""
        from aimem.ops.backup import verify_folder

        return verify_folder(Path(folder))

    @staticmethod
    def find_bundle(
        spec: str | os.PathLike[str],
        repository: str | os.PathLike[str] | None = None,
        source: str | os.PathLike[str] | None = None,
    ) -> Path:
        """The bundle ``spec`` names: a path, or ``latest`` (the newest bundle of the
        repository in the folder ``repository``, in ``source`` or the default
        destination)."""
        from aimem.ops.backup import find_bundle

        return find_bundle(
            spec,
            None if repository is None else Path(repository),
            None if source is None else Path(source),
        )

    @staticmethod
    def verify_bundle(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Check a bundle completely: ``{bundle, ok, problems, manifest}``."""
        from aimem.ops.backup import verify_bundle

        return verify_bundle(path)

    @staticmethod
    def restore_bundle(
        path: str | os.PathLike[str],
        target: str | os.PathLike[str] | None,
        force: bool = False,
        dry_run: bool = False,
        db: str | None = None,
    ) -> dict[str, Any]:
        """Restore a bundle into the folder ``target`` atomically, or into the
        database ``db`` (or the one ``target``'s config names) in one
        transaction; see aimem.ops.backup."""
        from aimem.ops.backup import restore_bundle

        return restore_bundle(path, target, force, dry_run, db)

    # ---- remotes: push and pull -------------------------------------------------

    def remotes(self) -> list[dict[str, str]]:
        """Every remote: ``[{name, url}]`` by name (a folder path or a PostgreSQL URL)."""
        from aimem.ops import sync

        return sync.remotes(self.store)

    def add_remote(self, name: str, target: str | os.PathLike[str]) -> dict[str, str]:
        """Remember ``target`` (a folder holding a repository, or a ``postgresql://`` URL,
        stored without its password) as the remote ``name``; return ``{name, url}``."""
        from aimem.ops import sync

        return sync.add_remote(self.store, name, os.fspath(target))

    def remove_remote(self, name: str) -> dict[str, str]:
        """Forget the remote ``name`` (the remote itself is untouched); return what it was."""
        from aimem.ops import sync

        return sync.remove_remote(self.store, name)

    def rename_remote(self, old: str, new: str) -> dict[str, str]:
        """Rename the remote ``old`` to ``new``; return ``{name, url}``."""
        from aimem.ops import sync

        return sync.rename_remote(self.store, old, new)

    def push(
        self,
        remote: str | None = None,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Send the remote every record it lacks (by uid); see aimem.ops.sync.

        ``remote`` defaults to ``origin``, or the only remote. Returns
        ``{direction, remote, url, records, sent, skipped, seconds, dry_run}``.
        """
        return self._sync("push", remote, dry_run, progress)

    def pull(
        self,
        remote: str | None = None,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Store every record of the remote this repository lacks (by uid), learned as
        if recorded here; returns the summary ``push`` returns."""
        return self._sync("pull", remote, dry_run, progress)

    def _sync(
        self,
        direction: str,
        remote: str | None,
        dry_run: bool,
        progress: Callable[[int, int], None] | None,
    ) -> dict[str, Any]:
        from aimem.ops import maintenance, sync

        name, url = sync.resolve(self.store, remote)
        other = self._open_remote(name, url)
        try:
            sender, receiver = (self, other) if direction == "push" else (other, self)
            # The sender's archive stays as its index says while it is read.
            with maintenance.archive_lock(sender.store, sender._segments_at(), shared=True):
                return sync.transfer(
                    sender,
                    receiver,
                    direction=direction,
                    remote=name,
                    url=url,
                    dry_run=dry_run,
                    progress=progress,
                    committed=receiver._written,
                )
        finally:
            other.close()

    def _open_remote(self, name: str, url: str) -> AIMemory:
        """The remote's repository, opened as it is (never created)."""
        from aimem.errors import NotARepositoryError, SchemaTooNewError
        from aimem.ops import sync

        try:
            if sync.is_url(url):
                if self.database_url == url:
                    raise AimemError(f"remote {name!r} ({url}) is this repository")
                # Opening would create the schema: an empty database is no repository.
                probe = open_store(url, readonly=True)
                try:
                    empty = probe.schema_version() == 0
                finally:
                    probe.close()
                if empty:
                    raise NotARepositoryError(
                        f"not an aimem repository: {url} (the database has no aimem schema)"
                    )
                return AIMemory(db=url, create=False)
            location = Location(Path(url))
            found = location.find()
            here = self.layout
            if here is not None and found is not None and found.resolve() == here.root.resolve():
                raise AimemError(f"remote {name!r} ({url}) is this repository")
            return AIMemory(location, create=False)
        except NotARepositoryError as error:
            raise NotARepositoryError(
                f"remote {name!r}: {error.message}",
                # init --db needs a folder of its own: this one holds a repository.
                hint=f"create it with 'aimem init {f'--db {url} NEW_FOLDER' if sync.is_url(url) else url}', "
                f"or fix the remote with "
                f"'aimem remote remove {name}' and 'aimem remote add {name} TARGET'",
            ) from None
        except SchemaTooNewError as error:
            raise SchemaTooNewError(
                f"remote {name!r}: {error.message}", hint="upgrade aimem here to sync with it"
            ) from None


def _for_model(
    item: dict[str, Any], field: str, model: str, names_other: Callable[[Iterable[str]], bool]
) -> dict[str, Any]:
    """``item`` with its commands filled in for ``model``; None when they name another
    model (``names_other``: ``aimem.learn.templates.other_model_finder``)."""
    commands = item.get(field)
    if not commands:
        return item
    filled = fill(commands, model)
    return {**item, field: None if names_other(filled) else filled}


def _named(what: str, value: str | None) -> str | None:
    """A filter's name: None for no filter; blank is refused (an unset shell variable)."""
    if value is not None and not value.strip():
        raise InvalidInputError(what, "must not be empty")
    return value


def row_matches(row: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether an attempt passes ``recent``'s filters (model, issue_type, fixer, failed)."""
    if filters.get("model") is not None and row["model_name"] != filters["model"]:
        return False
    if filters.get("issue_type") is not None and row["issue_type"] != filters["issue_type"]:
        return False
    fixer = filters.get("fixer")
    if fixer is not None and (row["fixer_type"] or "").strip().lower() != fixer:
        return False
    return not (filters.get("failed") and row["fix_success"])

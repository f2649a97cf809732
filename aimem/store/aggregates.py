"""Incremental aggregates: issue patterns, model characteristics, rollups, fix outcomes.

Invariants (proved by tests and verified by ``aimem check``):
- every attempt counts in exactly one ``issue_patterns`` row (its signature), so
  ``SUM(success_count + failure_count)`` is the number of attempts;
- ``SUM(model_characteristics.total_tests)`` is the number of attempts;
- every aggregate equals a recomputation from the raw rows: applying all rows
  at once, one by one, or in any batches gives the same tables, because every
  derived column (best fix, common issues, effective fixes, rates) is a
  function of the accumulated counts, never of arrival order.

A success is an attempt whose fix succeeded *and* was verified.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson

from aimem.learn.signatures import fix_key, model_family, normalize_issue_type
from aimem.learn.stats_math import rank_by_wilson
from aimem.learn.templates import template_json
from aimem.records import normalize_fixer
from aimem.store.schema import ATTEMPT_COLUMNS
from aimem.store.sqlparams import in_chunks
from aimem.timeutil import now_iso

TOP_COMMON_ISSUES = 5
TOP_EFFECTIVE_FIXES = 5
# Scopes of the fix-outcome table: what one list of commands achieved for ...
SCOPE_SIGNATURE = "signature"  # ... one exact signature
SCOPE_FAMILY_TYPE = "family_type"  # ... a model family and issue type ("family|TYPE")
SCOPE_TYPE = "type"  # ... an issue type across models
SCOPE_MODEL = "model"  # ... one model
SCOPE_FINGERPRINT = "fingerprint"  # ... one failure fingerprint
SCOPE_MODEL_TYPE = "model_type"  # ... one model and issue type ("model|TYPE")

# A fix-outcome question: (scope, scope key or None, limit or None, min successes).
OutcomeQuestion = tuple[str, str | None, int | None, int]

# Scopes that span models (or pool with those that do) learn a fix as its
# template (``ollama pull {model}``), so every model counts toward one fix;
# the signature and model scopes keep the commands as recorded, which is what
# the seed's ``best_fix`` and ``effective_fixes`` columns show.


@dataclass(frozen=True, slots=True)
class Fact:
    """The parts of one attempt that aggregates depend on."""

    timestamp: str
    model_name: str
    issue_type: str
    issue_signature: str
    fingerprint: str
    fixer_type: str
    fix_commands: str  # canonical JSON array text
    fix_success: bool
    verification_success: bool
    execution_time_seconds: float | None
    # Cost fields; optional so facts built elsewhere stay valid.
    cost_usd: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    fixer_model: str | None = None

    @property
    def success(self) -> bool:
        return self.fix_success and self.verification_success


def canonical_commands(text_or_list: Any) -> str:
    """Canonical JSON text of a fix-command list (legacy rows may be spaced differently)."""
    value = text_or_list
    if isinstance(value, (str, bytes)):  # bytes: a BLOB of JSON text, as export reads it
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = [value]
    if not isinstance(value, list):
        value = [value]
    return orjson.dumps([str(v) if not isinstance(v, str) else v for v in value]).decode()


def pattern_name(issue_type: str, family: str, signature: str) -> str:
    """The human-readable, unique name of an exact pattern."""
    return f"{issue_type}/{family}/{signature}"


@lru_cache(maxsize=4096)
def _weekday(day: str) -> int:
    return date(int(day[0:4]), int(day[5:7]), int(day[8:10])).weekday()


def _hour(timestamp: str) -> int:
    try:
        return int(timestamp[11:13])
    except ValueError:
        return 0


# Where each column sits in an attempt's insert parameters (``ATTEMPT_COLUMNS``).
_TIMESTAMP = ATTEMPT_COLUMNS.index("timestamp")
_MODEL = ATTEMPT_COLUMNS.index("model_name")
_ISSUE_TYPE = ATTEMPT_COLUMNS.index("issue_type")
_SIGNATURE = ATTEMPT_COLUMNS.index("issue_signature")
_FIXER = ATTEMPT_COLUMNS.index("fixer_type")
_COMMANDS = ATTEMPT_COLUMNS.index("fix_commands")
_FIXED = ATTEMPT_COLUMNS.index("fix_success")
_VERIFIED = ATTEMPT_COLUMNS.index("verification_success")
_SECONDS = ATTEMPT_COLUMNS.index("execution_time_seconds")
_FINGERPRINT = ATTEMPT_COLUMNS.index("fingerprint")
_TOKENS_IN = ATTEMPT_COLUMNS.index("tokens_in")
_TOKENS_OUT = ATTEMPT_COLUMNS.index("tokens_out")
_COST = ATTEMPT_COLUMNS.index("cost_usd")
_FIXER_MODEL = ATTEMPT_COLUMNS.index("fixer_model")


def _fact_params(fact: Fact) -> tuple[Any, ...]:
    """``fact`` laid out as insert parameters; columns a fact lacks are None."""
    params: list[Any] = [None] * len(ATTEMPT_COLUMNS)
    params[_TIMESTAMP] = fact.timestamp
    params[_MODEL] = fact.model_name
    params[_ISSUE_TYPE] = fact.issue_type
    params[_SIGNATURE] = fact.issue_signature
    params[_FIXER] = fact.fixer_type
    params[_COMMANDS] = fact.fix_commands
    params[_FIXED] = fact.fix_success
    params[_VERIFIED] = fact.verification_success
    params[_SECONDS] = fact.execution_time_seconds
    params[_FINGERPRINT] = fact.fingerprint
    params[_TOKENS_IN] = fact.tokens_in
    params[_TOKENS_OUT] = fact.tokens_out
    params[_COST] = fact.cost_usd
    params[_FIXER_MODEL] = fact.fixer_model
    return tuple(params)


@dataclass
class Rollup:
    """Attempts folded into per-key counts, to be added to the aggregate tables.

    Plain dicts and sets, no connection: bulk import builds one in a worker
    process and hands it over (``AggregateWriter.write``). Adding facts in any
    order or batching gives the same counts.
    """

    totals: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    daily: dict[tuple[str, str, str, str], list[Any]] = field(default_factory=dict)
    temporal: dict[tuple[str, int, int], list[int]] = field(default_factory=dict)
    outcomes: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    costs: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    patterns: dict[str, list[Any]] = field(default_factory=dict)
    models: set[str] = field(default_factory=set)
    count: int = 0

    def add(self, facts: Iterable[Fact]) -> None:
        """Fold ``facts`` in."""
        self.add_rows(_fact_params(f) for f in facts)

    def add_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Fold in rows laid out as ``fix_history`` insert parameters (``attempt_params``).

        The bulk import's reader has exactly those at hand; building a Fact per
        row cost it more than folding the row.
        """
        totals, daily, temporal = self.totals, self.daily, self.temporal
        outcomes, costs, patterns, models = self.outcomes, self.costs, self.patterns, self.models
        # Bound to locals: the loop runs once per imported row.
        i_ts, i_model, i_type, i_signature = _TIMESTAMP, _MODEL, _ISSUE_TYPE, _SIGNATURE
        i_fixer, i_commands, i_fixed, i_verified = _FIXER, _COMMANDS, _FIXED, _VERIFIED
        i_seconds, i_fingerprint, i_fixer_model = _SECONDS, _FINGERPRINT, _FIXER_MODEL
        i_cost, i_tokens_in, i_tokens_out = _COST, _TOKENS_IN, _TOKENS_OUT
        count = 0
        for row in rows:
            ts, model = row[i_ts], row[i_model]
            issue_type, signature = row[i_type], row[i_signature]
            fixer = row[i_fixer]
            fixed = row[i_fixed]
            ok = bool(fixed and row[i_verified])
            seconds = row[i_seconds]
            day = ts[:10]
            key = (model, issue_type, fixer)
            total = totals.get(key)
            if total is None:
                total = totals[key] = [0, 0, 0, 0.0, 0, ts, ts]
            total[0] += 1
            total[1] += fixed
            total[2] += ok
            if seconds is not None:
                total[3] += seconds
                total[4] += 1
            if ts < total[5]:
                total[5] = ts
            if ts > total[6]:
                total[6] = ts
            dkey = (day, *key)
            drow = daily.get(dkey)
            if drow is None:
                drow = daily[dkey] = [0, 0, 0, 0.0, 0]
            drow[0] += 1
            drow[1] += fixed
            drow[2] += ok
            if seconds is not None:
                drow[3] += seconds
                drow[4] += 1
            try:
                weekday = _weekday(day)
            except ValueError:
                weekday = 0
            tkey = (issue_type, weekday, _hour(ts))
            trow = temporal.get(tkey)
            if trow is None:
                trow = temporal[tkey] = [0, 0]
            trow[0] += 1
            trow[1] += ok
            family = model_family(model)
            commands = row[i_commands]
            fkey = fix_key_for(commands)
            template = template_json(commands, model)
            template_key = fkey if template is commands else fix_key_for(template)
            for scope, scope_key, okey_fix, stored in (
                (SCOPE_SIGNATURE, signature, fkey, commands),
                (SCOPE_FAMILY_TYPE, f"{family}|{issue_type}", template_key, template),
                (SCOPE_TYPE, issue_type, template_key, template),
                (SCOPE_MODEL, model, fkey, commands),
                (SCOPE_FINGERPRINT, row[i_fingerprint] or "", template_key, template),
                (SCOPE_MODEL_TYPE, f"{model}|{issue_type}", template_key, template),
            ):
                okey = (scope, scope_key, okey_fix)
                orow = outcomes.get(okey)
                if orow is None:
                    orow = outcomes[okey] = [stored, 0, 0, ts, None]
                orow[1] += 1
                orow[2] += ok
                if ts > orow[3]:
                    orow[3] = ts
                if ok and (orow[4] is None or ts > orow[4]):
                    orow[4] = ts
            ckey = (fixer, row[i_fixer_model] or "", issue_type)
            crow = costs.get(ckey)
            if crow is None:
                crow = costs[ckey] = [0, 0, 0.0, 0, 0, 0, 0]
            crow[0] += 1
            crow[1] += ok
            cost, tokens_in, tokens_out = row[i_cost], row[i_tokens_in], row[i_tokens_out]
            if cost is not None:
                crow[2] += cost
                crow[3] += 1
            if tokens_in is not None or tokens_out is not None:
                crow[4] += tokens_in or 0
                crow[5] += tokens_out or 0
                crow[6] += 1
            prow = patterns.get(signature)
            if prow is None:
                prow = patterns[signature] = [issue_type, family, 0, 0, ts]
            prow[2] += ok
            prow[3] += not ok
            if ts > prow[4]:
                prow[4] = ts
            models.add(model)
            count += 1
        self.count += count


# What totals and daily rows count of their attempts (see ROLLUP_TABLES).
_ATTEMPT_COUNTS = (
    ("attempts", "+", "bigint"),
    ("fix_successes", "+", "bigint"),
    ("successes", "+", "bigint"),
    ("time_sum", "+", "double precision"),
    ("time_n", "+", "bigint"),
)
# The rollup tables an attempt adds to: their key columns, then each value
# column with how a new row joins the stored one ("+" adds; "min" and "max"
# keep the earlier and the later). Every column has the PostgreSQL type it is
# read as from the record function's JSON (aimem.store.postgres.record_function).
ROLLUP_TABLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, str], ...]]] = {
    "aimem_totals": (
        (("model_name", "text"), ("issue_type", "text"), ("fixer_type", "text")),
        (*_ATTEMPT_COUNTS, ("first_seen", "min", "text"), ("last_seen", "max", "text")),
    ),
    "aimem_daily": (
        (("day", "text"), ("model_name", "text"), ("issue_type", "text"), ("fixer_type", "text")),
        _ATTEMPT_COUNTS,
    ),
    "aimem_temporal": (
        (("issue_type", "text"), ("weekday", "integer"), ("hour", "integer")),
        (("attempts", "+", "bigint"), ("successes", "+", "bigint")),
    ),
    "aimem_cost": (
        (("fixer_type", "text"), ("fixer_model", "text"), ("issue_type", "text")),
        (
            ("attempts", "+", "bigint"),
            ("successes", "+", "bigint"),
            ("cost_sum", "+", "double precision"),
            ("cost_n", "+", "bigint"),
            ("tokens_in_sum", "+", "bigint"),
            ("tokens_out_sum", "+", "bigint"),
            ("tokens_n", "+", "bigint"),
        ),
    ),
}


def rollup_columns(table: str) -> list[str]:
    """A rollup table's columns in the order its rows are laid out (key, then values)."""
    keys, values = ROLLUP_TABLES[table]
    return [*(column for column, _ in keys), *(column for column, _, _ in values)]


def rollup_merge(table: str, *, least: str = "min", greatest: str = "max", stored: str = "") -> str:
    """The ``ON CONFLICT DO UPDATE SET`` list that adds ``excluded`` to the stored row;
    ``least``/``greatest``: the dialect's two-argument min and max; ``stored``: the
    stored row's name where it must be written out."""
    prefix = f"{stored}." if stored else ""
    merged = []
    for column, merge, _ in ROLLUP_TABLES[table][1]:
        if merge == "+":
            merged.append(f"{column} = {prefix}{column} + excluded.{column}")
        else:
            function = least if merge == "min" else greatest
            merged.append(f"{column} = {function}({prefix}{column}, excluded.{column})")
    return ",\n    ".join(merged)


class AggregateWriter:
    """Applies attempts to the aggregate tables of one schema ("main" or "temp")."""

    def __init__(self, conn: sqlite3.Connection, schema: str = "main") -> None:
        self.conn = conn
        self.s = schema

    def apply(self, facts: Sequence[Fact]) -> None:
        """Add ``facts`` to every aggregate; the caller holds the transaction."""
        if not facts:
            return
        rollup = Rollup()
        rollup.add(facts)
        self.write(rollup)

    def write(self, rollup: Rollup, *, rank: bool = True) -> None:
        """Add a rollup to every aggregate; the caller holds the transaction.

        With ``rank=False`` best fixes and model characteristics are left for
        one ``rank`` call at the end (bulk import: once, not once per window).
        """
        if rank and rollup.count <= INCREMENTAL_MAX:
            # A few attempts (record_fix_attempt): rankings are recomputed only
            # where the counts that decide them changed.
            self._write_rollups(rollup.totals, rollup.daily, rollup.temporal, {})
            changes = self._write_outcomes(rollup.outcomes)
            self._write_costs(rollup.costs)
            self._write_patterns_incremental(rollup.patterns, changes)
            self._write_models(rollup.models, changes)
            return
        self._write_rollups(rollup.totals, rollup.daily, rollup.temporal, rollup.outcomes)
        self._write_costs(rollup.costs)
        self._write_patterns(rollup.patterns, rank=rank)
        if rank:
            self._write_models(rollup.models)

    def rank(self, signatures: Sequence[str], models: Iterable[str]) -> None:
        """Recompute the best fix of ``signatures`` and the characteristics of ``models``."""
        best = self.best_fixes(SCOPE_SIGNATURE, signatures)
        # The first row of a signature, as ``_write_patterns`` updates it.
        self.conn.executemany(
            f"""UPDATE {self.s}.issue_patterns SET best_fix = ? WHERE id =
                (SELECT min(id) FROM {self.s}.issue_patterns WHERE issue_signature = ?)""",
            [(fix, signature) for signature, fix in best.items()],
        )
        self._write_models(set(models))

    def _write_rollups(
        self,
        totals: dict[tuple[str, str, str], list[Any]],
        daily: dict[tuple[str, str, str, str], list[Any]],
        temporal: dict[tuple[str, int, int], list[int]],
        outcomes: dict[tuple[str, str, str], list[Any]],
    ) -> None:
        s = self.s
        self._add_rollup("aimem_totals", totals)
        self._add_rollup("aimem_daily", daily)
        self._add_rollup("aimem_temporal", temporal)
        # Rows that gained no success leave the rank index's columns alone
        # (assigning them rewrites the index entry even to the same value).
        for gained, update in ((False, _FAILED_UPDATE), (True, _SUCCEEDED_UPDATE)):
            self.conn.executemany(
                f"""INSERT INTO {s}.aimem_fix_outcomes(scope, scope_key, fix_key, fix_commands,
                        attempts, successes, last_attempt, last_success)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET {update}""",
                ((*k, *v) for k, v in outcomes.items() if bool(v[2]) is gained),
            )

    def _write_costs(self, costs: dict[tuple[str, str, str], list[Any]]) -> None:
        self._add_rollup("aimem_cost", costs)

    def _add_rollup(self, table: str, rows: Mapping[tuple[Any, ...], Sequence[Any]]) -> None:
        """Add rows (key, values) to one rollup table (``ROLLUP_TABLES``)."""
        columns = rollup_columns(table)
        self.conn.executemany(
            f"""INSERT INTO {self.s}.{table}({", ".join(columns)})
                VALUES ({", ".join("?" * len(columns))})
                ON CONFLICT DO UPDATE SET {rollup_merge(table)}""",
            ((*k, *v) for k, v in rows.items()),
        )

    def _write_outcomes(
        self, outcomes: dict[tuple[str, str, str], list[Any]]
    ) -> dict[tuple[str, str], list[_Change]]:
        """Add ``outcomes`` to the fix-outcome rollup; return what changed per (scope, key).

        One multi-row upsert per chunk, whose RETURNING gives each row's new
        counts: enough to tell whether a ranking can have changed (``_unchanged``).
        """
        changes: dict[tuple[str, str], list[_Change]] = {}
        # Rows that gained no success leave successes and last_success alone:
        # assigning an indexed column rewrites its index entry (a page per row)
        # even when the value is the same, and aimem_fix_outcomes_rank indexes both.
        failed = [item for item in outcomes.items() if not item[1][2]]
        succeeded = [item for item in outcomes.items() if item[1][2]]
        for items, update in ((failed, _FAILED_UPDATE), (succeeded, _SUCCEEDED_UPDATE)):
            for start in range(0, len(items), _OUTCOME_CHUNK):
                chunk = items[start : start + _OUTCOME_CHUNK]
                params: list[Any] = []
                for key, value in chunk:
                    params += key
                    params += value
                cursor = self.conn.execute(
                    f"""INSERT INTO {self.s}.aimem_fix_outcomes(scope, scope_key, fix_key,
                            fix_commands, attempts, successes, last_attempt, last_success)
                        VALUES {",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))}
                        ON CONFLICT DO UPDATE SET {update}
                        RETURNING scope, scope_key, fix_key, fix_commands, attempts, successes""",
                    params,
                )
                for scope, scope_key, fkey, commands, attempts, successes in cursor:
                    if scope != SCOPE_SIGNATURE and scope != SCOPE_MODEL:
                        continue
                    added = outcomes[(scope, scope_key, fkey)]
                    changes.setdefault((scope, scope_key), []).append(
                        _Change(fkey, commands, added[1], added[2], attempts, successes)
                    )
        return changes

    def best_fix(self, scope: str, scope_key: str, limit: int = 1) -> list[str]:
        """Fix-command JSON texts ranked by the Wilson lower bound of their success rate.

        Ties: more successes, most recent success, fix key (see
        ``stats_math.rank_by_wilson``): a function of the accumulated counts, so
        incremental updates and a recomputation agree.
        """
        cursor = self.conn.execute(
            f"""SELECT fix_commands, attempts, successes, last_success, fix_key
                FROM {self.s}.aimem_fix_outcomes
                WHERE scope = ? AND scope_key = ? AND successes > 0
                ORDER BY successes DESC""",
            (scope, scope_key),
        )
        return _top_fixes(cursor, limit)

    def best_fixes(self, scope: str, keys: Sequence[str]) -> dict[str, str | None]:
        """``best_fix`` of many keys of one scope, read 500 keys at a time."""
        found: dict[str, list[Sequence[Any]]] = {key: [] for key in keys}
        for chunk, marks in in_chunks(list(found)):
            cursor = self.conn.execute(
                f"""SELECT scope_key, fix_commands, attempts, successes, last_success, fix_key
                    FROM {self.s}.aimem_fix_outcomes
                    WHERE scope = ? AND scope_key IN ({marks}) AND successes > 0
                    ORDER BY scope_key, successes DESC""",
                [scope, *chunk],
            )
            for row in cursor:
                found[row[0]].append(row[1:])  # best_fix's columns
        best: dict[str, str | None] = {}
        for key, rows in found.items():
            top = _top_fixes(rows, 1)
            best[key] = top[0] if top else None
        return best

    def _write_patterns(self, patterns: dict[str, list[Any]], *, rank: bool = True) -> None:
        """Add per-signature counts to ``issue_patterns`` (the first row of a signature).

        Best fixes are recomputed whenever a signature is touched (with Wilson
        ranking a failure can lower a fix's bound and change which is best),
        unless ``rank`` is False and the caller ranks later (``rank``).
        """
        if not patterns:
            return
        s = self.s
        existing: dict[str, Sequence[Any]] = {}
        for chunk, marks in in_chunks(list(patterns)):
            # Highest id first, so that the lowest id of a signature is what stays.
            for row in self.conn.execute(
                f"""SELECT issue_signature, id, success_count, failure_count, last_seen
                    FROM {s}.issue_patterns
                    WHERE issue_signature IN ({marks}) ORDER BY id DESC""",
                chunk,
            ):
                existing[row[0]] = row
        best = self.best_fixes(SCOPE_SIGNATURE, list(patterns)) if rank else {}
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for signature, (issue_type, family, successes, failures, last_seen) in patterns.items():
            row = existing.get(signature)
            if row is None:
                inserts.append(
                    (
                        pattern_name(issue_type, family, signature),
                        signature,
                        successes,
                        failures,
                        best.get(signature),
                        last_seen,
                        min(1.0, (successes + failures) / 10.0),
                        issue_type,
                        family,
                    )
                )
                continue
            _, row_id, old_s, old_f, old_seen = row
            new_s = (old_s or 0) + successes
            new_f = (old_f or 0) + failures
            updates.append(
                (
                    new_s,
                    new_f,
                    max(old_seen or "", last_seen),
                    min(1.0, (new_s + new_f) / 10.0),
                    best.get(signature),
                    issue_type,
                    family,
                    row_id,
                )
            )
        self.conn.executemany(
            f"""INSERT INTO {s}.issue_patterns(pattern_name, issue_signature, success_count,
                    failure_count, best_fix, last_seen, confidence_score, issue_type,
                    model_family)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            inserts,
        )
        self.conn.executemany(
            f"""UPDATE {s}.issue_patterns SET success_count = ?, failure_count = ?,
                    last_seen = ?, confidence_score = ?, best_fix = ?,
                    issue_type = coalesce(issue_type, ?),
                    model_family = coalesce(model_family, ?)
                WHERE id = ?""",
            updates,
        )

    def _write_patterns_incremental(
        self,
        patterns: dict[str, list[Any]],
        changes: dict[tuple[str, str], list[_Change]],
    ) -> None:
        s = self.s
        for signature, (issue_type, family, successes, failures, last_seen) in patterns.items():
            existing = self.conn.execute(
                f"""UPDATE {s}.issue_patterns SET
                        success_count = coalesce(success_count, 0) + ?,
                        failure_count = coalesce(failure_count, 0) + ?,
                        last_seen = max(coalesce(last_seen, ''), ?),
                        confidence_score = min(1.0, (coalesce(success_count, 0) + ?
                            + coalesce(failure_count, 0) + ?) / 10.0),
                        issue_type = coalesce(issue_type, ?),
                        model_family = coalesce(model_family, ?)
                    WHERE id = (SELECT id FROM {s}.issue_patterns WHERE issue_signature = ?
                                ORDER BY id LIMIT 1)
                    RETURNING id, best_fix""",
                (
                    successes,
                    failures,
                    last_seen,
                    successes,
                    failures,
                    issue_type,
                    family,
                    signature,
                ),
            ).fetchone()
            if existing is None:
                found = self.best_fix(SCOPE_SIGNATURE, signature)
                attempts = successes + failures
                self.conn.execute(
                    f"""INSERT INTO {s}.issue_patterns(pattern_name, issue_signature, success_count,
                            failure_count, best_fix, last_seen, confidence_score, issue_type,
                            model_family)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        pattern_name(issue_type, family, signature),
                        signature,
                        successes,
                        failures,
                        found[0] if found else None,
                        last_seen,
                        min(1.0, attempts / 10.0),
                        issue_type,
                        family,
                    ),
                )
                continue
            row_id, old_best = existing
            # Re-ranked only when the counts that decide the best fix changed
            # (with Wilson ranking a failure can lower a fix's bound).
            changed = changes.get((SCOPE_SIGNATURE, signature), ())
            if _unchanged(changed, [] if old_best is None else [old_best], _same_fix):
                continue
            found = self.best_fix(SCOPE_SIGNATURE, signature)
            best = found[0] if found else None
            if best != old_best:
                self.conn.execute(
                    f"UPDATE {s}.issue_patterns SET best_fix = ? WHERE id = ?", (best, row_id)
                )

    def _write_models(
        self, models: set[str], changes: dict[tuple[str, str], list[_Change]] | None = None
    ) -> None:
        s = self.s
        now = now_iso()
        for model in sorted(models):
            rows = self.conn.execute(
                f"""SELECT issue_type, sum(attempts), sum(successes) FROM {s}.aimem_totals
                    WHERE model_name = ? GROUP BY issue_type""",
                (model,),
            ).fetchall()
            total = sum(r[1] for r in rows)
            successes = sum(r[2] for r in rows)
            ranked = sorted(rows, key=lambda r: (-r[1], r[0]))[:TOP_COMMON_ISSUES]
            common = orjson.dumps([r[0] for r in ranked]).decode()
            rate = successes / total if total else 0.0
            changed = changes.get((SCOPE_MODEL, model), ()) if changes is not None else ()
            if _may_skip(changed):
                # The ranking cannot have changed unless the changed fix is in the
                # stored list (or has no success at all: then it is in no list).
                stored = self.conn.execute(
                    f"SELECT effective_fixes FROM {s}.model_characteristics WHERE model_name = ?",
                    (model,),
                ).fetchone()
                listed = _json_list(stored[0]) if stored is not None else None
                if listed is not None and _unchanged(changed, listed, _same_display):
                    self.conn.execute(
                        f"""UPDATE {s}.model_characteristics SET total_tests = ?,
                                success_rate = ?, common_issues = ?, last_updated = ?
                            WHERE model_name = ?""",
                        (total, rate, common, now, model),
                    )
                    continue
            effective = self.effective_fixes(model)
            self.conn.execute(
                f"""INSERT INTO {s}.model_characteristics(model_name, total_tests, success_rate,
                        common_issues, effective_fixes, last_updated)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(model_name) DO UPDATE SET total_tests = excluded.total_tests,
                        success_rate = excluded.success_rate,
                        common_issues = excluded.common_issues,
                        effective_fixes = excluded.effective_fixes,
                        last_updated = excluded.last_updated""",
                (model, total, rate, common, effective, now),
            )

    def effective_fixes(self, model: str) -> str:
        """``model_characteristics.effective_fixes`` of a model: JSON list of command lines."""
        return orjson.dumps(
            [
                _display(commands)
                for commands in self.best_fix(SCOPE_MODEL, model, TOP_EFFECTIVE_FIXES)
            ]
        ).decode()

    def rerank(self) -> None:
        """Recompute every best fix and effective-fix list from the fix-outcome rollup.

        What a full recomputation would give them, at the cost of reading the
        rollup only (migration m012, when the ranking rule changed). Signatures
        and models with no outcome rows (legacy rows deleted long ago) are left.
        """
        s = self.s
        signatures = self.conn.execute(
            f"""SELECT DISTINCT p.issue_signature FROM {s}.issue_patterns p
                WHERE EXISTS (SELECT 1 FROM {s}.aimem_fix_outcomes o
                              WHERE o.scope = ? AND o.scope_key = p.issue_signature)""",
            (SCOPE_SIGNATURE,),
        ).fetchall()
        for (signature,) in signatures:
            found = self.best_fix(SCOPE_SIGNATURE, signature)
            self.conn.execute(
                f"UPDATE {s}.issue_patterns SET best_fix = ? WHERE issue_signature = ?",
                (found[0] if found else None, signature),
            )
        models = self.conn.execute(
            f"""SELECT m.model_name FROM {s}.model_characteristics m
                WHERE EXISTS (SELECT 1 FROM {s}.aimem_fix_outcomes o
                              WHERE o.scope = ? AND o.scope_key = m.model_name)""",
            (SCOPE_MODEL,),
        ).fetchall()
        for (model,) in models:
            self.conn.execute(
                f"UPDATE {s}.model_characteristics SET effective_fixes = ? WHERE model_name = ?",
                (self.effective_fixes(model), model),
            )

    def rebuild_scope_keys(self, scope: str, keys: set[str], rows: Iterable[Sequence[Any]]) -> None:
        """Replace the fix outcomes of some keys of one scope with ``rows``' outcomes.

        ``rows`` are (scope_key, fix_commands, fix_success, verification_success,
        timestamp) of every attempt under those keys; the caller holds the transaction.
        """
        outcomes: dict[tuple[str, str, str], list[Any]] = {}
        for key, commands_text, fixed, verified, ts in rows:
            commands = canonical_commands(commands_text)
            okey = (scope, key, fix_key_for(commands))
            orow = outcomes.get(okey)
            if orow is None:
                orow = outcomes[okey] = [commands, 0, 0, ts, None]
            ok = bool(fixed) and bool(verified)
            orow[1] += 1
            orow[2] += ok
            orow[3] = max(orow[3], ts)
            if ok and (orow[4] is None or ts > orow[4]):
                orow[4] = ts
        for chunk, marks in in_chunks(sorted(keys)):
            self.conn.execute(
                f"""DELETE FROM {self.s}.aimem_fix_outcomes WHERE scope = ?
                    AND scope_key IN ({marks})""",
                [scope, *chunk],
            )
        self._write_rollups({}, {}, {}, outcomes)


@lru_cache(maxsize=65536)
def fix_key_for(commands_json: str) -> str:
    """The fix key of a canonical command-list JSON text."""
    return fix_key(orjson.loads(commands_json))


INCREMENTAL_MAX = 16  # attempts per write that take the incremental ranking path
_OUTCOME_CHUNK = 200  # rows per multi-row upsert (8 parameters each)
_FAILED_UPDATE = """attempts = attempts + excluded.attempts,
    last_attempt = max(last_attempt, excluded.last_attempt)"""
_SUCCEEDED_UPDATE = """attempts = attempts + excluded.attempts,
    successes = successes + excluded.successes,
    last_attempt = max(last_attempt, excluded.last_attempt),
    last_success = CASE
        WHEN excluded.last_success IS NULL THEN last_success
        WHEN last_success IS NULL THEN excluded.last_success
        ELSE max(last_success, excluded.last_success) END"""


@dataclass(frozen=True, slots=True)
class _Change:
    """One fix-outcome row touched by ``apply``: what was added and its new counts."""

    fix_key: str
    fix_commands: str
    added_attempts: int
    added_successes: int
    attempts: int
    successes: int


def _top_fixes(rows: Iterable[Sequence[Any]], limit: int) -> list[str]:
    """The ``limit`` best of (fix_commands, attempts, successes, last_success, fix_key)
    rows, in ``stats_math.rank_by_wilson``'s order; ``rows`` arrive in descending
    order of successes, so reading stops once no later row can enter the top."""
    ranked = rank_by_wilson(rows, itemgetter(2, 1, 3, 4), limit)
    return [row[0] for row in ranked]


def _display(commands: str) -> str:
    """One entry of ``effective_fixes``: the commands joined with ``&&``."""
    return " && ".join(orjson.loads(commands)) or "(no commands)"


def _json_list(text: Any) -> list[Any] | None:
    try:
        value = orjson.loads(text) if isinstance(text, (str, bytes)) else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _same_fix(change: _Change, listed: Any) -> bool:
    return isinstance(listed, str) and (
        listed == change.fix_commands or _safe_fix_key(listed) == change.fix_key
    )


def _safe_fix_key(commands: str) -> str | None:
    try:
        return fix_key_for(commands)
    except (orjson.JSONDecodeError, TypeError):
        return None


def _same_display(change: _Change, listed: Any) -> bool:
    return bool(listed == _display(change.fix_commands))


def _may_skip(changed: Sequence[_Change]) -> bool:
    """Whether ``_unchanged`` can hold: one fix of the scope key changed, by failures only,
    and it had been tried before (so the scope key already had a ranking)."""
    if len(changed) != 1:
        return False
    change = changed[0]
    return change.added_successes == 0 and change.attempts > change.added_attempts


def _unchanged(
    changed: Sequence[_Change], listed: list[Any], same: Callable[[_Change, Any], bool]
) -> bool:
    """Whether a stored ranking (top fixes of one scope key) stays as it is.

    True only when one fix changed, by failures only, that fix was already
    counted before (so the stored ranking was computed with it), and it either
    has no success (it ranks nowhere) or is not in the stored list: a failure
    only lowers that fix's bound, and every other fix is as it was. ``same``
    tells whether a listed entry may be the changed fix (it may err towards yes).
    """
    if not _may_skip(changed):
        return False
    change = changed[0]
    if change.successes == 0:
        return True
    return not any(same(change, entry) for entry in listed)


def stored_number(value: Any) -> float | int | None:
    """A stored seconds or cost value as a number; None for what is not one.

    The seed schema's REAL column keeps text that does not read as a number (a
    legacy ``'12.5s'``): it counts as unknown, not as an error.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def facts_from_rows(rows: Iterable[Sequence[Any]]) -> list[Fact]:
    """Facts from ``fix_history`` rows selected in FACT_COLUMNS order."""
    return [
        Fact(
            timestamp=r[0],
            model_name=r[1],
            # Rows another program wrote may spell a type otherwise; the
            # aggregates know one spelling (aimem.learn.signatures.normalize_issue_type).
            issue_type=normalize_issue_type(r[2]) if isinstance(r[2], str) else r[2],
            issue_signature=r[3],
            fingerprint=r[4] or "",
            fixer_type=normalize_fixer(r[5]) if isinstance(r[5], str) else r[5],
            fix_commands=canonical_commands(r[6]),
            fix_success=bool(r[7]),
            verification_success=bool(r[8]),
            execution_time_seconds=stored_number(r[9]),
            cost_usd=stored_number(r[10]),
            tokens_in=r[11],
            tokens_out=r[12],
            fixer_model=r[13],
        )
        for r in rows
    ]


FACT_COLUMNS = (
    "timestamp, model_name, issue_type, issue_signature, fingerprint, fixer_type, "
    "fix_commands, fix_success, verification_success, execution_time_seconds, "
    "cost_usd, tokens_in, tokens_out, fixer_model"
)


def fact_from_row(row: dict[str, Any]) -> Fact:
    """The aggregate fact of one exported or archived row."""
    return Fact(
        timestamp=row["timestamp"],
        model_name=row["model_name"],
        issue_type=normalize_issue_type(str(row["issue_type"])),
        issue_signature=row["issue_signature"],
        fingerprint=row.get("fingerprint") or "",
        fixer_type=normalize_fixer(str(row["fixer_type"])),
        fix_commands=canonical_commands(row["fix_commands"]),
        fix_success=bool(row["fix_success"]),
        verification_success=bool(row["verification_success"]),
        execution_time_seconds=row.get("execution_time_seconds"),
        # the cost rollup counts archived and purged attempts too
        cost_usd=row.get("cost_usd"),
        tokens_in=row.get("tokens_in"),
        tokens_out=row.get("tokens_out"),
        fixer_model=row.get("fixer_model"),
    )

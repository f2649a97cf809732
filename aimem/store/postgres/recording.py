"""Recording a few attempts on PostgreSQL in one statement.

``aimem_record_attempts`` (``record_function``) runs as its own transaction:
one round trip, and the locks it takes are held only while the server works
and commits, never while a client process waits for the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import orjson

from aimem.errors import AimemError
from aimem.store.aggregates import pattern_name
from aimem.store.postgres.connection import Connection
from aimem.store.schema import ATTEMPT_COLUMNS, UID_PARAM
from aimem.store.sqlite.rows import PreparedAttempts
from aimem.timeutil import now_iso

T = TypeVar("T")


def payload(prepared: PreparedAttempts, guard_pairs: Sequence[tuple[str, str]]) -> bytes:
    """The argument of ``aimem_record_attempts``: rows, rollup, guard keys, the time.

    Every list is sorted, so concurrent writers upsert shared rows in one order.
    """
    rollup = prepared.rollup
    return orjson.dumps(
        {
            "rows": [dict(zip(ATTEMPT_COLUMNS, params, strict=True)) for params in prepared.params],
            "totals": [(*k, *v) for k, v in sorted(rollup.totals.items())],
            "daily": [(*k, *v) for k, v in sorted(rollup.daily.items())],
            "temporal": [(*k, *v) for k, v in sorted(rollup.temporal.items())],
            "outcomes": [(*k, *v) for k, v in sorted(rollup.outcomes.items())],
            "costs": [(*k, *v) for k, v in sorted(rollup.costs.items())],
            "patterns": [
                (sig, kind, family, ok, failed, seen, pattern_name(kind, family, sig))
                for sig, (kind, family, ok, failed, seen) in sorted(rollup.patterns.items())
            ],
            "models": sorted(rollup.models),
            "guard": sorted(set(guard_pairs)),
            "now": now_iso(),
        }
    )


def record_prepared(
    pg: Connection,
    prepared: PreparedAttempts,
    guard_pairs: Sequence[tuple[str, str]],
    check: Callable[[dict[tuple[str, str], tuple[int, int]]], T],
    refuse_at: int | None,
) -> tuple[list[int | None], T]:
    """``Store.record_attempts`` of a small batch: one call, one transaction.

    With ``refuse_at`` the function writes nothing when a guard pair has
    failed that often and never worked, and ``check`` (which sees the same
    counts) raises.
    """
    with pg.translated():
        row = pg.raw.execute(
            "SELECT aimem_record_attempts(%s::jsonb, %s)",
            (payload(prepared, guard_pairs).decode(), refuse_at),
        ).fetchone()
    assert row is not None
    answer = orjson.loads(row[0])
    verdict = check({(key, fkey): (a, s) for key, fkey, a, s in answer["guard"]})
    if answer["ids"] is None:
        raise AimemError("the repeat guard refused the write, and its check did not say why")
    ids: dict[str, int] = answer["ids"]
    return [ids.get(params[UID_PARAM]) for params in prepared.params], verdict

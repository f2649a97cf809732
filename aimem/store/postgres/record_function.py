"""Recording a few attempts on PostgreSQL: one server-side function.

``AggregateWriter`` sends about eighteen statements per attempt, each a round
trip; under an exclusive lock from the first to the commit, writers took
turns, their commits could never share an fsync, and client and server spent
their CPU on statements rather than on work. ``aimem_record_attempts`` does
the same writes in one call, its own transaction: it inserts the rows, adds
the rollup (``aggregates.Rollup``, built in Python) to every aggregate table
with atomic upserts, and recomputes the rankings that can have changed (a
pattern's best fix, a model's characteristics) with ``aimem_top_fixes``,
``aggregates.best_fix``'s order in SQL. ``tests/test_pg_record_function.py``
checks that both paths leave the same state and rank alike.

Exactness without an exclusive lock: a value written back after a read (a
pattern's best fix, a model's characteristics, strict mode's repeat guard) is
read under a transaction lock on its signature, model or fingerprint that
every writer of it holds until its commit, so the last writer sees every
earlier one; everything else is an atomic increment of one row. Locks come in
one order (advisory locks sorted, then rows table by table, the rows every
model shares last), so writers cannot deadlock. Imports and maintenance take
the writers' lock exclusively and wait for every record in flight.
"""

from __future__ import annotations

import hashlib
import re

from aimem.store.aggregates import (
    ROLLUP_TABLES,
    TOP_COMMON_ISSUES,
    TOP_EFFECTIVE_FIXES,
    rollup_columns,
    rollup_merge,
)
from aimem.store.postgres.connection import WRITER_LOCK

RECORD_FUNCTION = """
-- stats_math.wilson_interval's lower bound, operation for operation, so both
-- backends compute the same double and round it to the same 6 places.
CREATE OR REPLACE FUNCTION aimem_wilson_low(s bigint, n bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n <= 0 THEN 0.0::double precision ELSE round(GREATEST(
        0.0::double precision,
        ((s::double precision / n
          + 1.959963984540054::double precision * 1.959963984540054::double precision
            / (2 * n)::double precision)
         - 1.959963984540054::double precision * sqrt(
              (s::double precision / n) * (1 - s::double precision / n) / n::double precision
              + 1.959963984540054::double precision * 1.959963984540054::double precision
                / (4 * n * n)::double precision))
        / (1 + 1.959963984540054::double precision * 1.959963984540054::double precision
               / n::double precision)), 6) END
$$;

-- aggregates.best_fix: the order of stats_math.rank_by_wilson (bound, then
-- successes, then the latest success, then the fix key).
CREATE OR REPLACE FUNCTION aimem_top_fixes(p_scope text, p_key text, p_limit integer)
RETURNS text[] LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ARRAY(
        SELECT fix_commands
          FROM aimem_fix_outcomes
         WHERE scope = p_scope AND scope_key = p_key AND successes > 0
         ORDER BY aimem_wilson_low(successes, attempts) DESC, successes DESC,
                  coalesce(last_success, '') DESC, fix_key
         LIMIT p_limit);
END $$;

-- aggregates._display: one entry of effective_fixes, the commands joined with &&.
CREATE OR REPLACE FUNCTION aimem_fix_display(commands text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN coalesce(nullif(array_to_string(
        ARRAY(SELECT jsonb_array_elements_text(commands::jsonb)), ' && '), ''), '(no commands)');
END $$;

CREATE OR REPLACE FUNCTION aimem_record_attempts(
    p jsonb, refuse_at integer)
RETURNS text LANGUAGE plpgsql
-- Generic plans: the statements' parameters are keys whose plans never differ,
-- and a custom plan would be planned again on every call.
SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    k bigint;
    item jsonb;
    model text;
    found_id bigint;
    found_best text;
    ids jsonb;
    guard jsonb;
    outcomes jsonb;
    patterns jsonb := '[]'::jsonb;
    v_total bigint;
    v_successes bigint;
    v_common text;
    v_stored text;
    common_top constant integer := {TOP_COMMON_ISSUES};
    effective_top constant integer := {TOP_EFFECTIVE_FIXES};
BEGIN
    PERFORM pg_advisory_xact_lock_shared({WRITER_LOCK});
    -- Strict mode's guard reads and then writes a fingerprint's count.
    IF refuse_at IS NOT NULL THEN
        FOR k IN SELECT DISTINCT hashtextextended('fingerprint:' || (g->>0), 0) AS key
                   FROM jsonb_array_elements(p->'guard') g ORDER BY key LOOP
            PERFORM pg_advisory_xact_lock(k);
        END LOOP;
    END IF;

    -- One primary-key probe per pair (a join would be planned without knowing
    -- how few pairs there are, and scan the table).
    guard := '[]'::jsonb;
    FOR item IN SELECT value FROM jsonb_array_elements(p->'guard') LOOP
        guard := guard || coalesce((
            SELECT jsonb_build_array(jsonb_build_array(o.scope_key, o.fix_key, o.attempts,
                                                       o.successes))
              FROM aimem_fix_outcomes o
             WHERE o.scope = 'fingerprint' AND o.scope_key = item->>0
               AND o.fix_key = item->>1), '[]'::jsonb);
    END LOOP;
    -- Strict mode: a fix that failed refuse_at times for a fingerprint and
    -- never worked for it (advice.is_repeated_failure) stops the whole write.
    IF refuse_at IS NOT NULL AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(guard) x
         WHERE (x->>3)::bigint = 0 AND (x->>2)::bigint - (x->>3)::bigint >= refuse_at) THEN
        RETURN jsonb_build_object('ids', NULL, 'guard', guard)::text;
    END IF;

    WITH added AS (
        INSERT INTO fix_history(timestamp, model_name, issue_type, issue_signature, description,
            fixer_type, claude_analysis, fix_commands, fix_success, verification_success,
            execution_time_seconds, system_info, notes, uid, fingerprint, tokens_in,
            tokens_out, cost_usd, fixer_model)
        SELECT r.timestamp, r.model_name, r.issue_type, r.issue_signature, r.description,
            r.fixer_type, r.claude_analysis, r.fix_commands, r.fix_success,
            r.verification_success, r.execution_time_seconds, r.system_info, r.notes, r.uid,
            r.fingerprint, r.tokens_in, r.tokens_out, r.cost_usd, r.fixer_model
          FROM jsonb_populate_recordset(NULL::fix_history, p->'rows') r
        RETURNING uid, id)
    SELECT jsonb_object_agg(uid, id) INTO ids FROM added;

{ROLLUP aimem_totals totals}

{ROLLUP aimem_daily daily}

    -- Rows in the order the caller sorted them, so concurrent writers lock them
    -- in one order. The scopes of one signature or model first; the scopes
    -- every model shares (and the rollups keyed without a model) last, just
    -- before the commit, so no writer holds them while it waits for a lock.
    WITH changed AS (
        {OUTCOME_INSERT}
          FROM jsonb_array_elements(p->'outcomes') WITH ORDINALITY AS x(e, n)
         WHERE e->>0 IN ('signature', 'model', 'model_type') ORDER BY n
        {OUTCOME_UPSERT}
        RETURNING o.scope, o.scope_key, o.fix_key, o.fix_commands, o.attempts, o.successes)
    SELECT coalesce(jsonb_agg(jsonb_build_array(c.scope, c.scope_key, c.fix_key,
                                                c.fix_commands, c.attempts, c.successes,
                                                (e->>4)::bigint, (e->>5)::bigint)), '[]'::jsonb)
      INTO outcomes
      FROM changed c JOIN jsonb_array_elements(p->'outcomes') e
        ON e->>0 = c.scope AND e->>1 = c.scope_key AND e->>2 = c.fix_key
     WHERE c.scope IN ('signature', 'model');

    -- What is read and written back (a signature's pattern row and best fix, a
    -- model's characteristics) is done under the signature's and the model's
    -- locks, taken only now: the increments above need none, and a writer that
    -- holds these until its commit makes everyone after it see its increments.
    FOR k IN SELECT key FROM (
                 SELECT hashtextextended('signature:' || (x->>0), 0)
                   FROM jsonb_array_elements(p->'patterns') x
                 UNION
                 SELECT hashtextextended('model:' || m, 0)
                   FROM jsonb_array_elements_text(p->'models') m) AS keys(key)
              ORDER BY key LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;

    -- A signature's counts go to its first pattern row; a new signature gets a
    -- row ranked below.
    FOR item IN SELECT value FROM jsonb_array_elements(p->'patterns') LOOP
        UPDATE issue_patterns SET
            success_count = coalesce(success_count, 0) + (item->>3)::bigint,
            failure_count = coalesce(failure_count, 0) + (item->>4)::bigint,
            last_seen = GREATEST(coalesce(last_seen, ''), item->>5),
            confidence_score = LEAST(1.0, (coalesce(success_count, 0) + (item->>3)::bigint
                + coalesce(failure_count, 0) + (item->>4)::bigint) / 10.0),
            issue_type = coalesce(issue_type, item->>1),
            model_family = coalesce(model_family, item->>2)
        WHERE id = (SELECT id FROM issue_patterns WHERE issue_signature = item->>0
                    ORDER BY id LIMIT 1)
        RETURNING id, best_fix INTO found_id, found_best;
        IF FOUND THEN
            patterns := patterns || jsonb_build_array(jsonb_build_array(
                item->>0, found_id, found_best, true));
        ELSE
            INSERT INTO issue_patterns(pattern_name, issue_signature, success_count,
                failure_count, best_fix, last_seen, confidence_score, issue_type, model_family)
            VALUES (item->>6, item->>0, (item->>3)::bigint, (item->>4)::bigint, NULL, item->>5,
                LEAST(1.0, ((item->>3)::bigint + (item->>4)::bigint) / 10.0), item->>1, item->>2)
            RETURNING id INTO found_id;
            patterns := patterns || jsonb_build_array(jsonb_build_array(
                item->>0, found_id, NULL, false));
        END IF;
    END LOOP;

    -- A ranking is computed again only where it can have changed
    -- (aggregates._unchanged): for a new pattern row, a model without a stored
    -- list, or a touched fix (outcomes: scope, key, fix key, commands, attempts,
    -- successes, attempts added, successes added) that has succeeded and either
    -- gained a success, is new, or is in the stored ranking. A fix that never
    -- worked ranks nowhere; one that only failed again, outside the ranking,
    -- only lowered its own bound.
    FOR item IN SELECT value FROM jsonb_array_elements(patterns) LOOP
        IF NOT (item->>3)::boolean OR EXISTS (
            SELECT 1 FROM jsonb_array_elements(outcomes) x
             WHERE x->>0 = 'signature' AND x->>1 = item->>0 AND (x->>5)::bigint > 0
               AND ((x->>7)::bigint > 0 OR x->>4 = x->>6
                    OR x->>3 IS NOT DISTINCT FROM item->>2)) THEN
            found_best := (aimem_top_fixes('signature', item->>0, 1))[1];
            IF found_best IS DISTINCT FROM item->>2 THEN
                UPDATE issue_patterns SET best_fix = found_best WHERE id = (item->>1)::bigint;
            END IF;
        END IF;
    END LOOP;

    FOR model IN SELECT jsonb_array_elements_text(p->'models') LOOP
        SELECT coalesce(sum(a), 0), coalesce(sum(s), 0),
               '[' || coalesce(string_agg(to_json(issue_type)::text, ',' ORDER BY a DESC, issue_type)
                                 FILTER (WHERE place <= common_top), '') || ']'
          INTO v_total, v_successes, v_common
          FROM (SELECT issue_type, a, s,
                       row_number() OVER (ORDER BY a DESC, issue_type) AS place
                  FROM (SELECT issue_type, sum(attempts) AS a, sum(successes) AS s
                          FROM aimem_totals WHERE model_name = model GROUP BY issue_type) t) ranked;
        SELECT effective_fixes INTO v_stored FROM model_characteristics m
         WHERE m.model_name = model;
        IF v_stored IS NOT NULL AND left(v_stored, 1) = '[' AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements(outcomes) x
             WHERE x->>0 = 'model' AND x->>1 = model AND (x->>5)::bigint > 0
               AND ((x->>7)::bigint > 0 OR x->>4 = x->>6
                    OR position(to_json(aimem_fix_display(x->>3))::text IN v_stored) > 0)) THEN
            UPDATE model_characteristics m SET total_tests = v_total,
                success_rate = CASE WHEN v_total > 0 THEN v_successes::double precision / v_total
                                    ELSE 0.0 END,
                common_issues = v_common, last_updated = p->>'now'
             WHERE m.model_name = model;
        ELSE
            INSERT INTO model_characteristics AS m(model_name, total_tests, success_rate,
                common_issues, effective_fixes, last_updated)
            VALUES (model, v_total,
                CASE WHEN v_total > 0 THEN v_successes::double precision / v_total ELSE 0.0 END,
                v_common,
                '[' || coalesce((
                    SELECT string_agg(to_json(aimem_fix_display(f))::text, ',' ORDER BY place)
                      FROM unnest(aimem_top_fixes('model', model, effective_top))
                           WITH ORDINALITY AS top(f, place)), '') || ']',
                p->>'now')
            ON CONFLICT (model_name) DO UPDATE SET total_tests = excluded.total_tests,
                success_rate = excluded.success_rate,
                common_issues = excluded.common_issues,
                effective_fixes = excluded.effective_fixes,
                last_updated = excluded.last_updated;
        END IF;
    END LOOP;

    {OUTCOME_INSERT}
      FROM jsonb_array_elements(p->'outcomes') WITH ORDINALITY AS x(e, n)
     WHERE e->>0 NOT IN ('signature', 'model', 'model_type') ORDER BY n
    {OUTCOME_UPSERT};

{ROLLUP aimem_temporal temporal}

{ROLLUP aimem_cost costs}

    RETURN jsonb_build_object('ids', ids, 'guard', guard)::text;
END $$;
"""

# The fix-outcome upsert, written twice above (the rows of one signature or
# model, then the rows every model shares): aggregates' _SUCCEEDED_UPDATE.
_OUTCOME_INSERT = """INSERT INTO aimem_fix_outcomes AS o(scope, scope_key, fix_key, fix_commands,
        attempts, successes, last_attempt, last_success)
    SELECT e->>0, e->>1, e->>2, e->>3, (e->>4)::bigint, (e->>5)::bigint, e->>6, e->>7"""
_OUTCOME_UPSERT = """ON CONFLICT (scope, scope_key, fix_key) DO UPDATE SET
        attempts = o.attempts + excluded.attempts,
        successes = o.successes + excluded.successes,
        last_attempt = GREATEST(o.last_attempt, excluded.last_attempt),
        last_success = CASE
            WHEN excluded.last_success IS NULL THEN o.last_success
            WHEN o.last_success IS NULL THEN excluded.last_success
            ELSE GREATEST(o.last_success, excluded.last_success) END"""


def _rollup_upsert(table: str, payload_key: str) -> str:
    """Add the payload's rows of one rollup table (``aggregates.ROLLUP_TABLES``),
    each a JSON array in ``rollup_columns`` order."""
    keys, values = ROLLUP_TABLES[table]
    typed = [*keys, *((column, kind) for column, _, kind in values)]
    read = ", ".join(
        f"e->>{n}" if kind == "text" else f"(e->>{n})::{kind}" for n, (_, kind) in enumerate(typed)
    )
    merge = rollup_merge(table, least="LEAST", greatest="GREATEST", stored=table)
    return (
        f"    INSERT INTO {table}({', '.join(rollup_columns(table))})\n"
        f"    SELECT {read}\n"
        f"      FROM jsonb_array_elements(p->'{payload_key}') e\n"
        f"    ON CONFLICT ({', '.join(column for column, _ in keys)}) DO UPDATE SET\n"
        f"    {merge};"
    )


# {ROLLUP table payload_key}: that table's upsert, from ROLLUP_TABLES.
RECORD_FUNCTION = re.sub(
    r"\{ROLLUP (\w+) (\w+)\}", lambda m: _rollup_upsert(m[1], m[2]), RECORD_FUNCTION
)
for _name, _value in (
    ("{OUTCOME_INSERT}", _OUTCOME_INSERT),
    ("{OUTCOME_UPSERT}", _OUTCOME_UPSERT),
    ("{TOP_COMMON_ISSUES}", TOP_COMMON_ISSUES),
    ("{TOP_EFFECTIVE_FIXES}", TOP_EFFECTIVE_FIXES),
    ("{WRITER_LOCK}", WRITER_LOCK),
):
    RECORD_FUNCTION = RECORD_FUNCTION.replace(_name, str(_value))

# Stored in aimem_meta when the function above is created: a database whose
# value differs gets the current text on its next migration check.
RECORD_FUNCTION_VERSION = hashlib.sha256(RECORD_FUNCTION.encode()).hexdigest()[:16]

"""Advice for the next attempt (issue 7): suggest, gate and the repeat guard.

- ``suggest`` considers the fixes verified on this model family and issue type
  (or, when there are none, on this issue type across models) and ranks them
  by the 95% Wilson lower bound of their success rate on the most specific
  history that tried them: this failure's fingerprint, else the model family
  and issue type, else the issue type. It lists what was tried for this
  fingerprint and failed, and says in one line what to do.
- ``gate`` turns that into a decision a pipeline can act on before paying for
  a fixer: ``try`` (exit 0) or ``skip`` (exit 3: a fix failed repeatedly on this
  fingerprint and nothing else clears the bar; exit 4: the best lower bound is
  under ``min_rate``).
- The repeat guard: a fix "failed repeatedly" for a fingerprint when it failed
  there at least ``max_failures`` times and never succeeded there. Recording
  such a fix again warns (``RepeatedFixWarning``) or, with ``strict``, is refused
  (``RepeatedFixError``) and nothing is written.

A success is an attempt whose fix was applied and verified. Every count
includes archived history (they come from the fix-outcome rollup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimem.errors import AimemError, InvalidInputError
from aimem.signatures import (
    fix_key,
    generate_fingerprint,
    generate_issue_signature,
    model_family,
    normalize_issue_type,
)
from aimem.stats_math import confidence, rank_by_wilson, rate, wilson_interval
from aimem.store import Store

DEFAULT_MAX_FAILURES = 3
DEFAULT_SUGGEST_LIMIT = 5

# gate exit codes (0 = try; 1 and 2 stay error and usage error)
EXIT_TRY = 0
EXIT_SKIP_REPEATED = 3
EXIT_SKIP_LOW_CONFIDENCE = 4

BASIS_LABELS = {
    "fingerprint": "this failure (same fingerprint)",
    "model_family": "this model family and issue type",
    "issue_type": "this issue type on any model",
}


class RepeatedFixWarning(UserWarning):
    """An attempt repeats fix commands that already failed repeatedly for its fingerprint."""


class RepeatedFixError(AimemError):
    """Refused (strict mode): the attempt repeats a fix that failed repeatedly for its fingerprint."""


def _check_max_failures(max_failures: Any) -> int:
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
        raise InvalidInputError("max_failures", "must be a whole number of at least 1")
    return max_failures


def _check_min_rate(min_rate: Any) -> float:
    if isinstance(min_rate, bool) or not isinstance(min_rate, (int, float)):
        raise InvalidInputError("min_rate", "must be a number between 0 and 1")
    if not 0.0 <= float(min_rate) <= 1.0:
        raise InvalidInputError("min_rate", "must be between 0 and 1")
    return float(min_rate)


def commands_text(commands: Sequence[str]) -> str:
    """Fix commands on one line, as the recommendation shows them."""
    return " && ".join(commands) if commands else "(no commands)"


def issue_key(issue_data: Mapping[str, Any]) -> dict[str, Any]:
    """Model, issue type, family, signature and fingerprint of an issue (validated).

    The fingerprint is None when there is no description: it is made from the
    description (and response) and would match nothing.
    """
    if not isinstance(issue_data, Mapping):
        raise InvalidInputError("issue_data", "must be an object")
    model = issue_data.get("model")
    issue_type = issue_data.get("issue_type")
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("issue_data.model", "is missing")
    if not isinstance(issue_type, str) or not issue_type.strip():
        raise InvalidInputError("issue_data.issue_type", "is missing")
    issue_type = normalize_issue_type(issue_type)
    description = issue_data.get("description")
    response = issue_data.get("actual_response") or ""
    for name, value in (("description", description), ("actual_response", response)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"issue_data.{name}", "must be a string")
    signature_input = {
        "issue_type": issue_type,
        "model": model,
        "test_prompt": str(issue_data.get("test_prompt") or ""),
        "actual_response": str(response),
    }
    return {
        "model": model,
        "issue_type": issue_type,
        "model_family": model_family(model),
        "issue_signature": generate_issue_signature(signature_input),
        "fingerprint": generate_fingerprint(issue_type, model, description, str(response))
        if description
        else None,
    }


def _stats(successes: int, attempts: int) -> dict[str, Any]:
    low, high = wilson_interval(successes, attempts)
    return {
        "successes": successes,
        "attempts": attempts,
        "success_rate": round(rate(successes, attempts), 4),
        "confidence": confidence(attempts),
        "wilson_low": low,
        "wilson_high": high,
    }


def _totals(store: Store, scope: str, scope_key: str) -> dict[str, Any]:
    attempts, successes = store.scope_totals(scope, scope_key)
    return _stats(successes, attempts)


def _by_key(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {fix_key(o["fix_commands"]): o for o in outcomes}


def is_repeated_failure(attempts: int, successes: int, max_failures: int) -> bool:
    """The repeat rule: at least ``max_failures`` failures and no success (one fingerprint)."""
    return successes == 0 and attempts - successes >= max_failures


def suggest(
    store: Store,
    issue_data: Mapping[str, Any],
    limit: int = DEFAULT_SUGGEST_LIMIT,
    max_failures: int = DEFAULT_MAX_FAILURES,
) -> dict[str, Any]:
    """Ranked fixes for this issue, what already failed for it, and a recommendation."""
    max_failures = _check_max_failures(max_failures)
    key = issue_key(issue_data)
    issue_type, family, fingerprint = key["issue_type"], key["model_family"], key["fingerprint"]
    # Only fixes verified somewhere can be suggested; the type scope is the largest.
    by_type = _by_key(store.fix_outcomes("type", issue_type, min_successes=1))
    by_family = _by_key(store.fix_outcomes("family_type", f"{family}|{issue_type}"))
    by_print = _by_key(store.fix_outcomes("fingerprint", fingerprint)) if fingerprint else {}

    fixers: dict[str, list[dict[str, Any]]] = {}
    for row in store.fixers_of_successes(issue_type):
        fixers.setdefault(fix_key(row["fix_commands"]), []).append(
            {
                "fixer_type": row["fixer_type"],
                "fixer_model": row["fixer_model"],
                "successes": row["successes"],
            }
        )
    for listed in fixers.values():
        listed.sort(key=lambda f: (-f["successes"], f["fixer_type"], f["fixer_model"] or ""))

    failed: list[dict[str, Any]] = []
    blocked_keys: set[str] = set()
    for fkey, outcome in by_print.items():
        failures = outcome["attempts"] - outcome["successes"]
        if failures <= 0:
            continue
        blocked = is_repeated_failure(outcome["attempts"], outcome["successes"], max_failures)
        if blocked:
            blocked_keys.add(fkey)
        failed.append(
            {
                "fix_commands": outcome["fix_commands"],
                "failures": failures,
                "successes": outcome["successes"],
                "attempts": outcome["attempts"],
                "last_attempt": outcome["last_attempt"],
                "last_success": outcome["last_success"],
                "repeated_failure": blocked,
            }
        )
    # most failures first, then the most recently tried, then by commands
    failed.sort(key=lambda f: commands_text(f["fix_commands"]))
    failed.sort(key=lambda f: f["last_attempt"] or "", reverse=True)
    failed.sort(key=lambda f: -f["failures"])

    # The pool: fixes verified on this model family and issue type when there are
    # any (a fix for another family often names another model), else on the issue type.
    family_pool = {k for k, o in by_family.items() if o["successes"] > 0}
    candidates: list[dict[str, Any]] = []
    for fkey, outcome in by_type.items():
        if outcome["successes"] < 1 or fkey in blocked_keys:
            continue
        if family_pool and fkey not in family_pool:
            continue
        if fkey in by_print:
            basis, chosen = "fingerprint", by_print[fkey]
        elif fkey in by_family:
            basis, chosen = "model_family", by_family[fkey]
        else:
            basis, chosen = "issue_type", outcome
        evidence = {
            "fingerprint": _stats(by_print[fkey]["successes"], by_print[fkey]["attempts"])
            if fkey in by_print
            else None,
            "model_family": _stats(by_family[fkey]["successes"], by_family[fkey]["attempts"])
            if fkey in by_family
            else None,
            "issue_type": _stats(outcome["successes"], outcome["attempts"]),
        }
        candidates.append(
            {
                "fix_commands": outcome["fix_commands"],
                "basis": basis,
                **_stats(chosen["successes"], chosen["attempts"]),
                "last_success": chosen["last_success"] or outcome["last_success"],
                "fixers": fixers.get(fkey, []),
                "evidence": evidence,
                "_tie": fkey,
            }
        )
    ranked = rank_by_wilson(
        candidates,
        lambda c: (c["successes"], c["attempts"], c["last_success"], c["_tie"]),
    )[:limit]
    ranked = [
        {"rank": position, **{k: v for k, v in item.items() if k != "_tie"}}
        for position, item in enumerate(ranked, 1)
    ]

    history = {
        "fingerprint": _stats(
            sum(o["successes"] for o in by_print.values()),
            sum(o["attempts"] for o in by_print.values()),
        ),
        "model_family": _totals(store, "family_type", f"{family}|{issue_type}"),
        "issue_type": _totals(store, "type", issue_type),
    }
    return {
        **key,
        "max_failures": max_failures,
        "history": history,
        "ranked_fixes": ranked,
        "failed_for_fingerprint": failed,
        "recommendation": _recommendation(key, history, ranked, failed, max_failures),
    }


def _recommendation(
    key: dict[str, Any],
    history: dict[str, Any],
    ranked: list[dict[str, Any]],
    failed: list[dict[str, Any]],
    max_failures: int,
) -> str:
    repeated = [f for f in failed if f["repeated_failure"]]
    avoid = ""
    if repeated:
        worst = repeated[0]
        avoid = (
            f"; do not repeat `{commands_text(worst['fix_commands'])}` "
            f"(failed {worst['failures']}x on this failure, never worked)"
        )
    if ranked:
        best = ranked[0]
        return (
            f"Try `{commands_text(best['fix_commands'])}`: {best['successes']}/{best['attempts']} "
            f"verified on {BASIS_LABELS[best['basis']]}, 95% lower bound "
            f"{best['wilson_low']:.0%}{avoid}."
        )
    if repeated:
        return (
            f"Escalate: every fix known for this failure failed at least {max_failures} times "
            f"and none has worked for {key['issue_type']}{avoid}."
        )
    attempts = history["issue_type"]["attempts"]
    if attempts:
        return (
            f"No fix has been verified for {key['issue_type']} yet ({attempts} attempts): "
            "try something new and record the outcome."
        )
    return (
        f"No history for {key['issue_type']} yet: this is the first attempt; "
        "record its outcome so the next one can learn from it."
    )


def gate(
    store: Store,
    issue_data: Mapping[str, Any],
    min_rate: float = 0.0,
    max_failures: int = DEFAULT_MAX_FAILURES,
) -> dict[str, Any]:
    """Whether an attempt is worth making, with the exit code a pipeline acts on.

    - ``try`` / 0, reason ``evidence``: a fix that did not fail repeatedly here has
      a Wilson lower bound of at least ``min_rate``;
    - ``skip`` / 3, reason ``repeated-failure``: otherwise, when a fix failed at least
      ``max_failures`` times for this fingerprint and never worked for it;
    - ``try`` / 0, reason ``no-history``: nothing was ever recorded for this issue type;
    - ``skip`` / 4, reason ``low-confidence``: the best lower bound is under ``min_rate``;
    - ``try`` / 0, reason ``no-known-fix``: history but no verified fix, and ``min_rate`` 0.
    """
    min_rate = _check_min_rate(min_rate)
    advice = suggest(store, issue_data, limit=1, max_failures=max_failures)
    ranked = advice["ranked_fixes"]
    best = ranked[0] if ranked else None
    best_low = best["wilson_low"] if best else 0.0
    repeated = [f for f in advice["failed_for_fingerprint"] if f["repeated_failure"]]
    if best is not None and best_low >= min_rate:
        decision, code, reason = "try", EXIT_TRY, "evidence"
        message = advice["recommendation"]
    elif repeated:
        decision, code, reason = "skip", EXIT_SKIP_REPEATED, "repeated-failure"
        message = (
            f"skip: `{commands_text(repeated[0]['fix_commands'])}` failed "
            f"{repeated[0]['failures']} times on this failure and nothing else "
            f"clears a lower bound of {min_rate:.0%}"
        )
    elif advice["history"]["issue_type"]["attempts"] == 0:
        decision, code, reason = "try", EXIT_TRY, "no-history"
        message = f"try: no history for {advice['issue_type']}; record the outcome"
    elif min_rate > 0:
        decision, code, reason = "skip", EXIT_SKIP_LOW_CONFIDENCE, "low-confidence"
        message = (
            f"skip: the best known fix has a 95% lower bound of {best_low:.0%}, "
            f"under the required {min_rate:.0%}"
        )
    else:
        decision, code, reason = "try", EXIT_TRY, "no-known-fix"
        message = advice["recommendation"]
    return {
        "decision": decision,
        "exit_code": code,
        "reason": reason,
        "message": message,
        "min_rate": min_rate,
        "max_failures": advice["max_failures"],
        "model": advice["model"],
        "issue_type": advice["issue_type"],
        "issue_signature": advice["issue_signature"],
        "fingerprint": advice["fingerprint"],
        "best_fix": best,
        "best_wilson_low": best_low,
        "repeated_failures": repeated,
        "history": advice["history"],
    }


def repeated_fixes(
    store: Store, attempts: Sequence[Any], max_failures: int, conn: Any = None
) -> list[tuple[int, Any, int]]:
    """The attempts (index, attempt, failures) that repeat a repeatedly failed fix.

    Attempts with no commands are never repeats. ``conn``: read inside the
    caller's write transaction, so concurrent writers cannot slip past strict mode.
    """
    keyed = [
        (index, attempt, (attempt.fingerprint, fix_key(attempt.fix_commands)))
        for index, attempt in enumerate(attempts)
        if attempt.fix_commands and attempt.fingerprint
    ]
    counts = store.fix_outcome_pairs("fingerprint", [pair for _, _, pair in keyed], conn)
    found = []
    for index, attempt, pair in keyed:
        tried, worked = counts.get(pair, (0, 0))
        if is_repeated_failure(tried, worked, max_failures):
            found.append((index, attempt, tried - worked))
    return found


def repeat_message(attempt: Any, failures: int, index: int | None = None) -> str:
    """The one-line warning (or error) for a repeated fix."""
    where = f"attempt {index + 1}: " if index is not None else ""
    return (
        f"{where}fix `{commands_text(attempt.fix_commands)}` already failed {failures} times "
        f"for this failure (fingerprint {attempt.fingerprint}) and never worked for it"
    )


def retention_plan(store: Store, keep_failures_per_fingerprint: int) -> dict[str, Any]:
    """Rows that outcome-aware retention would archive, and what that would change.

    Keeps hot every verified success and the latest ``keep_failures_per_fingerprint``
    failures of each fingerprint; selects every older failure. Archived rows keep
    counting in every aggregate (patterns, successful, suggest, gate, the repeat
    guard, cost), so no learned figure changes; what leaves the hot table is the
    raw evidence that ``similar``, ``context``, ``search`` and ``recent`` show.
    """
    keep = keep_failures_per_fingerprint
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise InvalidInputError(
            "keep_failures_per_fingerprint", "must be a whole number of at least 0"
        )
    selected = store.failure_ids_beyond(keep)
    by_type: dict[str, int] = {}
    fingerprints: set[str] = set()
    per_fix: dict[str, int] = {}
    for row in selected:
        by_type[row["issue_type"]] = by_type.get(row["issue_type"], 0) + 1
        fingerprints.add(row["fingerprint"] or "")
        per_fix[row["fix_commands"]] = per_fix.get(row["fix_commands"], 0) + 1
    hot = store.hot_fix_counts() if selected else {}
    leaving: list[dict[str, Any]] = sorted(
        (
            {"fix_commands": _json_list(text), "rows": count}
            for text, count in per_fix.items()
            if hot.get(text, 0) == count
        ),
        key=lambda f: (-f["rows"], commands_text(f["fix_commands"])),
    )
    explanation = [
        f"{len(selected)} failed attempt(s) of {len(fingerprints)} fingerprint(s) would be "
        f"archived; every verified success and the latest {keep} failure(s) per fingerprint "
        "stay hot.",
        "Learning is unchanged: archived rows keep counting in patterns, successful, model, "
        "analytics, cost, suggest, gate and the repeat guard.",
    ]
    if leaving:
        explanation.append(
            f"{len(leaving)} fix(es) would have no hot example left (only failures), so "
            "similar, context and search would no longer show them: "
            + "; ".join(f"`{commands_text(f['fix_commands'])}`" for f in leaving[:5])
            + (" …" if len(leaving) > 5 else "")
        )
    return {
        "keep_failures_per_fingerprint": keep,
        "rows": len(selected),
        "fingerprints": len(fingerprints),
        "by_issue_type": dict(sorted(by_type.items())),
        "fixes_without_hot_rows": leaving,
        "learning_changed": False,
        "explanation": explanation,
        "row_ids": [row["id"] for row in selected],
    }


def _json_list(text: str) -> list[str]:
    import orjson

    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [text]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]

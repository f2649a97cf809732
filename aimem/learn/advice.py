"""Advice for the next attempt: suggest, gate and the repeat guard.

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
from aimem.learn import estimate
from aimem.learn.signatures import (
    fix_key,
    generate_fingerprint,
    generate_issue_signature,
    model_family,
    normalize_issue_type,
)
from aimem.learn.stats_math import confidence, rate, wilson_interval
from aimem.learn.templates import fill, other_model_finder, template_commands, template_json
from aimem.store import Store
from aimem.store.aggregates import OutcomeQuestion, canonical_commands, fix_key_for

DEFAULT_MAX_FAILURES = 3
DEFAULT_SUGGEST_LIMIT = 5

# gate exit codes (0 = try; 1 and 2 stay error and usage error)
EXIT_TRY = 0
EXIT_SKIP_REPEATED = 3
EXIT_SKIP_LOW_CONFIDENCE = 4

BASIS_LABELS = {
    "model": "this model and issue type",
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


def _totals(counts: tuple[int, int]) -> dict[str, Any]:
    """``_stats`` of (attempts, successes) as ``scope_totals`` gives them."""
    attempts, successes = counts
    return _stats(successes, attempts)


def _by_key(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {fix_key(o["fix_commands"]): o for o in outcomes}


def is_repeated_failure(attempts: int, successes: int, max_failures: int) -> bool:
    """The repeat rule: at least ``max_failures`` failures and no success (one fingerprint)."""
    return successes == 0 and attempts - successes >= max_failures


# Candidate fixes read from the issue type's record, most successes first: the
# family's and the model's own fixes are read in full, so a fix that only works
# here is never missed; the type's long tail is.
TYPE_CANDIDATES = 200
# A fix that failed here repeatedly is not worth trying again when the chance
# that it beats the best known fix is under this.
AVOID_BELOW = 0.05
CREDIBLE = 0.95


def _estimate(posterior: estimate.Posterior) -> dict[str, float]:
    tail = (1 - CREDIBLE) / 2
    return {
        "mean": round(posterior.mean, 4),
        "low": round(posterior.quantile(tail), 4),
        "high": round(posterior.quantile(1 - tail), 4),
    }


def _counts(outcome: Mapping[str, Any] | None) -> estimate.Counts:
    if outcome is None:
        return estimate.Counts()
    return estimate.Counts(int(outcome["attempts"]), int(outcome["successes"]))


def outcome_questions(key: Mapping[str, Any]) -> list[OutcomeQuestion]:
    """The fix-outcome questions ``suggest`` asks about an ``issue_key``: the issue
    type's candidates, the model family's and the model's fixes, the fingerprint's."""
    model, issue_type, family = key["model"], key["issue_type"], key["model_family"]
    questions: list[OutcomeQuestion] = [
        ("type", issue_type, TYPE_CANDIDATES, 1),
        ("family_type", f"{family}|{issue_type}", None, 0),
        ("model_type", f"{model}|{issue_type}", None, 0),
    ]
    if key["fingerprint"]:
        questions.append(("fingerprint", key["fingerprint"], None, 0))
    return questions


def suggest(
    store: Store,
    issue_data: Mapping[str, Any],
    limit: int = DEFAULT_SUGGEST_LIMIT,
    max_failures: int = DEFAULT_MAX_FAILURES,
    seed: int | None = None,
) -> dict[str, Any]:
    """Ranked fixes for this issue, whether to explore, what to avoid, and a recommendation.

    Each known fix's success rate on this model is a pooled Beta posterior
    (``aimem.learn.estimate``): this model's record, then its family's, then the issue
    type's. Fixes are ranked by one draw from each posterior, never below its
    mean (optimistic Thompson sampling: a well-known fix is not demoted by an
    unlucky draw, an uncertain one still gets its chances), and a new fix
    competes as one more arm: ``explore`` is true when its draw wins. ``seed`` makes the draws repeatable; without it they
    are a function of the question and the amount of evidence.
    """
    max_failures = _check_max_failures(max_failures)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidInputError("seed", "must be a whole number")
    key = issue_key(issue_data)
    model, issue_type = key["model"], key["issue_type"]
    family = key["model_family"]
    # Every scope in one read: one round trip to a database server, not four.
    by_type, by_family, by_model, *by_fingerprint = map(
        _by_key, store.fix_outcomes_many(outcome_questions(key))
    )
    by_print = by_fingerprint[0] if by_fingerprint else {}
    known_models = store.model_names()
    missing = [(issue_type, k) for k in {*by_family, *by_model} if k not in by_type]
    type_counts = {
        k: estimate.Counts(*v) for (_, k), v in store.fix_outcome_pairs("type", missing).items()
    }
    type_counts.update({k: _counts(o) for k, o in by_type.items()})

    in_scopes = store.scope_totals(
        [
            ("type", issue_type),
            ("model_type", f"{model}|{issue_type}"),
            ("family_type", f"{family}|{issue_type}"),
        ]
    )
    type_total = estimate.Counts(*in_scopes[("type", issue_type)])
    base = estimate.base_rate(type_total.attempts, type_total.successes)
    names_other_model = other_model_finder(model, known_models)

    posteriors: dict[str, estimate.Posterior] = {}
    commands: dict[str, list[str]] = {}
    for fkey in {*by_type, *by_family, *by_model}:
        template = (by_model.get(fkey) or by_family.get(fkey) or by_type[fkey])["fix_commands"]
        filled = fill(template, model)
        if names_other_model(filled):
            continue
        commands[fkey] = filled
        in_type = type_counts.get(fkey, estimate.Counts())
        posteriors[fkey] = estimate.pooled(
            _counts(by_model.get(fkey)),
            _counts(by_family.get(fkey)),
            in_type,
            estimate.base_rate_without(type_total, in_type),
        )

    failed = _failed_for_fingerprint(by_print, model, max_failures)
    worked = {k for k in posteriors if type_counts.get(k, estimate.Counts()).successes > 0}
    best = max(worked, key=lambda k: (posteriors[k].mean, k), default=None)
    # Clearly worse than the best means worse than what the best does at least,
    # not than its estimate: a best known from a few lucky tries proves little.
    bar = posteriors[best].quantile(AVOID_BELOW) if best is not None else None
    avoid_keys = {
        fkey
        for fkey, posterior in posteriors.items()
        if _known_failure(
            posterior,
            bar if fkey in worked else None,
            _counts(by_model.get(fkey)),
            _counts(by_print.get(fkey)),
            max_failures,
        )
    }

    rng = estimate.seeded_rng(seed, model, issue_type, type_total.attempts)
    new_fix = estimate.new_fix_prior([posteriors[k].mean for k in posteriors], base)
    draws = {
        k: max(posteriors[k].sample(rng), posteriors[k].mean) for k in sorted(worked - avoid_keys)
    }
    new_draw = max(new_fix.sample(rng), new_fix.mean)
    order = sorted(draws, key=lambda k: (-draws[k], k))
    explore = not order or new_draw > draws[order[0]]

    fixers = _fixers(store, issue_type)
    ranked = []
    for position, fkey in enumerate(order[:limit], 1):
        levels = (("model", by_model), ("model_family", by_family))
        basis, chosen = next(
            ((name, table[fkey]) for name, table in levels if fkey in table),
            ("issue_type", None),
        )
        counts = _counts(chosen) if chosen else type_counts[fkey]
        template = (by_model.get(fkey) or by_family.get(fkey) or by_type[fkey])["fix_commands"]
        ranked.append(
            {
                "rank": position,
                "fix_commands": commands[fkey],
                "template": list(template),
                "basis": basis,
                **_stats(counts.successes, counts.attempts),
                "estimate": _estimate(posteriors[fkey]),
                "score": round(draws[fkey], 4),
                "last_success": ((chosen or {}).get("last_success"))
                or (by_type[fkey]["last_success"] if fkey in by_type else None),
                "fixers": fixers.get(fkey, []),
                "evidence": {
                    "model": _level_stats(by_model.get(fkey)),
                    "fingerprint": _level_stats(by_print.get(fkey)),
                    "model_family": _level_stats(by_family.get(fkey)),
                    "issue_type": _stats(type_counts[fkey].successes, type_counts[fkey].attempts),
                },
            }
        )
    avoid = sorted((commands[k] for k in avoid_keys), key=commands_text)
    history = {
        "model": _totals(in_scopes[("model_type", f"{model}|{issue_type}")]),
        "fingerprint": _stats(
            sum(o["successes"] for o in by_print.values()),
            sum(o["attempts"] for o in by_print.values()),
        ),
        "model_family": _totals(in_scopes[("family_type", f"{family}|{issue_type}")]),
        "issue_type": _stats(type_total.successes, type_total.attempts),
    }
    new_estimate = {**_estimate(new_fix), "score": round(new_draw, 4)}
    return {
        **key,
        "max_failures": max_failures,
        "seed": seed,
        "history": history,
        "ranked_fixes": ranked,
        "explore": explore,
        "new_fix": new_estimate,
        "avoid": avoid,
        "failed_for_fingerprint": failed,
        "recommendation": _recommendation(key, history, ranked, explore, avoid, failed),
    }


def _known_failure(
    posterior: estimate.Posterior,
    bar: float | None,
    on_model: estimate.Counts,
    on_fingerprint: estimate.Counts,
    max_failures: int,
) -> bool:
    """Whether a fix is not worth trying again for this issue on this model.

    Either it never worked anywhere (``bar`` None) and failed at least
    ``max_failures`` times on this model or for this failure's fingerprint;
    or it failed that often on this model itself and the chance that it
    reaches ``bar`` (the best known fix's lower bound) is under
    ``AVOID_BELOW`` given everything pooled. Failures on other models alone
    never exclude a fix that worked somewhere: what fails on one model may be
    the best fix for another, and only trying it here can tell.
    """
    if bar is None:
        return any(
            c.failures >= max_failures and c.successes == 0 for c in (on_model, on_fingerprint)
        )
    return on_model.failures >= max_failures and posterior.prob_above(bar) < AVOID_BELOW


def _level_stats(outcome: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if outcome is None else _stats(outcome["successes"], outcome["attempts"])


def _failed_for_fingerprint(
    by_print: dict[str, dict[str, Any]], model: str, max_failures: int
) -> list[dict[str, Any]]:
    failed: list[dict[str, Any]] = []
    for outcome in by_print.values():
        failures = outcome["attempts"] - outcome["successes"]
        if failures <= 0:
            continue
        repeated = is_repeated_failure(outcome["attempts"], outcome["successes"], max_failures)
        failed.append(
            {
                "fix_commands": fill(outcome["fix_commands"], model),
                "failures": failures,
                "successes": outcome["successes"],
                "attempts": outcome["attempts"],
                "last_attempt": outcome["last_attempt"],
                "last_success": outcome["last_success"],
                "repeated_failure": repeated,
            }
        )
    # most failures first, then the most recently tried, then by commands
    failed.sort(key=lambda f: commands_text(f["fix_commands"]))
    failed.sort(key=lambda f: f["last_attempt"] or "", reverse=True)
    failed.sort(key=lambda f: -f["failures"])
    return failed


def _fixers(store: Store, issue_type: str) -> dict[str, list[dict[str, Any]]]:
    """Which fixers produced the latest verified successes of each fix (by template)."""
    counts: dict[str, dict[tuple[str, str | None], int]] = {}
    # Rows are grouped by fixer too: the same commands and model recur.
    keys: dict[tuple[str, str], str] = {}
    for row in store.fixers_of_successes(issue_type):
        which = (row["fix_commands"], row["model_name"])
        fkey = keys.get(which)
        if fkey is None:
            template = template_json(canonical_commands(which[0]), which[1])
            fkey = keys[which] = fix_key_for(template)
        per_fixer = counts.setdefault(fkey, {})
        who = (row["fixer_type"], row["fixer_model"])
        per_fixer[who] = per_fixer.get(who, 0) + row["successes"]
    return {
        fkey: sorted(
            (
                {"fixer_type": fixer, "fixer_model": version, "successes": n}
                for (fixer, version), n in per_fixer.items()
            ),
            key=lambda f: (-f["successes"], f["fixer_type"], f["fixer_model"] or ""),
        )
        for fkey, per_fixer in counts.items()
    }


def _recommendation(
    key: dict[str, Any],
    history: dict[str, Any],
    ranked: list[dict[str, Any]],
    explore: bool,
    avoid: list[list[str]],
    failed: list[dict[str, Any]],
) -> str:
    dont = ""
    if avoid:
        dont = f"; do not repeat `{commands_text(avoid[0])}`" + (
            f" (and {len(avoid) - 1} more known failures)" if len(avoid) > 1 else ""
        )
    if ranked and not explore:
        best = ranked[0]
        return (
            f"Try `{commands_text(best['fix_commands'])}`: estimated "
            f"{best['estimate']['mean']:.0%} to work on {key['model']} "
            f"({best['successes']}/{best['attempts']} verified on "
            f"{BASIS_LABELS[best['basis']]}){dont}."
        )
    if ranked:
        best = ranked[0]
        return (
            f"Explore: ask the fixer for a new fix; the best known, "
            f"`{commands_text(best['fix_commands'])}`, is estimated at "
            f"{best['estimate']['mean']:.0%}, and a new fix may do better{dont}."
        )
    if avoid or any(f["repeated_failure"] for f in failed):
        return (
            f"Explore: no known fix is worth trying for {key['issue_type']} on "
            f"{key['model']}; ask the fixer for a new one{dont}."
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

    The estimate is ``suggest``'s pooled posterior; the bar is its 95% credible
    lower bound (``low``), so little evidence cannot pass a high ``min_rate``.

    - ``try`` / 0, reason ``evidence``: a fix not to be avoided has a lower
      bound of at least ``min_rate``;
    - ``skip`` / 3, reason ``repeated-failure``: otherwise, when a fix failed at least
      ``max_failures`` times for this fingerprint (or model) and never worked there;
    - ``try`` / 0, reason ``no-history``: nothing was ever recorded for this issue type;
    - ``skip`` / 4, reason ``low-confidence``: the best lower bound is under ``min_rate``;
    - ``try`` / 0, reason ``no-known-fix``: history but no verified fix, and ``min_rate`` 0.
    """
    min_rate = _check_min_rate(min_rate)
    advice = suggest(store, issue_data, limit=DEFAULT_SUGGEST_LIMIT, max_failures=max_failures)
    ranked = advice["ranked_fixes"]
    best = max(ranked, key=lambda f: f["estimate"]["low"], default=None)
    best_low = best["estimate"]["low"] if best else 0.0
    repeated = [f for f in advice["failed_for_fingerprint"] if f["repeated_failure"]]
    if best is not None and best_low >= min_rate:
        decision, code, reason = "try", EXIT_TRY, "evidence"
        message = (
            f"try `{commands_text(best['fix_commands'])}`: estimated "
            f"{best['estimate']['mean']:.0%}, 95% lower bound {best_low:.0%}"
        )
    elif repeated or (advice["avoid"] and not ranked):
        decision, code, reason = "skip", EXIT_SKIP_REPEATED, "repeated-failure"
        worst = repeated[0]["fix_commands"] if repeated else advice["avoid"][0]
        failures = (
            f" failed {repeated[0]['failures']} times on this failure"
            if repeated
            else (" keeps failing here")
        )
        message = (
            f"`{commands_text(worst)}`{failures} and nothing else clears a lower bound "
            f"of {min_rate:.0%}"
        )
    elif advice["history"]["issue_type"]["attempts"] == 0:
        decision, code, reason = "try", EXIT_TRY, "no-history"
        message = f"no history for {advice['issue_type']}; record the outcome"
    elif min_rate > 0:
        decision, code, reason = "skip", EXIT_SKIP_LOW_CONFIDENCE, "low-confidence"
        message = (
            f"the best known fix has a 95% lower bound of {best_low:.0%}, "
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
        "best_wilson_low": best["wilson_low"] if best else 0.0,
        "best_low": best_low,
        "explore": advice["explore"],
        "avoid": advice["avoid"],
        "repeated_failures": repeated,
        "history": advice["history"],
    }


def guard_keys(attempts: Sequence[Any]) -> list[tuple[int, Any, tuple[str, str]]]:
    """(index, attempt, (fingerprint, template fix key)) of the attempts the repeat
    guard looks up; attempts with no commands or no fingerprint are never repeats."""
    return [
        (
            index,
            attempt,
            (
                attempt.fingerprint,
                fix_key(template_commands(attempt.fix_commands, attempt.model_name)),
            ),
        )
        for index, attempt in enumerate(attempts)
        if attempt.fix_commands and attempt.fingerprint
    ]


def repeats_among(
    keyed: Sequence[tuple[int, Any, tuple[str, str]]],
    counts: dict[tuple[str, str], tuple[int, int]],
    max_failures: int,
) -> list[tuple[int, Any, int]]:
    """The attempts of ``guard_keys`` (index, attempt, failures) that repeat a
    repeatedly failed fix, given the fingerprint-scope ``counts`` of their keys."""
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

"""Context for a fixer: deterministic Markdown, bounded in size.

Sections in priority order: the model's record, similar past issues (what was
tried, whether it worked), patterns, strategies that work, knowledge base
notes. When the whole does not fit ``max_chars``, lower-priority lines are
dropped first; the same history and arguments always give the same text.
"""

from __future__ import annotations

from typing import Any

from aimem.learn.signatures import model_family
from aimem.learn.stats_math import rate, wilson_interval

DEFAULT_MAX_CHARS = 8000
TRUNCATION_NOTE = "_(context truncated to fit the size limit)_"


def _commands(commands: list[str] | None) -> str:
    if not commands:
        return "(no commands)"
    # one code span, as suggest and gate show a fix: the commands run in order
    shown = "`" + " && ".join(commands[:4]) + "`"
    return shown + (f" (+{len(commands) - 4} more)" if len(commands) > 4 else "")


def _outcome(row: dict[str, Any]) -> str:
    if row["fix_success"] and row["verification_success"]:
        return "verified success"
    if row["fix_success"]:
        return "applied, not verified"
    return "failed"


def _one_line(text: str | None, limit: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _rate_text(successes: int, attempts: int) -> str:
    low, high = wilson_interval(successes, attempts)
    return f"{successes}/{attempts} verified ({rate(successes, attempts):.0%}, 95% CI {low:.0%}–{high:.0%})"


def build_sections(
    model: str,
    issue_type: str,
    insights: dict[str, Any],
    similar: dict[str, list[dict[str, Any]]],
    patterns: list[dict[str, Any]],
    strategies: list[dict[str, Any]],
    notes: list[str],
    failed: list[dict[str, Any]] | None = None,
    guidance: dict[str, Any] | None = None,
) -> list[tuple[str, list[str]]]:
    """The context's sections as (heading, lines), most important first."""
    sections: list[tuple[str, list[str]]] = []
    if guidance is not None:
        sections.append(("## Advice", _advice_lines(guidance)))
    record: list[str] = []
    if insights["total_tests"]:
        record.append(
            f"- Attempts on this model: {insights['total_tests']}; "
            + _rate_text(insights.get("successes", 0), insights["total_tests"])
        )
        if insights["common_issues"]:
            record.append("- Most common issues: " + ", ".join(insights["common_issues"]))
        stats = insights.get("effective_fix_stats")
        if stats:
            # ranked by the Wilson lower bound, shown with the pattern confidence
            for item in stats[:3]:
                record.append(
                    f"- Worked before on this model: {_commands(item['fix_commands'])} — "
                    f"{_rate_text(item['successes'], item['attempts'])}, "
                    f"confidence {item['confidence']:.1f}"
                )
        else:
            for fix in insights["effective_fixes"][:3]:
                record.append(f"- Worked before on this model: `{fix}`")
    else:
        record.append(f"- No attempts recorded for `{model}` yet.")
    sections.append((f"## Model record: {model}", record))

    if failed:
        # what already failed for this exact failure (same fingerprint)
        lines = [
            f"- {_commands(f['fix_commands'])} — failed {f['failures']}x, "
            f"verified {f['successes']}x"
            + (" — **repeated failure: do not try again**" if f.get("repeated_failure") else "")
            for f in failed[:5]
        ]
        sections.append(("## Already tried for this failure (same fingerprint)", lines))

    seen: set[int] = set()
    for title, key in (
        ("## Exact matches (same issue signature)", "exact_matches"),
        (f"## Same model and issue type ({model}, {issue_type})", "model_matches"),
        (f"## Same issue type on other models ({issue_type})", "type_matches"),
    ):
        lines = []
        for row in similar.get(key, []):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            lines.append(
                f"- {row['timestamp'][:16]} · {row['model_name']} · {row['fixer_type']} · "
                f"**{_outcome(row)}** · {_commands(row['fix_commands'])}"
            )
            if row.get("claude_analysis"):
                lines.append(f"  - Analysis: {_one_line(row['claude_analysis'])}")
            if row.get("notes"):
                lines.append(f"  - Notes: {_one_line(row['notes'])}")
        if lines:
            sections.append((title, lines))

    pattern_lines = []
    for pattern in patterns:
        line = f"- {pattern['kind']}: {pattern['name']} — " + _rate_text(
            pattern["successes"], pattern["attempts"]
        )
        line += f", confidence {pattern['confidence']:.1f}"
        if pattern.get("best_fix"):
            line += f"; best fix: {_commands(pattern['best_fix'])}"
        pattern_lines.append(line)
    if pattern_lines:
        sections.append(("## Patterns", pattern_lines))

    strategy_lines = [
        f"{i}. {_commands(s['fix_commands'])} — {_rate_text(s['successes'], s['attempts'])}"
        for i, s in enumerate(strategies, 1)
    ]
    if strategy_lines:
        sections.append((f"## Strategies that worked for {issue_type}", strategy_lines))
    if notes:
        sections.append(("## Knowledge base notes", [f"- {_one_line(n, 240)}" for n in notes]))
    return sections


def _advice_lines(guidance: dict[str, Any]) -> list[str]:
    """What to do next: the recommendation, whether to explore, and what not to repeat."""
    lines = [f"- {guidance['recommendation']}"]
    ranked = guidance["ranked_fixes"]
    if guidance["explore"] and ranked:
        lines.append(
            "- Exploring is worth it: propose a fix that is not listed below as a known "
            "failure; a new fix is estimated at "
            f"{guidance['new_fix']['mean']:.0%} against {ranked[0]['estimate']['mean']:.0%} "
            "for the best known one."
        )
    elif guidance["explore"]:
        lines.append("- Propose a new fix: no known fix is worth reusing here.")
    else:
        lines.append(
            "- Reuse the fix above rather than inventing a new one: it is estimated at "
            f"{ranked[0]['estimate']['mean']:.0%} on this model."
        )
    for commands in guidance["avoid"][:5]:
        lines.append(f"- Do not repeat (known failure here): {_commands(commands)}")
    return lines


def render(
    model: str, issue_type: str, sections: list[tuple[str, list[str]]], max_chars: int
) -> str:
    """Join sections under a header, dropping lower-priority lines to fit ``max_chars``."""
    family = model_family(model)
    header = [
        f"# Historical context: {issue_type} on {model}",
        "",
        f"Model family `{family}`. Success means the fix was applied and verified.",
    ]
    has_history = any(lines and not lines[0].startswith("- No attempts") for _, lines in sections)
    if not has_history:
        header.append(
            "No history has been recorded for this issue yet: this is the first attempt. "
            "Record its outcome so the next fixer can learn from it."
        )
    out = "\n".join(header)
    budget = max_chars - len(TRUNCATION_NOTE) - 2
    truncated = False
    for heading, lines in sections:
        block = "\n\n" + heading
        if len(out) + len(block) + (len(lines[0]) + 1 if lines else 0) > budget:
            truncated = True
            break
        out += block
        for line in lines:
            if len(out) + 1 + len(line) > budget:
                truncated = True
                break
            out += "\n" + line
        if truncated:
            break
    if truncated:
        out += "\n\n" + TRUNCATION_NOTE
    if len(out) > max_chars:
        out = out[: max(0, max_chars - 1)] + "…"
    return out + "\n" if len(out) < max_chars else out

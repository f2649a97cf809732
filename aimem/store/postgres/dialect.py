"""SQLite's SQL as aimem writes it, rewritten for PostgreSQL.

The store's statements are shared by both backends; the few SQLite forms they
use have PostgreSQL spellings that mean the same:

- ``?`` placeholders become ``%s`` (a literal ``%`` is doubled);
- ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``;
- ``ON CONFLICT DO UPDATE`` gains the conflict target PostgreSQL requires;
- two-argument ``min``/``max`` become ``LEAST``/``GREATEST``;
- ``LIMIT ?`` accepts SQLite's ``-1`` (no limit);
- ``ORDER BY`` puts NULLs where SQLite does (first ascending, last descending);
- ``char(n)`` is ``chr(n)``; ``main.`` is the schema aimem's tables are in
  and ``temp.`` is ``pg_temp.``;
- ``NOT coalesce(flag, 0)`` on an integer flag is ``coalesce(flag, 0) = 0``.

Everything else (upserts, window functions, ``coalesce``, row values) is the
same SQL in both. Statements are rewritten once and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

# Conflict targets of the tables aimem upserts without naming one.
CONFLICT_TARGETS = {
    "aimem_totals": "model_name, issue_type, fixer_type",
    "aimem_daily": "day, model_name, issue_type, fixer_type",
    "aimem_temporal": "issue_type, weekday, hour",
    "aimem_fix_outcomes": "scope, scope_key, fix_key",
    "aimem_cost": "fixer_type, fixer_model, issue_type",
    "aimem_meta": "key",
    "aimem_kb_imported": "key",
    "aimem_pending": "name",
    "model_characteristics": "model_name",
    "issue_patterns": "pattern_name",
}

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INSERT_TABLE = re.compile(r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(?:\w+\.)?(\w+)", re.IGNORECASE)
_ORDER_END = {"LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "FOR", "WINDOW"}


def _split_strings(sql: str) -> list[tuple[bool, str]]:
    """(is_code, text) pieces: quoted strings and identifiers are not code."""
    pieces: list[tuple[bool, str]] = []
    start = 0
    index = 0
    while index < len(sql):
        quote = sql[index]
        if quote in "'\"":
            if index > start:
                pieces.append((True, sql[start:index]))
            end = index + 1
            while end < len(sql):
                if sql[end] == quote:
                    if end + 1 < len(sql) and sql[end + 1] == quote:
                        end += 2
                        continue
                    break
                end += 1
            pieces.append((False, sql[index : end + 1]))
            index = start = end + 1
            continue
        index += 1
    if start < len(sql):
        pieces.append((True, sql[start:]))
    return pieces


def _matching(code: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at ``open_at`` (or len(code))."""
    depth = 0
    for index in range(open_at, len(code)):
        if code[index] == "(":
            depth += 1
        elif code[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(code)


def _top_level_commas(text: str) -> list[int]:
    depth = 0
    found = []
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            found.append(index)
    return found


def _scalar_min_max(code: str) -> str:
    out = []
    index = 0
    pattern = re.compile(r"\b(min|max)\(", re.IGNORECASE)
    while True:
        match = pattern.search(code, index)
        if match is None:
            out.append(code[index:])
            return "".join(out)
        open_at = match.end() - 1
        close = _matching(code, open_at)
        inner = code[open_at + 1 : close]
        out.append(code[index : match.start()])
        if _top_level_commas(inner):
            name = "LEAST" if match.group(1).lower() == "min" else "GREATEST"
            out.append(f"{name}({_scalar_min_max(inner)})")
        else:
            out.append(f"{match.group(1)}({_scalar_min_max(inner)})")
        index = close + 1


def _order_terms(clause: str) -> str:
    """NULLS FIRST on ascending terms and NULLS LAST on descending ones (SQLite's order)."""
    cuts = [-1, *_top_level_commas(clause), len(clause)]
    terms = []
    for left, right in pairwise(cuts):
        term = clause[left + 1 : right]
        stripped = term.rstrip()
        upper = stripped.upper()
        if "NULLS " in upper or not stripped.strip():
            terms.append(term)
            continue
        tail = " NULLS LAST" if upper.endswith(" DESC") else " NULLS FIRST"
        terms.append(stripped + tail + term[len(stripped) :])
    return ",".join(terms)


def _order_by(code: str) -> str:
    out = []
    index = 0
    pattern = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)
    while True:
        match = pattern.search(code, index)
        if match is None:
            out.append(code[index:])
            return "".join(out)
        out.append(code[index : match.end()])
        # the clause ends at a closing parenthesis of an outer level or a keyword
        depth = 0
        end = match.end()
        while end < len(code):
            char = code[end]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and char.isalpha() and (end == 0 or not code[end - 1].isalnum()):
                word = _WORD.match(code, end)
                if word and word.group(0).upper() in _ORDER_END:
                    break
                if word:
                    end = word.end()
                    continue
            end += 1
        out.append(_order_terms(code[match.end() : end]))
        index = end


_ALIAS_NOT = {
    "WHERE",
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT",
    "INNER",
    "CROSS",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "HAVING",
    "ON",
    "WINDOW",
}


def _subquery_aliases(code: str) -> str:
    """PostgreSQL before 16 wants every subquery in FROM named: name the unnamed ones."""
    out = []
    index = 0
    count = 0
    pattern = re.compile(r"\bFROM\s*\(\s*SELECT\b", re.IGNORECASE)
    while True:
        match = pattern.search(code, index)
        if match is None:
            out.append(code[index:])
            return "".join(out)
        open_at = code.index("(", match.start())
        close = _matching(code, open_at)
        out.append(code[index:open_at])
        out.append("(" + _subquery_aliases(code[open_at + 1 : close]) + ")")
        word = _WORD.match(code[close + 1 :].lstrip())
        if word is None or word.group(0).upper() in _ALIAS_NOT:
            count += 1
            out.append(f" AS aimem_sub{count}")
        index = close + 1


_KEYWORDS = {
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "IS",
    "NOT",
    "NULL",
    "AND",
    "OR",
    "IN",
    "AS",
    "CAST",
    "INTEGER",
    "TEXT",
    "REAL",
    "EXCLUDED",
    "LEAST",
    "GREATEST",
    "COALESCE",
    "CHR",
    "SELECT",
    "FROM",
    "WHERE",
    "TRUE",
    "FALSE",
    "NULLIF",
    "LIKE",
    "BETWEEN",
}


def _qualify_updates(code: str, table: str) -> str:
    """In ``DO UPDATE SET col = expr, ...``, name the table in each ``expr``:
    PostgreSQL finds a bare column there ambiguous (the row or ``excluded``)."""
    match = re.search(r"\bDO\s+UPDATE\s+SET\b", code, re.IGNORECASE)
    if match is None:
        return code
    clause = code[match.end() :]
    rest = ""
    ending = re.search(r"\b(RETURNING|WHERE)\b", clause, re.IGNORECASE)
    if ending is not None:
        clause, rest = clause[: ending.start()], clause[ending.start() :]
    cuts = [-1, *_top_level_commas(clause), len(clause)]
    pieces = []
    for left, right in pairwise(cuts):
        piece = clause[left + 1 : right]
        target, eq, expr = piece.partition("=")
        if eq:

            def qualify(word: re.Match[str], expr: str = expr) -> str:
                name = word.group(0)
                before = expr[: word.start()].rstrip()
                after = expr[word.end() :].lstrip()
                if (
                    name.upper() in _KEYWORDS
                    or before.endswith(".")
                    or after.startswith(("(", "."))
                    or name.startswith("aimem_sub")
                ):
                    return name
                return f"{table}.{name}"

            expr = re.sub(r"(?<![\w.%'])[A-Za-z_][A-Za-z0-9_]*", qualify, expr)
            piece = target + eq + expr
        pieces.append(piece)
    return code[: match.end()] + ",".join(pieces) + rest


def _create(code: str) -> str:
    """SQLite's CREATE TABLE / INDEX (the temporary tables of a recomputation) in PostgreSQL's
    types; text sorts by code point, as everywhere in aimem's schema."""
    code = re.sub(
        r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        code,
        flags=re.IGNORECASE,
    )
    code = re.sub(r"\bREAL\b", "DOUBLE PRECISION", code)
    code = re.sub(r"\bINTEGER\b", "BIGINT", code)
    code = re.sub(r"\bTEXT\b(?!\s+COLLATE)", 'TEXT COLLATE "C"', code)
    # an index is made in its table's schema: PostgreSQL takes no schema in its name
    code = re.sub(
        r"(\bINDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)\w+\.",
        r"\1",
        code,
        flags=re.IGNORECASE,
    )
    return code


def _code(code: str, table: str | None, main: str) -> str:
    code = re.sub(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", "INSERT INTO", code, flags=re.IGNORECASE)
    if table in CONFLICT_TARGETS:
        code = re.sub(
            r"\bON\s+CONFLICT\s+DO\s+UPDATE\b",
            f"ON CONFLICT ({CONFLICT_TARGETS[table]}) DO UPDATE",
            code,
            flags=re.IGNORECASE,
        )
    if table is not None:
        code = _qualify_updates(code, table)
    code = re.sub(r"\bWITHOUT\s+ROWID\b", "", code, flags=re.IGNORECASE)
    code = re.sub(r"\bmain\.(?=\w)", main + ".", code)
    code = re.sub(r"\btemp\.(?=\w)", "pg_temp.", code)
    code = re.sub(r"\bchar\((?=\d)", "chr(", code, flags=re.IGNORECASE)
    code = re.sub(
        r"\bNOT\s+coalesce\((\w+),\s*0\)", r"coalesce(\1, 0) = 0", code, flags=re.IGNORECASE
    )
    code = re.sub(r"\bLIMIT\s+\?", "LIMIT NULLIF(?, -1)", code, flags=re.IGNORECASE)
    code = _scalar_min_max(code)
    code = _subquery_aliases(code)
    creates = re.match(r"\s*CREATE\b", code, re.IGNORECASE)
    code = _create(code) if creates else _order_by(code)
    return code.replace("%", "%%").replace("?", "%s")


@lru_cache(maxsize=1024)
def translate(sql: str, main: str = "public") -> str:
    """``sql`` (SQLite, ``?`` placeholders) as PostgreSQL with ``%s`` placeholders.

    ``main`` is the schema SQLite's ``main.`` means (aimem's tables): named, since
    a temporary table of the same name would hide it, as in SQLite."""
    match = _INSERT_TABLE.search(sql)
    table = match.group(1) if match else None
    ignore = bool(re.search(r"\bINSERT\s+OR\s+IGNORE\b", sql, re.IGNORECASE))
    # Quoted strings and identifiers stand aside as numbered marks while the
    # code around them is rewritten, then come back with any % doubled.
    literals: list[str] = []
    code = []
    for is_code, text in _split_strings(sql):
        if is_code:
            code.append(text)
        else:
            code.append(f"\x00{len(literals)}\x00")
            literals.append(text.replace("%", "%%"))
    result = _code("".join(code), table, '"' + main.replace('"', '""') + '"')
    result = re.sub("\x00(\\d+)\x00", lambda m: literals[int(m.group(1))], result)
    result = result.rstrip().rstrip(";")
    if ignore and "ON CONFLICT" not in result.upper():
        result += " ON CONFLICT DO NOTHING"
    return result

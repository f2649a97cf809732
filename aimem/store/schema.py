"""The seed schema (a compatibility contract) and aimem's extra tables.

The three seed tables keep every column name and type of the seed schema, and
its six ``idx_fix_history_*`` indexes, so saved SQL written for it runs unchanged.
aimem adds columns (uid, fingerprint, cost) and tables (rollups, fix outcomes,
full-text index, segment index), all derivable from ``fix_history`` plus the
archive except ``aimem_meta`` and ``aimem_kb_imported``.
"""

from __future__ import annotations

from aimem.records import EXPORT_COLUMNS

DESIGN_TABLES = """
CREATE TABLE IF NOT EXISTS fix_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    model_name TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    issue_signature TEXT NOT NULL,
    description TEXT NOT NULL,
    fixer_type TEXT NOT NULL,
    claude_analysis TEXT NOT NULL,
    fix_commands TEXT NOT NULL,
    fix_success BOOLEAN NOT NULL,
    verification_success BOOLEAN NOT NULL,
    execution_time_seconds REAL,
    system_info TEXT NOT NULL,
    notes TEXT
);

CREATE TABLE IF NOT EXISTS issue_patterns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern_name TEXT UNIQUE NOT NULL,
    issue_signature TEXT NOT NULL,
    success_count INTEGER DEFAULT 0,
    failure_count INTEGER DEFAULT 0,
    best_fix TEXT,
    last_seen TEXT,
    confidence_score REAL DEFAULT 0.0
);

CREATE TABLE IF NOT EXISTS model_characteristics (
    model_name TEXT PRIMARY KEY,
    total_tests INTEGER DEFAULT 0,
    success_rate REAL DEFAULT 0.0,
    common_issues TEXT,
    effective_fixes TEXT,
    last_updated TEXT,
    performance_notes TEXT
);

CREATE INDEX IF NOT EXISTS idx_fix_history_timestamp ON fix_history(timestamp);
CREATE INDEX IF NOT EXISTS idx_fix_history_model ON fix_history(model_name);
CREATE INDEX IF NOT EXISTS idx_fix_history_issue_type ON fix_history(issue_type);
CREATE INDEX IF NOT EXISTS idx_fix_history_signature ON fix_history(issue_signature);
CREATE INDEX IF NOT EXISTS idx_fix_history_fixer_type ON fix_history(fixer_type);
CREATE INDEX IF NOT EXISTS idx_fix_history_success ON fix_history(fix_success, verification_success);
"""

# Extra columns on fix_history, added defensively (a column may already exist).
FIX_HISTORY_EXTRA_COLUMNS = (
    ("uid", "TEXT"),
    ("fingerprint", "TEXT"),
    ("tokens_in", "INTEGER"),
    ("tokens_out", "INTEGER"),
    ("cost_usd", "REAL"),
    ("fixer_model", "TEXT"),
)

ISSUE_PATTERN_EXTRA_COLUMNS = (
    ("issue_type", "TEXT"),
    ("model_family", "TEXT"),
)

QUERY_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS aimem_fix_history_uid ON fix_history(uid);
CREATE INDEX IF NOT EXISTS aimem_fix_history_model_type
    ON fix_history(model_name, issue_type, verification_success, fix_success, timestamp);
CREATE INDEX IF NOT EXISTS aimem_fix_history_type_success
    ON fix_history(issue_type, verification_success, fix_success, timestamp);
CREATE INDEX IF NOT EXISTS aimem_fix_history_fingerprint ON fix_history(fingerprint, timestamp);
CREATE INDEX IF NOT EXISTS aimem_issue_patterns_signature ON issue_patterns(issue_signature);
"""

META = """
CREATE TABLE IF NOT EXISTS aimem_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO aimem_meta(key, value) VALUES ('generation', '0');

CREATE TABLE IF NOT EXISTS aimem_kb_imported (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    imported_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS aimem_segments (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    min_timestamp TEXT NOT NULL,
    max_timestamp TEXT NOT NULL,
    raw_bytes INTEGER NOT NULL,
    compressed_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
"""

# Rollups derived from every attempt ever recorded (hot rows plus the archive).
# {schema} is "main" for the real tables, "temp" when check recomputes them.
ROLLUPS = """
CREATE TABLE IF NOT EXISTS {schema}.aimem_totals (
    model_name TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    fixer_type TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    fix_successes INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    time_sum REAL NOT NULL DEFAULT 0,
    time_n INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (model_name, issue_type, fixer_type)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {schema}.aimem_daily (
    day TEXT NOT NULL,
    model_name TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    fixer_type TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    fix_successes INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    time_sum REAL NOT NULL DEFAULT 0,
    time_n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model_name, issue_type, fixer_type)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {schema}.aimem_temporal (
    issue_type TEXT NOT NULL,
    weekday INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (issue_type, weekday, hour)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {schema}.aimem_fix_outcomes (
    scope TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    fix_key TEXT NOT NULL,
    fix_commands TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    last_attempt TEXT NOT NULL,
    last_success TEXT,
    PRIMARY KEY (scope, scope_key, fix_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {schema}.aimem_fix_outcomes_rank
    ON aimem_fix_outcomes(scope, scope_key, successes DESC, last_success DESC);
"""

# Cost per fixer, fixer model version and issue type: every attempt
# counts, failed ones included, so cost per verified success is cost_sum / successes.
# ``cost_n``/``tokens_n`` count the attempts that reported a cost / token counts.
COST_ROLLUP = """
CREATE TABLE IF NOT EXISTS {schema}.aimem_cost (
    fixer_type TEXT NOT NULL,
    fixer_model TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    cost_sum REAL NOT NULL DEFAULT 0,
    cost_n INTEGER NOT NULL DEFAULT 0,
    tokens_in_sum INTEGER NOT NULL DEFAULT 0,
    tokens_out_sum INTEGER NOT NULL DEFAULT 0,
    tokens_n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (fixer_type, fixer_model, issue_type)
) WITHOUT ROWID;
"""

ROLLUP_TABLES = (
    "aimem_totals",
    "aimem_daily",
    "aimem_temporal",
    "aimem_fix_outcomes",
    "aimem_cost",
)

# Temp copies of the seed schema's aggregate tables for check's recomputation.
TEMP_DESIGN_AGGREGATES = """
CREATE TEMP TABLE IF NOT EXISTS issue_patterns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern_name TEXT UNIQUE NOT NULL,
    issue_signature TEXT NOT NULL,
    success_count INTEGER DEFAULT 0,
    failure_count INTEGER DEFAULT 0,
    best_fix TEXT,
    last_seen TEXT,
    confidence_score REAL DEFAULT 0.0,
    issue_type TEXT,
    model_family TEXT
);
CREATE INDEX IF NOT EXISTS temp.aimem_issue_patterns_signature ON issue_patterns(issue_signature);
CREATE TEMP TABLE IF NOT EXISTS model_characteristics (
    model_name TEXT PRIMARY KEY,
    total_tests INTEGER DEFAULT 0,
    success_rate REAL DEFAULT 0.0,
    common_issues TEXT,
    effective_fixes TEXT,
    last_updated TEXT,
    performance_notes TEXT
);
"""

# The full-text index: an external-content FTS5 table kept in step by triggers,
# so even rows written by the seed system's own SQL are indexed in the same transaction.
FULL_TEXT = """
CREATE VIRTUAL TABLE IF NOT EXISTS fix_history_fts USING fts5(
    description, claude_analysis, fix_commands, notes,
    content='fix_history', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS fix_history_fts_insert AFTER INSERT ON fix_history BEGIN
    INSERT INTO fix_history_fts(rowid, description, claude_analysis, fix_commands, notes)
    VALUES (new.id, new.description, new.claude_analysis, new.fix_commands, new.notes);
END;
CREATE TRIGGER IF NOT EXISTS fix_history_fts_delete AFTER DELETE ON fix_history BEGIN
    INSERT INTO fix_history_fts(fix_history_fts, rowid, description, claude_analysis,
                                fix_commands, notes)
    VALUES ('delete', old.id, old.description, old.claude_analysis, old.fix_commands, old.notes);
END;
CREATE TRIGGER IF NOT EXISTS fix_history_fts_update AFTER UPDATE ON fix_history BEGIN
    INSERT INTO fix_history_fts(fix_history_fts, rowid, description, claude_analysis,
                                fix_commands, notes)
    VALUES ('delete', old.id, old.description, old.claude_analysis, old.fix_commands, old.notes);
    INSERT INTO fix_history_fts(rowid, description, claude_analysis, fix_commands, notes)
    VALUES (new.id, new.description, new.claude_analysis, new.fix_commands, new.notes);
END;
"""

# The columns one attempt fills in fix_history, in the order of its insert
# parameters (``attempt_params``, shared with the bulk path and the rollups):
# the export columns without the id the database assigns. Adding a column means
# adding it to ``records.EXTRA_COLUMNS``, to ``Attempt`` and to ``attempt_params``.
ATTEMPT_COLUMNS: tuple[str, ...] = tuple(c for c in EXPORT_COLUMNS if c != "id")
INSERT_ATTEMPT = (
    f"INSERT INTO fix_history({', '.join(ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ATTEMPT_COLUMNS)})"
)
# Where the uid sits in ``INSERT_ATTEMPT``'s parameters.
UID_PARAM = ATTEMPT_COLUMNS.index("uid")

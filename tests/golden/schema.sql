-- index aimem_fix_history_fingerprint
CREATE INDEX aimem_fix_history_fingerprint ON fix_history(fingerprint, timestamp);
-- index aimem_fix_history_model_time
CREATE INDEX aimem_fix_history_model_time ON fix_history(model_name, timestamp);
-- index aimem_fix_history_model_type
CREATE INDEX aimem_fix_history_model_type
    ON fix_history(model_name, issue_type, verification_success, fix_success, timestamp);
-- index aimem_fix_history_type_success
CREATE INDEX aimem_fix_history_type_success
    ON fix_history(issue_type, verification_success, fix_success, timestamp);
-- index aimem_fix_history_uid
CREATE UNIQUE INDEX aimem_fix_history_uid ON fix_history(uid);
-- index aimem_fix_outcomes_rank
CREATE INDEX aimem_fix_outcomes_rank
    ON aimem_fix_outcomes(scope, scope_key, successes DESC, last_success DESC);
-- index aimem_issue_patterns_learned
CREATE INDEX aimem_issue_patterns_learned ON issue_patterns(last_seen DESC, id) WHERE success_count > 0;
-- index aimem_issue_patterns_signature
CREATE INDEX aimem_issue_patterns_signature ON issue_patterns(issue_signature);
-- index idx_fix_history_fixer_type
CREATE INDEX idx_fix_history_fixer_type ON fix_history(fixer_type);
-- index idx_fix_history_issue_type
CREATE INDEX idx_fix_history_issue_type ON fix_history(issue_type);
-- index idx_fix_history_model
CREATE INDEX idx_fix_history_model ON fix_history(model_name);
-- index idx_fix_history_signature
CREATE INDEX idx_fix_history_signature ON fix_history(issue_signature);
-- index idx_fix_history_success
CREATE INDEX idx_fix_history_success ON fix_history(fix_success, verification_success);
-- index idx_fix_history_timestamp
CREATE INDEX idx_fix_history_timestamp ON fix_history(timestamp);
-- table aimem_archived_uids
CREATE TABLE aimem_archived_uids (uid TEXT PRIMARY KEY) WITHOUT ROWID;
-- table aimem_cost
CREATE TABLE aimem_cost (
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
-- table aimem_daily
CREATE TABLE aimem_daily (
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
-- table aimem_fix_outcomes
CREATE TABLE aimem_fix_outcomes (
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
-- table aimem_kb_imported
CREATE TABLE aimem_kb_imported (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    imported_at TEXT NOT NULL
) WITHOUT ROWID;
-- table aimem_meta
CREATE TABLE aimem_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
-- table aimem_pending
CREATE TABLE aimem_pending (
               name TEXT PRIMARY KEY,
               action TEXT NOT NULL,
               row_count INTEGER NOT NULL,
               started_at TEXT NOT NULL
           ) WITHOUT ROWID;
-- table aimem_segments
CREATE TABLE aimem_segments (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    min_timestamp TEXT NOT NULL,
    max_timestamp TEXT NOT NULL,
    raw_bytes INTEGER NOT NULL,
    compressed_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
, kind TEXT NOT NULL DEFAULT 'rows') WITHOUT ROWID;
-- table aimem_temporal
CREATE TABLE aimem_temporal (
    issue_type TEXT NOT NULL,
    weekday INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (issue_type, weekday, hour)
) WITHOUT ROWID;
-- table aimem_totals
CREATE TABLE aimem_totals (
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
-- table fix_history
CREATE TABLE fix_history (
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
, uid TEXT, fingerprint TEXT, tokens_in INTEGER, tokens_out INTEGER, cost_usd REAL, fixer_model TEXT);
-- table fix_history_fts
CREATE VIRTUAL TABLE fix_history_fts USING fts5(
    description, claude_analysis, fix_commands, notes,
    content='fix_history', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
-- table issue_patterns
CREATE TABLE issue_patterns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern_name TEXT UNIQUE NOT NULL,
    issue_signature TEXT NOT NULL,
    success_count INTEGER DEFAULT 0,
    failure_count INTEGER DEFAULT 0,
    best_fix TEXT,
    last_seen TEXT,
    confidence_score REAL DEFAULT 0.0
, issue_type TEXT, model_family TEXT);
-- table model_characteristics
CREATE TABLE model_characteristics (
    model_name TEXT PRIMARY KEY,
    total_tests INTEGER DEFAULT 0,
    success_rate REAL DEFAULT 0.0,
    common_issues TEXT,
    effective_fixes TEXT,
    last_updated TEXT,
    performance_notes TEXT
);
-- table sqlite_sequence
CREATE TABLE sqlite_sequence(name,seq);

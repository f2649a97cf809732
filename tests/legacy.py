"""Build a database exactly as the seed system leaves it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from aimem.learn.signatures import generate_issue_signature

DESIGN_DDL = """
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
);
CREATE TABLE issue_patterns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern_name TEXT UNIQUE NOT NULL,
    issue_signature TEXT NOT NULL,
    success_count INTEGER DEFAULT 0,
    failure_count INTEGER DEFAULT 0,
    best_fix TEXT,
    last_seen TEXT,
    confidence_score REAL DEFAULT 0.0
);
CREATE TABLE model_characteristics (
    model_name TEXT PRIMARY KEY,
    total_tests INTEGER DEFAULT 0,
    success_rate REAL DEFAULT 0.0,
    common_issues TEXT,
    effective_fixes TEXT,
    last_updated TEXT,
    performance_notes TEXT
);
CREATE INDEX idx_fix_history_timestamp ON fix_history(timestamp);
CREATE INDEX idx_fix_history_model ON fix_history(model_name);
CREATE INDEX idx_fix_history_issue_type ON fix_history(issue_type);
CREATE INDEX idx_fix_history_signature ON fix_history(issue_signature);
CREATE INDEX idx_fix_history_fixer_type ON fix_history(fixer_type);
CREATE INDEX idx_fix_history_success ON fix_history(fix_success, verification_success);
"""

LEGACY_ROWS = [
    # (local naive timestamp, model, type, prompt, commands, fixed, verified, seconds, fixer, notes)
    (
        "2025-01-15T10:30:00.123456",
        "qwen2.5:7b",
        "TIMEOUT",
        "Write a haiku",
        ["# Increase timeout"],
        1,
        1,
        45.2,
        "qwen",
        "Timeout increased successfully",
    ),
    (
        "2025-01-15T11:00:00.000001",
        "qwen2.5:7b",
        "TIMEOUT",
        "Write a haiku",
        ["systemctl restart ollama"],
        1,
        0,
        12.0,
        "claude",
        None,
    ),
    (
        "2025-01-16T09:15:30.500000",
        "llama3.1:8b",
        "MODEL_NOT_AVAILABLE",
        "Hi",
        ["ollama pull llama3.1:8b"],
        1,
        1,
        80.0,
        "claude",
        "pulled",
    ),
    (
        "2025-01-16T09:15:30.500000",
        "llama3.1:8b",
        "MODEL_NOT_AVAILABLE",
        "Hi",
        ["ollama pull llama3.1:8b"],
        1,
        1,
        80.0,
        "claude",
        "pulled",
    ),  # an exact duplicate row, as a double-run script leaves
    (
        "2025-01-17T23:59:59.999999",
        "mistral:7b",
        "NO_OUTPUT",
        "Explain",
        [],
        0,
        0,
        None,
        "qwen",
        None,
    ),
]


def build_legacy_database(path: Path) -> None:
    """The seed schema's three tables, six indexes, version 0, naive local timestamps, json.dumps text."""
    conn = sqlite3.connect(path)
    conn.executescript(DESIGN_DDL)
    for ts, model, kind, prompt, commands, fixed, verified, seconds, fixer, notes in LEGACY_ROWS:
        signature = generate_issue_signature(
            {"issue_type": kind, "model": model, "test_prompt": prompt, "actual_response": ""}
        )
        conn.execute(
            "INSERT INTO fix_history (timestamp, model_name, issue_type, issue_signature, description,"
            " fixer_type, claude_analysis, fix_commands, fix_success, verification_success,"
            " execution_time_seconds, system_info, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ts,
                model,
                kind,
                signature,
                f"{kind} on {model}",
                fixer,
                "analysis",
                json.dumps(commands),
                fixed,
                verified,
                seconds,
                json.dumps({"os": "Linux", "ram_gb": 16}),
                notes,
            ),
        )
        conn.execute(
            "INSERT OR IGNORE INTO issue_patterns (pattern_name, issue_signature, success_count,"
            " failure_count, last_seen, confidence_score) VALUES (?, ?, 0, 0, ?, 0.1)",
            (f"{kind}_{model}", signature, ts),
        )
    # A pattern whose records the seed system's cleanup already removed.
    conn.execute(
        "INSERT INTO issue_patterns (pattern_name, issue_signature, success_count, failure_count,"
        " last_seen, confidence_score) VALUES ('ERROR_old', 'ffffffffffffffff', 4, 2, "
        "'2024-06-01T00:00:00', 0.6)"
    )
    conn.execute(
        "INSERT INTO model_characteristics (model_name, total_tests, success_rate, performance_notes)"
        " VALUES ('qwen2.5:7b', 2, 0.5, 'hand-written note')"
    )
    conn.commit()
    conn.close()

"""Transfer benchmark: aimem import/export/backup/verify/restore against plain peers.

Usage:  python bench/transfer_bench.py [ROWS ...]        (default 100000)

Peers, side by side in the same run on the same rows:
- ``sqlite-utils insert --nl`` into a plain table (from bench/.venv: create it with
  ``python3 -m venv bench/.venv && bench/.venv/bin/pip install sqlite-utils``;
  skipped when missing; never a runtime dependency of aimem);
- a plain ``executemany`` into the seed schema's ``fix_history`` with its six indexes
  (the floor the issue quotes), in a child process;
- ``sqlite3 -json`` export of ``fix_history``;
- ``sqlite3 .backup`` followed by ``tar``.

Every measured command runs as a child process; its peak RSS comes from
``os.wait4`` (that child's own rusage). Each figure is the median of
``ROUNDS`` rounds in which the aimem command and its peer run back to back
(the peak RSS is the highest). Prints one JSON document.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import _rusage  # noqa: E402

PY = sys.executable
SQLITE_UTILS = ROOT / "bench" / ".venv" / "bin" / "sqlite-utils"

MODELS = [f"{f}:{s}" for f in ("qwen2.5", "llama3.1", "mistral", "phi3", "gemma2") for s in "abcd"]
TYPES = ["MODEL_NOT_AVAILABLE", "TIMEOUT", "UNEXPECTED_RESPONSE", "NO_OUTPUT", "ERROR", "CUSTOM"]
FIXERS = ["claude", "qwen", "gpt"]
COMMANDS = [
    ["ollama pull {m}"],
    ["# Increase timeout to 60 seconds"],
    ["systemctl restart ollama", "ollama pull {m}"],
    ["export OLLAMA_NUM_CTX=8192"],
    ["# Adjust prompt format", "sed -i s/foo/bar/ prompt.txt"],
]


def make_rows(path: Path, rows: int, seed: int = 5) -> None:
    """Write ``rows`` export rows as NDJSON (realistic sizes, a year of timestamps)."""
    rng = random.Random(seed)
    start = time.time() - 365 * 86400
    with path.open("w") as out:
        for n in range(rows):
            model = rng.choice(MODELS)
            issue_type = rng.choice(TYPES)
            ok = rng.random() < 0.7
            # ~2000 distinct signatures and fingerprints, as in a real history
            variant = f"{issue_type}|{model}|{rng.randrange(100)}".encode()
            signature = hashlib.md5(variant).hexdigest()[:16]
            fingerprint = hashlib.sha256(variant).hexdigest()[:16]
            moment = time.gmtime(start + n * (365 * 86400 / rows))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", moment) + f".{n % 1000000:06d}Z"
            row = {
                "id": n + 1,
                "timestamp": stamp,
                "model_name": model,
                "issue_type": issue_type,
                # ~2000 distinct signatures, as in a real history (type, family, prompt, length)
                "issue_signature": signature,
                "description": f"{issue_type.lower()} on {model} after {rng.randint(5, 120)} seconds "
                f"(run {rng.randint(1, 10**6)})",
                "fixer_type": rng.choice(FIXERS),
                "claude_analysis": "The model needs more time or a fresh pull; "
                + "analysis text " * rng.randint(2, 12),
                "fix_commands": [c.format(m=model) for c in rng.choice(COMMANDS)],
                "fix_success": ok or rng.random() < 0.2,
                "verification_success": ok,
                "execution_time_seconds": round(rng.uniform(1, 120), 2),
                "system_info": {
                    "os": "Linux",
                    "ram_gb": rng.choice([8, 16, 32]),
                    "gpu_available": rng.random() < 0.5,
                    "ollama_version": "0.6.5",
                },
                "notes": rng.choice([None, "Worked after the second try", "flaky"]),
                "uid": f"{rng.getrandbits(128):032x}",
                "fingerprint": fingerprint,
                "tokens_in": rng.randint(100, 5000),
                "tokens_out": rng.randint(10, 2000),
                "cost_usd": round(rng.uniform(0, 0.05), 5),
                "fixer_model": None,
            }
            out.write(json.dumps(row) + "\n")


def run_child(
    args: list[str], env: dict[str, str] | None = None, stdout: Any = None
) -> dict[str, Any]:
    """Run one child; return seconds, CPU seconds, peak RSS (MiB, that child's own).

    Through bench/_rusage.py, so the peak is the child's and not the size of
    the process that started it (a child's ``ru_maxrss`` starts there).
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    with tempfile.TemporaryFile() as err:
        report = _rusage.measure(args, full_env, stdout=stdout or subprocess.DEVNULL, stderr=err)
        if report.get("exit") != 0:
            err.seek(0)
            raise RuntimeError(f"{args} failed ({report.get('exit')}): {err.read()[-2000:]!r}")
    return {
        "seconds": round(report["seconds"], 3),
        "cpu_seconds": round(report["cpu_seconds"], 3),
        "peak_rss_mib": round(report["peak_rss_mib"], 1),
    }


EXECUTEMANY = r"""
import json, sqlite3, sys
src, db = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.executescript(open(sys.argv[3]).read())
cols = ["timestamp","model_name","issue_type","issue_signature","description","fixer_type",
        "claude_analysis","fix_commands","fix_success","verification_success",
        "execution_time_seconds","system_info","notes"]
def rows():
    with open(src) as f:
        for line in f:
            r = json.loads(line)
            yield tuple(json.dumps(r[c]) if c in ("fix_commands","system_info") else r[c] for c in cols)
conn.execute("BEGIN")
conn.executemany(f"INSERT INTO fix_history({','.join(cols)}) VALUES ({','.join('?'*len(cols))})", rows())
conn.execute("COMMIT")
"""


# Rounds per figure: this machine's speed drifts by a factor of two over minutes
# (a shared host), so each aimem command and its peer run back to back, round
# after round, and the medians are compared. AIMEM_BENCH_ROUNDS overrides.
ROUNDS = 3


def _rounds() -> int:
    text = os.environ.get("AIMEM_BENCH_ROUNDS", "")
    return int(text) if text.isdigit() and int(text) > 0 else ROUNDS


def _median(runs: list[dict[str, Any]], count: int, unit: str) -> dict[str, Any]:
    """The median of the runs' seconds and, on its own, of their CPU seconds (the
    upper middle one for an even count), the highest peak RSS, every run's
    seconds, and ``count`` per second of the median (under the key ``unit``)."""
    seconds = sorted(r["seconds"] for r in runs)
    cpu = sorted(r["cpu_seconds"] for r in runs)
    middle = len(runs) // 2
    summary: dict[str, Any] = {
        "seconds": seconds[middle],
        "cpu_seconds": cpu[middle],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "runs_seconds": [r["seconds"] for r in runs],
    }
    if unit:
        summary[unit] = round(count / summary["seconds"])
    for key in runs[0]:
        if key not in summary and key != "rows_per_s":
            summary[key] = runs[0][key]
    return summary


def bench(rows: int) -> dict[str, Any]:
    """Measure every operation at ``rows`` records; return the figures (medians
    of ``ROUNDS`` rounds, each command next to its peer)."""
    sys.path.insert(0, str(ROOT))
    from aimem.store.schema import DESIGN_TABLES

    work = Path(tempfile.mkdtemp(prefix="aimem-transfer-bench-"))
    try:
        data = work / "rows.ndjson"
        make_rows(data, rows)
        size_mb = data.stat().st_size / 1e6
        aimem = [PY, "-m", "aimem"]
        result: dict[str, Any] = {"records": rows, "input_mb": round(size_mb, 1)}
        schema_file = work / "design.sql"
        schema_file.write_text(DESIGN_TABLES)
        runs: dict[str, list[dict[str, Any]]] = {}

        def measure(
            key: str, args: list[str], env: dict[str, str] | None = None, **kw: Any
        ) -> None:
            runs.setdefault(key, []).append(run_child(args, env, **kw))

        rounds = _rounds()
        for round_ in range(rounds):
            repo = work / f"A{round_}" / "AIMemory"
            env = {"AIMEM_DIR": str(repo), "NO_COLOR": "1", "AIMEM_REDACT": "1"}
            measure("aimem_import_ndjson", [*aimem, "import", str(data)], env)
            if round_ == 0:
                measure("aimem_reimport_same_file", [*aimem, "import", str(data)], env)
            floor_db = work / f"floor{round_}.db"
            measure(
                "plain_executemany_six_indexes",
                [PY, "-c", EXECUTEMANY, str(data), str(floor_db), str(schema_file)],
            )
            if SQLITE_UTILS.exists():
                target = str(work / f"su{round_}.db")
                measure(
                    "sqlite_utils_insert_nl",
                    [str(SQLITE_UTILS), "insert", target, "fix_history", str(data), "--nl"],
                )
            for path in (floor_db, work / f"su{round_}.db"):
                path.unlink(missing_ok=True)
            if round_:
                shutil.rmtree(work / f"A{round_}")  # exports and backups read A0

        env = {"AIMEM_DIR": str(work / "A0" / "AIMemory"), "NO_COLOR": "1", "AIMEM_REDACT": "1"}
        db = work / "A0" / "AIMemory" / "ai_memory.db"
        out = work / "out.ndjson"
        bundles = work / "bundles"
        bundles.mkdir()
        copy = work / "peer-backup.db"
        for _ in range(rounds):
            out.unlink(missing_ok=True)
            measure("aimem_export_ndjson", [*aimem, "export", str(out)], env)
            with (work / "peer.json").open("wb") as sink:
                measure(
                    "sqlite3_json_export",
                    ["sqlite3", "-json", str(db), "SELECT * FROM fix_history"],
                    stdout=sink,
                )
            for old in bundles.iterdir():
                old.unlink()
            measure("aimem_backup", [*aimem, "backup", str(bundles)], env)
            copy.unlink(missing_ok=True)
            b1 = run_child(["sqlite3", str(db), f".backup {copy}"])
            b2 = run_child(["tar", "-cf", str(work / "peer.tar"), "-C", str(work), copy.name])
            runs.setdefault("sqlite3_backup_plus_tar", []).append(
                {
                    "seconds": round(b1["seconds"] + b2["seconds"], 3),
                    "cpu_seconds": round(b1["cpu_seconds"] + b2["cpu_seconds"], 3),
                    "peak_rss_mib": max(b1["peak_rss_mib"], b2["peak_rss_mib"]),
                    "tar_mb": round((work / "peer.tar").stat().st_size / 1e6, 1),
                }
            )
        for key, unit in (
            ("aimem_import_ndjson", "rows_per_s"),
            ("aimem_reimport_same_file", "rows_per_s"),
            ("plain_executemany_six_indexes", "rows_per_s"),
            ("sqlite_utils_insert_nl", "rows_per_s"),
            ("aimem_export_ndjson", "records_per_s"),
            ("sqlite3_json_export", "records_per_s"),
            ("aimem_backup", ""),
            ("sqlite3_backup_plus_tar", ""),
        ):
            if key in runs:
                result[key] = _median(runs[key], rows, unit)
        bundle = next(bundles.iterdir())
        result["aimem_backup"]["bundle_mb"] = round(bundle.stat().st_size / 1e6, 1)
        result["aimem_backup"]["db_mb"] = round(db.stat().st_size / 1e6, 1)
        result["rounds"] = rounds
        result["aimem_verify"] = run_child([*aimem, "verify", str(bundle)], env)
        result["aimem_restore"] = run_child(
            [*aimem, "--dir", str(work / "R"), "restore", str(bundle)], env
        )
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _figure(
    figure: str,
    value: float,
    unit: str,
    peer_value: float | None = None,
    peer: str = "",
    ratio: float | None = None,
    target: str = "",
    met: bool | None = None,
) -> dict[str, Any]:
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "peer_value": peer_value,
        "peer": peer,
        "ratio": None if ratio is None else round(ratio, 2),
        "target": target,
        "met": met,
    }


def run(rows: int) -> dict[str, Any]:
    """The bench entry point (bench/run.py calls it): figures for ``rows`` records.

    Returns ``{"records": rows, "rows": [figure rows for bench/run.py's table],
    "details": {every measurement}}``.
    """
    d = bench(rows)
    imp = d["aimem_import_ndjson"]
    floor = d["plain_executemany_six_indexes"]
    exp = d["aimem_export_ndjson"]
    back, peer_back = d["aimem_backup"], d["sqlite3_backup_plus_tar"]
    table = [
        _figure(
            "import NDJSON (every aggregate, search index)",
            imp["rows_per_s"],
            "rows/s",
            floor["rows_per_s"],
            "plain executemany, six indexes",
            imp["rows_per_s"] / floor["rows_per_s"],
            ">= 0.5x",
            imp["rows_per_s"] >= 0.5 * floor["rows_per_s"],
        ),
        _figure(
            "export NDJSON",
            exp["records_per_s"],
            "records/s",
            d["sqlite3_json_export"]["records_per_s"],
            "sqlite3 -json",
            exp["records_per_s"] / d["sqlite3_json_export"]["records_per_s"],
            ">= 150000 records/s",
            exp["records_per_s"] >= 150_000,
        ),
        _figure(
            "backup",
            back["seconds"],
            "s",
            peer_back["seconds"],
            "sqlite3 .backup + tar",
            back["seconds"] / peer_back["seconds"],
            "<= 2x",
            back["seconds"] <= 2 * peer_back["seconds"],
        ),
        _figure("verify bundle", d["aimem_verify"]["seconds"], "s"),
        _figure("restore bundle", d["aimem_restore"]["seconds"], "s"),
    ]
    if "sqlite_utils_insert_nl" in d:
        su = d["sqlite_utils_insert_nl"]
        table.insert(
            1,
            _figure(
                "import NDJSON vs sqlite-utils",
                imp["rows_per_s"],
                "rows/s",
                su["rows_per_s"],
                "sqlite-utils insert --nl (plain table)",
                imp["rows_per_s"] / su["rows_per_s"],
                "> 1x",
                imp["rows_per_s"] > su["rows_per_s"],
            ),
        )
    for key, label in (
        ("aimem_import_ndjson", "import"),
        ("aimem_export_ndjson", "export"),
        ("aimem_backup", "backup"),
        ("aimem_verify", "verify"),
        ("aimem_restore", "restore"),
    ):
        table.append(_figure(f"peak RSS of {label}", d[key]["peak_rss_mib"], "MiB"))
    d["ratios_cpu"] = {
        "import_vs_executemany_floor": round(floor["cpu_seconds"] / imp["cpu_seconds"], 2),
        "backup_vs_sqlite3_backup_tar": round(
            back["cpu_seconds"] / max(peer_back["cpu_seconds"], 1e-3), 2
        ),
    }
    if "sqlite_utils_insert_nl" in d:
        d["ratios_cpu"]["import_vs_sqlite_utils"] = round(
            d["sqlite_utils_insert_nl"]["cpu_seconds"] / imp["cpu_seconds"], 2
        )
    d["load_average"] = os.getloadavg()[0]
    return {"records": rows, "rows": table, "details": d}


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    print(json.dumps([run(n) for n in sizes], indent=2))

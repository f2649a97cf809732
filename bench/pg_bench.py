"""aimem on PostgreSQL, each figure next to its peer measured in the same run on the same server.

    python bench/pg_bench.py [--quick] [--writers 8,32,64] [--seconds 10]
                             [--size 1000000] [--pull-size 100000] [--output FILE.json]

Starts a private PostgreSQL cluster with fsync on (tests/pg_cluster.py,
``durable=True``) and measures:

- writers: N processes (``--writers``) each recording durable attempts
  through the public API (``AIMemory`` on a folder whose config names the
  database, one ``record_fix_attempt`` per transaction) for ``--seconds``;
  afterwards every attempt a writer was told is stored is there exactly
  once, nothing else is, and ``aimem check`` finds no drift;
- the floor of the writers' figure: the same writers with the server's record
  function cut down to inserting the row (no aggregate, no ranking), so the
  Python client, the round trip and the row with its indexes are all that is
  left;
- CPU per attempt (writers and server, from ``/proc`` over the timed window)
  next to pgbench's CPU per transaction (pgbench and server): on two cores
  both sides are CPU-bound, so the ratio of throughputs is the inverse ratio
  of these;
- pgbench: ``pgbench -i -s SCALE`` then ``pgbench -c N -j 2 -T SECONDS``
  (its default TPC-B-like transaction) on the same server. The scale is N
  unless ``--pgbench-scale`` says otherwise: pgbench's documentation asks for
  a scale at least the number of clients, or every transaction queues on the
  few ``pgbench_branches`` rows and pgbench measures lock waits;
- aimem's own 8 SQLite writers (bench/_writer.py, ``synchronous=FULL``) on an
  empty repository, as bench/run.py runs them;
- ``suggest`` and ``context`` median latency on ``--size`` records in
  PostgreSQL: bench/datagen.py's SQLite history (grown to 1M as
  bench/suggest_bench.py does) copied table by table with COPY, aggregates
  included (the schemas share names and columns); only the queries are
  measured;
- ``aimem push`` of ``--push-size`` records from SQLite into an empty
  PostgreSQL repository, next to ``aimem import`` of the same records into an
  empty SQLite one;
- ``aimem pull`` of ``--pull-size`` records from PostgreSQL into an empty
  SQLite repository, next to ``aimem import`` of the same records from NDJSON.

Prints one Markdown table (figure, aimem, peer, ratio, target, met?) and writes
the rows as JSON with ``--output``. ``--quick`` (8 writers for 2 s, 10k
records) is a smoke run of every part in about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import datagen  # noqa: E402
import run  # noqa: E402
from run import Report, aimem_command, base_env, median  # noqa: E402

from aimem.store.postgres.record_function import RECORD_FUNCTION  # noqa: E402
from tests import pg_cluster  # noqa: E402

warnings.filterwarnings("ignore", message=r".*already failed \d+ times")

PARTS = ("writers", "floor", "pgbench", "sqlite", "queries", "push", "pull")

# The floor's record function: the record function's own insert of the rows,
# and nothing else, with the answer the client expects.
_INSERT_ROWS = RECORD_FUNCTION[
    RECORD_FUNCTION.index("    WITH added AS (") : RECORD_FUNCTION.index(
        "    INSERT INTO aimem_totals("
    )
]
ROW_ONLY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION aimem_record_attempts(p jsonb, refuse_at integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    ids jsonb;
BEGIN
{_INSERT_ROWS}
    RETURN jsonb_build_object('ids', ids, 'guard', '[]'::jsonb)::text;
END $$;
"""


class Server:
    """The benchmark's cluster: one database per measurement, made on demand."""

    def __init__(self, cluster: pg_cluster.Cluster) -> None:
        self.cluster = cluster
        # libpq reads the password from the environment, in this process and its children.
        os.environ["PGPASSWORD"] = pg_cluster.PASSWORD
        self.env = base_env(PGPASSWORD=pg_cluster.PASSWORD, PYTHONPATH=str(ROOT))

    def database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.cluster.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = self.cluster.url.rpartition("/")
        return f"{base}/{name}"

    def settle(self) -> None:
        """Drop the databases of the parts already measured and write every dirty
        page, so that no part shares the two cores with the autovacuum of an
        earlier part's tables (pgbench's accounts, the writers' histories)."""
        import psycopg

        with psycopg.connect(self.cluster.url, autocommit=True) as admin:
            names = admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'writers\\_%' "
                "OR datname LIKE 'pgbench\\_%'"
            ).fetchall()
            for (name,) in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        self.checkpoint()

    def checkpoint(self) -> None:
        """Write every dirty page now, so no timed run inherits the previous
        one's checkpoint (each side of a comparison starts the same way)."""
        import psycopg

        with psycopg.connect(self.cluster.url, autocommit=True) as admin:
            admin.execute("CHECKPOINT")

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends included)."""
        postmaster = int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = proc_stat(int(entry.name))
                if fields is not None and int(fields[1]) == postmaster:
                    children.append(int(entry.name))
        return [postmaster, *children]

    def query(self, url: str, statement: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(url) as conn:
            return list(conn.execute(statement).fetchall())  # type: ignore[arg-type]


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first),
    or None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_of(pid: int) -> float | None:
    """User and system CPU seconds of a running process (threads included)."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_window(server: Server, clients: Sequence[int], seconds: float) -> dict[str, float]:
    """CPU of the client processes and of the server's over the next ``seconds``.

    Sampled every 0.2 s: a process that exits within the window (an
    autovacuum worker) keeps the CPU it was last seen with, and one that
    starts within it counts from zero."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    side: dict[int, str] = {}
    began = time.monotonic()
    end = began + seconds
    initial = True
    while True:
        now = time.monotonic()
        for name, pids in (("client", clients), ("server", server.server_pids())):
            for pid in pids:
                cpu = cpu_of(pid)
                if cpu is not None:
                    first.setdefault(pid, cpu if initial else 0.0)
                    last[pid] = cpu
                    side[pid] = name
        initial = False
        if now >= end:
            break
        time.sleep(min(0.2, end - now))
    used = {"client": 0.0, "server": 0.0}
    for pid, cpu in last.items():
        used[side[pid]] += cpu - first[pid]
    return {
        "window_s": time.monotonic() - began,
        "client_cpu_s": used["client"],
        "server_cpu_s": used["server"],
    }


def per_unit(cpu: dict[str, float], rate: float) -> dict[str, float]:
    """CPU milliseconds per attempt or transaction, client and server."""
    done = rate * cpu["window_s"]
    return {
        "client_cpu_ms": 1000 * cpu["client_cpu_s"] / done,
        "server_cpu_ms": 1000 * cpu["server_cpu_s"] / done,
    }


def aimem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*aimem_command(), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: aimem {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def init_pg_repo(server: Server, name: str, work: Path) -> tuple[str, Path]:
    url = server.database(name)
    repo = work / name / "AIMemory"
    repo.parent.mkdir(parents=True)
    aimem(server.env, "init", "--db", url, str(repo))
    return url, repo


# ---- writers -------------------------------------------------------------------


def run_writers(
    argv_for: Any,
    writers: int,
    seconds: float,
    go: Path,
    env: dict[str, str],
    server: Server,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The writers' results, and the CPU of writers and server over the run's middle."""
    procs = [subprocess.Popen(argv_for(w), stdout=subprocess.PIPE, env=env) for w in range(writers)]
    # Every writer has imported aimem and opened the repository before the
    # clock starts: start-up is not what is measured.
    deadline = time.monotonic() + 300
    while sum(1 for _ in go.parent.glob(f"{go.name}.ready-*")) < writers:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit("bench: the writers did not all start")
        time.sleep(0.05)
    ready = go.with_suffix(".tmp")
    ready.write_text(repr(time.time()))
    ready.rename(go)
    time.sleep(min(1.0, seconds / 10))  # every writer past its first call
    cpu = cpu_window(server, [p.pid for p in procs], seconds * 0.8)
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600 + seconds)
        if proc.returncode != 0:
            raise SystemExit("bench: a writer failed")
        results.append(json.loads(out))
    return results, cpu


def count_writers(server: Server, url: str, results: list[dict[str, Any]]) -> dict[str, int]:
    """Attempts the writers were told are stored, and how many are lost, doubled or unexpected."""
    sys.path.insert(0, str(HERE))
    from _pg_writer import tag

    told = {tag(r["writer"], n) for r in results for n in range(r["committed"])}
    stored: dict[str, int] = dict(
        server.query(url, "SELECT notes, count(*) FROM fix_history GROUP BY notes")  # type: ignore[arg-type]
    )
    return {
        "told": len(told),
        "stored": sum(stored.values()),
        "lost": len(told - set(stored)),
        "doubled": sum(1 for count in stored.values() if count > 1),
        # A writer killed by nothing here: every call it made returned, so an
        # attempt it does not know about would be a phantom.
        "unexpected": len(set(stored) - told),
    }


def verify_writers(
    server: Server, url: str, repo: Path, results: list[dict[str, Any]]
) -> dict[str, Any]:
    """Lost, doubled and unexpected attempts by their notes; aggregates by ``aimem check``."""
    counted = count_writers(server, url, results)
    told = counted["told"]
    check = subprocess.run(
        [*aimem_command(), "--dir", str(repo), "check", "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        check=False,
    )
    (patterns_total,) = server.query(
        url, "SELECT coalesce(sum(success_count + failure_count), 0) FROM issue_patterns"
    )[0]
    by_model = server.query(
        url,
        "SELECT m.model_name, m.total_tests, count(f.id) FROM model_characteristics m "
        "LEFT JOIN fix_history f ON f.model_name = m.model_name "
        "GROUP BY m.model_name, m.total_tests",
    )
    aggregates_exact = (
        check.returncode == 0
        and int(patterns_total) == told
        and all(int(total) == int(count) for _, total, count in by_model)
    )
    return {
        **counted,
        "aggregates_exact": aggregates_exact,
        "check_exit": check.returncode,
        "check_output": check.stdout.strip()[-400:] if check.returncode else "",
    }


def bench_pg_writers(
    server: Server, work: Path, counts: Sequence[int], seconds: float, *, row_only: bool = False
) -> dict[int, dict[str, Any]]:
    """Each count of writers on a new repository; with ``row_only``, the floor:
    the record function inserts the row and nothing else (aggregates are then
    not kept, so only lost and doubled attempts are checked)."""
    found = {}
    kind = "floor_" if row_only else ""
    for writers in counts:
        sys.stderr.write(f"{writers} {kind}writers on PostgreSQL for {seconds:g} s\n")
        url, repo = init_pg_repo(server, f"writers_{kind}{writers}", work)
        if row_only:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(ROW_ONLY_FUNCTION)
        go = work / f"go-pg-{kind}{writers}"

        def argv(w: int, repo: Path = repo, go: Path = go) -> list[str]:
            return [
                sys.executable,
                str(HERE / "_pg_writer.py"),
                str(repo),
                str(w),
                str(seconds),
                str(go),
            ]

        server.checkpoint()
        results, cpu = run_writers(argv, writers, seconds, go, server.env, server)
        total = sum(r["committed"] for r in results)
        wall = max(r["end"] for r in results) - min(r["start"] for r in results)
        latencies = sorted(x for r in results for x in r["latencies"])
        found[writers] = {
            "rate": total / wall,
            "total": total,
            "wall_s": wall,
            "p50_ms": median(latencies) * 1000 if latencies else None,
            "p99_ms": run.p99(latencies) * 1000 if latencies else None,
            **per_unit(cpu, total / wall),
            **(
                count_writers(server, url, results)
                if row_only
                else verify_writers(server, url, repo, results)
            ),
        }
        sys.stderr.write(f"  {json.dumps(found[writers])}\n")
    return found


def bench_pgbench(
    server: Server, counts: Sequence[int], seconds: float, scale: int | None
) -> dict[int, dict[str, Any]]:
    pgbench = shutil.which("pgbench") or str(server.cluster.bin_dir / "pgbench")
    connect = ["-h", "127.0.0.1", "-p", str(server.cluster.port), "-U", pg_cluster.SUPERUSER]
    found = {}
    for clients in counts:
        each_scale = scale or clients
        name = f"pgbench_{clients}"
        server.database(name)
        sys.stderr.write(f"pgbench -i -s {each_scale}; -c {clients} -T {seconds:g}\n")
        subprocess.run(
            [pgbench, *connect, "-i", "-q", "-s", str(each_scale), name],
            env=server.env,
            capture_output=True,
            check=True,
        )
        server.checkpoint()
        proc = subprocess.Popen(
            [pgbench, *connect, "-c", str(clients), "-j", "2", "-T", str(int(seconds)), name],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The same window as the writers': after start-up, before the end.
        time.sleep(min(1.0, seconds / 10))
        cpu = cpu_window(server, [proc.pid], seconds * 0.8)
        out, err = proc.communicate(timeout=600 + seconds)
        if proc.returncode != 0:
            raise SystemExit(f"bench: pgbench failed:\n{err}")
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
        if tps is None:
            raise SystemExit(f"bench: no tps in pgbench's output:\n{out}")
        rate = float(tps.group(1))
        found[clients] = {"tps": rate, "scale": each_scale, **per_unit(cpu, rate)}
        sys.stderr.write(f"  {found[clients]}\n")
    return found


def bench_sqlite_writers(work: Path, quick: bool) -> dict[str, Any]:
    """aimem's 8 SQLite writers on an empty repository, as bench/run.py runs them."""
    writers, each = 8, 30 if quick else 250
    sys.stderr.write(f"8 writers on SQLite, {each} attempts each\n")
    repo = work / "sqlite-writers" / "AIMemory"
    env = base_env(PYTHONPATH=str(ROOT), AIMEM_SYNCHRONOUS="FULL")
    aimem(env, "init", str(repo))
    go = work / "go-sqlite"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_writer.py"),
                str(repo),
                str(each),
                str(1000 + w),
                str(go),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        for w in range(writers)
    ]
    time.sleep(5.0)  # every writer has opened the repository (no signal from _writer.py)
    t = time.perf_counter()
    go.touch()
    ids = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit("bench: a SQLite writer failed")
        ids += json.loads(out)["ids"]
    wall = time.perf_counter() - t
    conn = sqlite3.connect(f"file:{repo / 'ai_memory.db'}?mode=ro", uri=True)
    stored, unique = conn.execute(
        "SELECT count(*), count(DISTINCT uid) FROM fix_history"
    ).fetchone()
    conn.close()
    none_lost = stored == unique == writers * each == len(set(ids))
    return {"rate": writers * each / wall, "none_lost": none_lost, "total": stored}


# ---- queries and pull ------------------------------------------------------------


def history_repo(size: int) -> Path:
    """The cached datagen repository of ``size`` records (1M: grown from 100k in SQL)."""
    if size in (10_000, 100_000):
        source, _ = datagen.build_repository(size)
        return source
    if size % 100_000:
        raise SystemExit("bench: sizes are 10000 or multiples of 100000")
    import suggest_bench

    base, _ = datagen.build_repository(100_000)
    source = datagen.CACHE / f"grown-{size}" / "AIMemory"
    if not (source.parent / "complete").exists():
        shutil.rmtree(source.parent, ignore_errors=True)
        suggest_bench.grow(base, source, size // 100_000)
        (source.parent / "complete").write_text("")
    return source


def history_ndjson(size: int, work: Path) -> Path:
    """An NDJSON export of the ``size``-record datagen history."""
    target = work / f"history-{size}.ndjson"
    if not target.exists():
        # A private copy: opening a repository may migrate it.
        copy = datagen.copy_repository(history_repo(size), work / f"export-{size}" / "AIMemory")
        aimem(base_env(), "--dir", str(copy), "export", "--format", "ndjson", "-q", str(target))
        shutil.rmtree(copy.parent)
    return target


def loaded_pg_repo(server: Server, work: Path, name: str, size: int) -> tuple[str, Path, float]:
    """A PostgreSQL repository holding the ``size``-record history, pushed there
    from a copy of the cached SQLite one; (url, folder, push seconds)."""
    url, repo = init_pg_repo(server, name, work)
    copy = datagen.copy_repository(history_repo(size), work / f"push-{name}" / "AIMemory")
    aimem(server.env, "--dir", str(copy), "remote", "add", "fleet", url)
    t = time.perf_counter()
    aimem(server.env, "--dir", str(copy), "push", "-q", "fleet")
    pushed = time.perf_counter() - t
    shutil.rmtree(copy.parent)
    return url, repo, pushed


# Tables that belong to the database itself rather than to the history.
NOT_COPIED = {"aimem_meta", "aimem_segments", "aimem_segment_data", "aimem_archived_uids"}


def copied_pg_repo(server: Server, work: Path, name: str, size: int) -> tuple[str, Path, float]:
    """A PostgreSQL repository holding the cached ``size``-record SQLite history
    (bench/datagen.py, grown to 1M as bench/suggest_bench.py grows it), made fast:
    every table the two schemas share (same names and columns by design) copied
    row for row with COPY, aggregates included, so only the queries are
    measured; (url, folder, seconds)."""
    import psycopg

    started = time.perf_counter()
    url, repo = init_pg_repo(server, name, work)
    lite = sqlite3.connect(f"file:{history_repo(size) / 'ai_memory.db'}?mode=ro", uri=True)
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND is_generated = 'NEVER' ORDER BY ordinal_position"
        ).fetchall()
        tables: dict[str, list[str]] = {}
        for table, column in columns:
            tables.setdefault(table, []).append(column)
        for table, pg_columns in tables.items():
            if table in NOT_COPIED:
                continue
            try:
                lite_columns = {r[1] for r in lite.execute(f'PRAGMA table_info("{table}")')}
            except sqlite3.Error:
                continue
            shared = [c for c in pg_columns if c in lite_columns]
            if not shared:
                continue
            names = ", ".join(f'"{c}"' for c in shared)
            conn.execute(f'DELETE FROM "{table}"')  # type: ignore[arg-type]
            with conn.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:  # type: ignore[arg-type]
                for row in lite.execute(f'SELECT {names} FROM "{table}"'):
                    copy.write_row(row)
        # Identity columns continue after the copied ids.
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND is_identity = 'YES'"
        ).fetchall():
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "  # type: ignore[arg-type]
                f'coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    lite.close()
    return url, repo, time.perf_counter() - started


def bench_queries(server: Server, work: Path, size: int, repeat: int) -> dict[str, Any]:
    import suggest_bench

    from aimem import AIMemory

    sys.stderr.write(f"suggest and context on {size:,} records in PostgreSQL\n")
    url, repo, copied = copied_pg_repo(server, work, f"queries_{size}", size)
    (count,) = server.query(url, "SELECT count(*) FROM fix_history")[0]
    with AIMemory(repo, create=False) as memory:
        found: dict[str, Any] = suggest_bench.timings(memory, repeat)
    found["records"] = int(count)
    found["copied_s"] = copied
    return found


def bench_push(server: Server, work: Path, size: int) -> dict[str, Any]:
    """``aimem push`` of the cached ``size``-record history into an empty
    PostgreSQL repository, next to ``aimem import`` of the same records into an
    empty SQLite one."""
    sys.stderr.write(f"push of {size:,} records into PostgreSQL\n")
    history = history_ndjson(size, work)
    url, _, pushed = loaded_pg_repo(server, work, f"push_{size}", size)
    (count, unique) = server.query(url, "SELECT count(*), count(DISTINCT uid) FROM fix_history")[0]
    repo = work / "push-peer" / "AIMemory"
    aimem(server.env, "init", str(repo))
    t = time.perf_counter()
    aimem(server.env, "--dir", str(repo), "import", "-q", str(history))
    imported = time.perf_counter() - t
    return {
        "push_rate": size / pushed,
        "import_rate": size / imported,
        "complete": count == unique == size,
    }


def bench_pull(server: Server, work: Path, size: int, runs: int) -> dict[str, Any]:
    sys.stderr.write(f"pull of {size:,} records into an empty SQLite repository\n")
    history = history_ndjson(size, work)
    url, _, _ = copied_pg_repo(server, work, f"pull_source_{size}", size)
    pulls, imports, counts = [], [], []
    for n in range(runs):
        for kind in ("pull", "import") if n % 2 == 0 else ("import", "pull"):
            repo = work / f"{kind}-{n}" / "AIMemory"
            aimem(server.env, "init", str(repo))
            if kind == "pull":
                aimem(server.env, "--dir", str(repo), "remote", "add", "fleet", url)
                argv = ["--dir", str(repo), "pull", "fleet"]
            else:
                argv = ["--dir", str(repo), "import", "-q", str(history)]
            t = time.perf_counter()
            aimem(server.env, *argv)
            (pulls if kind == "pull" else imports).append(time.perf_counter() - t)
            conn = sqlite3.connect(f"file:{repo / 'ai_memory.db'}?mode=ro", uri=True)
            counts.append(
                conn.execute("SELECT count(*), count(DISTINCT uid) FROM fix_history").fetchone()
            )
            conn.close()
            shutil.rmtree(repo.parent)
    complete = all(total == unique == size for total, unique in counts)
    return {
        "pull_rate": size / median(pulls),
        "import_rate": size / median(imports),
        "pull_s": median(pulls),
        "import_s": median(imports),
        "complete": complete,
    }


# ---- the table ---------------------------------------------------------------------


def report_rows(
    report: Report,
    writers: dict[int, dict[str, Any]],
    floor: dict[int, dict[str, Any]],
    pgbench: dict[int, dict[str, Any]],
    sqlite_rate: dict[str, Any] | None,
    queries: dict[str, Any] | None,
    push: dict[str, Any] | None,
    pull: dict[str, Any] | None,
) -> None:
    sqlite = sqlite_rate["rate"] if sqlite_rate else None
    for n, w in writers.items():
        sound = (
            w["lost"] == 0 and w["doubled"] == 0 and w["unexpected"] == 0 and w["aggregates_exact"]
        )
        bench = pgbench.get(n)
        ratio = w["rate"] / bench["tps"] if bench else None
        report.add(
            f"{n} writers on PostgreSQL, durable attempts: total",
            w["rate"],
            "/s",
            bench["tps"] if bench else None,
            f"pgbench -c {n} (scale {bench['scale']})" if bench else "",
            target=">= 0.3x pgbench, none lost or doubled, aggregates exact" if n == 32 else "",
            met=(ratio is not None and ratio >= 0.3 and sound) if n == 32 else None,
            extra={k: v for k, v in w.items() if k != "rate"},
        )
        report.add(
            f"{n} writers: CPU per attempt (writers + server)",
            (w["client_cpu_ms"] + w["server_cpu_ms"]) / 1000,
            "s",
            (bench["client_cpu_ms"] + bench["server_cpu_ms"]) / 1000 if bench else None,
            f"pgbench -c {n}, CPU per transaction" if bench else "",
            extra={k: w[k] for k in ("client_cpu_ms", "server_cpu_ms")}
            | (
                {f"pgbench_{k}": bench[k] for k in ("client_cpu_ms", "server_cpu_ms")}
                if bench
                else {}
            ),
        )
        # On a fleet the writers run on the runners, not on the database
        # server: the server's CPU alone is what bounds their total there.
        report.add(
            f"{n} writers: server CPU per attempt (writers on other machines)",
            w["server_cpu_ms"] / 1000,
            "s",
            bench["server_cpu_ms"] / 1000 if bench else None,
            f"pgbench -c {n}, server CPU per transaction" if bench else "",
        )
        report.add(
            f"{n} writers on PostgreSQL against aimem's 8 SQLite writers",
            w["rate"],
            "/s",
            sqlite,
            "8 SQLite writers" if sqlite else "",
            target="more than SQLite's 8 writers" if n == 32 else "",
            met=(sqlite is not None and w["rate"] > sqlite) if n == 32 else None,
        )
        report.add(
            f"{n} writers: none lost, doubled or unexpected; check clean",
            1.0 if sound else 0.0,
            "",
            target="yes",
            met=sound,
        )
    for n, f in floor.items():
        bench = pgbench.get(n)
        report.add(
            f"floor: {n} writers, the row only (no aggregates, no ranking)",
            f["rate"],
            "/s",
            bench["tps"] if bench else None,
            f"pgbench -c {n}" if bench else "",
            extra={k: v for k, v in f.items() if k != "rate"},
        )
    if sqlite_rate:
        report.add(
            "aimem's 8 SQLite writers (synchronous=FULL): total", sqlite, "/s", extra=sqlite_rate
        )
    if queries:
        for name in ("suggest", "context"):
            report.add(
                f"{name} at {queries['records']:,} records on PostgreSQL: median",
                queries[name]["median_ms"] / 1000,
                "s",
                0.010,
                "limit",
                target="< 10 ms",
                met=queries[name]["median_ms"] < 10,
                extra={"p95_ms": queries[name]["p95_ms"]},
            )
    if push:
        report.add(
            "aimem push from SQLite into an empty PostgreSQL repository",
            push["push_rate"],
            "/s",
            push["import_rate"],
            "aimem import of the same NDJSON into SQLite",
            extra=push,
        )
    if pull:
        report.add(
            "aimem pull from PostgreSQL into an empty SQLite repository",
            pull["pull_rate"],
            "/s",
            pull["import_rate"],
            "aimem import of the same NDJSON",
            target=">= 0.5x import, every record once",
            met=pull["pull_rate"] >= 0.5 * pull["import_rate"] and pull["complete"],
            extra=pull,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of every part")
    parser.add_argument("--writers", default=None, help="writer counts (default 8,32,64)")
    parser.add_argument("--seconds", type=float, default=None, help="per writer run (10)")
    parser.add_argument("--pgbench-scale", type=int, default=None, help="default: the clients")
    parser.add_argument("--size", type=int, default=None, help="records for suggest (1000000)")
    parser.add_argument("--pull-size", type=int, default=None, help="records pulled (100000)")
    parser.add_argument("--push-size", type=int, default=None, help="records pushed (10000)")
    parser.add_argument("--repeat", type=int, default=200, help="questions per query kind")
    parser.add_argument("--skip", default="", help=f"parts to leave out: {','.join(PARTS)}")
    parser.add_argument("--output", type=Path, default=None, help="write the rows as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    counts = [int(n) for n in (args.writers or ("8" if quick else "8,32,64")).split(",")]
    seconds = args.seconds or (2.0 if quick else 10.0)
    size = args.size or (10_000 if quick else 1_000_000)
    pull_size = args.pull_size or (10_000 if quick else 100_000)
    push_size = args.push_size or 10_000
    repeat = 40 if quick else args.repeat
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(PARTS):
        parser.error(f"--skip takes {','.join(PARTS)}")

    report = Report()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="aimem-pg-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        cluster = pg_cluster.start(work / "cluster", durable=True)
        server = Server(cluster)
        try:
            writers = (
                bench_pg_writers(server, work, counts, seconds) if "writers" not in skip else {}
            )
            floor = (
                bench_pg_writers(server, work, counts, seconds, row_only=True)
                if "floor" not in skip
                else {}
            )
            pgbench = (
                bench_pgbench(server, counts, seconds, args.pgbench_scale)
                if "pgbench" not in skip
                else {}
            )
            sqlite = bench_sqlite_writers(work, quick) if "sqlite" not in skip else None
            server.settle()
            queries = bench_queries(server, work, size, repeat) if "queries" not in skip else None
            push = bench_push(server, work, push_size) if "push" not in skip else None
            pull = (
                bench_pull(server, work, pull_size, 1 if quick else 3)
                if "pull" not in skip
                else None
            )
        finally:
            cluster.stop()
    report_rows(report, writers, floor, pgbench, sqlite, queries, push, pull)
    header = (
        f"PostgreSQL {cluster.bin_dir.parent.name} (fsync on), {os.cpu_count()} cores; "
        + (f"writers {','.join(map(str, counts))} for {seconds:g} s; " if writers else "")
        + f"{time.time() - started:.0f} s in all"
    )
    print(header + "\n\n" + report.markdown())
    if args.output:
        args.output.write_text(
            json.dumps({"header": header, "rows": report.rows}, indent=2, default=str)
        )
    missed = [r["figure"] for r in report.rows if r["met"] is False]
    if missed:
        sys.stderr.write("targets missed: " + "; ".join(missed) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A private PostgreSQL cluster for tests, CI and benchmarks.

Finds Debian's server binaries (``/usr/lib/postgresql/*/bin``) or ``pg_ctl`` on
PATH, runs ``initdb`` in a folder of its own (as the ``postgres`` user when
started as root, since the server refuses to run as root), and starts the
server on a free loopback port with its socket in that folder. Host
connections need a password (SCRAM); the superuser is ``aimem`` with the
password ``PASSWORD`` below, which callers pass through ``PGPASSWORD`` as a
real deployment would.

Used three ways:
- ``tests/conftest.py`` starts one per pytest process unless
  ``AIMEM_TEST_PG_URL`` names a server already running;
- ``.ci/run`` runs ``python tests/pg_cluster.py start DIR`` and exports the
  URL it prints;
- ``bench/`` starts one with ``fsync`` on for durable figures.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "aimem"
PASSWORD = "aimem-test-password"


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the cluster would not start."""


@dataclass(frozen=True)
class Cluster:
    folder: Path
    bin_dir: Path
    port: int
    run_as: str | None

    @property
    def url(self) -> str:
        """A URL without the password (it travels in ``PGPASSWORD``)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def stop(self, *, remove: bool = False) -> None:
        _run(self, [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)


def server_bin_dir() -> Path:
    explicit = os.environ.get("AIMEM_PG_BIN")
    candidates = [explicit] if explicit else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise ClusterUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) found")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cluster: Cluster, argv: list[str]) -> subprocess.CompletedProcess[str]:
    if cluster.run_as:
        argv = ["runuser", "-u", cluster.run_as, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")


def start(folder: Path | None = None, *, durable: bool = False) -> Cluster:
    """Create and start a cluster in ``folder`` (which must not hold one yet),
    by default a new folder under the system's temp folder: the server's user
    must be able to reach it, which pytest's private temp folders forbid.

    ``durable=False`` turns fsync off: tests need isolation, not crash safety
    of the server itself. Benchmarks pass ``durable=True``."""
    bin_dir = server_bin_dir()
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
            run_as = "postgres"
        except KeyError:
            run_as = "nobody"
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="aimem-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder=folder, bin_dir=bin_dir, port=_free_port(), run_as=run_as)
    pwfile = folder / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if run_as:
        entry = pwd.getpwnam(run_as)
        for path in (folder, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    pwfile.chmod(0o600)
    init = _run(
        cluster,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
    )
    if init.returncode != 0:
        raise ClusterUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    options = [
        f"-p {cluster.port}",
        f"-k {folder}",
        "-c listen_addresses=127.0.0.1",
        "-c max_connections=200",
        "-c shared_buffers=128MB",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    started = _run(
        cluster,
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(cluster.data),
            "-l",
            str(folder / "server.log"),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "60",
            "start",
        ],
    )
    if started.returncode != 0:
        log = folder / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else started.stderr
        raise ClusterUnavailable(f"pg_ctl start failed: {detail.strip()}")
    _wait_until_ready(cluster)
    return cluster


def _wait_until_ready(cluster: Cluster, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(cluster.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(cluster.port)],
            capture_output=True,
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise ClusterUnavailable("the server did not become ready in 30 s")


def main(argv: list[str]) -> int:
    """``start DIR [--durable]`` prints the URL; ``stop DIR`` stops it."""
    if len(argv) >= 2 and argv[0] == "start":
        cluster = start(Path(argv[1]).resolve(), durable="--durable" in argv[2:])
        print(cluster.url)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        folder = Path(argv[1]).resolve()
        bin_dir = server_bin_dir()
        # start() made the folder the server's user's own (postgres, or nobody).
        run_as = pwd.getpwuid(folder.stat().st_uid).pw_name if os.geteuid() == 0 else None
        Cluster(folder, bin_dir, 0, run_as).stop()
        return 0
    print("usage: pg_cluster.py start DIR [--durable] | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

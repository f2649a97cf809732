"""system_info: the design's gpu_available and ollama_version, gathered lazily, once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from aimem import records
from aimem.records import gpu_available, parse_ollama_version
from tests.conftest import run_aimem

FAKE_OLLAMA = """#!/bin/sh
echo run >> "{calls}"
echo "ollama version is 0.1.17"
"""


def _fake_ollama(folder: Path, calls: Path, body: str = FAKE_OLLAMA) -> dict[str, str]:
    folder.mkdir()
    program = folder / "ollama"
    program.write_text(body.format(calls=calls))
    program.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _stored_system_info(repo: Path) -> list[dict[str, object]]:
    done = run_aimem("--dir", str(repo), "recent", "--json")
    assert done.returncode == 0, done.stderr
    ids = [row["id"] for row in orjson.loads(done.stdout)]
    export = run_aimem("--dir", str(repo), "export", "-", "--format", "ndjson")
    rows = [orjson.loads(line) for line in export.stdout.splitlines()]
    return [row["system_info"] for row in rows if row["id"] in ids]


def test_record_collects_the_design_keys_and_asks_ollama_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    env = _fake_ollama(tmp_path / "bin", calls)
    repo = tmp_path / "AIMemory"
    assert run_aimem("init", str(repo), env=env).returncode == 0
    assert not calls.exists()  # not at start-up
    lines = b"".join(
        orjson.dumps(
            {
                "issue_data": {"model": "m:1", "issue_type": "TIMEOUT", "description": f"d{n}"},
                "fix_success": False,
                "verification_success": False,
            }
        )
        + b"\n"
        for n in range(3)
    )
    done = run_aimem("--dir", str(repo), "record", "--input", "-", env=env, input=lines)
    assert done.returncode == 0, done.stderr
    infos = _stored_system_info(repo)
    assert len(infos) == 3
    for info in infos:
        assert list(info)[:4] == ["os", "ram_gb", "gpu_available", "ollama_version"]
        assert info["ollama_version"] == "0.1.17"
        assert info["gpu_available"] is gpu_available()
    assert calls.read_text().splitlines() == ["run"]  # once per process


def test_given_system_info_is_kept_and_ollama_not_asked(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    env = _fake_ollama(tmp_path / "bin", calls)
    script = (
        "from aimem import AIMemory\n"
        f"m = AIMemory({str(tmp_path / 'AIMemory')!r})\n"
        "m.record_fix_attempt({'model': 'm:1', 'issue_type': 'ERROR', 'description': 'd',"
        " 'system_info': {'os': 'Linux', 'gpu_available': True}}, {}, False, False, 1.0)\n"
        "m.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not calls.exists()
    assert _stored_system_info(tmp_path / "AIMemory") == [{"os": "Linux", "gpu_available": True}]


def test_no_ollama_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert records.ollama_version() is None


@pytest.mark.parametrize(
    "body",
    [
        "#!/bin/sh\nexec sleep 30\n",
        # A wrapper whose child keeps the output pipe open after it is stopped.
        "#!/bin/sh\nsleep 30 &\nsleep 30\necho 'ollama version is 9'\n",
    ],
)
def test_an_ollama_that_hangs_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    folder = tmp_path / "bin"
    _fake_ollama(folder, tmp_path / "calls", body)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setattr(records, "OLLAMA_TIMEOUT_SECONDS", 0.2)
    started = time.monotonic()
    assert records.ollama_version() is None
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("ollama version is 0.1.17\n", "0.1.17"),
        (
            "Warning: could not connect to a running Ollama instance\n"
            "Warning: client version is 0.5.7\n",
            "0.5.7",
        ),
        ("ollama version is v0.3.0-rc1\n", "0.3.0-rc1"),
        ("command not understood\n", None),
    ],
)
def test_ollama_version_parsing(output: str, version: str | None) -> None:
    assert parse_ollama_version(output) == version


def test_gpu_detection_follows_device_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = tmp_path / "nvidia0"
    monkeypatch.setattr(records, "GPU_DEVICE_PATTERNS", (str(tmp_path / "nvidia[0-9]*"),))
    monkeypatch.setattr("platform.system", lambda: "Linux")
    assert gpu_available() is False
    device.touch()
    assert gpu_available() is True


def test_start_up_and_reads_do_not_ask_ollama(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    env = _fake_ollama(tmp_path / "bin", calls)
    repo = tmp_path / "AIMemory"
    for args in (["--version"], ["init", str(repo)], ["--dir", str(repo), "stats"]):
        assert run_aimem(*args, env=env).returncode == 0
    assert not calls.exists()

"""knowledge_base.json follows every write, closed or not; knowledge_base_size at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from aimem import AIMemory
from aimem.cli.app import app
from tests.conftest import issue, response

RECORD = """
from aimem import AIMemory
memory = AIMemory({folder!r})
for n in range(3):
    memory.record_fix_attempt(
        {{"model": "qwen2.5:7b", "issue_type": "TIMEOUT", "description": f"slow {{n}}"}},
        {{"fix_commands": ["systemctl restart ollama"]}},
        True, True, 1.0,
    )
"""


def _run(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)


def _file(folder: Path) -> dict[str, object]:
    return dict(orjson.loads((folder / "knowledge_base.json").read_bytes()))


def _assert_current(folder: Path, attempts: int) -> None:
    with AIMemory(folder, create=False) as memory:
        assert memory.knowledge_file.state() == "current"
        generation = memory.store.generation()
    document = _file(folder)
    assert document["generation"] == generation
    assert document["issue_types"]["TIMEOUT"]["attempts"] == attempts  # type: ignore[index]


def test_a_process_that_records_and_never_closes(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    done = _run(RECORD.format(folder=str(folder)))
    assert done.returncode == 0, done.stderr
    _assert_current(folder, 3)


def test_an_instance_collected_without_close(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    script = RECORD.format(folder=str(folder)) + "del memory\nimport gc\ngc.collect()\n"
    done = _run(script)
    assert done.returncode == 0, done.stderr
    _assert_current(folder, 3)


def test_a_process_that_fails_after_recording(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    done = _run(RECORD.format(folder=str(folder)) + "raise SystemExit('fixer crashed')\n")
    assert done.returncode == 1
    _assert_current(folder, 3)


def test_a_second_process_adds_to_a_fresh_file(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    for _ in range(2):
        assert _run(RECORD.format(folder=str(folder))).returncode == 0
    _assert_current(folder, 6)


@pytest.mark.sqlite_only
def test_knowledge_base_size_right_after_a_record(memory: AIMemory) -> None:
    path = memory.knowledge_file.path
    memory.record_fix_attempt(issue(), response("ollama pull qwen2.5:7b"), True, True, 1.0)
    first = memory.get_memory_stats()["knowledge_base_size"]
    assert first > 0
    assert first == path.stat().st_size
    assert memory.knowledge_file.state() == "current"
    memory.record_fix_attempt(issue(issue_type="ERROR"), response("x"), False, False, 1.0)
    second = memory.get_memory_stats()["knowledge_base_size"]
    assert second == path.stat().st_size > first
    assert set(_file(memory.memory_dir)["issue_types"]) == {"TIMEOUT", "ERROR"}  # type: ignore[arg-type]


@pytest.mark.sqlite_only
def test_stats_leave_a_hand_edited_file_alone(memory: AIMemory) -> None:
    memory.record_fix_attempt(issue(), response("x"), True, True, 1.0)
    path = memory.knowledge_file.path
    path.write_text('{"mine": true}\n')
    memory.record_fix_attempt(issue(), response("y"), True, True, 1.0)
    assert memory.get_memory_stats()["knowledge_base_size"] == len('{"mine": true}\n')
    assert path.read_text() == '{"mine": true}\n'


def test_cli_stats_after_a_record(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    recorded = runner.invoke(
        app, ["record", "-m", "m:1", "-t", "TIMEOUT", "-d", "slow", "-c", "x", "--failure"]
    )
    assert recorded.exit_code == 0, recorded.output
    stats = runner.invoke(app, ["stats", "--json"], catch_exceptions=False)
    size = orjson.loads(stats.stdout)["knowledge_base_size"]
    assert size == (tmp_path / "AIMemory" / "knowledge_base.json").stat().st_size > 0


def test_exit_hook_does_not_recreate_a_removed_repository(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    script = RECORD.format(folder=str(folder)) + textwrap.dedent(
        f"""
        import shutil
        memory.store.close()
        memory.store = None
        shutil.rmtree({str(folder)!r})
        """
    )
    done = _run(script)
    assert done.returncode == 0, done.stderr
    assert not folder.exists()


def test_an_instance_of_another_thread_never_closed(tmp_path: Path) -> None:
    folder = tmp_path / "AIMemory"
    body = textwrap.indent(RECORD.format(folder=str(folder)), "    ")
    script = (
        "import threading\nkeep = []\ndef work():\n"
        + body
        + "    keep.append(memory)\n"
        + "thread = threading.Thread(target=work)\nthread.start()\nthread.join()\n"
    )
    done = _run(script)
    assert done.returncode == 0, done.stderr
    _assert_current(folder, 3)

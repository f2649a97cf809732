"""Fix commands learned as templates: recognised, filled in, never offered for another model."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from aimem import AIMemory
from aimem.learn.templates import fill, names_other_model, template_commands

MODELS = st.sampled_from(
    ["qwen2.5:7b", "qwen2.5:14b", "llama3.1:8b", "mistral:7b-instruct-v0.3", "gemma2"]
)
WORDS = st.sampled_from(
    [
        "ollama",
        "pull",
        "run",
        "stop",
        "rm",
        "qwen2.5",
        "qwen2.5:7b",
        "qwen2.5-7b",
        "llama3.1",
        "llama3.1:8b",
        "qwen2.5-coder:7b",
        "--keepalive",
        "30m",
        "export",
        "X=1",
        "'\"",
        "{",
        "}",
    ]
)


@given(st.lists(st.lists(WORDS, max_size=6).map(" ".join), max_size=3), MODELS)
def test_filling_a_template_in_for_its_model_gives_the_commands_back(
    commands: list[str], model: str
) -> None:
    assert fill(template_commands(commands, model), model) == commands


def test_the_model_name_and_its_parts_are_recognised() -> None:
    model = "qwen2.5:14b"
    assert template_commands(
        [
            "ollama pull qwen2.5:14b",
            "ollama rm qwen2.5",
            "docker start qwen2.5-14b",
            "ollama pull qwen2.5-coder:14b",  # another model: left alone
            "ollama stop qwen2.5:7b",  # a sibling: left alone
            'curl -d \'{"model": "qwen2.5:14b"}\' http://localhost:11434/api/generate',
        ],
        model,
    ) == [
        "ollama pull {model}",
        "ollama rm {model_base}",
        "docker start {model_base}-{model_tag}",
        "ollama pull qwen2.5-coder:14b",
        "ollama stop qwen2.5:7b",
        'curl -d \'{"model": "{model}"}\' http://localhost:11434/api/generate',
    ]
    assert fill(["ollama pull {model}", "ollama rm {model_base}"], "llama3.1:8b") == [
        "ollama pull llama3.1:8b",
        "ollama rm llama3.1",
    ]


def test_naming_another_model_is_found_by_whole_names_only() -> None:
    known = ["qwen2.5:7b", "qwen2.5:14b", "llama3.1:8b"]
    assert names_other_model(["ollama stop qwen2.5:14b"], "qwen2.5:7b", known)
    assert names_other_model(["ollama pull llama3.1"], "qwen2.5:7b", known)
    assert not names_other_model(["ollama pull qwen2.5:7b"], "qwen2.5:7b", known)
    assert names_other_model(["ollama pull qwen2.5:7b-instruct"], "qwen2.5:7b", known)
    assert names_other_model(["ollama pull qwen2.5:32b"], "qwen2.5:7b", known)  # never recorded
    assert not names_other_model(["curl http://localhost:11434/api/tags"], "qwen2.5:7b", known)
    assert not names_other_model(["systemctl restart ollama"], "qwen2.5:7b", known)


def _record(memory: AIMemory, model: str, commands: list[str], ok: bool) -> None:
    memory.record_fix_attempt(
        {"model": model, "issue_type": "MODEL_NOT_AVAILABLE", "description": "model not found"},
        {"analysis": "pull it", "fix_commands": commands},
        ok,
        ok,
        1.0,
    )


def test_a_fix_learned_on_one_model_is_offered_filled_in_for_its_sibling(
    tmp_path: Path,
) -> None:
    with AIMemory(tmp_path / "AIMemory") as memory:
        for _ in range(6):
            _record(memory, "qwen2.5:14b", ["ollama pull qwen2.5:14b"], True)
        _record(memory, "qwen2.5:14b", ["ollama stop qwen2.5:7b"], True)  # names a sibling
        advice = memory.suggest(
            {"model": "qwen2.5:7b", "issue_type": "MODEL_NOT_AVAILABLE"}, seed=1
        )
        offered = {tuple(f["fix_commands"]): f for f in advice["ranked_fixes"]}
        assert offered[("ollama pull qwen2.5:7b",)]["template"] == ["ollama pull {model}"]
        # a command naming the very model asked about is fine for it
        assert ("ollama stop qwen2.5:7b",) in offered
        # the sibling's own command is not offered to the sibling's neighbour as it stands
        other = memory.suggest({"model": "qwen2.5:32b", "issue_type": "MODEL_NOT_AVAILABLE"})
        flat = [c for f in other["ranked_fixes"] for c in f["fix_commands"]]
        assert "ollama pull qwen2.5:32b" in flat
        assert not any("qwen2.5:7b" in c or "qwen2.5:14b" in c for c in flat)
        # the history keeps the commands exactly as given
        assert {tuple(r["fix_commands"]) for r in memory.recent(days=1)} == {
            ("ollama pull qwen2.5:14b",),
            ("ollama stop qwen2.5:7b",),
        }
        context = memory.build_context(
            {"model": "qwen2.5:7b", "issue_type": "MODEL_NOT_AVAILABLE", "description": "x"}
        )
        assert "ollama pull qwen2.5:7b" in context
        assert "ollama pull qwen2.5:14b" not in context.split("## Model record")[0]
        strategies = memory.successful_strategies("MODEL_NOT_AVAILABLE", model="llama3.1:8b")
        assert [s["fix_commands"] for s in strategies] == [["ollama pull llama3.1:8b"]]

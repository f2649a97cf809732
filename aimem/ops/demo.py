"""A realistic generated history for ``aimem init --demo`` (seeded, reproducible).

Several hundred attempts over six weeks: seven models, three fixers, every
standard issue type, fixes that work with different rates on different model
families, and TIMEOUTs that cluster in the nightly test window (02:00-04:00
UTC) so that a temporal pattern is there to find.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from aimem.timeutil import format_utc, utcnow

MODELS = (
    "qwen2.5:7b",
    "qwen2.5:14b",
    "llama3.1:8b",
    "mistral:7b",
    "phi3:mini",
    "gemma2:9b",
    "deepseek-coder:6.7b",
)
FIXERS = (("claude", 0.55), ("qwen", 0.3), ("gpt", 0.15))
PROMPTS = (
    "Write a haiku about the sea",
    "Explain quantum entanglement to a child",
    'Return the JSON {"status": "ok"} and nothing else',
    "Translate 'good morning' into French",
    "Summarize the plot of Hamlet in two sentences",
    "List three prime numbers greater than 100",
    "Write a Python function that reverses a string",
)

# issue type -> (description templates, analyses, [(fix commands, base success rate)])
CATALOGUE: dict[str, tuple[list[str], list[str], list[tuple[list[str], float]]]] = {
    "TIMEOUT": (
        [
            "Model response timeout after {n} seconds",
            "No response within {n}s on prompt {p}",
            "Generation exceeded the {n} second limit",
        ],
        [
            "Model needs more time due to complex prompt",
            "Cold start: the model was not loaded in memory",
            "GPU memory pressure slows token generation",
        ],
        [
            (["# Increase timeout to 120 seconds"], 0.8),
            (["ollama stop {m}", "ollama run {m} ''"], 0.6),
            (["export OLLAMA_KEEP_ALIVE=30m", "systemctl restart ollama"], 0.7),
            (["# Reduce num_predict to 256"], 0.35),
        ],
    ),
    "MODEL_NOT_AVAILABLE": (
        [
            "model '{m}' not found, try pulling it first",
            "Error: pull model manifest: file does not exist ({m})",
        ],
        ["Model needs installation", "Model tag was renamed upstream"],
        [
            (["ollama pull {m}"], 0.9),
            (["ollama pull {m}", "systemctl restart ollama"], 0.95),
            (["# Switch to the latest tag"], 0.4),
        ],
    ),
    "UNEXPECTED_RESPONSE": (
        [
            "Output does not match expected pattern (got {n} tokens of prose)",
            "Expected JSON but the model answered in Markdown",
            "Response contains the refusal phrase",
        ],
        [
            "Prompt format does not match the model's chat template",
            "Temperature too high for a deterministic check",
        ],
        [
            (["# Adjust prompt format to the model's chat template"], 0.55),
            (["# Set temperature to 0"], 0.6),
            (["# Add a system prompt requiring JSON output"], 0.5),
            (["# Relax the expected pattern"], 0.25),
        ],
    ),
    "NO_OUTPUT": (
        ["Model produced no response", "Empty output after {n} seconds"],
        ["Stop sequence matched immediately", "Context window overflow"],
        [
            (["# Remove the stop sequence '\\n'"], 0.65),
            (["# Truncate the prompt to 2048 tokens"], 0.5),
            (["systemctl restart ollama"], 0.3),
        ],
    ),
    "ERROR": (
        [
            "CUDA out of memory (tried to allocate {n} MiB)",
            "connection refused: ollama server at 127.0.0.1:11434",
            "runtime error: llama runner process has terminated",
        ],
        ["GPU memory exhausted", "Ollama service is down", "Runner crashed on a bad quantization"],
        [
            (["systemctl restart ollama"], 0.7),
            (["export OLLAMA_NUM_GPU=0", "systemctl restart ollama"], 0.55),
            (["ollama rm {m}", "ollama pull {m}"], 0.45),
        ],
    ),
    "CUSTOM": (
        ["Latency regression: p95 {n} ms above baseline", "Tokenizer warning flood in logs"],
        ["Benchmark-specific expectation drifted"],
        [
            (["# Re-baseline the latency threshold"], 0.5),
            (["# Pin the model digest"], 0.4),
        ],
    ),
}
TYPE_WEIGHTS = (
    ("TIMEOUT", 0.3),
    ("MODEL_NOT_AVAILABLE", 0.15),
    ("UNEXPECTED_RESPONSE", 0.25),
    ("NO_OUTPUT", 0.1),
    ("ERROR", 0.15),
    ("CUSTOM", 0.05),
)
FAMILY_BONUS = {"qwen2.5": 0.1, "llama3.1": 0.0, "mistral": -0.05, "phi3": -0.15}
FIXER_BONUS = {"claude": 0.08, "qwen": -0.05, "gpt": 0.0}
NOTES = (
    "Fix verified by re-running the test suite",
    "Worked after the second try",
    "Needed a service restart as well",
    "",
    "",
)


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def demo_attempts(count: int = 480, days: int = 42, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` attempts spread over the last ``days`` days, as ``record_many`` items."""
    rng = random.Random(seed)
    now = utcnow()
    for _ in range(count):
        issue_type = _weighted(rng, TYPE_WEIGHTS)
        model = rng.choice(MODELS)
        family = model.split(":")[0]
        fixer = _weighted(rng, FIXERS)
        descriptions, analyses, fixes = CATALOGUE[issue_type]
        commands, base = rng.choice(fixes)
        prompt = rng.choice(PROMPTS)
        age = timedelta(days=rng.uniform(0, days))
        moment = now - age
        if issue_type == "TIMEOUT" and rng.random() < 0.6:
            moment = moment.replace(hour=rng.choice((2, 3, 4)), minute=rng.randrange(60))
            if moment > now:
                moment -= timedelta(days=1)
        chance = base + FAMILY_BONUS.get(family, 0.0) + FIXER_BONUS.get(fixer, 0.0)
        applied = rng.random() < min(0.97, chance + 0.15)
        verified = applied and rng.random() < min(0.98, chance / max(chance + 0.15, 0.01) + 0.1)
        tokens_in = rng.randint(800, 6000)
        tokens_out = rng.randint(100, 1200)
        price = {"claude": (3e-6, 15e-6), "gpt": (2.5e-6, 10e-6), "qwen": (0.0, 0.0)}[fixer]
        yield {
            "issue_data": {
                "model": model,
                "issue_type": issue_type,
                "description": rng.choice(descriptions).format(
                    n=rng.choice((30, 45, 60, 90, 512, 1024)), m=model, p=rng.randint(1, 40)
                ),
                "test_prompt": prompt,
                "actual_response": ""
                if issue_type in ("TIMEOUT", "NO_OUTPUT")
                else "x" * rng.randint(0, 3),
                "system_info": {
                    "os": "Linux",
                    "ram_gb": rng.choice((16, 32, 64)),
                    "gpu_available": rng.random() < 0.7,
                    "ollama_version": rng.choice(("0.5.7", "0.6.2", "0.6.5")),
                },
            },
            "ai_response": {
                "analysis": rng.choice(analyses),
                "fix_commands": [c.format(m=model) for c in commands],
                "confidence": round(rng.uniform(0.4, 0.95), 2),
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "cost_usd": round(tokens_in * price[0] + tokens_out * price[1], 6),
                "fixer_model": {
                    "claude": "claude-3-5-sonnet",
                    "qwen": "qwen2.5-coder:7b",
                    "gpt": "gpt-4o",
                }[fixer],
            },
            "fix_success": applied,
            "verification_success": verified,
            "execution_time": round(rng.uniform(2, 120), 1),
            "notes": rng.choice(NOTES) if verified else None,
            "fixer_type": fixer,
            "timestamp": format_utc(moment),
        }

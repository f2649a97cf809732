"""Realistic synthetic fix history for the benchmarks (seeded, reproducible, fast).

``attempts(count, seed)`` yields ``record_many`` items: many models in several
families, fixers, standard and custom issue types, varied descriptions with
numbers, ids and paths, fix commands that succeed at different rates, system
info, token counts and costs, spread over the last two years with a nightly
cluster of timeouts. ``build_repository(size, seed)`` records them through
the public API (``AIMemory.record_many`` in large chunks) and caches the
result under ``bench/.cache`` keyed by size and seed, so reruns are quick.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
FORMAT_VERSION = 1  # bump when the generator changes, so stale caches are rebuilt

FAMILIES = {
    "qwen2.5": ("0.5b", "1.5b", "3b", "7b", "14b", "32b", "72b", "7b-instruct-q4_K_M"),
    "qwen2.5-coder": ("1.5b", "7b", "14b", "32b"),
    "llama3.1": ("8b", "70b", "8b-instruct-q8_0"),
    "llama3.2": ("1b", "3b"),
    "mistral": ("7b", "7b-instruct-v0.3"),
    "mixtral": ("8x7b",),
    "phi3": ("mini", "medium"),
    "phi4": ("14b",),
    "gemma2": ("2b", "9b", "27b"),
    "deepseek-coder": ("1.3b", "6.7b", "33b"),
    "deepseek-r1": ("7b", "14b", "32b"),
    "codellama": ("7b", "13b", "34b"),
    "starcoder2": ("3b", "7b", "15b"),
    "command-r": ("35b",),
    "yi": ("6b", "34b"),
}
MODELS = tuple(f"{family}:{tag}" for family, tags in FAMILIES.items() for tag in tags)
FIXERS = (("claude", 0.45), ("qwen", 0.25), ("gpt", 0.15), ("gemini", 0.1), ("custom", 0.05))
FIXER_MODEL = {
    "claude": ("claude-3-5-sonnet", "claude-3-7-sonnet", "claude-sonnet-4"),
    "qwen": ("qwen2.5-coder:7b", "qwen2.5-coder:32b"),
    "gpt": ("gpt-4o", "gpt-4o-mini", "o3-mini"),
    "gemini": ("gemini-1.5-pro", "gemini-2.0-flash"),
    "custom": ("rules-v2",),
}
PRICE = {
    "claude": (3e-6, 15e-6),
    "gpt": (2.5e-6, 10e-6),
    "gemini": (1.25e-6, 5e-6),
    "qwen": (0.0, 0.0),
    "custom": (0.0, 0.0),
}
TYPES = (
    ("TIMEOUT", 0.26),
    ("UNEXPECTED_RESPONSE", 0.22),
    ("MODEL_NOT_AVAILABLE", 0.12),
    ("ERROR", 0.14),
    ("NO_OUTPUT", 0.09),
    ("CUSTOM", 0.04),
    ("LATENCY_REGRESSION", 0.04),
    ("TOKENIZER_MISMATCH", 0.03),
    ("CONTEXT_OVERFLOW", 0.03),
    ("JSON_SCHEMA_VIOLATION", 0.03),
)
SUBJECTS = (
    "haiku about the sea",
    "quantum entanglement for a child",
    "the JSON status object",
    "good morning in French",
    "the plot of Hamlet",
    "three primes above 100",
    "a string reversal in Python",
    "a SQL query joining two tables",
    "the capital of Australia",
    "a regex for email addresses",
    "a bash one-liner counting lines",
    "the difference between TCP and UDP",
    "a limerick about compilers",
    "a unit test for a stack",
    "a summary of the French revolution",
    "a Rust function parsing integers",
    "the big-O of merge sort",
    "a Dockerfile for a Flask app",
)
VERBS = ("Write", "Explain", "Return", "Translate", "Summarize", "List", "Describe", "Generate")
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "TIMEOUT": (
        "Model response timeout after {n} seconds",
        "No response within {n}s on prompt #{p} ({path})",
        "Generation exceeded the {n} second limit at token {k}",
        "Request {uuid} timed out after {n}s waiting for the runner",
    ),
    "UNEXPECTED_RESPONSE": (
        "Output does not match expected pattern (got {k} tokens of prose)",
        "Expected JSON but the model answered in Markdown ({k} chars)",
        "Response contains the refusal phrase on prompt #{p}",
        "Answer {k} differs from the expected {n} in {path}",
    ),
    "MODEL_NOT_AVAILABLE": (
        "model '{m}' not found, try pulling it first",
        "Error: pull model manifest: file does not exist ({m})",
        "manifest for {m} unknown (digest {hash})",
    ),
    "ERROR": (
        "CUDA out of memory (tried to allocate {n} MiB)",
        "connection refused: ollama server at 127.0.0.1:{port}",
        "runtime error: llama runner process has terminated: exit status {k}",
        "panic in {path}: index out of range [{k}] with length {n}",
    ),
    "NO_OUTPUT": (
        "Model produced no response",
        "Empty output after {n} seconds",
        "Stream closed with zero tokens (request {uuid})",
    ),
    "CUSTOM": (
        "Latency regression: p95 {n} ms above baseline",
        "Tokenizer warning flood in logs ({k} lines)",
    ),
    "LATENCY_REGRESSION": ("p99 latency {n} ms exceeds budget on {path}",),
    "TOKENIZER_MISMATCH": ("Token count {k} differs from reference {n}",),
    "CONTEXT_OVERFLOW": ("Prompt of {k} tokens exceeds context window {n}",),
    "JSON_SCHEMA_VIOLATION": ("Field 'status' missing in response {uuid}",),
}
ANALYSES = (
    "Model needs more time due to complex prompt",
    "Cold start: the model was not loaded in memory",
    "GPU memory pressure slows token generation",
    "Model needs installation",
    "Prompt format does not match the model's chat template",
    "Temperature too high for a deterministic check",
    "Stop sequence matched immediately",
    "Context window overflow truncated the instructions",
    "Ollama service is down",
    "Runner crashed on a bad quantization",
    "Benchmark-specific expectation drifted",
    "The expected pattern is stricter than the task requires",
)
FIXES: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    "TIMEOUT": (
        (("# Increase timeout to 120 seconds",), 0.8),
        (("ollama stop {m}", "ollama run {m} ''"), 0.6),
        (("export OLLAMA_KEEP_ALIVE=30m", "systemctl restart ollama"), 0.7),
        (("# Reduce num_predict to 256",), 0.35),
        (("# Increase timeout to {n} seconds",), 0.65),
    ),
    "UNEXPECTED_RESPONSE": (
        (("# Adjust prompt format to the model's chat template",), 0.55),
        (("# Set temperature to 0",), 0.6),
        (("# Add a system prompt requiring JSON output",), 0.5),
        (("# Relax the expected pattern",), 0.25),
    ),
    "MODEL_NOT_AVAILABLE": (
        (("ollama pull {m}",), 0.9),
        (("ollama pull {m}", "systemctl restart ollama"), 0.95),
        (("# Switch to the latest tag",), 0.4),
    ),
    "ERROR": (
        (("systemctl restart ollama",), 0.7),
        (("export OLLAMA_NUM_GPU=0", "systemctl restart ollama"), 0.55),
        (("ollama rm {m}", "ollama pull {m}"), 0.45),
    ),
    "NO_OUTPUT": (
        (("# Remove the stop sequence '\\n'",), 0.65),
        (("# Truncate the prompt to 2048 tokens",), 0.5),
        (("systemctl restart ollama",), 0.3),
    ),
}
GENERIC_FIXES = (
    (("# Re-baseline the threshold",), 0.5),
    (("# Pin the model digest",), 0.4),
    (("ollama pull {m}", "# re-run the check"), 0.45),
)
NOTES = (
    "Fix verified by re-running the test suite",
    "Worked after the second try",
    "Needed a service restart as well",
    "Flaky: passed 4 of 5 reruns",
)
OS_INFO = (
    {"os": "Linux", "distro": "ubuntu-24.04"},
    {"os": "Linux", "distro": "debian-12"},
    {"os": "Darwin", "distro": "macos-14"},
)


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> list[str]:
    return [p[0] for p in pairs], [p[1] for p in pairs]  # type: ignore[return-value]


def attempts(count: int, seed: int = 1, days: int = 730) -> Iterator[dict[str, Any]]:
    """``count`` realistic attempts over the last ``days`` days, as ``record_many`` items."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    type_names, type_weights = _weighted(rng, TYPES)
    fixer_names, fixer_weights = _weighted(rng, FIXERS)
    prompts = [f"{v} {s}" for v in VERBS for s in SUBJECTS]
    families = {m: m.split(":")[0] for m in MODELS}
    family_bonus = {f: rng.uniform(-0.2, 0.15) for f in FAMILIES}
    fixer_bonus = {"claude": 0.08, "qwen": -0.05, "gpt": 0.02, "gemini": 0.0, "custom": -0.1}
    span = days * 86400.0
    # Batches of random choices are far cheaper than one call per field.
    batch = 4096
    produced = 0
    while produced < count:
        n = min(batch, count - produced)
        types = rng.choices(type_names, type_weights, k=n)
        fixers = rng.choices(fixer_names, fixer_weights, k=n)
        for i in range(n):
            issue_type = types[i]
            fixer = fixers[i]
            model = MODELS[int(rng.random() ** 1.6 * len(MODELS))]  # a few models dominate
            nums = rng.randrange(1, 4000)
            fields = {
                "n": rng.choice((30, 45, 60, 90, 120, 512, 1024, 2048)),
                "p": rng.randrange(1, 400),
                "k": nums,
                "m": model,
                "path": f"/srv/tests/{rng.choice(SUBJECTS[:6]).split()[0]}/{nums}.yaml",
                "uuid": "-".join(
                    (
                        f"{rng.getrandbits(32):08x}",
                        f"{rng.getrandbits(16):04x}",
                        f"4{rng.getrandbits(12):03x}",
                        f"a{rng.getrandbits(12):03x}",
                        f"{rng.getrandbits(48):012x}",
                    )
                ),
                "hash": f"{rng.getrandbits(64):016x}",
                "port": rng.choice((11434, 11435, 8080)),
            }
            description = rng.choice(DESCRIPTIONS[issue_type]).format(**fields)
            commands_template, base = rng.choice(FIXES.get(issue_type, GENERIC_FIXES))
            commands = [c.format(**fields) for c in commands_template]
            prompt = prompts[rng.randrange(len(prompts))]
            age = rng.random() ** 1.3 * span  # more history recently
            moment = now - timedelta(seconds=age)
            if issue_type == "TIMEOUT" and rng.random() < 0.5:
                moment = moment.replace(hour=rng.choice((2, 3, 4)))
                if moment > now:
                    moment -= timedelta(days=1)
            chance = base + family_bonus[families[model]] + fixer_bonus[fixer]
            applied = rng.random() < min(0.97, chance + 0.15)
            verified = applied and rng.random() < min(0.98, chance + 0.2)
            tokens_in = rng.randrange(800, 9000)
            tokens_out = rng.randrange(100, 1500)
            price = PRICE[fixer]
            response = (
                ""
                if issue_type in ("TIMEOUT", "NO_OUTPUT")
                else "The answer is " + "x" * rng.randrange(0, 400)
            )
            analysis = rng.choice(ANALYSES)
            if rng.random() < 0.3:
                analysis += (
                    f". Observed {nums} tokens before the stall; retried {fields['p'] % 5} times."
                )
            yield {
                "issue_data": {
                    "model": model,
                    "issue_type": issue_type,
                    "description": description,
                    "test_prompt": prompt,
                    "actual_response": response,
                    "system_info": {
                        **OS_INFO[nums % 3],
                        "ram_gb": (16, 32, 64, 128)[nums % 4],
                        "gpu_available": nums % 7 != 0,
                        "ollama_version": ("0.5.7", "0.6.2", "0.6.5", "0.7.0")[nums % 4],
                    },
                },
                "ai_response": {
                    "analysis": analysis,
                    "fix_commands": commands,
                    "confidence": round(rng.random(), 2),
                    "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                    "cost_usd": round(tokens_in * price[0] + tokens_out * price[1], 6),
                    "fixer_model": FIXER_MODEL[fixer][nums % len(FIXER_MODEL[fixer])],
                },
                "fix_success": applied,
                "verification_success": verified,
                "execution_time": round(2 + rng.random() * 180, 1),
                "notes": NOTES[nums % 4] if verified and nums % 3 == 0 else None,
                "fixer_type": fixer,
                "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S.%fZ"),
            }
        produced += n


def cache_path(size: int, seed: int) -> Path:
    return CACHE / f"repo-{size}-s{seed}-v{FORMAT_VERSION}" / "AIMemory"


def _chunk_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def chunk_items(seed: int, index: int, size: int) -> list[dict[str, Any]]:
    """The ``index``-th chunk of a history (chunks are independent, so workers can share work)."""
    return list(attempts(size, _chunk_seed(seed, index)))


def _validated_chunk(job: tuple[int, int, int]) -> list[Any]:
    # Runs in a worker: generate and validate one chunk exactly as record_many does.
    from aimem.records import attempt_from_call

    seed, index, size = job
    return [attempt_from_call(**item) for item in chunk_items(seed, index, size)]


def generate(target: Path, size: int, seed: int = 1, chunk: int = 10_000) -> float:
    """Record ``size`` attempts into a fresh repository at ``target``; return seconds taken.

    Chunks are generated and validated (``aimem.records.attempt_from_call``, the
    validation ``record_many`` runs) in worker processes while the main process
    stores the previous chunk with ``Store.insert_attempts`` (one transaction per
    chunk, every aggregate and the search index kept), so both cores work.
    """
    import multiprocessing

    from aimem import AIMemory

    started = time.perf_counter()
    jobs = [(seed, i, min(chunk, size - i * chunk)) for i in range((size + chunk - 1) // chunk)]
    with AIMemory(target) as memory:
        memory.store.conn.execute("PRAGMA cache_size = -262144")
        done = 0
        context = multiprocessing.get_context("fork")
        with context.Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
            for validated in pool.imap(_validated_chunk, jobs):
                memory.store.insert_attempts(validated)
                memory._wrote = True
                done += len(validated)
                if sys.stderr.isatty():
                    sys.stderr.write(f"\rgenerating {done:,}/{size:,}")
        memory.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 40 + "\r")
    return time.perf_counter() - started


def build_repository(size: int, seed: int = 1) -> tuple[Path, float | None]:
    """A cached repository of ``size`` attempts; (path, generation seconds or None if cached)."""
    path = cache_path(size, seed)
    done = path.parent / "complete"
    if done.exists():
        return path, None
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = generate(path, size, seed)
    done.write_text(f"{seconds:.3f}\n")
    return path, seconds


def generation_seconds(size: int, seed: int = 1) -> float | None:
    """Seconds the cached repository took to generate (None if it is not cached)."""
    done = cache_path(size, seed).parent / "complete"
    try:
        return float(done.read_text())
    except (OSError, ValueError):
        return None


def copy_repository(source: Path, target: Path) -> Path:
    """A private copy of a cached repository (benchmarks that write must not touch the cache)."""
    shutil.copytree(source, target)
    os.chmod(target, 0o700)
    return target


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        where, took = build_repository(int(arg))
        print(where, "cached" if took is None else f"{took:.1f}s")

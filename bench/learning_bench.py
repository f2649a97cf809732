"""Does following aimem's advice fix more issues? A simulated fleet, against bandits.

    python bench/learning_bench.py                 # 3 worlds (seeds 1-3), 8,000 issues each
    python bench/learning_bench.py --seeds 1,2,3,4,5 --output learning.json

Each world has model families whose members share some fixes and not others
(a fix's hidden success rate is the sum of an issue-type effect, a family
effect and a model effect on the logit scale), fixes that name their model
(``ollama pull qwen2.5:7b``), and issue descriptions with varying numbers.
One stream of issues is fixed by six fixers; the same uniform draw decides
every fixer's outcome at each step (common random numbers):

- ``no_memory``: a random candidate fix every time;
- ``raw_rate``: the seed's ranking, the fix with the best raw success rate
  for this model and issue type (a random candidate until one worked);
- ``thompson``: Thompson sampling per model and issue type over the known
  candidate fixes, Beta(1, 1) priors;
- ``oracle``: always the truly best fix;
- ``aimem``: records every attempt through ``AIMemory.record_fix_attempt`` and
  applies ``suggest``'s rank 1, or, when ``suggest`` says to explore, a fix it
  has not ranked and did not list under ``avoid`` (a fixer proposing a new fix).

A suggested command that names another model of the world counts as a wrong-
model suggestion and fails. Prints one JSON object: per seed and fixer the
success rate over the whole run and its last third, the targets' ratios, the
wrong-model count, how well ``suggest``'s estimates are calibrated (the share
of ranked fixes whose 95% interval holds the fix's hidden rate, and the mean
distance of the estimate from it), and the median and 95th percentile of
``suggest``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimem import AIMemory

ISSUE_TYPES = ("TIMEOUT", "MODEL_NOT_AVAILABLE", "UNEXPECTED_RESPONSE", "NO_OUTPUT", "ERROR")
FAMILIES = ("qwen2.5", "llama3.1", "mistral", "gemma2")
TAGS = ("3b", "7b", "14b", "32b")
# Candidate fixes per issue type; {model} is the model being fixed.
FIXES: dict[str, list[list[str]]] = {
    "TIMEOUT": [
        ["# Increase timeout to 120 seconds"],
        ["export OLLAMA_NUM_PARALLEL=1", "systemctl restart ollama"],
        ["export OLLAMA_KEEP_ALIVE=30m"],
        ["ollama stop {model}", "ollama run {model} --keepalive 30m"],
        ["# Reduce num_predict to 256"],
        ["export OLLAMA_NUM_CTX=2048"],
        ["systemctl restart ollama"],
        ["ollama pull {model}"],
    ],
    "MODEL_NOT_AVAILABLE": [
        ["ollama pull {model}"],
        ["ollama pull {model}", "systemctl restart ollama"],
        ["ollama rm {model}", "ollama pull {model}"],
        ["systemctl restart ollama"],
        ["export OLLAMA_MODELS=/var/lib/ollama/models"],
        ["# Switch to the latest tag"],
        ["ollama create {model} -f Modelfile"],
        ["docker restart ollama"],
    ],
    "UNEXPECTED_RESPONSE": [
        ["# Adjust prompt format to the model's chat template"],
        ["# Set temperature to 0"],
        ["# Add a system prompt requiring JSON output"],
        ["# Relax the expected pattern"],
        ["ollama show {model} --modelfile"],
        ["export OLLAMA_NUM_CTX=8192"],
        ["# Lower top_p to 0.5"],
        ["ollama pull {model}"],
    ],
    "NO_OUTPUT": [
        ["# Remove the stop sequence '\\n'"],
        ["# Truncate the prompt to 2048 tokens"],
        ["systemctl restart ollama"],
        ["ollama stop {model}", "ollama run {model}"],
        ["export OLLAMA_NUM_CTX=4096"],
        ["# Raise num_predict to 1024"],
        ["ollama pull {model}"],
        ["export OLLAMA_FLASH_ATTENTION=1"],
    ],
    "ERROR": [
        ["systemctl restart ollama"],
        ["export OLLAMA_NUM_GPU=0", "systemctl restart ollama"],
        ["ollama rm {model}", "ollama pull {model}"],
        ["export CUDA_VISIBLE_DEVICES=0"],
        ["export OLLAMA_MAX_LOADED_MODELS=1"],
        ["docker restart ollama"],
        ["# Free GPU memory before the run"],
        ["ollama pull {model}"],
    ],
}
DESCRIPTIONS = {
    "TIMEOUT": "Model response timeout after {n} seconds",
    "MODEL_NOT_AVAILABLE": "model '{model}' not found, try pulling it first (attempt {n})",
    "UNEXPECTED_RESPONSE": "Expected JSON, got {n} characters of prose",
    "NO_OUTPUT": "Empty response after {n} tokens of prompt",
    "ERROR": "CUDA out of memory: tried to allocate {n} MiB",
}
FIXERS = ("no_memory", "raw_rate", "thompson", "oracle", "aimem")


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass
class World:
    """Models, candidate fixes and their hidden success rates."""

    models: list[str]
    model_weights: list[float]
    type_weights: list[float]
    rates: dict[tuple[str, str], list[float]]  # (model, issue type) -> rate per candidate

    @classmethod
    def generate(cls, seed: int) -> World:
        rng = random.Random(seed)
        families = rng.sample(FAMILIES, 3)
        models = [f"{family}:{tag}" for family in families for tag in rng.sample(TAGS, 3)]
        model_weights = [rng.uniform(0.5, 2.0) for _ in models]
        type_weights = [rng.uniform(0.5, 2.0) for _ in ISSUE_TYPES]
        rates: dict[tuple[str, str], list[float]] = {}
        for issue_type in ISSUE_TYPES:
            count = len(FIXES[issue_type])
            # Most fixes rarely work; a few work often somewhere.
            type_effect = [rng.gauss(-1.0, 1.0) for _ in range(count)]
            family_effect = {f: [rng.gauss(0.0, 1.0) for _ in range(count)] for f in families}
            for model in models:
                family = model.split(":")[0]
                rates[(model, issue_type)] = [
                    _sigmoid(type_effect[i] + family_effect[family][i] + rng.gauss(0.0, 0.5))
                    for i in range(count)
                ]
        return cls(models, model_weights, type_weights, rates)

    def commands(self, issue_type: str, index: int, model: str) -> list[str]:
        return [c.replace("{model}", model) for c in FIXES[issue_type][index]]

    def names_other_model(self, commands: list[str], model: str) -> bool:
        for other in self.models:
            if other == model:
                continue
            if any(other in command for command in commands):
                return True
        return False


@dataclass
class Issue:
    model: str
    issue_type: str
    description: str
    draw: float  # the uniform that decides every fixer's outcome


def issue_stream(world: World, steps: int, seed: int) -> list[Issue]:
    rng = random.Random(seed * 7919 + 1)
    stream = []
    for _ in range(steps):
        model = rng.choices(world.models, world.model_weights)[0]
        issue_type = rng.choices(ISSUE_TYPES, world.type_weights)[0]
        n = rng.choice((12, 30, 45, 60, 90, 120, 300, 512, 1024, 2048, 4096))
        description = DESCRIPTIONS[issue_type].format(n=n, model=model)
        stream.append(Issue(model, issue_type, description, rng.random()))
    return stream


class Tally:
    def __init__(self) -> None:
        self.outcomes: list[bool] = []

    def add(self, ok: bool) -> None:
        self.outcomes.append(ok)

    def rates(self) -> tuple[float, float]:
        third = len(self.outcomes) // 3
        last = self.outcomes[-third:] if third else self.outcomes
        return (
            sum(self.outcomes) / max(1, len(self.outcomes)),
            sum(last) / max(1, len(last)),
        )


def run_world(seed: int, steps: int, folder: Path) -> dict[str, Any]:
    world = World.generate(seed)
    stream = issue_stream(world, steps, seed)
    # One generator per fixer, so that no fixer's choices shift another's draws.
    rngs = {name: random.Random(seed * 31 + index) for index, name in enumerate(FIXERS)}
    tallies = {name: Tally() for name in FIXERS}
    raw: dict[tuple[str, str], dict[int, list[int]]] = {}
    beta: dict[tuple[str, str], dict[int, list[int]]] = {}
    wrong_model = 0
    suggest_ms: list[float] = []
    explored = 0
    late_explored = 0
    late_exploit_gap: list[float] = []
    # Calibration: for every ranked fix at every step, whether its 95% interval
    # holds the fix's hidden rate on that model, and how far its mean is from it.
    covered: list[bool] = []
    errors: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = AIMemory(folder / f"world-{seed}")
        for step, issue in enumerate(stream):
            late = step >= steps - steps // 3
            context = (issue.model, issue.issue_type)
            rates = world.rates[context]
            count = len(rates)

            def outcome(index: int, rates: list[float] = rates, draw: float = issue.draw) -> bool:
                return draw < rates[index]

            tallies["no_memory"].add(outcome(rngs["no_memory"].randrange(count)))
            tallies["oracle"].add(outcome(max(range(count), key=rates.__getitem__)))

            seen = raw.setdefault(context, {})
            worked = [i for i, (s, n) in seen.items() if s > 0]
            if worked:
                choice = max(worked, key=lambda i: (seen[i][0] / seen[i][1], seen[i][1]))
            else:
                choice = rngs["raw_rate"].randrange(count)
            ok = outcome(choice)
            counts = seen.setdefault(choice, [0, 0])
            counts[0] += ok
            counts[1] += 1
            tallies["raw_rate"].add(ok)

            posterior = beta.setdefault(context, {i: [1, 1] for i in range(count)})
            choice = max(range(count), key=lambda i: rngs["thompson"].betavariate(*posterior[i]))
            ok = outcome(choice)
            posterior[choice][0 if ok else 1] += 1
            tallies["thompson"].add(ok)

            issue_data = {
                "model": issue.model,
                "issue_type": issue.issue_type,
                "description": issue.description,
            }
            start = time.perf_counter()
            advice = memory.suggest(issue_data, limit=len(FIXES[issue.issue_type]))
            suggest_ms.append((time.perf_counter() - start) * 1000)
            candidates = {
                tuple(world.commands(issue.issue_type, i, issue.model)): i for i in range(count)
            }
            ranked = advice["ranked_fixes"]
            for fix in ranked:
                known_index = candidates.get(tuple(fix["fix_commands"]))
                if known_index is not None:
                    hidden = rates[known_index]
                    covered.append(fix["estimate"]["low"] <= hidden <= fix["estimate"]["high"])
                    errors.append(abs(fix["estimate"]["mean"] - hidden))
            avoid = {tuple(c) for c in advice["avoid"]}
            known = {tuple(f["fix_commands"]) for f in ranked}
            fresh = [i for c, i in candidates.items() if c not in avoid and c not in known]
            if (advice["explore"] and fresh) or not ranked:
                # A new fix: one aimem neither ranks nor lists as a known failure. When
                # the fixer has no such idea left, it reuses rank 1.
                explored += 1
                late_explored += late
                allowed = fresh or [i for c, i in candidates.items() if c not in avoid]
                index = rngs["aimem"].choice(allowed or list(candidates.values()))
                commands = world.commands(issue.issue_type, index, issue.model)
            else:
                commands = ranked[0]["fix_commands"]
                chosen = candidates.get(tuple(commands))
                if late and chosen is not None:
                    late_exploit_gap.append(max(rates) - rates[chosen])
            if world.names_other_model(commands, issue.model):
                wrong_model += 1
                ok = False
            else:
                index_or_none = candidates.get(tuple(commands))
                ok = index_or_none is not None and outcome(index_or_none)
            memory.record_fix_attempt(
                issue_data,
                {"fix_commands": commands, "analysis": "simulated"},
                fix_success=ok,
                verification_success=ok,
                execution_time=1.0,
                fixer_type="claude",
            )
            tallies["aimem"].add(ok)
        memory.close()
    result: dict[str, Any] = {"seed": seed, "steps": steps}
    for name, tally in tallies.items():
        whole, last = tally.rates()
        result[name] = {"whole": round(whole, 4), "last_third": round(last, 4)}
    result["aimem_vs_thompson"] = {
        "whole": round(result["aimem"]["whole"] / result["thompson"]["whole"], 3),
        "last_third": round(result["aimem"]["last_third"] / result["thompson"]["last_third"], 3),
    }
    result["aimem_vs_oracle_last_third"] = round(
        result["aimem"]["last_third"] / result["oracle"]["last_third"], 3
    )
    result["wrong_model_suggestions"] = wrong_model
    result["explored"] = explored
    result["explored_last_third"] = late_explored
    result["exploit_gap_last_third"] = round(
        sum(late_exploit_gap) / max(1, len(late_exploit_gap)), 4
    )
    result["interval_coverage"] = round(sum(covered) / max(1, len(covered)), 4)
    result["estimate_mean_abs_error"] = round(sum(errors) / max(1, len(errors)), 4)
    result["suggest_ms"] = {
        "median": round(statistics.median(suggest_ms), 3),
        "p95": round(sorted(suggest_ms)[int(len(suggest_ms) * 0.95)], 3),
    }
    result["targets_met"] = (
        result["aimem"]["whole"] >= result["thompson"]["whole"]
        and result["aimem"]["last_third"] >= result["thompson"]["last_third"]
        and result["aimem_vs_oracle_last_third"] >= 0.95
        and wrong_model == 0
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated world seeds")
    parser.add_argument("--steps", type=int, default=8000, help="issues per world")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    worlds = []
    with tempfile.TemporaryDirectory(prefix="aimem-learning-") as tmp:
        for seed in seeds:
            worlds.append(run_world(seed, args.steps, Path(tmp)))
            print(json.dumps(worlds[-1]), file=sys.stderr)
    summary = {
        "worlds": worlds,
        "all_targets_met": all(w["targets_met"] for w in worlds),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time of secret redaction: typical records, and adversarial text of every shape.

    python bench/redact_bench.py [--size 1000000] [--records 2000] [--runs 3]

Typical records are bench/datagen.py's attempts (the fields ``record`` redacts:
description, analysis, fix commands, notes, system_info). Each adversarial
input repeats one piece (``token.``, ``a:``, ``-----BEGIN`` ...) to ``--size``
characters: the shapes that make backtracking patterns take quadratic or cubic
time. Prints Markdown tables of the best of ``--runs``, and the time at a
quarter of the size, so growth shows (linear: about 4x).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from aimem.redact import redact_text, redact_value  # noqa: E402

ADVERSARIAL = {
    "token.": "token.",
    "a:": "a:",
    "-----BEGIN ": "-----BEGIN ",
    "@": "@",
    "Bearer ": "Bearer ",
    "=": "=",
    "token=": "token=",
    "token ": "token ",
    "://": "://",
    "x://a:b@": "x://a:b@",
    "Authorization: ": "Authorization: ",
    'token="a ': 'token="a ',
    'token=\\"a ': 'token=\\"a ',
    "pass ": "pass ",
    "curl -u ": "curl -u ",
    "sk-": "sk-",
    "eyJaaaaaaaaa.": "eyJaaaaaaaaa.",
    "A*79 _TOKEN ": "A" * 79 + "_TOKEN ",
    'token="\\a\\a': 'token="\\a\\a\\a\\a',
    "token=\\a\\a": "token=\\a\\a\\a\\a",
    'token=\\"a\\" ': 'token=\\"a\\" ',
    "api_key=a.a.": "api_key=a.a.a.a.",
    "ordinary command": "export OLLAMA_NUM_CTX=4096 && ollama run llama3 --num_predict 128\n",
}


def best_of(runs: int, work: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def redact_record(item: dict[str, Any]) -> None:
    issue, response = item["issue_data"], item["ai_response"]
    redact_text(issue["description"])
    redact_text(response.get("analysis") or "")
    for command in response.get("fix_commands") or []:
        redact_text(command)
    if item.get("notes"):
        redact_text(item["notes"])
    redact_value(issue.get("system_info") or {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import datagen

    items = datagen.chunk_items(99, 0, args.records)
    seconds = best_of(args.runs, lambda: [redact_record(item) for item in items])
    print(
        f"typical records ({args.records}, bench/datagen.py): "
        f"{seconds / args.records * 1e6:.1f} us per record\n"
    )

    quarter = args.size // 4
    print(f"| input (repeated) | {quarter:,} chars | {args.size:,} chars | growth |")
    print("|---|---:|---:|---:|")
    for name, unit in ADVERSARIAL.items():
        small = unit * (quarter // len(unit))
        large = unit * (args.size // len(unit))
        t_small = best_of(args.runs, lambda text=small: redact_text(text))  # type: ignore[misc]
        t_large = best_of(args.runs, lambda text=large: redact_text(text))  # type: ignore[misc]
        print(
            f"| `{name}` | {t_small * 1000:.0f} ms | {t_large * 1000:.0f} ms "
            f"| {t_large / max(t_small, 1e-9):.1f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

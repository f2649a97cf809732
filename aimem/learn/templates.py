"""Fix commands as templates: the model-specific parts named, filled in per model.

A fix learned on ``qwen2.5:14b`` such as ``ollama stop qwen2.5:14b`` is the fix
``ollama stop {model}``; offered for ``qwen2.5:7b`` it reads ``ollama stop
qwen2.5:7b``. Offering the recorded text as it stands would hand a fixer a
command for another model, which cannot work.

Placeholders, recognised at word boundaries in each command:

- ``{model}``: the whole model name (``qwen2.5:14b``);
- ``{model_base}`` and ``{model_tag}``: its two halves, when a command spells
  them apart (``qwen2.5-14b``, ``Modelfile.qwen2.5_14b``) or names the base
  alone (``ollama rm qwen2.5``).

The recorded history keeps the commands exactly as given; templates exist only
in the learned outcomes (the family, issue-type, fingerprint and model scopes),
so every model of a family pools its evidence on the same template.

Invariant: ``fill(template_of(commands, m), m) == commands`` for every model
``m``, unless the commands already held a literal placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import orjson

MODEL = "{model}"
MODEL_BASE = "{model_base}"
MODEL_TAG = "{model_tag}"
PLACEHOLDERS = (MODEL, MODEL_BASE, MODEL_TAG)

# Characters that continue a model name: a match must not be part of a longer
# name (``qwen2.5`` inside ``qwen2.5-coder`` is a different model).
_NAME_CHAR = r"[\w.\-/:]"


def split_model(model: str) -> tuple[str, str]:
    """A model name's base and tag (``qwen2.5:7b`` -> ``("qwen2.5", "7b")``)."""
    base, _, tag = model.partition(":")
    return base, tag


@lru_cache(maxsize=1024)
def _pattern(model: str) -> re.Pattern[str] | None:
    base, tag = split_model(model)
    if not base:
        return None
    alternatives = []
    if tag:
        alternatives.append(f"(?P<full>{re.escape(base)}:{re.escape(tag)})")
        alternatives.append(f"(?P<pair>{re.escape(base)}(?P<sep>[-_]){re.escape(tag)})(?![\\w.])")
    # The base alone, unless followed by a tag (which names another model of
    # the family: left as it is, and never offered for this model).
    alternatives.append(f"(?P<base>{re.escape(base)})(?!:|[\\w.\\-/])")
    return re.compile(f"(?<!{_NAME_CHAR})(?:{'|'.join(alternatives)})")


def _template_command(command: str, pattern: re.Pattern[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        groups = match.groupdict()
        if groups.get("full") is not None:
            return MODEL
        if groups.get("pair") is not None:
            return f"{MODEL_BASE}{groups['sep']}{MODEL_TAG}"
        return MODEL_BASE

    return pattern.sub(replace, command)


def template_commands(commands: Sequence[str], model: str) -> list[str]:
    """``commands`` with the parts naming ``model`` replaced by placeholders."""
    base = split_model(model)[0]
    pattern = _pattern(model)
    if pattern is None:
        return list(commands)
    return [
        _template_command(command, pattern) if base in command else command for command in commands
    ]


@lru_cache(maxsize=65536)
def template_json(commands_json: str, model: str) -> str:
    """The canonical JSON text of a command list's template (the same text when
    no command names the model, the common case: one substring test)."""
    base = split_model(model)[0]
    if not base or base not in commands_json:
        return commands_json
    commands = orjson.loads(commands_json)
    if not isinstance(commands, list):
        return commands_json
    templated = template_commands([str(c) for c in commands], model)
    return orjson.dumps(templated).decode()


def fill(commands: Iterable[str], model: str) -> list[str]:
    """A template's commands as they read for ``model``."""
    base, tag = split_model(model)
    filled = []
    for command in commands:
        if "{model" in command:
            command = (
                command.replace(MODEL, model).replace(MODEL_BASE, base).replace(MODEL_TAG, tag)
            )
        filled.append(command)
    return filled


def is_template(commands: Iterable[str]) -> bool:
    """Whether any command holds a placeholder."""
    return any(p in command for command in commands for p in PLACEHOLDERS)


@lru_cache(maxsize=256)
def _other_models_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(f"(?<!{_NAME_CHAR})(?:{alternatives})(?![\\w.\\-/:])")


def other_model_finder(model: str, known_models: Iterable[str]) -> Callable[[Iterable[str]], bool]:
    """A test of whether commands name a known model other than ``model``.

    Only whole names count (``qwen2.5:14b``, or a base such as ``llama3`` used
    alone), so ``qwen2.5:7b`` does not match ``qwen2.5:7b-instruct``.
    """
    base = split_model(model)[0]
    others = set()
    for name in known_models:
        if name == model:
            continue
        others.add(name)
        other_base = split_model(name)[0]
        if other_base != base:
            others.add(other_base)
    pattern = _other_models_pattern(tuple(sorted(others)))
    # Another tag of a known family names another model even if aimem never saw
    # that tag recorded (``qwen2.5:7b-instruct`` next to ``qwen2.5:7b``).
    bases = sorted({base} | {split_model(name)[0] for name in known_models}, key=len, reverse=True)
    tagged = re.compile(
        f"(?<!{_NAME_CHAR})(?:{'|'.join(re.escape(b) for b in bases if b)}):[\\w.\\-]+"
    )

    def names_other(commands: Iterable[str]) -> bool:
        for command in commands:
            if pattern is not None and pattern.search(command):
                return True
            if any(m.group(0).rstrip(".-") != model for m in tagged.finditer(command)):
                return True
        return False

    return names_other


def names_other_model(commands: Iterable[str], model: str, known_models: Iterable[str]) -> bool:
    """Whether ``commands`` name a known model other than ``model`` (see ``other_model_finder``)."""
    return other_model_finder(model, known_models)(commands)

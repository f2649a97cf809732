"""Secret redaction applied to every stored text before it is written.

CI logs leak credentials; the memory must not keep them. Redaction is on by
default and can be turned off with ``AIMemory(redact_secrets=False)`` or
``AIMEM_REDACT=0``. docs/redaction.md lists what is replaced and what is not.

Invariants:
- Only the secret itself becomes ``[REDACTED]``: names, schemes, quotes,
  separators and everything around the secret stay byte for byte, so a
  redacted command is still the same command with a placeholder in it, and
  text with no secret in it comes back unchanged.
- Redacting twice changes nothing (an export re-imported into a redacting
  repository keeps its rows).
- Time is linear in the text's length. One scanner regex finds candidate
  positions (a secret's literal prefix, or a word that names a secret); it
  has no nested or ambiguous quantifiers, and every run it scans either ends
  the match or starts only where the same run cannot start one character
  earlier, so no character is scanned more than a bounded number of times.
  Each candidate is then judged by code whose work is bounded or consumes the
  text it reads (the scan resumes after it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

# Characters of a variable or key name (``OPENAI_API_KEY``, ``spring.datasource.password``,
# ``--api-key``, ``X-Auth-Token``).
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_NAME = 80
# What can follow a secret's name when a value comes next (quote, separator, space).
_AFTER_NAME = frozenset("\"'\\:= \t")

# Provider key shapes, exactly: a literal prefix, then a run of the key's
# alphabet. A group, where there is one, is the part replaced.
_SHAPES = tuple(
    re.compile(shape)
    for shape in (
        r"sk-[A-Za-z0-9_-]{20,}",  # OpenAI (sk-, sk-proj-, ...), Anthropic (sk-ant-...)
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
        r"whsec_[A-Za-z0-9]{24,}",
        r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
        r"github_pat_[A-Za-z0-9_]{40,}",
        r"glpat-[A-Za-z0-9_-]{20,}",  # GitLab
        r"A(?:KIA|SIA|GPA|IDA|ROA|NPA|BIA|CCA)[0-9A-Z]{16}(?![0-9A-Za-z])",  # AWS key ids
        r"xox[abposer]-[A-Za-z0-9-]{10,}",  # Slack
        r"xapp-[A-Za-z0-9-]{10,}",
        r"AIza[0-9A-Za-z_-]{35}",  # Google
        r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
        r"npm_[A-Za-z0-9]{36}",
        r"pypi-[A-Za-z0-9_-]{50,}",
        r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",  # SendGrid
        r"dop_v1_[a-f0-9]{64}",  # DigitalOcean
        # JWT: header.payload.signature; both JSON parts start with '{"'
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        r"hooks\.slack\.com/services/([A-Za-z0-9/]{20,})",  # Slack webhook
    )
)

# What the scanner looks for in the lowercased text, each alternative starting
# with a literal character: the shapes above (their lowercase form; the
# candidate is then checked against the exact shape), words that make a name a
# secret's name ("tokens" counts them, "tokenizer" splits text, "passed" is a
# result), and the anchors of headers, URLs and private key blocks. A
# lookbehind after the first character keeps a shape from starting inside a
# longer run. Every run ends its alternative, so a started candidate never
# backtracks over it.
_CANDIDATES = (
    r"s(?<![a-z0-9_-]s)k-[a-z0-9_-]{20,}",
    r"s(?<![a-z0-9]s)k_(?:live|test)_[a-z0-9]{16,}",
    r"r(?<![a-z0-9]r)k_(?:live|test)_[a-z0-9]{16,}",
    r"w(?<![a-z0-9]w)hsec_[a-z0-9]{24,}",
    r"g(?<![a-z0-9]g)(?:h[pousr]_[a-z0-9]{30,}|ithub_pat_[a-z0-9_]{40,}|lpat-[a-z0-9_-]{20,})",
    r"a(?<![a-z0-9]a)(?:(?:kia|sia|gpa|ida|roa|npa|bia|cca)[0-9a-z]{16}|iza[0-9a-z_-]{35})",
    r"x(?<![a-z0-9]x)(?:ox[abposer]|app)-[a-z0-9-]{10,}",
    r"h(?<![a-z0-9]h)f_[a-z0-9]{30,}",
    r"n(?<![a-z0-9]n)pm_[a-z0-9]{36}",
    r"p(?<![a-z0-9]p)ypi-[a-z0-9_-]{50,}",
    r"s(?<![a-z0-9]s)g\.[a-z0-9_-]{16,}\.[a-z0-9_-]{16,}",
    r"d(?<![a-z0-9]d)op_v1_[a-f0-9]{64}",
    r"e(?<![a-z0-9_-]e)yj[a-z0-9_-]{8,}\.eyj[a-z0-9_-]{8,}\.[a-z0-9_-]{8,}",
    r"hooks\.slack\.com/services/[a-z0-9/]{20,}",
    r"-----begin ",
    r":(?=//[^\s/?#@\"'`<>\\]*@)",
    r"a(?<![a-z0-9_]a)uthorization",
    r"b(?<![a-z0-9_-]b)earer[ \t]+",
    r"-(?<![a-z0-9_-]-)(?:u|-user|-proxy-user)(?:[ \t]+|=)",
    r"token(?![si])",
    r"pass(?:w(?:or)?d|phrase|(?<![a-z]pass)(?![a-z]))",
    r"pwd",
    r"secret",
    r"credential",
    r"(?:api|access|account|auth)[_.-]?key",
    r"(?:private|master|signing|encryption|client|license|subscription|shared)[_.-]?key",
)
_WORD = re.compile(
    r"token|pass|pwd|secret|credential|(?:api|access|account|auth|private|master|signing"
    r"|encryption|client|license|subscription|shared)[_.-]?key"
)


def _factored(alternatives: tuple[str, ...]) -> str:
    # Alternatives grouped by their first character: at each position the engine
    # tests one literal per group instead of one per alternative.
    groups: dict[str, list[str]] = {}
    for alternative in alternatives:
        if alternative.startswith("(?:"):
            for head in alternative[3 : alternative.index(")")].split("|"):
                groups.setdefault(head[0], []).append(
                    head[1:] + alternative[alternative.index(")") + 1 :]
                )
        else:
            groups.setdefault(alternative[0], []).append(alternative[1:])
    return "|".join(
        re.escape(first) + "(?:" + "|".join(rests) + ")" for first, rests in groups.items()
    )


_SCANNER = re.compile(_factored(_CANDIDATES))
# The candidates as they start right after a redacted span: a second pass sees
# the span's closing "]" there, which no lookbehind refuses, so neither may the
# first (redacting twice must change nothing).
_AFTER_REDACTION = re.compile(
    _factored(tuple(re.sub(r"\(\?<!\[[^\]]*\][a-z-]*\)", "", c) for c in _CANDIDATES))
)
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

_BLOCK_HEADER = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_BLOCK_FOOTER = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_AUTHORITY = re.compile(r"[^\s/?#\"'`<>\\]*")
_NAME_RUN = re.compile(r"[A-Za-z0-9_.-]*")
# What joins a name to its value: a closing quote of the name (JSON, or JSON
# inside a shell string), then ``=``, ``:`` or ``=>`` (not ``==``, a comparison).
_ASSIGN = re.compile(r"(?:\\?[\"'])?[ \t]{0,8}(?:=>|[:=](?!=))[ \t]{0,8}")
_FLAG_GAP = re.compile(r"=|[ \t]{1,8}(?=[^\s-])")
_CONFIG_SET = re.compile(
    r"(?:configure|config)[ \t]{1,8}(?:set|--global|--local|--system)[ \t]{1,8}\Z"
)
_SPACE_GAP = re.compile(r"[ \t]{1,8}")
_AUTH_SCHEME = re.compile(
    r"(?i:bearer|basic|token|digest|negotiate|ntlm|apikey|api-key|key|oauth|jwt|hawk|ssws"
    r"|splunk|aws4-hmac-sha256)[ \t]{1,8}"
)
# An opening quote, with a Python string prefix (f"Bearer {token}").
_OPEN_QUOTE = re.compile(r"(?:[fFrRbBuU]{1,2}(?=[\"']))?\\?[\"']?")
# Runs of one character class only: Python's re slows down more than linearly
# on a repeated group with many iterations (``(?:a|b)*`` over 400 KB took 50
# times as long as over 50 KB), so values with escapes are read by a loop over
# these runs (``_bare_end``, ``_closing_quote``).
_BARE_RUN = re.compile(r"[^\s\"'`,;&|<>(){}\[\\]*")
_DOUBLE_QUOTED_RUN = re.compile(r"[^\"\\\n]*")
_SINGLE_QUOTED = re.compile(r"'([^'\n]*)'")
# A string quoted inside a quoted string (``"{\\"token\\": \\"abc\\"}"``): lazy, so
# each step checks for the closing pair and stops at the first.
_ESCAPED_DOUBLE = re.compile(r'\\"[^\n]*?\\"')
_ESCAPED_SINGLE = re.compile(r"\\'[^\n]*?\\'")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9._~+/=-]*")
_LINE_REST = re.compile(r"[^\n]*")
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w./~-]*")
_CAMEL = re.compile(r"[a-z0-9]+|[A-Z]+(?![a-z])|[A-Z][a-z0-9]*")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Parts of a name that make it the name of something other than a secret: a
# count or limit (``MAX_TOKENS``, ``token_limit``), where a secret is kept
# (``TOKEN_FILE``, ``SECRET_NAME``), or a language model's special tokens
# (``eos_token``).
_NOT_SECRET_PARTS = frozenset(
    _words(
        "max min num number count counts limit limits len length size budget usage rate per "
        "total used remaining ratio id ids type types name names file files path paths dir dirs "
        "filename location url uri endpoint env var header field prefix suffix format mode ttl "
        "expiry expires expiration timeout lifetime interval stdin prompt ask no required "
        "enabled disabled policy pattern regex index idx eos bos pad unk sep cls mask stop "
        "special start end begin fail failed failure success rule rules helper process source "
        "provider manager store cache"
    )
)
_SECRET_PARTS = frozenset(("pwd", "pass", "passwd", "credential", "credentials"))
_SECRET_COMPOUNDS = tuple(
    f"{word}key"
    for word in _words(
        "api access private account master signing encryption client auth license "
        "subscription shared secret"
    )
)
# Values that are no secret: booleans and nulls, and the type in an annotated
# parameter (``token: str = None``, ``password: string``).
_KEEP_VALUES = frozenset(
    _words("true false null none yes no str string bytes int bool float any optional secretstr")
)


@lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    """Whether a variable, key, flag or header name names a secret.

    ``OPENAI_API_KEY``, ``HF_TOKEN``, ``PGPASSWORD``, ``--api-key``, ``clientSecret``
    do; ``MAX_TOKENS``, ``num_predict``, ``TOKEN_FILE``, ``eos_token`` do not.
    """
    parts = [p.lower() for chunk in re.split(r"[_.\-]+", name) for p in _CAMEL.findall(chunk)]
    if not parts or any(part in _NOT_SECRET_PARTS for part in parts):
        return False
    joined = "".join(parts)
    if joined in ("pwd", "oldpwd"):
        return False  # the shell's working directory
    if "password" in joined or "passwd" in joined or "passphrase" in joined:
        return True
    if "secret" in joined or any(part in _SECRET_PARTS for part in parts):
        return True
    if any(compound in joined for compound in _SECRET_COMPOUNDS):
        return True
    # "token" names a secret; "tokens" counts them and "tokenizer" splits text.
    start = joined.find("token")
    while start >= 0:
        after = joined[start + 5 : start + 6]
        if after not in ("s", "i"):
            return True
        start = joined.find("token", start + 5)
    return False


def _is_placeholder(value: str, name: str = "") -> bool:
    """Whether a value is no literal secret: a reference, template, placeholder or path."""
    if not value or value.startswith(REDACTED):
        return True
    first = value[0]
    if first in "$%{<":
        return True  # $VAR, ${VAR}, $(cmd), %VAR%, {{ template }}, <your-key>
    if value.lower() in _KEEP_VALUES or (len(set(value)) == 1 and first in "*xX.#_-"):
        return True  # booleans, null, "***", "xxxx"
    if first in "/~." and _PATH.fullmatch(value):
        return True  # a path to where the secret is kept
    if name and value.isascii() and all(part.isidentifier() for part in value.split(".")):
        # Code passing a secret along (``api_key=api_key``, ``token=args.token``).
        if "." not in value:
            return value.lower() == name.lower()
        last = value.rsplit(".", 1)[-1]
        return last.lower() == name.lower() or _secret_name(last)
    return False


class _Scan:
    """One pass over a text: pieces kept, redacted spans, where the scan resumes."""

    __slots__ = ("out", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[str] = []
        self.pos = 0  # text[:pos] is already in ``out``

    def replace(self, start: int, end: int) -> None:
        self.out.append(self.text[self.pos : start])
        self.out.append(REDACTED)
        self.pos = end

    def result(self) -> str:
        if not self.out:
            return self.text
        self.out.append(self.text[self.pos :])
        return "".join(self.out)


def _bare_end(text: str, start: int) -> int:
    """Where an unquoted value that begins at ``start`` ends: at whitespace, a quote
    (also ``\\"`` inside a quoted string), or shell and JSON punctuation."""
    end = _BARE_RUN.match(text, start).end()  # type: ignore[union-attr]
    while text.startswith("\\", end) and text[end + 1 : end + 2] not in ('"', "'"):
        end = _BARE_RUN.match(text, end + 1).end()  # type: ignore[union-attr]
    return end


def _closing_quote(text: str, start: int) -> int:
    """The closing ``"`` of a string whose text begins at ``start`` (JSON escapes
    skipped); -1 when the line ends first."""
    at = start
    while True:
        at = _DOUBLE_QUOTED_RUN.match(text, at).end()  # type: ignore[union-attr]
        if text.startswith('"', at):
            return at
        if not text.startswith("\\", at) or text[at + 1 : at + 2] in ("", "\n"):
            return -1
        at += 2


def _value_span(text: str, start: int, name: str) -> tuple[int, int, int]:
    """(secret start, secret end, resume) of the value that begins at ``start``.

    An empty span means nothing is redacted there; ``resume`` is past whatever
    was read, so the scan never reads the same value twice.
    """
    first = text[start : start + 1]
    if first == "\\" and text[start + 1 : start + 2] in ("'", '"'):
        inner = start + 2
        match = (_ESCAPED_DOUBLE if text[start + 1] == '"' else _ESCAPED_SINGLE).match(text, start)
        end = match.end() - 2 if match else _LINE_REST.match(text, inner).end()  # type: ignore[union-attr]
    elif first == '"':
        inner = start + 1
        end = _closing_quote(text, inner)
        if end < 0:
            end = _LINE_REST.match(text, inner).end()  # type: ignore[union-attr]
    elif first == "'":
        match = _SINGLE_QUOTED.match(text, start)
        inner = start + 1
        end = match.end() - 1 if match else _LINE_REST.match(text, inner).end()  # type: ignore[union-attr]
    else:
        if text.startswith(REDACTED, start):
            return start, start, start + len(REDACTED)
        end = _bare_end(text, start)
        if text[end : end + 1] in ("(", "["):
            return start, start, end  # a call or an index: code, not a literal
        inner = start
    value = text[inner:end]
    if _is_placeholder(value, name):
        return inner, inner, end
    return inner, end, end


def _word(scan: _Scan, match: re.Match[str]) -> int:
    text = scan.text
    at, right = match.start(), match.end()
    if text[right : right + 1] in _NAME_CHARS:
        right = _NAME_RUN.match(text, right).end()  # type: ignore[union-attr]
    after = text[right : right + 1]
    if after not in _AFTER_NAME:
        return right  # neither assigned nor followed by a value
    left = at
    limit = max(scan.pos, at - _MAX_NAME)
    while left > limit and text[left - 1] in _NAME_CHARS:
        left -= 1
    if right - left > _MAX_NAME or (left == limit > scan.pos and text[left - 1] in _NAME_CHARS):
        return right  # a run too long for a name (``token.token.token...``): all of it skipped
    name = text[left:right]
    if not _secret_name(name.strip(".-")):
        return right
    assign = _ASSIGN.match(text, right)
    if assign is None:
        # A value after a space only follows a flag or ``config set``.
        if name[0] == "-":
            assign = _FLAG_GAP.match(text, right)  # --password VALUE
        elif text.rfind("config", max(0, left - 40), left) >= 0 and _CONFIG_SET.search(
            text, max(0, left - 40), left
        ):
            assign = _SPACE_GAP.match(text, right)  # aws configure set aws_secret_access_key V
        if assign is None:
            return right
    start, end, resume = _value_span(text, assign.end(), name.lstrip("-"))
    if end > start:
        scan.replace(start, end)
    return resume


def _authorization(scan: _Scan, match: re.Match[str]) -> int:
    text = scan.text
    assign = _ASSIGN.match(text, match.end())
    if assign is None:
        return match.end()
    at = _OPEN_QUOTE.match(text, assign.end()).end()  # type: ignore[union-attr]
    scheme = _AUTH_SCHEME.match(text, at)
    if scheme is not None and text[scheme.end() : scheme.end() + 1] not in ("", "\n", '"', "'"):
        at = scheme.end()
    if text.startswith(REDACTED, at):
        return at + len(REDACTED)
    end = _bare_end(text, at)
    if end > at and not _is_placeholder(text[at:end]):
        scan.replace(at, end)
    return end


def _looks_random(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return (len(token) >= 8 and has_digit and has_alpha) or (
        len(token) >= 20 and not token.isalpha()
    )


def _bearer(scan: _Scan, match: re.Match[str]) -> int:
    text = scan.text
    at = match.end()
    end = _TOKEN_RUN.match(text, at).end()  # type: ignore[union-attr]
    if _looks_random(text[at:end]):
        scan.replace(at, end)
    return end


def _url(scan: _Scan, match: re.Match[str]) -> int:
    text = scan.text
    start = match.start() + 3  # past "://"
    end = _AUTHORITY.match(text, start).end()  # type: ignore[union-attr]
    at = text.rfind("@", start, end)
    colon = text.find(":", start, at)
    if colon < 0:
        return start  # no password; a token as the user name is caught by its shape
    password = text[colon + 1 : at]
    if not _is_placeholder(password):
        scan.replace(colon + 1, at)
    return at


def _user(scan: _Scan, match: re.Match[str]) -> int:
    # curl -u user:password; elsewhere -u is a user id (docker run -u 1000:1000).
    text = scan.text
    start = text.rfind("\n", max(0, match.start() - 200), match.start()) + 1
    if (
        text.rfind("curl", start, match.start()) < 0
        and text.rfind("wget", start, match.start()) < 0
    ):
        return match.end()
    at = _OPEN_QUOTE.match(text, match.end()).end()  # type: ignore[union-attr]
    end = _bare_end(text, at)
    colon = text.find(":", at, end)
    if colon >= 0 and not _is_placeholder(text[colon + 1 : end]):
        scan.replace(colon + 1, end)
        return end
    # Nothing redacted: what the value holds is still scanned (a key block glued
    # to it), as a second pass would scan it once the context is gone.
    return match.end()


def _key(scan: _Scan, match: re.Match[str]) -> int:
    for shape in _SHAPES:
        exact = shape.match(scan.text, match.start())
        if exact is not None:
            # A shape with a group keeps its prefix (the webhook's host and path).
            start, end = exact.span(shape.groups)
            scan.replace(start, end)
            return end
    return match.end()  # the lowercase form only: not a key


def _block(scan: _Scan, match: re.Match[str]) -> int:
    text = scan.text
    header = _BLOCK_HEADER.match(text, match.start())
    if header is None:
        return match.end()
    footer = _BLOCK_FOOTER.search(text, header.end())
    body_end = footer.start() if footer else len(text)
    # The body without the whitespace around it, so the lines stay where they were.
    body = text[header.end() : body_end]
    start = header.end() + (len(body) - len(body.lstrip()))
    end = body_end - (len(body) - len(body.rstrip()))
    if end > start and text[start:end] != REDACTED:
        scan.replace(start, end)
    return footer.end() if footer else len(text)


@lru_cache(maxsize=256)
def _handler(found: str) -> Callable[[_Scan, re.Match[str]], int]:
    """The handler of a candidate, told by its text (the scanner has no groups:
    capturing groups made every position of the scan several times slower)."""
    first = found[0]
    if first == ":":
        return _url
    if first == "-":
        return _block if found.startswith("-----") else _user
    if found == "authorization":
        return _authorization
    if found.startswith("bearer"):
        return _bearer
    if _WORD.match(found):
        return _word
    return _key


def redact_text(text: str) -> str:
    """Replace the secrets in ``text`` with ``[REDACTED]``, leaving every other byte as it is."""
    lowered = _lowered(text)
    search = _SCANNER.search
    match = search(lowered)
    if match is None:
        return text
    scan = _Scan(text)
    while match is not None:
        resume = _handler(match.group())(scan, match)
        # Every handler moves forward, which bounds the loop by the text's length.
        pos = max(resume, match.start() + 1, scan.pos)
        match = (_AFTER_REDACTION.match(lowered, pos) if pos == scan.pos else None) or search(
            lowered, pos
        )
    return scan.result()


def _lowered(text: str) -> str:
    """``text`` with ASCII letters lowercased and every character at its place."""
    if text.isascii():
        return text.lower()
    # Some letters lowercase to two characters (U+0130) or to ASCII (the Kelvin
    # sign): lowercase only ASCII, so every position stays where it was.
    return text.translate(_ASCII_LOWER)


def redact_value(value: Any) -> Any:
    """Redact strings inside a JSON-like value; values under secret-named keys go entirely.

    Walks with its own stack, so a deeply nested value cannot exhaust Python's.
    """
    if isinstance(value, str):
        return redact_text(value)
    if not isinstance(value, (dict, list)):
        return value
    result: list[Any] = [None]
    stack: list[tuple[Any, Any]] = [([value], result)]
    while stack:
        source, target = stack.pop()
        pairs = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in pairs:
            if isinstance(source, dict):
                if _secret_entry(key, item):
                    target[key] = REDACTED
                    continue
                if isinstance(key, str):
                    key = redact_text(key)
            if isinstance(item, str):
                item = redact_text(item)
            elif isinstance(item, (dict, list)):
                copy: Any = {} if isinstance(item, dict) else [None] * len(item)
                stack.append((item, copy))
                item = copy
            target[key] = item
    return result[0]


def _secret_entry(key: Any, item: Any) -> bool:
    if not isinstance(key, str) or not _secret_name(key):
        return False
    if item is None or isinstance(item, bool):
        return False
    if isinstance(item, str):
        return not _is_placeholder(item, key)
    return not (isinstance(item, (list, dict)) and not item)

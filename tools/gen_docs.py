"""Generate the documentation files from the click command tree of ``aimem.cli.commands.app``.

Build tooling: it lives outside the runtime package and may import typer's
private modules, since it only runs in a source checkout.

The command definitions are the single source. This module renders from them:

- ``aimem/cli/_helptext.py``: ``ROOT_HELP``, the exact ``aimem --help`` text, so
  the fast path in ``aimem.cli.main`` answers without importing typer;
- ``completions/aimem.bash``, ``completions/_aimem`` (zsh), ``completions/aimem.fish``:
  static scripts that know every command, subcommand and option, and ask
  ``aimem __complete KIND PREFIX [--dir D]`` for values kept in the repository;
- ``man/aimem.1`` and one page per command (``man/aimem-stats.1``,
  ``man/aimem-kb-show.1``, ...), for ``groff -man``.

``python tools/gen_docs.py`` rewrites every generated file (and removes man
pages of commands that no longer exist); ``--check`` only reports stale files
and exits 1. Tests call ``generated_files()`` and compare with what is
committed. Commands registered later on ``app`` are picked up without changes
here; their options and arguments complete values according to
``VALUE_OPTIONS`` and ``VALUE_ARGUMENTS`` (by name), Choice types (their
choices) and Path types (files or folders).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from typer._types import TyperChoice
from typer.core import TyperGroup, TyperOption
from typer.models import TyperPath

from aimem._version import __version__
from aimem.cli._click import click

ROOT = Path(__file__).resolve().parents[1]
HELPTEXT_PATH = "aimem/cli/_helptext.py"
DYNAMIC_KINDS = ("models", "issue-types", "fixers", "segments", "remotes")

# Options whose values live in the repository, by any of their names.
VALUE_OPTIONS = {
    "--model": "models",
    "-m": "models",
    "--issue-type": "issue-types",
    "-t": "issue-types",
    "--fixer": "fixers",
    "--segment": "segments",
}
# Positional arguments whose values live in the repository: by command path and
# parameter name, then by parameter name (or metavar) anywhere.
VALUE_ARGUMENTS_AT = {
    # a bundle's destination is a folder nearly always (a file name is new)
    ("backup", "create", "dest"): "dir",
    ("model", "name"): "models",
    ("archive", "thaw", "name"): "segments",
    ("archive", "thaw", "segment"): "segments",
    ("push", "remote"): "remotes",
    ("pull", "remote"): "remotes",
    ("remote", "remove", "name"): "remotes",
    ("remote", "rename", "old"): "remotes",
}
VALUE_ARGUMENTS = {
    "segment": "segments",
    "segments": "segments",
    "model": "models",
    "issue_type": "issue-types",
    "fixer": "fixers",
}

EXIT_STATUS = (
    ("0", "Success; check and verify found nothing wrong."),
    (
        "1",
        "An error (aimem: error: ... on stderr): bad input, no repository, a damaged "
        "file; check or verify found problems; an internal error.",
    ),
    ("2", "Usage error: unknown command or option, missing or invalid argument."),
    (
        "3",
        "gate: skip, a fix already failed --max-failures times for this failure; "
        "alerts: alerts were found.",
    ),
    ("4", "gate: skip, no fix's estimated 95% lower bound reaches --min-rate."),
    ("130", "Interrupted (Ctrl-C)."),
)
EXIT_STATUS_OTHER = "Any other non-zero code also means failure."
ENVIRONMENT = (
    (
        "AIMEM_DIR",
        "The repository folder, or the folder that holds AIMemory/ (as --dir, which "
        "wins; not used with -C). Without either, aimem uses the nearest AIMemory/ in "
        "the current folder or a parent.",
    ),
    (
        "AIMEM_DB",
        "A PostgreSQL URL (postgresql://USER@HOST:PORT/DBNAME) to use instead of any "
        "repository folder; --db wins over it. The password comes from PGPASSWORD, "
        "~/.pgpass or a service file, never from this variable's display.",
    ),
    (
        "AIMEM_PAGER",
        "The pager for long listings on a terminal (else PAGER, else less with LESS=FRX); "
        "cat or an empty value: none.",
    ),
    (
        "AIMEM_BACKUP_DIR",
        "The folder of backup bundles when 'aimem backup', 'verify latest' and 'restore "
        "latest' name none; it wins over the folder set with 'aimem backup --set-default'.",
    ),
    ("AIMEM_DEBUG", "Set to 1 to print a Python traceback for errors instead of one line."),
    (
        "AIMEM_REDACT",
        "Set to 0 to store free text as given; by default secrets (API keys, tokens, "
        "passwords) are replaced by [REDACTED] before they are stored.",
    ),
    (
        "AIMEM_SYNCHRONOUS",
        "SQLite synchronous mode for writes: FULL (default), NORMAL, OFF or EXTRA. "
        "NORMAL is faster and may lose the last commits on power loss, never consistency.",
    ),
    (
        "NO_COLOR",
        "When set, no colour and no progress bars (also off when stderr is not a terminal).",
    ),
)
FILES = (
    ("AIMemory/ai_memory.db", "The SQLite database: every attempt and what was learned."),
    ("AIMemory/knowledge_base.json", "The knowledge base as JSON, kept up to date."),
    ("AIMemory/archive/", "Compressed segments of archived history."),
)


# ---- the command tree ------------------------------------------------------


@dataclass
class Param:
    """One option or argument, as completion and man pages need it."""

    names: tuple[str, ...]  # every flag of an option (empty for an argument)
    name: str  # the parameter's name
    metavar: str
    takes_value: bool
    values: str  # "", "file", "dir", "choice:A B C", or one of DYNAMIC_KINDS
    decl: str  # the left column of --help
    help: str  # the right column of --help
    variadic: bool = False


@dataclass
class Node:
    """One command or group and everything under it."""

    path: tuple[str, ...]
    command: click.Command
    context: click.Context
    options: list[Param] = field(default_factory=list)
    arguments: list[Param] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def key(self) -> str:
        return " ".join(self.path)

    @property
    def page(self) -> str:
        return "-".join(("aimem", *self.path))

    @property
    def help(self) -> str:
        return inspect.cleandoc(self.command.help or "")

    @property
    def summary(self) -> str:
        first = self.help.split("\n\n")[0]
        return " ".join(first.split())

    @property
    def completion_options(self) -> list[Param]:
        """The options to complete here: a group that runs a default subcommand
        (``aimem backup DEST`` is ``aimem backup create DEST``) offers its options too."""
        name = getattr(self.command, "default_command", None)
        default = next((c for c in self.children if c.path[-1] == name), None)
        if default is None:
            return self.options
        mine = {n for o in self.options for n in o.names}
        return self.options + [o for o in default.options if not mine & set(o.names)]

    @property
    def completion_arguments(self) -> list[Param]:
        """The arguments to complete here: a group that runs a default subcommand
        takes that command's arguments where a subcommand name may go."""
        name = getattr(self.command, "default_command", None)
        default = next((c for c in self.children if c.path[-1] == name), None)
        return self.arguments if default is None else default.arguments

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


def root_command() -> click.Command:
    """The click command built from ``aimem.cli.commands.app``."""
    from typer.main import get_command

    from aimem.cli.commands import app

    return get_command(app)


def _values(path: tuple[str, ...], param: click.Parameter) -> str:
    if isinstance(param.type, TyperChoice):
        return "choice:" + " ".join(str(getattr(c, "value", c)) for c in param.type.choices)
    name = param.name or ""
    if isinstance(param, TyperOption):
        for opt in param.opts:
            if opt in VALUE_OPTIONS:
                return VALUE_OPTIONS[opt]
    else:
        kind = VALUE_ARGUMENTS_AT.get((*path, name))
        kind = (
            kind or VALUE_ARGUMENTS.get(name) or VALUE_ARGUMENTS.get((param.metavar or "").lower())
        )
        if kind:
            return kind
    if isinstance(param.type, TyperPath) or hasattr(param.type, "file_okay"):  # aimem's paths too
        return "file" if param.type.file_okay else "dir"
    if param.metavar in ("FILE", "PATH"):  # e.g. record --json FILE, which also takes '-'
        return "file"
    return ""


def _param(path: tuple[str, ...], param: click.Parameter, ctx: click.Context) -> Param | None:
    record = param.get_help_record(ctx)
    if record is None:  # hidden
        return None
    decl, text = record
    if isinstance(param, TyperOption):
        takes_value = not (param.is_flag or param.count)
        # Long names first: click keeps the help option's names in a set.
        names = tuple(
            sorted((*param.opts, *param.secondary_opts), key=lambda n: not n.startswith("--"))
        )
    else:
        takes_value = True
        names = ()
    return Param(
        names=tuple(names),
        name=param.name or "",
        metavar=param.metavar or (param.name or "").upper(),
        takes_value=takes_value,
        values=_values(path, param) if takes_value else "",
        decl=decl,
        help=text,
        variadic=param.nargs == -1,
    )


def build_tree(command: click.Command | None = None) -> Node:
    """The command tree, with help records rendered as ``--help`` shows them."""
    command = command or root_command()

    def visit(cmd: click.Command, path: tuple[str, ...], parent: click.Context | None) -> Node:
        name = path[-1] if path else "aimem"
        ctx = cmd.make_context(name, [], parent=parent, resilient_parsing=True)
        node = Node(path, cmd, ctx)
        for param in cmd.get_params(ctx):
            item = _param(path, param, ctx)
            if item is None:
                continue
            (node.arguments if not item.names else node.options).append(item)
        if isinstance(cmd, TyperGroup):
            for sub in cmd.list_commands(ctx):
                child = cmd.get_command(ctx, sub)
                if child is not None and not child.hidden:
                    node.children.append(visit(child, (*path, sub), ctx))
        return node

    return visit(command, (), None)


def root_help(command: click.Command | None = None) -> str:
    """Exactly what ``aimem --help`` prints."""
    command = command or root_command()
    with command.make_context("aimem", [], resilient_parsing=True) as ctx:
        return ctx.get_help() + "\n"


def helptext_module(command: click.Command | None = None) -> str:
    return (
        f'"""The root help text, generated by python tools/gen_docs.py; do not edit."""\n\n'
        f"ROOT_HELP = {root_help(command)!r}\n"
    )


# ---- help text ---------------------------------------------------------------


def _paragraphs(help_text: str) -> tuple[list[str], list[str], list[list[str]]]:
    """Split help into (prose paragraphs, verbatim blocks, example blocks)."""
    prose: list[str] = []
    verbatim: list[str] = []
    examples: list[list[str]] = []
    for block in help_text.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith("\b"):
            lines = block.split("\n")[1:]
            if lines and lines[0].strip().rstrip(":") in ("Example", "Examples"):
                examples.append([line[2:] if line.startswith("  ") else line for line in lines[1:]])
            else:
                verbatim.append("\n".join(lines))
        else:
            prose.append(" ".join(block.split()))
    return prose, verbatim, examples


def example_lines(node: Node) -> list[str]:
    """The lines of a command's examples (empty when it has none)."""
    return [line for block in _paragraphs(node.help)[2] for line in block]


# ---- man pages -----------------------------------------------------------------


def _esc(text: str, code: bool = False) -> str:
    """Escape text for roff. In code every hyphen is a minus (copy-pastable
    options); in prose only option-like hyphens are."""
    out = text.replace("\\", "\\e")
    out = out.replace("-", "\\-") if code else re.sub(r"(?<![A-Za-z0-9])-", r"\\-", out)
    out = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in out)
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in out.split("\n")
    )


def _decl(decl: str) -> str:
    parts = []
    for token in decl.split(" "):
        bare = token.rstrip(",")
        tail = token[len(bare) :]
        if bare.startswith("-"):
            parts.append(f"\\fB{_esc(bare, code=True)}\\fR{tail}")
        elif bare in ("/", ""):
            parts.append(bare + tail)
        else:
            parts.append(f"\\fI{_esc(bare, code=True)}\\fR{tail}")
    return " ".join(parts)


def _section(title: str) -> list[str]:
    return [f".SH {title}"]


def _items(rows: Sequence[tuple[str, str]]) -> list[str]:
    lines = []
    for head, text in rows:
        lines += [".TP", head, _esc(text)]
    return lines


def _code_block(lines: Sequence[str]) -> list[str]:
    return [".PP", ".RS 4", ".nf", *(_esc(line, code=True) for line in lines), ".fi", ".RE"]


def _header(node: Node) -> list[str]:
    title = _esc(node.page.upper(), code=True)
    summary = node.summary
    if not node.path and summary.startswith("aimem: "):
        summary = summary[len("aimem: ") :]
    return [
        '.\\" Generated by python tools/gen_docs.py from the command definitions; do not edit.',
        f'.TH "{title}" "1" "" "aimem {__version__}" "aimem manual"',
        ".SH NAME",
        f"{_esc(node.page, code=True)} \\- {_esc(summary)}",
    ]


def _body(node: Node) -> list[str]:
    prose, verbatim, examples = _paragraphs(node.help)
    lines: list[str] = []
    if prose[1:] or verbatim:
        lines += _section("DESCRIPTION")
        for paragraph in prose[1:]:
            lines += [".PP", _esc(paragraph)]
        for block in verbatim:
            lines += _code_block(block.split("\n"))
    if node.arguments:
        lines += _section("ARGUMENTS")
        lines += _items([(f"\\fI{_esc(a.decl, code=True)}\\fR", a.help) for a in node.arguments])
    if node.options:
        lines += _section("OPTIONS")
        lines += _items([(_decl(o.decl), o.help) for o in node.options])
    if node.children:
        lines += _section("COMMANDS")
        lines += _items(
            [
                (f"\\fB{_esc(child.page, code=True)}\\fR(1)", child.summary)
                for child in node.children
            ]
        )
    if examples:
        lines += _section("EXAMPLES")
        for example in examples:
            lines += _code_block(example)
    return lines


def _synopsis(node: Node) -> list[str]:
    pieces = node.command.collect_usage_pieces(node.context)
    usage = " ".join(("aimem", *node.path))
    return [".SH SYNOPSIS", f"\\fB{_esc(usage, code=True)}\\fR {_esc(' '.join(pieces), code=True)}"]


def _see_also(pages: Sequence[str]) -> list[str]:
    refs = [f"\\fB{_esc(page, code=True)}\\fR(1)" for page in pages]
    return [".SH SEE ALSO", ",\n".join(refs)]


def man_page(node: Node, root: Node) -> str:
    """The page of one command (or of ``aimem`` itself for the root)."""
    lines = _header(node)
    if not node.path:
        lines += [
            ".SH SYNOPSIS",
            "\\fBaimem\\fR [\\fB\\-\\-dir\\fR \\fIDIR\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
            ".br",
            "\\fBaimem\\fR \\fB\\-\\-version\\fR | \\fB\\-\\-help\\fR",
        ]
        # The root lists every command, nested ones included.
        body = _body(node)
        lines += body[: body.index(".SH COMMANDS")] if ".SH COMMANDS" in body else body
        lines += _section("COMMANDS")
        lines += _items(
            [
                (f"\\fB{_esc('aimem ' + n.key, code=True)}\\fR", n.summary + f" See {n.page}(1).")
                for n in root.walk()
                if n.path
            ]
        )
        if ".SH EXAMPLES" in body:
            lines += body[body.index(".SH EXAMPLES") :]
        lines += _section("EXIT STATUS")
        lines += _items([(f"\\fB{code}\\fR", text) for code, text in EXIT_STATUS])
        lines += [".PP", _esc(EXIT_STATUS_OTHER)]
        lines += _section("ENVIRONMENT")
        lines += _items([(f"\\fB{name}\\fR", text) for name, text in ENVIRONMENT])
        lines += _section("FILES")
        lines += _items([(f"\\fI{_esc(name, code=True)}\\fR", text) for name, text in FILES])
        lines += _see_also([n.page for n in root.walk() if n.path])
    else:
        lines += _synopsis(node)
        lines += _body(node)
        related = ["aimem"]
        if len(node.path) > 1:
            related.append("-".join(("aimem", *node.path[:-1])))
        lines += _see_also(related)
    return "\n".join(lines) + "\n"


def man_pages(root: Node | None = None) -> dict[str, str]:
    """``{file name: roff text}`` for every page."""
    root = root or build_tree()
    return {f"{node.page}.1": man_page(node, root) for node in root.walk()}


# ---- completion scripts ----------------------------------------------------------


def _sq(text: str) -> str:
    """Single-quote for sh, zsh and fish."""
    return "'" + text.replace("'", "'\\''") + "'"


def _fish_sq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    text = re.sub(r"\s*\[[^]]*\]$", "", text)  # drop "[default: ...]"
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _value_options(node: Node) -> list[tuple[str, str]]:
    """(option name, value kind) for every option that takes a value; kind 'text' if free."""
    return [
        (name, o.values or "text")
        for o in node.completion_options
        if o.takes_value
        for name in o.names
    ]


def _argument_kinds(node: Node) -> list[tuple[str, str]]:
    """(index pattern, kind) for arguments whose values can be completed."""
    rows = []
    for index, arg in enumerate(node.completion_arguments):
        if arg.values:
            rows.append(("*" if arg.variadic else str(index), arg.values))
    return rows


def bash_completion(root: Node | None = None) -> str:
    root = root or build_tree()
    nodes = list(root.walk())
    out = [
        "# shellcheck shell=bash",
        "# bash completion for aimem. Generated by 'python tools/gen_docs.py' from the",
        "# command definitions; do not edit. Commands and options are listed here;",
        "# values kept in the repository (models, issue types, fixers, segments,",
        "# remotes) come",
        "# from 'aimem __complete KIND PREFIX [--dir DIR]'.",
        "",
        "_aimem_commands() {",
        '    case "$1" in',
    ]
    for node in nodes:
        if node.children:
            names = " ".join(child.path[-1] for child in node.children)
            out.append(f'    {_sq(node.key)}) REPLY="{names}" ;;')
    out += ['    *) REPLY="" ;;', "    esac", "}", "", "_aimem_options() {", '    case "$1" in']
    for node in nodes:
        names = " ".join(name for o in node.completion_options for name in o.names)
        out.append(f'    {_sq(node.key)}) REPLY="{names}" ;;')
    out += [
        '    *) REPLY="" ;;',
        "    esac",
        "}",
        "",
        "# The kind of value an option takes; status 1 for flags.",
        "_aimem_option_kind() {",
        '    case "$1 $2" in',
    ]
    for node in nodes:
        for name, kind in _value_options(node):
            out.append(f"    {_sq(node.key + ' ' + name)}) REPLY={_sq(kind)} ;;")
    out += [
        '    *) REPLY="" && return 1 ;;',
        "    esac",
        "}",
        "",
        "# The kind of value the positional argument number $2 takes.",
        "_aimem_argument_kind() {",
        '    case "$1 $2" in',
    ]
    for node in nodes:
        for index, kind in _argument_kinds(node):
            pattern = _sq(node.key + " ") + "*" if index == "*" else _sq(f"{node.key} {index}")
            out.append(f"    {pattern}) REPLY={_sq(kind)} ;;")
    out += ['    *) REPLY="" ;;', "    esac", "}", ""]
    out.append(BASH_MAIN)
    return "\n".join(out)


BASH_MAIN = r"""_aimem_reply() {
    COMPREPLY=()
    local line
    while IFS= read -r line; do
        COMPREPLY+=("$line")
    done
}

# _aimem_values KIND PREFIX DIR PROGRAM: fill COMPREPLY.
_aimem_values() {
    local prog=${4:-aimem} dir=$3
    prog=${prog/#\~/$HOME}
    dir=${dir/#\~/$HOME}
    command -v "$prog" >/dev/null 2>&1 || prog=aimem
    case "$1" in
    models | issue-types | fixers | segments | remotes)
        _aimem_reply < <("$prog" __complete "$1" "$2" ${dir:+--dir "$dir"} 2>/dev/null)
        ;;
    choice:*) _aimem_reply < <(compgen -W "${1#choice:}" -- "$2") ;;
    file)
        compopt -o filenames 2>/dev/null
        _aimem_reply < <(compgen -f -- "$2")
        ;;
    dir)
        compopt -o filenames 2>/dev/null
        _aimem_reply < <(compgen -d -- "$2")
        ;;
    *) COMPREPLY=() ;;
    esac
}

_aimem() {
    local -a words=()
    local i w raw previous=""
    # Bash splits words at ':' and '=' (COMP_WORDBREAKS): join them back, so
    # that qwen2.5:7b and --format=json are one word each.
    for ((i = 0; i <= COMP_CWORD; i++)); do
        raw=${COMP_WORDS[i]}
        if ((i > 1)) && [[ $raw == [:=] || $previous == [:=] ]]; then
            words[${#words[@]} - 1]+=$raw
        else
            words+=("$raw")
        fi
        previous=$raw
    done
    local cur=${words[${#words[@]} - 1]}
    local cmdpath="" dir="" pending="" nargs=0
    for ((i = 1; i < ${#words[@]} - 1; i++)); do
        w=${words[i]}
        if [[ -n $pending ]]; then
            [[ $pending == --dir || $pending == -C ]] && dir=$w
            pending=""
            continue
        fi
        case "$w" in
        --dir=*) dir=${w#--dir=} ;;
        -*=*) ;;
        -*) _aimem_option_kind "$cmdpath" "$w" && pending=$w ;;
        *)
            _aimem_commands "$cmdpath"
            if [[ " $REPLY " == *" $w "* ]]; then
                cmdpath=${cmdpath:+$cmdpath }$w
                nargs=0
            else
                nargs=$((nargs + 1))
            fi
            ;;
        esac
    done
    local word=$cur prefix=""
    COMPREPLY=()
    if [[ -n $pending ]]; then
        _aimem_option_kind "$cmdpath" "$pending"
        _aimem_values "$REPLY" "$cur" "$dir" "${words[0]}"
    elif [[ $cur == -*=* ]]; then
        prefix=${cur%%=*}=
        if _aimem_option_kind "$cmdpath" "${cur%%=*}"; then
            _aimem_values "$REPLY" "${cur#*=}" "$dir" "${words[0]}"
            COMPREPLY=("${COMPREPLY[@]/#/$prefix}")
        fi
    elif [[ $cur == -* ]]; then
        _aimem_options "$cmdpath"
        _aimem_reply < <(compgen -W "$REPLY" -- "$cur")
    else
        _aimem_commands "$cmdpath"
        local commands=$REPLY
        _aimem_argument_kind "$cmdpath" "$nargs"
        local kind=$REPLY
        _aimem_values "$kind" "$cur" "$dir" "${words[0]}"
        if [[ -n $commands ]]; then
            # A group that runs a default command (aimem backup DEST) takes that
            # command's argument and options here too.
            local -a values=("${COMPREPLY[@]}")
            if [[ -n $kind ]]; then
                _aimem_options "$cmdpath"
                commands+=" $REPLY"
            fi
            _aimem_reply < <(compgen -W "$commands" -- "$cur")
            COMPREPLY+=("${values[@]}")
        fi
    fi
    # Bash replaces only the text after the last ':' or '=' it split at.
    local breaks=""
    [[ $COMP_WORDBREAKS == *:* ]] && breaks+=":"
    [[ $COMP_WORDBREAKS == *=* ]] && breaks+="="
    if [[ -n $breaks && $word == *["$breaks"]* ]]; then
        local head=${word%"${word##*["$breaks"]}"}
        COMPREPLY=("${COMPREPLY[@]#"$head"}")
    fi
    return 0
}

complete -F _aimem aimem
"""


def zsh_completion(root: Node | None = None) -> str:
    root = root or build_tree()
    nodes = list(root.walk())

    def described(name: str, text: str) -> str:
        return _sq(name.replace(":", "\\:") + ":" + _short(text))

    out = [
        "#compdef aimem",
        "# zsh completion for aimem. Generated by 'python tools/gen_docs.py' from the",
        "# command definitions; do not edit. Values kept in the repository come from",
        "# 'aimem __complete KIND PREFIX [--dir DIR]'.",
        "",
        "_aimem_commands() {",
        "    case $1 in",
    ]
    for node in nodes:
        if node.children:
            items = " ".join(described(c.path[-1], c.summary) for c in node.children)
            out.append(f"    ({_sq(node.key)}) reply=({items}) ;;")
    out += ["    (*) reply=() ;;", "    esac", "}", "", "_aimem_options() {", "    case $1 in"]
    for node in nodes:
        items = " ".join(
            described(name, o.help) for o in node.completion_options for name in o.names
        )
        out.append(f"    ({_sq(node.key)}) reply=({items}) ;;")
    out += [
        "    (*) reply=() ;;",
        "    esac",
        "}",
        "",
        "_aimem_option_kind() {",
        '    case "$1 $2" in',
    ]
    for node in nodes:
        for name, kind in _value_options(node):
            out.append(f"    ({_sq(node.key + ' ' + name)}) REPLY={_sq(kind)} ;;")
    out += [
        "    (*) REPLY='' && return 1 ;;",
        "    esac",
        "}",
        "",
        "_aimem_argument_kind() {",
        '    case "$1 $2" in',
    ]
    for node in nodes:
        for index, kind in _argument_kinds(node):
            pattern = _sq(node.key + " ") + "*" if index == "*" else _sq(f"{node.key} {index}")
            out.append(f"    ({pattern}) REPLY={_sq(kind)} ;;")
    out += ["    (*) REPLY='' ;;", "    esac", "}", ""]
    out.append(ZSH_MAIN)
    return "\n".join(out)


ZSH_MAIN = r"""_aimem_values() {
    local kind=$1 dir=$2 prog=$3
    local -a vals
    case $kind in
    (models|issue-types|fixers|segments|remotes)
        (( $+commands[$prog] )) || [[ -x $prog ]] || prog=aimem
        vals=("${(@f)$("$prog" __complete "$kind" "" ${dir:+--dir} ${dir:+$dir} 2>/dev/null)}")
        vals=(${vals:#})
        compadd -a vals
        ;;
    (choice:*)
        vals=(${=kind#choice:})
        compadd -a vals
        ;;
    (file) _files ;;
    (dir) _files -/ ;;
    esac
}

_aimem() {
    local i w cmdpath='' dir='' pending='' nargs=0
    for ((i = 2; i < CURRENT; i++)); do
        w=${words[i]}
        if [[ -n $pending ]]; then
            [[ $pending == --dir || $pending == -C ]] && dir=${~w}
            pending=''
            continue
        fi
        case $w in
        (--dir=*) dir=${~w#--dir=} ;;
        (-*=*) ;;
        (-*) _aimem_option_kind "$cmdpath" "$w" && pending=$w ;;
        (*)
            _aimem_commands "$cmdpath"
            if (( ${reply[(I)${w}:*]} )); then
                cmdpath=${cmdpath:+$cmdpath }$w
                nargs=0
            else
                nargs=$((nargs + 1))
            fi
            ;;
        esac
    done
    local cur=${words[CURRENT]}
    if [[ -n $pending ]]; then
        _aimem_option_kind "$cmdpath" "$pending"
        _aimem_values "$REPLY" "$dir" "${words[1]}"
    elif [[ $cur == -*=* ]]; then
        if _aimem_option_kind "$cmdpath" "${cur%%=*}"; then
            compset -P '*='
            _aimem_values "$REPLY" "$dir" "${words[1]}"
        fi
    elif [[ $cur == -* ]]; then
        _aimem_options "$cmdpath"
        _describe -t options 'aimem option' reply
    else
        _aimem_commands "$cmdpath"
        local -a commands=("${reply[@]}")
        _aimem_argument_kind "$cmdpath" "$nargs"
        local kind=$REPLY
        if (( $#commands )); then
            reply=("${commands[@]}")
            _describe -t commands 'aimem command' reply
            # A group that runs a default command (aimem backup DEST) takes that
            # command's argument and options here too.
            if [[ -n $kind ]]; then
                _aimem_options "$cmdpath"
                _describe -t options 'aimem option' reply
            fi
        fi
        if [[ -n $kind ]]; then
            _aimem_values "$kind" "$dir" "${words[1]}"
        fi
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _aimem "$@"
else
    compdef _aimem aimem
fi
"""


def fish_completion(root: Node | None = None) -> str:
    root = root or build_tree()
    nodes = list(root.walk())
    out = [
        "# fish completion for aimem. Generated by 'python tools/gen_docs.py' from the",
        "# command definitions; do not edit. Values kept in the repository come from",
        "# 'aimem __complete KIND PREFIX [--dir DIR]'.",
        "",
        "function __aimem_commands --description 'aimem: subcommands of a command path'",
        '    switch "$argv[1]"',
    ]
    for node in nodes:
        if node.children:
            names = " ".join(child.path[-1] for child in node.children)
            out += [f"        case {_fish_sq(node.key)}", f"            printf '%s\\n' {names}"]
    out += [
        "    end",
        "end",
        "",
        "function __aimem_takes_value --description 'aimem: option takes a value'",
    ]
    out.append('    switch "$argv[1] $argv[2]"')
    pairs = [node.key + " " + name for node in nodes for name, _ in _value_options(node)]
    if pairs:
        out += ["        case " + " ".join(_fish_sq(p) for p in pairs), "            return 0"]
    out += ["    end", "    return 1", "end", ""]
    out.append(FISH_MAIN)
    out.append("complete -c aimem -f")
    for node in nodes:
        at = _fish_sq("__aimem_at " + _fish_sq(node.key))
        within = _fish_sq("__aimem_in " + _fish_sq(node.key))
        for child in node.children:
            out.append(
                f"complete -c aimem -n {at} -a {_fish_sq(child.path[-1])}"
                f" -d {_fish_sq(_short(child.summary))}"
            )
        for option in node.completion_options:
            flags = []
            for name in option.names:
                if name.startswith("--"):
                    flags.append(f"-l {_fish_sq(name[2:])}")
                elif len(name) == 2:
                    flags.append(f"-s {_fish_sq(name[1:])}")
                else:
                    flags.append(f"-o {_fish_sq(name[1:])}")
            value = ""
            if option.takes_value:
                # -x: takes a value, and no file names unless the value is a file.
                value = (" -r" if option.values == "file" else " -x") + _fish_values(option.values)
            out.append(
                f"complete -c aimem -n {within} {' '.join(flags)}{value}"
                f" -d {_fish_sq(_short(option.help))}"
            )
        for index, kind in _argument_kinds(node):
            condition = at
            if index != "*":
                condition = _fish_sq(f"__aimem_at {_fish_sq(node.key)} {index}")
            out.append(f"complete -c aimem -n {condition}{_fish_values(kind)}")
    return "\n".join(out) + "\n"


def _fish_values(kind: str) -> str:
    if kind in DYNAMIC_KINDS:
        return f" -a '(__aimem_values {kind})'"
    if kind.startswith("choice:"):
        return f" -a {_fish_sq(kind[len('choice:') :])}"
    if kind == "file":
        return " -F"
    if kind == "dir":
        return " -a '(__fish_complete_directories)'"
    return ""


FISH_MAIN = r"""# Sets __aimem_cmdpath (e.g. 'kb show'), __aimem_pending (an option awaiting
# its value), __aimem_dir (--dir) and __aimem_nargs (positional arguments seen).
function __aimem_parse --description 'aimem: parse the command line'
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -g __aimem_cmdpath ''
    set -g __aimem_pending ''
    set -g __aimem_dir ''
    set -g __aimem_nargs 0
    for w in $tokens
        if test -n "$__aimem_pending"
            if contains -- $__aimem_pending --dir -C
                set -g __aimem_dir $w
            end
            set -g __aimem_pending ''
            continue
        end
        switch $w
            case '--dir=*'
                set -g __aimem_dir (string replace -- '--dir=' '' $w)
            case '-*=*'
            case '-*'
                if __aimem_takes_value "$__aimem_cmdpath" $w
                    set -g __aimem_pending $w
                end
            case '*'
                if contains -- $w (__aimem_commands "$__aimem_cmdpath")
                    set -g __aimem_cmdpath (string trim -- "$__aimem_cmdpath $w")
                    set -g __aimem_nargs 0
                else
                    set -g __aimem_nargs (math $__aimem_nargs + 1)
                end
        end
    end
end

# True at command path $argv[1] (and positional argument $argv[2]) when no
# option awaits a value.
function __aimem_at --description 'aimem: completing a word of this command'
    __aimem_parse
    test "$__aimem_cmdpath" = "$argv[1]"; or return 1
    test -z "$__aimem_pending"; or return 1
    if set -q argv[2]
        test "$__aimem_nargs" = "$argv[2]"; or return 1
    end
end

function __aimem_in --description 'aimem: within this command'
    __aimem_parse
    test "$__aimem_cmdpath" = "$argv[1]"
end

function __aimem_values --description 'aimem: values kept in the repository'
    __aimem_parse
    set -l prog (commandline -opc)[1]
    command -q $prog; or set prog aimem
    if test -n "$__aimem_dir"
        command $prog __complete $argv[1] '' --dir $__aimem_dir 2>/dev/null
    else
        command $prog __complete $argv[1] '' 2>/dev/null
    end
end
"""


# ---- all files -------------------------------------------------------------------


def generated_files() -> dict[str, str]:
    """``{path relative to the repository root: content}`` of every generated file."""
    command = root_command()
    tree = build_tree(command)
    files = {
        HELPTEXT_PATH: helptext_module(command),
        "completions/aimem.bash": bash_completion(tree),
        "completions/_aimem": zsh_completion(tree),
        "completions/aimem.fish": fish_completion(tree),
    }
    files.update({f"man/{name}": text for name, text in man_pages(tree).items()})
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """Generated files that are missing, different, or (man pages) no longer generated."""
    expected = generated_files()
    stale = [
        name
        for name, text in expected.items()
        if not (root / name).is_file() or (root / name).read_text(encoding="utf-8") != text
    ]
    man = root / "man"
    if man.is_dir():
        stale += [
            f"man/{p.name}" for p in sorted(man.glob("*.1")) if f"man/{p.name}" not in expected
        ]
    return stale


def write_files(root: Path = ROOT) -> list[str]:
    """Rewrite what is stale; remove man pages of commands that are gone. Returns the names."""
    from aimem.fsutil import atomic_write

    expected = generated_files()
    changed = stale_files(root)
    for name in changed:
        target = root / name
        if name in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, expected[name].encode("utf-8"))
            target.chmod(0o644)
        else:
            target.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not (ROOT / "pyproject.toml").is_file():
        sys.stderr.write(f"not a source checkout of aimem: {ROOT}\n")
        return 1
    if args == ["--check"]:
        stale = stale_files()
        for name in stale:
            sys.stderr.write(f"stale: {name}\n")
        if stale:
            sys.stderr.write("run: python tools/gen_docs.py\n")
        return 1 if stale else 0
    if args:
        sys.stderr.write("usage: python tools/gen_docs.py [--check]\n")
        return 2
    for name in write_files():
        sys.stderr.write(f"wrote {name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

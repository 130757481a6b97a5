"""The notebook command: harness delivery plus the runtime's Jupyter command. Pure.

The harness travels inside the command as a compressed zipapp (or, with `--harness-from`, as a
URL and the archive's sha256), so the exact version that launched it runs, with no PyPI, git
credentials or secret. Every value is quoted with `shlex.quote`.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import re
import shlex
import zlib

from .errors import UsageError
from .harness import pack, protocol
from .harness.protocol import BUNDLE_ID, Accelerator, Caps, Keep, Spec, pack_spec, to_json
from .matrix.model import Machine, Runtime

MAX_COMMAND_CHARS = 60_000  # well under Linux's 128 KiB limit for one argument


@functools.cache
def harness_archive() -> bytes:
    """The harness as a zipapp (`grt_harness/*.py` plus a `__main__.py`), minified (`minify`), so
    the command stays small. Its modules are stored uncompressed: the command carries the whole
    archive compressed as one stream (`harness_payload`), a quarter smaller than a zip of
    separately compressed modules. Reproducible: same sources, same bytes."""
    return pack.build_pyz(minify, compress=False)


@functools.cache
def harness_payload() -> str:
    """What the notebook command carries: base85 of the zlib-compressed `harness_archive()`
    (base85's alphabet holds no quote, backslash or space, so it stays one single-quoted word;
    a fifteenth smaller than base64)."""
    return base64.b85encode(zlib.compress(harness_archive(), 9)).decode("ascii")


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_INDENT = re.compile(r"(?m)^((?:    )+)")
_TYPING_IMPORT = re.compile(r"(?m)^from typing import ([\w, ]+)$")


def minify(source: bytes) -> bytes:
    """`source` without docstrings, comments and annotations outside class bodies (a dataclass's
    fields are its class annotations), without unused `typing` names, indented by one space a
    level: the same code, in the same Python 3.8 syntax (ast round trip)."""
    tree = ast.parse(source)
    _strip(tree, in_class=False)
    # ast.unparse writes every string on one line, so leading spaces are only indentation
    text = _INDENT.sub(lambda m: " " * (len(m.group(1)) // 4), ast.unparse(tree))
    text = _TYPING_IMPORT.sub(lambda m: _used_only(m, text), text)
    return (text + "\n").encode()


def _used_only(match: re.Match[str], text: str) -> str:
    """A `from typing import ...` line with only the names `text` uses elsewhere (a regular
    expression: an `ast.walk` over every node would double the time)."""
    used = [
        name
        for name in match.group(1).split(", ")
        if len(re.findall(rf"\b{re.escape(name)}\b", text)) > 1
    ]
    return f"from typing import {', '.join(used)}" if used else "pass"


def _strip(node: ast.AST, *, in_class: bool) -> None:
    """Docstrings and annotations out of `node` and the statements below it. Walks statements
    only: every `grt run` builds the archive, and a walk over every expression node would
    double the time."""
    if isinstance(node, _FUNCTIONS):
        node.returns = None
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                arg.annotation = None
        in_class = False
    elif isinstance(node, ast.ClassDef):
        in_class = True
    documented = isinstance(
        node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
    )
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        statements = getattr(node, field, None)
        if not statements:
            continue
        kept: list[ast.AST] = []
        for index, child in enumerate(statements):
            if documented and field == "body" and index == 0 and _is_docstring(child):
                continue
            statement = child
            if isinstance(child, ast.AnnAssign) and not in_class:
                if child.value is None:
                    continue  # `x: int` alone does nothing outside a class
                statement = ast.copy_location(ast.Assign([child.target], child.value), child)
            _strip(statement, in_class=in_class)
            kept.append(statement)
        setattr(node, field, kept or [ast.Pass()])


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def notebook_spec(
    runtime: Runtime,
    machine: Machine,
    *,
    bundle_id: str,
    keep: Keep,
    nonce: str = "",
    workspace: str = ".",
    end_delay_s: float = 2.0,
    caps: Caps | None = None,
) -> Spec:
    """The harness spec (docs/harness-protocol.md) for one cell; `nonce` is the cell's secret."""
    return Spec(
        bundle_id=bundle_id,
        nonce=nonce,
        runtime=runtime.name,
        machine=protocol.Machine(
            name=machine.name,
            accelerator=machine.accelerator,
            count=machine.count,
            model=machine.model,
            memory_gb=machine.memory_gb,
        ),
        workspace=workspace,
        checks=runtime.checks,
        notebooks=runtime.notebooks,
        keep=keep,
        end_delay_s=end_delay_s,
        caps=caps or Caps(),
        parallel=parallel_notebooks(runtime, machine),
    )


def parallel_notebooks(runtime: Runtime, machine: Machine) -> int:
    """The spec's `parallel`: the runtime's `parallel_notebooks` when set; otherwise one
    notebook per CPU (`0`) on CPU machines and one at a time on GPU and IPU machines, whose
    notebooks compete for the accelerator. The harness never runs more at once than it has CPUs."""
    if runtime.parallel_notebooks is not None:
        return runtime.parallel_notebooks
    return 0 if machine.accelerator is Accelerator.CPU else 1


# A runtime's Jupyter command that is one simple command (variable assignments, then a program
# and its arguments, quoted at most with '...' or "..." holding nothing the shell expands) is
# `exec`ed by the bootstrap itself, so Jupyter is the process the platform watches (PID 1 of the
# container, which must handle SIGTERM). Anything else runs through `sh -c`.
_WORD = re.compile(r"""(?:[A-Za-z0-9_@%+=:,./-]|'[^']*'|"[^"$`\\!]*")+""")
_SIMPLE = re.compile(rf" *{_WORD.pattern}(?: +{_WORD.pattern})* *")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_WORDS = frozenset(
    re.split(
        r"\s+",
        ". : [ [[ { } ! alias bg break case cd command continue do done elif else esac eval exec"
        " exit export fg fi for function getopts hash if in jobs local read readonly return"
        " select set shift source then time times trap type ulimit umask unalias unset until"
        " wait while",
    )
)


def exec_words(jupyter_command: str) -> tuple[list[str], list[str]]:
    """``(assignments, argv)`` that run ``jupyter_command`` with ``os.execvpe``: ``NAME=value``
    words, then the program and its arguments. A command that is not one simple command gives
    ``([], ["sh", "-c", jupyter_command])``."""
    fallback: tuple[list[str], list[str]] = ([], ["sh", "-c", jupyter_command])
    if not _SIMPLE.fullmatch(jupyter_command):
        return fallback
    raw = _WORD.findall(jupyter_command)  # the words as written: quotes hold their spaces
    if raw and raw[0] == "exec":
        raw = raw[1:]
    count = 0
    while count < len(raw) and _ASSIGNMENT.match(raw[count]):
        count += 1
    program = raw[count:]
    if not program or program[0] in _SHELL_WORDS or not re.fullmatch(r"[\w./+-]+", program[0]):
        return fallback
    words = shlex.split(" ".join(raw))
    return words[:count], words[count:]


def harness_source(harness_from: str | None) -> str:
    """The bootstrap's HARNESS argument: the archive itself (base85 of zlib: no space in that
    alphabet), or where to download it and its sha256 (``URL SHA256``)."""
    if harness_from is None:
        return harness_payload()
    return f"{harness_from} {hashlib.sha256(harness_archive()).hexdigest()}"


def notebook_command(spec: Spec, jupyter_command: str, *, harness_from: str | None = None) -> str:
    """The shell command a notebook is created with (docs/harness-protocol.md, "Delivery").

    It `exec`s the bootstrap (`pack.BOOTSTRAP`), which starts the harness with the spec on a
    pipe and `exec`s the Jupyter command: once Jupyter runs, no process's command line or
    environment holds the spec or its nonce. `harness_from` (a URL) makes the command download
    the archive instead of carrying it (about 41,000 characters fewer).
    """
    command = _command(spec, jupyter_command, harness_source(harness_from))
    if len(command) > MAX_COMMAND_CHARS:
        raise UsageError(
            f"runtime {spec.runtime!r}: the notebook command would be {len(command):,} characters"
            f" (valid: at most {MAX_COMMAND_CHARS:,}; list fewer notebooks or shorter parameters,"
            " or pass --harness-from URL)"
        )
    return command


# A cell's spec as a run on Gradient makes it, for `command_size`: a 12-hex-digit cell id and a
# 32-character nonce as random as grt's own (the spec travels compressed: its size depends on them).
_SIZE_BUNDLE_ID = "9f3c07a1e25b"
_SIZE_NONCE = "Xq7-Lb2ZtR0wVj9_Kc4NpA8sHd1yEm6G"
# More than the harness word takes in any command (tests/test_command.py holds it), for a size
# check that must not build the archive.
HARNESS_CHARS_BOUND = 50_000


def command_size(
    runtime: Runtime, machine: Machine, *, harness_from: str | None = None, exact: bool = True
) -> int:
    """Characters of the notebook command of `runtime` on `machine` on Gradient (where the
    runtime's own Jupyter command runs), to compare with `MAX_COMMAND_CHARS`. With
    `exact=False` (and no `harness_from`), an upper bound that builds no harness archive
    (`HARNESS_CHARS_BOUND` stands for it): validation stays fast."""
    spec = notebook_spec(
        runtime, machine, bundle_id=_SIZE_BUNDLE_ID, keep=Keep.FAILED, nonce=_SIZE_NONCE
    )
    if exact or harness_from is not None:
        return len(_command(spec, runtime.command, harness_source(harness_from)))
    return len(_command(spec, runtime.command, "")) - len("''") + HARNESS_CHARS_BOUND


def _command(spec: Spec, jupyter_command: str, harness: str) -> str:
    if not BUNDLE_ID.match(spec.bundle_id):
        raise ValueError(f"bundle id {spec.bundle_id!r} must be letters, digits, '_', '.' and '-'")
    assignments, argv = exec_words(jupyter_command)
    words = [
        pack.BOOTSTRAP,
        harness,
        pack_spec(to_json(spec)),
        str(len(assignments)),
        *assignments,
        *argv,
    ]
    return 'exec "$(command -v python3 || command -v python || echo python3)" -c ' + " ".join(
        shlex.quote(word) for word in words
    )

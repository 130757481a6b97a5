"""The notebook command: harness delivery plus the runtime's Jupyter command. Pure.

The harness travels inside the command as a base64 zipapp, so the exact version that launched it
runs, with no PyPI, git credentials or secret. Every value is quoted with `shlex.quote`.
"""

from __future__ import annotations

import ast
import base64
import functools
import shlex
import zlib

from .errors import UsageError
from .harness import pack, protocol
from .harness.protocol import BUNDLE_ID, Accelerator, Caps, Keep, Spec, encode_spec_arg, to_json
from .matrix.model import Machine, Runtime

MAX_COMMAND_CHARS = 60_000  # well under Linux's 128 KiB limit for one argument


@functools.cache
def harness_archive() -> bytes:
    """The harness as a zipapp (`grt_harness/*.py` plus a `__main__.py`), minified: docstrings
    and comments removed, so the command stays small. Its modules are stored uncompressed: the
    command carries the whole archive compressed as one stream (`harness_payload`), a quarter
    smaller than a zip of separately compressed modules. Reproducible: same sources, same bytes."""
    return pack.build_pyz(minify, compress=False)


@functools.cache
def harness_payload() -> str:
    """What the notebook command carries: base64 of the zlib-compressed `harness_archive()`."""
    return base64.b64encode(zlib.compress(harness_archive(), 9)).decode("ascii")


def minify(source: bytes) -> bytes:
    """`source` without docstrings and comments (ast round trip; same code, same Python 3.8 syntax)."""
    tree = ast.parse(source)
    # Docstrings open a module, class or function body: walk statements only (every `grt run`
    # builds the archive; a walk over every expression node would double the time).
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            pending.extend(getattr(node, field, ()))
    return (ast.unparse(tree) + "\n").encode()


def notebook_spec(
    runtime: Runtime,
    machine: Machine,
    *,
    bundle_id: str,
    keep: Keep,
    workspace: str = ".",
    caps: Caps | None = None,
) -> Spec:
    """The harness spec (docs/harness-protocol.md) for one cell."""
    return Spec(
        bundle_id=bundle_id,
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


def notebook_command(spec: Spec, jupyter_command: str, *, end_delay_s: float = 2.0) -> str:
    """The shell command a notebook is created with.

    It writes the harness zipapp to /tmp, starts it in the background (detached from the shell,
    its stdout the container's log) and `exec`s the Jupyter command in the foreground, so the
    platform sees Jupyter start. `--end-pid $$` lets the harness end Jupyter when it is done.
    """
    bundle_id = spec.bundle_id
    if not BUNDLE_ID.match(bundle_id):
        raise ValueError(f"bundle id {bundle_id!r} must be letters, digits, '_', '.' and '-'")
    pyz = f'"${{TMPDIR:-/tmp}}/grt-harness-{bundle_id}.pyz"'
    payload = harness_payload()
    writer = (
        "import base64,sys,zlib;"
        "open(sys.argv[1],'wb').write(zlib.decompress(base64.b64decode(sys.argv[2])))"
    )
    command = (
        'GRT_PY="$(command -v python3 || command -v python)"; '
        f'"$GRT_PY" -c {shlex.quote(writer)} {pyz} {shlex.quote(payload)} '
        f'&& ("$GRT_PY" {pyz} --spec {shlex.quote(encode_spec_arg(to_json(spec)))} --end-pid $$ --end-delay {end_delay_s:g}; '
        f"rm -f {pyz}) & "
        f"exec sh -c {shlex.quote(jupyter_command)}"
    )
    if len(command) > MAX_COMMAND_CHARS:
        raise UsageError(
            f"runtime {spec.runtime!r}: the notebook command would be {len(command):,} characters"
            f" (valid: at most {MAX_COMMAND_CHARS:,}; list fewer notebooks or shorter parameters)"
        )
    return command

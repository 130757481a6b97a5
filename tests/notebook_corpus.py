"""A corpus of notebooks of the kinds the peers' own tests use (nbclient, nbmake, papermill,
nbval, nbformat fixtures and edge cases), each with the verdict `grt` must give (issue 14).

Written at run time (``write_corpus``) with a matrices folder listing them all in one runtime, so
that one ``grt run --provider local`` runs the whole corpus (tests/test_notebook_corpus.py), and
``bench/verdicts.py`` runs the same notebooks with nbconvert's ExecutePreprocessor to report
agreement. ``peers`` says why nbconvert's verdict differs where a documented policy makes it
differ (README "Notebook verdicts").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tests.harness.harness_notebooks import V3_NOTEBOOK, code, md, notebook

RUNTIME = "Notebook Corpus"
MACHINE = "C5"


@dataclasses.dataclass(frozen=True)
class Case:
    path: str
    content: dict[str, Any] | bytes | None  # None: listed in the matrix, never written
    expect: str  # grt's test status: passed, failed or error
    message: str = ""  # the start of grt's message
    contains: str = ""  # ...or a part of it, when its start varies
    cell: int | None = None  # the cell the message names (1-based among all cells)
    entry: dict[str, Any] = dataclasses.field(default_factory=dict)  # matrix options
    peers: str = ""  # the policy that makes nbconvert's verdict differ, if one does
    kind: str = ""


def with_metadata(nb: dict[str, Any], **execution: Any) -> dict[str, Any]:
    nb["metadata"]["execution"] = execution
    return nb


def nb44(*cells: dict[str, Any], ids: bool = False) -> dict[str, Any]:
    nb = notebook(*cells)
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        if not ids:
            del cell["id"]
        cell["source"] = cell["source"].splitlines(keepends=True)  # as Jupyter saves them
    return nb


def v3(*cells: dict[str, Any]) -> dict[str, Any]:
    return dict(V3_NOTEBOOK, worksheets=[{"cells": list(cells)}])


def v3_code(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "input": source.splitlines(keepends=True),
        "language": "python",
        "metadata": {},
        "outputs": [],
    }


STORED_OUTPUTS = notebook(
    code("print('fresh')"),
    code("x = 41 + 1\nx"),
)
# saved by some tool with outputs nbformat rejects, and a traceback from an earlier run
STORED_OUTPUTS["cells"][0]["outputs"] = [
    {"output_type": "stream", "text": "no name\n"},
    {"output_type": "error", "ename": "OldError", "evalue": "from a past run", "traceback": []},
]
STORED_OUTPUTS["cells"][1]["outputs"] = [{"output_type": "execute_result", "data": {}}]

HOOK_ERROR = code(
    "def _show_once():\n"
    "    get_ipython().events.unregister('post_execute', _show_once)\n"
    "    try:\n"
    "        raise ValueError('shown by a post-execute hook')\n"
    "    except ValueError:\n"
    "        get_ipython().showtraceback()\n"
    "get_ipython().events.register('post_execute', _show_once)"
)
IMAGE = "from IPython.display import display\ndisplay({'image/png': 'iVBOR' * 120_000, 'text/plain': '<Figure>'}, raw=True)"

PASSING = [
    Case(
        "plain.ipynb",
        notebook(md("# Plain"), code("print('hi')"), code("x = 1 + 1\nassert x == 2")),
        "passed",
    ),
    Case(
        "magics.ipynb",
        notebook(
            code("%time total = sum(range(10))"),
            code("%%capture out\nprint('hidden')"),
            code("%timeit -n1 -r1 sum(range(10))"),
            code("%%writefile note.txt\nhello"),
            code("assert open('note.txt').read().strip() == 'hello'"),
        ),
        "passed",
        kind="line and cell magics (%%capture runs code itself)",
    ),
    Case(
        "shell_ok.ipynb",
        notebook(code("!echo hi"), code("!true"), code("files = !ls\nassert files")),
        "passed",
    ),
    Case(
        "raises_tag.ipynb",
        notebook(code("raise Exception('expected')", "raises-exception"), code("print('after')")),
        "passed",
        kind="nbmake raises_tag",
    ),
    Case("v3_pass.ipynb", V3_NOTEBOOK, "passed", kind="nbformat 3, multi-line sources as lists"),
    Case(
        "nb44.ipynb",
        nb44(md("# Old minor"), code("a = 1\nb = 2\n"), code("assert a + b == 3")),
        "passed",
    ),
    Case("nb44_ids.ipynb", nb44(code("a = 1"), ids=True), "passed", kind="nbformat 4.4 with ids"),
    Case("stored_outputs.ipynb", STORED_OUTPUTS, "passed", kind="invalid stored outputs"),
    Case("empty.ipynb", notebook(), "passed", kind="nbmake empty"),
    Case(
        "markdown_only.ipynb",
        notebook(md("# Only text"), {"cell_type": "raw", "metadata": {}, "source": "raw"}),
        "passed",
    ),
    Case(
        "skip_tag.ipynb",
        notebook(code("raise RuntimeError('skipped')", "skip-execution"), code("print('ran')")),
        "passed",
    ),
    Case(
        "await.ipynb",
        notebook(code("import asyncio\nawait asyncio.sleep(0.01)\nresult = 42")),
        "passed",
    ),
    Case(
        "sysexit0.ipynb",
        notebook(
            code("import sys"),
            code("sys.exit(0)"),
            code("print('Cell should not execute.')\nraise RuntimeError('ran on')"),
        ),
        "passed",
        "ended early: cell 2 (In [2]) raised SystemExit with a success code",
        cell=2,
        peers="SystemExit 0/None ends a notebook early, as passed",
        kind="papermill sysexit0",
    ),
    Case(
        "sysexit.ipynb",
        notebook(code("import sys"), code("sys.exit()"), code("print('Cell should not execute.')")),
        "passed",
        "ended early: cell 2 (In [2])",
        cell=2,
        peers="SystemExit 0/None ends a notebook early, as passed",
        kind="papermill sysexit",
    ),
    Case(
        "systemexit.ipynb",
        notebook(
            code("import sys"), code("raise SystemExit"), code("print('Cell should not execute.')")
        ),
        "passed",
        "ended early: cell 2 (In [2])",
        cell=2,
        peers="SystemExit 0/None ends a notebook early, as passed",
        kind="papermill systemexit",
    ),
    Case(
        "allow_errors_meta.ipynb",
        with_metadata(
            notebook(code("raise ValueError('allowed')"), code("print('still runs')")),
            allow_errors=True,
        ),
        "passed",
        peers="the notebook's metadata.execution.allow_errors applies",
        kind="nbmake test_when_allow_errors_then_passing",
    ),
    Case(
        "timeout_meta_overridden.ipynb",
        with_metadata(notebook(code("import time"), code("time.sleep(1.5)")), timeout=1),
        "passed",
        entry={"cell_timeout": 30},
        kind="the matrix's cell_timeout over the notebook's metadata",
    ),
    Case(
        "nested/data.ipynb",
        notebook(
            code(
                "with open('input.csv') as f:\n    rows = f.read().splitlines()\nassert rows == ['a,b', '1,2']"
            )
        ),
        "passed",
        kind="reads a file next to it",
    ),
    Case(
        "parameters.ipynb",
        notebook(code("alpha = 0.1", "parameters"), code("assert alpha == 0.5, alpha")),
        "passed",
        entry={"parameters": {"alpha": 0.5}},
        peers="parameters come from the matrix (nbconvert injects none)",
        kind="papermill parameters",
    ),
    Case("big_image.ipynb", notebook(code(IMAGE)), "passed", kind="an image over notebook_chars"),
    Case("huge_stream.ipynb", notebook(code("print('x' * 100_000)")), "passed"),
    Case(
        "big_html.ipynb",
        notebook(code("from IPython.display import HTML\nHTML('<p>' + 'y' * 50_000 + '</p>')")),
        "passed",
    ),
    Case(
        "warnings.ipynb",
        notebook(
            code(
                "import sys, warnings\nwarnings.warn('careful')\nprint('to stderr', file=sys.stderr)"
            )
        ),
        "passed",
    ),
    Case("unicode.ipynb", notebook(code("print('h\u00e9llo \u2713 \U0001f680')")), "passed"),
]

FAILING = [
    Case(
        "cell_numbers.ipynb",
        notebook(md("# Title"), md("Intro"), code("a = 1"), md("Now divide"), code("a / 0")),
        "failed",
        "cell 5 (In [2]): ZeroDivisionError: division by zero",
        cell=5,
        kind="one cell number, as Jupyter shows it",
    ),
    Case(
        "v3_error.ipynb",
        v3(
            {"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Old"]},
            v3_code("x = 0\n"),
            v3_code("1 / x\n"),
        ),
        "failed",
        "cell 3 (In [2]): ZeroDivisionError: division by zero",
        cell=3,
    ),
    Case(
        "hook_error.ipynb",
        notebook(md("A post-execute hook shows a traceback"), HOOK_ERROR, code("print('after')")),
        "failed",
        "cell 2 (In [1]): ValueError: shown by a post-execute hook",
        cell=2,
        peers="an error output fails its cell, whatever showed it",
        kind="nbmake magic_error (a figure that fails to render)",
    ),
    Case(
        "repr_error.ipynb",
        notebook(
            code(
                "class Broken:\n    def _repr_html_(self):\n        raise ValueError('bad _repr_html_')"
            ),
            code("Broken()"),
        ),
        "failed",
        "cell 2 (In [2]): ValueError: bad _repr_html_",
        cell=2,
        kind="a display formatter that raises",
    ),
    Case(
        "line_magic_error.ipynb",
        notebook(code("%undefined-line-magic"), code("print('Cell should not execute.')")),
        "failed",
        "cell 1 (In [1]): UsageError: Line magic function `%undefined-line-magic` not found.",
        cell=1,
        kind="papermill line_magic_error",
    ),
    Case(
        "cell_magic_error.ipynb",
        notebook(code("%%nosuchmagic\nx = 1")),
        "failed",
        "cell 1 (In [1]): UsageError: Cell magic `%%nosuchmagic` not found.",
        cell=1,
    ),
    Case(
        "sysexit1.ipynb",
        notebook(
            code("import sys"), code("sys.exit(1)"), code("print('Cell should not execute.')")
        ),
        "failed",
        "cell 2 (In [2]): SystemExit: 1 (a non-zero exit code fails the notebook)",
        cell=2,
        kind="papermill sysexit1",
    ),
    Case(
        "sysexit_msg.ipynb",
        notebook(code("import sys"), code("sys.exit('bye')")),
        "failed",
        "cell 2 (In [2]): SystemExit: bye (a non-zero exit code fails the notebook)",
        cell=2,
    ),
    Case(
        "timeout_meta.ipynb",
        with_metadata(notebook(code("import time"), code("time.sleep(10)")), timeout=1),
        "failed",
        "cell 2 (In [2]): CellTimeoutError: cell did not finish within its 1 s limit"
        " (the notebook's metadata.execution.timeout)",
        cell=2,
        peers="the notebook's metadata.execution.timeout applies",
        kind="nbmake test_when_timeout_then_fails",
    ),
    Case(
        "allow_errors_overridden.ipynb",
        with_metadata(notebook(code("raise ValueError('not allowed here')")), allow_errors=True),
        "failed",
        "cell 1 (In [1]): ValueError: not allowed here",
        cell=1,
        entry={"allow_errors": False},
        kind="the matrix's allow_errors over the notebook's metadata",
    ),
    Case(
        "bang_false.ipynb",
        notebook(code("!echo before"), code("!false"), code("print('after')")),
        "failed",
        "cell 2 (In [2]): ExitCodeError: !false exited with code 1",
        cell=2,
        peers="a `!command` that exits non-zero fails",
    ),
    Case(
        "import_error.ipynb",
        notebook(code("import no_such_module_xyz")),
        "failed",
        "cell 1 (In [1]): ModuleNotFoundError: No module named 'no_such_module_xyz'",
        cell=1,
        kind="nbmake import_errs",
    ),
    Case(
        "syntax_error.ipynb",
        notebook(code("x = (")),
        "failed",
        "cell 1 (In [1]): SyntaxError: ",
        cell=1,
    ),
    Case(
        "stdin.ipynb",
        notebook(code("name = input('your name? ')")),
        "failed",
        "cell 1 (In [1]): StdinNotImplementedError: ",
        cell=1,
    ),
    Case(
        "kernel_death.ipynb",
        notebook(code("print('alive')"), code("import os\nos._exit(1)")),
        "failed",
        "cell 2: DeadKernelError: the kernel died while running this cell",
        cell=2,
    ),
    Case(
        "keyboard_interrupt.ipynb",
        notebook(code("raise KeyboardInterrupt")),
        "failed",
        "cell 1 (In [1]): KeyboardInterrupt",
        cell=1,
        kind="papermill keyboard_interrupt",
    ),
    Case(
        "assertion.ipynb",
        notebook(code("assert 1 == 2, 'math is broken'")),
        "failed",
        "cell 1 (In [1]): AssertionError: math is broken",
        cell=1,
    ),
    Case(
        "recursion.ipynb",
        notebook(code("def f(n):\n    return f(n + 1)\nf(0)")),
        "failed",
        "cell 1 (In [1]): RecursionError: maximum recursion depth exceeded",
        cell=1,
    ),
    Case(
        "raises_then_error.ipynb",
        notebook(code("raise ValueError('expected')", "raises-exception"), code("1 / 0")),
        "failed",
        "cell 2 (In [2]): ZeroDivisionError: division by zero",
        cell=2,
    ),
    Case(
        "notebook_timeout.ipynb",
        notebook(code("import time"), *[code("time.sleep(0.5)") for _ in range(8)]),
        "failed",
        contains="NotebookTimeout: notebook did not finish within its 2 s limit (timeout)",
        entry={"timeout": 2},
        peers="a whole-notebook time limit (the matrix's timeout)",
    ),
    Case(
        "unknown_kernel.ipynb",
        notebook(
            code("1 + 1"),
            kernelspec={"display_name": "Gone", "language": "python", "name": "no-such-kernel"},
        ),
        "failed",
        "NoSuchKernel: no kernelspec named 'no-such-kernel' (available: ",
        kind="a kernel the runtime lacks",
    ),
    Case(
        "not_json.ipynb",
        b'{"cells": [\n  {"cell_type": "code",\n',
        "failed",
        "invalid notebook JSON in ",
    ),
    Case("empty_file.ipynb", b"", "failed", contains="is empty"),
    Case(
        "latin1.ipynb",
        json.dumps(notebook(code("print('caf\u00e9')")), ensure_ascii=False).encode("latin-1"),
        "failed",
        contains="is not UTF-8 (byte 0xe9",
        kind="a Latin-1 file",
    ),
    Case(
        "bom.ipynb",
        b"\xef\xbb\xbf" + json.dumps(notebook(code("1"))).encode(),
        "failed",
        contains="BOM",
    ),
    Case("list.ipynb", b"[]", "failed", contains="top level is not an object"),
    Case(
        "no_cells.ipynb",
        b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
        "failed",
        contains="no list of cells",
    ),
]

ERRORS = [
    Case(
        "missing.ipynb",
        None,
        "error",
        "notebook not found: ",
        peers="a notebook missing from the workspace is the matrix's error, not the runtime's",
    ),
]

CASES: list[Case] = PASSING + FAILING + ERRORS


def write_corpus(root: Path) -> tuple[Path, Path]:
    """The corpus under ``root``: (matrices folder, workspace folder)."""
    workspace = root / "workspace"
    matrices = root / "matrices"
    (matrices / "runtimes").mkdir(parents=True)
    for case in CASES:
        path = workspace / case.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(case.content, bytes):
            path.write_bytes(case.content)
        elif case.content is not None:
            path.write_text(json.dumps(case.content, indent=1) + "\n", encoding="utf-8")
    (workspace / "nested" / "input.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (matrices / "machines.yaml").write_text(f"machines:\n  {MACHINE}: {{accelerator: cpu}}\n")
    entries = [json.dumps({"path": case.path, **case.entry}) for case in CASES]
    (matrices / "runtimes" / "corpus.yaml").write_text(
        f"name: {RUNTIME}\ncontainer: local/corpus:1\nworkspace: ../workspace\n"
        f"machines: [{MACHINE}]\nchecks: {{min_free_disk_gb: 0}}\nnotebooks:\n"
        + "".join(f"  - {entry}\n" for entry in entries)
    )
    return matrices, workspace

"""Fixture notebooks, written into a temporary workspace by ``write_workspace``.

Each notebook exercises one behaviour of the harness; test_harness_e2e.py says which. They are
generated rather than stored so that linters never see a deliberately broken notebook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PYTHON3 = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def code(source: str, *tags: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": list(tags)} if tags else {},
        "outputs": [],
        "source": source,
    }


def notebook(*cells: dict[str, Any], kernelspec: dict[str, str] = PYTHON3) -> dict[str, Any]:
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    return {
        "cells": list(cells),
        "metadata": {"kernelspec": kernelspec, "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


NOTEBOOKS = {
    # magics, a shell command, cwd-relative data, raises-exception, parameters after the tagged cell
    "nested/pass.ipynb": notebook(
        md("# Everything here passes"),
        code('epochs = 10\nname = "default"', "parameters"),
        code("%time total = sum(range(10))"),
        code('%%capture captured\nprint("hidden")'),
        code("!echo shell-ok"),
        code(
            'with open("input.txt") as f:\n    text = f.read().strip()\n'
            'assert text == "hello from the notebook folder", text'
        ),
        code('raise ValueError("expected by the raises-exception tag")', "raises-exception"),
        code('print("epochs", epochs, name)\nassert (epochs, name) == (2, "from-spec")'),
    ),
    # cell 3 raises; parameters (no tagged cell) go on top and must not shift the cell number
    "error.ipynb": notebook(
        md("An exception in cell 3"),
        code("y = x * 2  # x comes from the injected parameters"),
        code('raise ValueError("boom %d" % y)'),
        code('print("never runs")'),
    ),
    "bang_false.ipynb": notebook(
        code("!echo before"),
        code("!false"),
        code('print("after")'),
    ),
    "bang_false_allowed.ipynb": notebook(
        code("!false"),
        code('print("after")'),
    ),
    "cell_timeout.ipynb": notebook(
        code("import time"),
        code("time.sleep(60)"),
    ),
    "notebook_timeout.ipynb": notebook(
        code("import time"),
        *[code("time.sleep(0.5)") for _ in range(8)],
    ),
    "kernel_death.ipynb": notebook(
        code('print("alive")'),
        code("import os\nos._exit(1)"),
    ),
    "stdin.ipynb": notebook(
        code('name = input("your name? ")'),
    ),
    "missing_kernel.ipynb": notebook(
        code("1 + 1"),
        kernelspec={"display_name": "Nope", "language": "python", "name": "no-such-kernel"},
    ),
    "kernel_override.ipynb": notebook(code("1 + 1")),
    # 22 MB of text, then a 300 kB "image": both must be capped
    "huge.ipynb": notebook(
        code('print("x" * 22_000_000)'),
        code(
            "from IPython.display import display\n"
            'display({"image/png": "A" * 300_000, "text/plain": "<fake image>"}, raw=True)'
        ),
        code('print("small output survives")'),
    ),
    # an error that a post-execute hook shows while the cell itself finishes (as matplotlib's
    # inline backend does when a figure fails to render): the cell fails
    "hook_error.ipynb": notebook(
        md("A one-shot post-execute hook that shows a traceback"),
        code(
            "def _show_once():\n"
            "    get_ipython().events.unregister('post_execute', _show_once)\n"
            "    try:\n"
            "        raise ValueError('shown by a post-execute hook')\n"
            "    except ValueError:\n"
            "        get_ipython().showtraceback()\n"
            "get_ipython().events.register('post_execute', _show_once)"
        ),
        code('print("after")'),
    ),
    "missing_magic.ipynb": notebook(
        code("%undefined-line-magic"),
        code('print("Cell should not execute.")'),
    ),
    # a clean SystemExit ends the notebook early, as passed (papermill's sysexit0 fixture)
    "sysexit0.ipynb": notebook(
        code("import sys"),
        code("sys.exit(0)"),
        code('print("Cell should not execute.")\nraise RuntimeError("ran after sys.exit(0)")'),
    ),
    "sysexit1.ipynb": notebook(
        code("import sys"),
        code("sys.exit(1)"),
        code('print("Cell should not execute.")'),
    ),
    # nbmake's test_when_allow_errors_then_passing: the notebook's own metadata allows errors
    "allow_errors_meta.ipynb": dict(
        notebook(code('raise ValueError("allowed by the metadata")'), code('print("still runs")')),
        metadata={
            "kernelspec": PYTHON3,
            "language_info": {"name": "python"},
            "execution": {"allow_errors": True},
        },
    ),
    # passes once, fails when run again in the same kernel
    "rerun.ipynb": notebook(
        code('counter = globals().get("counter", 0) + 1'),
        code('assert counter == 1, "state leaked into the rerun: counter=%d" % counter'),
    ),
}


# nbformat 3: worksheets, ``input`` instead of ``source``, multi-line text as lists of lines
V3_NOTEBOOK: dict[str, Any] = {
    "nbformat": 3,
    "nbformat_minor": 0,
    "metadata": {"name": ""},
    "worksheets": [
        {
            "cells": [
                {"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Old format"]},
                {
                    "cell_type": "code",
                    "collapsed": False,
                    "input": ["total = 0\n", "for i in range(3):\n", "    total += i\n"],
                    "language": "python",
                    "metadata": {},
                    "outputs": [{"output_type": "stream", "stream": "stdout", "text": ["old\n"]}],
                    "prompt_number": 7,
                },
                {
                    "cell_type": "code",
                    "input": ["assert total == 3, total\n", "print('v3 ok')"],
                    "language": "python",
                    "metadata": {},
                    "outputs": [],
                },
            ]
        }
    ],
}


def write_workspace(dest: Path) -> Path:
    """Write every fixture notebook (and their data files) under ``dest``; returns ``dest``."""
    for name, nb in NOTEBOOKS.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    (dest / "nested" / "input.txt").write_text("hello from the notebook folder\n", encoding="utf-8")
    (dest / "broken.ipynb").write_text('{"cells": [\n  {"cell_type": "code",\n', encoding="utf-8")
    (dest / "broken_optional.py").write_text(
        'raise RuntimeError("installed but broken")\n', encoding="utf-8"
    )
    return dest

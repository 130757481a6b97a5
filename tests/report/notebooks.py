"""Executed notebooks as the harness returns them, for the HTML page tests: a parameters cell grt
injected, a failing cell with an ANSI traceback, an image, a capped output, and hostile HTML."""

from __future__ import annotations

from typing import Any

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
HOSTILE_HTML = (
    '<script>window.pwned = 1</script><meta http-equiv="refresh" content="0;url=https://evil.example/">'
    '<iframe src="https://evil.example/frame"></iframe><img src="https://evil.example/track.png">'
    '<img src="x" onerror="window.pwned = 2"><p id="cell-1" onclick="x()">fake anchor</p>'
    '<link rel="stylesheet" href="https://evil.example/s.css"><style>body{display:none}</style>'
    "<h3>A real heading</h3><table><thead><tr><th>col</th></tr></thead><tr><td>1</td></tr></table>"
)
CAPPED = "head\n[... 123456 characters cut by gradient-runtime-test (output_chars=20000) ...]\ntail"


def code(source: str, outputs: list[dict[str, Any]] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": meta,
        "outputs": outputs or [],
        "source": source,
    }


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def executed(*, filler: int = 0) -> dict[str, Any]:
    """File cells 1..(6 + filler); the injected parameters cell sits after cell 2 (tagged
    `parameters`); file cell 5 + filler (`1 / 0`) failed."""
    cells = [
        markdown("# Title\n\nSome *text* and $x^2$ math. <script>window.pwned = 3</script>"),
        code("rounds = 1", tags=["parameters"]),
        code("# Parameters\nrounds = 3\n", tags=["injected-parameters"]),
        code(
            "print('hello')",
            [{"output_type": "stream", "name": "stdout", "text": CAPPED}],
        ),
        code(
            "show()",
            [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": PNG, "text/plain": "<Figure>"},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"text/html": HOSTILE_HTML, "text/plain": "hostile"},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"text/vnd.mermaid": "</pre><script>window.pwned = 4</script>"},
                },
            ],
        ),
    ]
    cells += [markdown(f"Filler paragraph {i}.\n\n" + "Lorem ipsum. " * 40) for i in range(filler)]
    cells += [
        code(
            "1 / 0",
            [
                {
                    "output_type": "error",
                    "ename": "ZeroDivisionError",
                    "evalue": "division by zero",
                    "traceback": ["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"],
                }
            ],
        ),
        {"cell_type": "raw", "metadata": {"raw_mimetype": "text/html"}, "source": HOSTILE_HTML},
    ]
    for n, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
        cell["execution_count"] = n + 1
    return {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        },
        "cells": cells,
    }

"""V1: verdicts on the notebook corpus, `grt` against nbconvert's ExecutePreprocessor.

    uv run --with nbconvert python -m bench.verdicts

The corpus is tests/notebook_corpus.py: notebooks of the kinds the peers' own tests use, each
with the verdict `grt` must give (tests/test_notebook_corpus.py holds `grt` to them). Here `grt
run --provider local` runs them once, and nbconvert's ExecutePreprocessor runs each notebook in
its own folder with its defaults (what `jupyter nbconvert --execute` does). The table shows both
verdicts; where they differ, the policy that makes `grt` differ (README "Notebook verdicts").
A disagreement no policy explains, or a policy that did not make a difference, is listed last
and makes the command exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from tests.notebook_corpus import CASES, MACHINE, RUNTIME, write_corpus

from bench.common import REPO, header, table, timed
from gradient_runtime_test.report import strip_ansi

COMMAND = "uv run --with nbconvert python -m bench.verdicts"


def run_grt(matrices: Path, out: Path) -> tuple[float, dict[str, dict[str, Any]]]:
    argv = [sys.executable, "-m", "gradient_runtime_test", "run", "--matrices", str(matrices)]
    seconds, proc = timed(
        [*argv, "--runtime", RUNTIME, "--provider", "local", "--out", str(out)], cwd=REPO
    )
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"grt run exited {proc.returncode}")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    (cell,) = results["cells"]
    assert cell["machine"] == MACHINE
    return seconds, {t["name"].removeprefix("notebooks/"): t for t in cell["tests"]}


def run_nbconvert(path: Path) -> tuple[str, str]:
    """("passed" | "failed", why) for one notebook under ExecutePreprocessor's defaults."""
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.read(path, as_version=4)
            kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
            ExecutePreprocessor(kernel_name=kernel).preprocess(
                nb, {"metadata": {"path": str(path.parent)}}
            )
    except Exception as exc:
        lines = [line for line in strip_ansi(str(exc)).strip().splitlines() if line.strip()]
        return "failed", f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    return "passed", ""


def short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rows(
    grt: dict[str, dict[str, Any]], peer: dict[str, tuple[str, str]]
) -> tuple[list[list[str]], list[str]]:
    out, surprises = [], []
    for case in CASES:
        test = grt[case.path]
        ours = test["status"]
        theirs, why = peer[case.path]
        agree = ours == theirs  # nbconvert has no "error" (no verdict): a missing file fails
        if not agree and not case.peers:
            surprises.append(f"{case.path}: grt {ours}, nbconvert {theirs} ({why})")
        if agree and case.peers:
            surprises.append(f"{case.path}: agree although '{case.peers}' should make a difference")
        out.append(
            [
                f"`{case.path}`",
                f"{ours}: {short(test['message'], 60)}" if test["message"] else ours,
                f"{theirs}: {short(why, 50)}" if why else theirs,
                "yes" if agree else "**no**",
                "" if agree else case.peers,
            ]
        )
    return out, surprises


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    header("V1 — verdicts on the notebook corpus: grt vs nbconvert", COMMAND)
    with tempfile.TemporaryDirectory(prefix="grt-bench-verdicts-") as tmp:
        matrices, workspace = write_corpus(Path(tmp))
        grt_s, grt = run_grt(matrices, Path(tmp) / "out")
        start = time.perf_counter()
        peer = {case.path: run_nbconvert(workspace / case.path) for case in CASES}
        peer_s = time.perf_counter() - start
    lines, surprises = rows(grt, peer)
    agreed = sum(1 for line in lines if line[3] == "yes")
    explained = sum(
        1 for case, line in zip(CASES, lines, strict=True) if line[3] != "yes" and case.peers
    )
    print(
        table(
            ["notebook", "grt", "nbconvert ExecutePreprocessor", "agree", "why grt differs"], lines
        )
    )
    print(
        f"\n{len(CASES)} notebooks: grt and nbconvert agree on {agreed}; {explained} differ by a"
        f" documented policy; {len(surprises)} surprise(s).  "
    )
    print(
        f"Wall time: grt run --provider local (CLI, checks and all, notebooks side by side)"
        f" {grt_s:.1f} s; ExecutePreprocessor one notebook after another, in process {peer_s:.1f} s."
    )
    for surprise in surprises:
        print(f"- surprise: {surprise}")
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main())

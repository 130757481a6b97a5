"""The notebook corpus (tests/notebook_corpus.py) through ONE `grt run --provider local`: every
notebook gets the verdict its kind calls for, and what the run writes holds up — executed copies
valid nbformat, every failure with a JUnit body, what was cut listed everywhere (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.notebook_corpus import CASES, MACHINE, RUNTIME, Case, write_corpus

REPO = Path(__file__).resolve().parents[1]

# one run shared by every test here: with pytest-xdist, ``--dist loadgroup`` keeps them together
pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.xdist_group("notebook-corpus")]


class Corpus:
    def __init__(self, out: Path, proc: subprocess.CompletedProcess[str]) -> None:
        self.out = out
        self.proc = proc
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        (cell,) = results["cells"]
        self.cell = cell
        self.tests = {t["name"]: t for t in cell["tests"]}

    def test(self, case: Case) -> dict[str, Any]:
        return dict(self.tests["notebooks/" + case.path])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("corpus")
    matrices, _ = write_corpus(root)
    out = root / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GRT_"))}
    argv = ["run", "--matrices", str(matrices), "--runtime", RUNTIME, "--provider", "local"]
    proc = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
        check=False,
    )
    yield Corpus(out, proc)


def test_the_run_finishes_with_a_verdict_for_every_notebook(corpus: Corpus) -> None:
    assert corpus.proc.returncode == 1, corpus.proc.stderr[-3000:]  # some notebooks fail
    assert corpus.cell["machine"] == MACHINE
    assert corpus.cell["status"] == "failed"
    assert len(CASES) >= 40
    assert {"notebooks/" + c.path for c in CASES} <= set(corpus.tests)


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_verdict(corpus: Corpus, case: Case) -> None:
    test = corpus.test(case)
    assert test["status"] == case.expect, test
    assert test["message"].startswith(case.message), test["message"]
    assert case.contains in test["message"]
    if not case.message and not case.contains:
        assert test["message"] == ""
    if case.cell is not None or not case.contains:
        assert test.get("cell") == case.cell, test
    if test["message"].startswith("cell "):  # the number in the message is the one in the data
        assert test["message"].split()[1].rstrip(":") == str(test["cell"])
    if case.expect != "passed":
        assert test["details"], "every failure says more than its message"


def test_executed_copies_are_valid_nbformat(corpus: Corpus) -> None:
    folder = corpus.out / "notebooks" / MACHINE
    copies = sorted(folder.rglob("*.ipynb"))
    # every notebook that could be read has its copy; the broken files and the missing one none
    readable = {c.path for c in CASES if isinstance(c.content, dict)}
    assert {str(p.relative_to(folder)) for p in copies} == readable
    for path in copies:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "missing id" would be a warning, not an error
            nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)  # raises on the first problem


def executed(corpus: Corpus, path: str) -> dict[str, Any]:
    text = (corpus.out / "notebooks" / MACHINE / path).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_cells_after_a_failure_or_an_early_end_did_not_run(corpus: Corpus) -> None:
    for path, last in (("sysexit0.ipynb", 1), ("line_magic_error.ipynb", 0)):
        cells = executed(corpus, path)["cells"]
        assert cells[last]["execution_count"] is not None
        later = cells[last + 1 :]
        assert later and all(c["outputs"] == [] and c["execution_count"] is None for c in later)
    # stored outputs are not this run's: the old traceback and the nameless stream are gone
    cells = executed(corpus, "stored_outputs.ipynb")["cells"]
    assert cells[0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "fresh\n"}]


CUTS = {
    "big_image.ipynb": "cell 1: image/png (600,000 characters) dropped: notebook_chars=500000",
    "huge_stream.ipynb": "cell 1: 1 output(s) truncated to output_chars=20000",
    "big_html.ipynb": "cell 1: text/html (50,007 characters) dropped: over output_chars=20000",
}


@pytest.mark.parametrize("path", sorted(CUTS))
def test_what_was_cut_is_marked_and_listed_everywhere(corpus: Corpus, path: str) -> None:
    cut = corpus.tests["notebooks/" + path]["cut"]
    assert len(cut) == 1 and cut[0].startswith(CUTS[path]), cut
    outputs = executed(corpus, path)["cells"][0]["outputs"]
    assert "cut by gradient-runtime-test" in json.dumps(outputs)  # in the copy itself
    summary = (corpus.out / "summary.md").read_text(encoding="utf-8")
    assert f"`notebooks/{path}`: ✂️ cut: {CUTS[path][:30]}" in summary
    root = ET.parse(corpus.out / "junit.xml").getroot()
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "notebooks/" + path]
    assert f"cut from the executed copy: {cut[0]}" in (case.findtext("system-out") or "")


def test_every_failure_has_a_junit_body(corpus: Corpus) -> None:
    root = ET.parse(corpus.out / "junit.xml").getroot()
    bad = [
        case.get("name")
        for case in root.iter("testcase")
        for element in (case.find("failure"), case.find("error"))
        if element is not None and not (element.text or "").strip()
    ]
    failing = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert len(failing) >= 20
    assert bad == []


def test_each_notebook_says_where_its_time_went(corpus: Corpus) -> None:
    timing = corpus.tests["notebooks/timeout_meta_overridden.ipynb"]["timing"]
    assert {"kernel_start_s", "waiting_s", "cells_s", "shutdown_s", "total_s"} <= set(timing)
    assert 1.5 <= timing["cells_s"] < timing["total_s"]
    parts = sum(v for k, v in timing.items() if k != "total_s")
    assert parts <= timing["total_s"] + 0.01
    assert "warnings" not in corpus.tests["notebooks/plain.ipynb"]  # nothing slow here

"""Both deliveries of the harness end to end: carried in the command (the default; the other e2e
tests) and `--harness-from URL`, where the command only downloads the archive (`grt harness`
writes it) and checks its sha256. Against the fake Paperspace API and with the local provider;
the URL is a local HTTP server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from tests.carried import carried_harness
from tests.e2e.gradient_helpers import run_args, run_grt
from tests.e2e.workspace import REPO, make_matrices
from tests.fakes.paperspace import FakePaperspace

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """`folder` over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """The release asset, as `grt harness` writes it."""
    folder = tmp_path / "release"
    folder.mkdir()
    assert main(["harness", "--out", str(folder / "grt-harness.pyz")], env={}) == 0
    return folder


def test_harness_from_a_url_on_the_fake_platform(
    fake: FakePaperspace, tmp_path: Path, release: Path
) -> None:
    matrices = make_matrices(tmp_path)
    with serving(release) as base:
        url = f"{base}/grt-harness.pyz"
        proc = run_grt(
            fake, *run_args(matrices, tmp_path / "out", "--machine", "C5", "--harness-from", url)
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    assert [c["status"] for c in cells] == ["passed"]
    (notebook,) = fake.notebooks.values()
    command = notebook.spec.command or ""
    assert len(command) < 3_000
    assert str(carried_harness(command)).startswith(f"{url} ")


def test_a_tampered_archive_is_refused_and_the_notebook_ends(
    fake: FakePaperspace, tmp_path: Path, release: Path
) -> None:
    asset = release / "grt-harness.pyz"
    asset.write_bytes(asset.read_bytes() + b"\n# one more line")
    matrices = make_matrices(tmp_path)
    with serving(release) as base:
        argv = run_args(matrices, tmp_path / "out", "--machine", "C5")
        proc = run_grt(fake, *argv, "--harness-from", f"{base}/grt-harness.pyz")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (cell,) = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    assert cell["status"] == "error"
    assert "before the harness reported a result" in cell["reason"]
    assert any("sha256 mismatch" in line for line in cell.get("log_tail", [])) or (
        "sha256 mismatch" in (tmp_path / "out" / "logs" / "C5.log").read_text()
    )
    (notebook,) = fake.notebooks.values()
    assert notebook.state in ("Error", "Stopped") and notebook.returncode != 0  # never Jupyter


def test_harness_from_a_url_with_the_local_provider(tmp_path: Path, release: Path) -> None:
    matrices = make_matrices(tmp_path)
    with serving(release) as base:
        argv = ["run", "--matrices", str(matrices), "--runtime", "E2E Runtime", "--machine", "C5"]
        argv += ["--out", str(tmp_path / "out"), "--harness-from", f"{base}/grt-harness.pyz"]
        argv += ["--workspace", str(REPO / "examples" / "workspace")]
        code = main(argv, env={"PATH": os.environ["PATH"], "GRT_POLL_INTERVAL": "0.05"})
    (cell,) = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    assert (code, cell["status"]) == (0, "passed"), cell

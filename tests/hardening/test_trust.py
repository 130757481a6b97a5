"""Trust in a result: a notebook cannot forge it, read a secret, or blow up `grt` (issue 12).

- A notebook that hunts every process it can see (command lines, environments, open files) for the
  cell's bundle id and nonce, prints "all passed" frames for every id and candidate nonce it finds,
  and (one variant) kills the harness first, never turns a failing runtime `passed`: with the
  local provider and against the fake Paperspace API, both running the real notebook command
  (the command's bootstrap, the harness, real kernels). It never finds the nonce.
- A notebook that prints every environment it can read, reversed, under the local provider run
  by a `grt` process holding secrets in its environment finds none (the canaries would), or the
  run is refused up front where no namespace can be made.
- A result frame that inflates to a gigabyte, or JSON built to exhaust memory, is an `error` and
  `grt`'s peak memory stays far below 200 MB (measured: the `grt` process's maximum RSS).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.bundle import MAX_PAYLOAD_BYTES, frame_mac
from gradient_runtime_test.harness.protocol import Keep
from gradient_runtime_test.matrix.load import load_catalogue
from gradient_runtime_test.orchestrate import Orchestrator, options_for
from gradient_runtime_test.orchestrate.jobs import make_job
from gradient_runtime_test.plan import plan
from gradient_runtime_test.providers.local import LocalProvider, namespace_prefix
from tests.fakes.paperspace import FakeNotebook, FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import (
    bundle_id_of,
    gradient_env,
    make_workspace,
    notebook,
    results,
    spec_of,
    wait_until,
    write_matrices,
)
from tests.hardening.hunter import HUNT

pytestmark = [pytest.mark.server, pytest.mark.slow]


def needs_namespaces() -> None:
    if namespace_prefix() is None:
        reason = "this machine cannot make PID namespaces (unshare needs root or user namespaces)"
        if os.environ.get("CI"):
            pytest.fail(reason + ": CI must run the namespace tests")
        pytest.skip(reason)


# --- the forger ----------------------------------------------------------------------------------

FAILING = """\
name: Hardened
container: paperspace/gradient-base:pt112
workspace: https://github.com/hardening/workspace
machines: [C5]
notebooks: [hunt.ipynb, raise1.ipynb, raise2.ipynb]
checks: {{commands: [no-such-command-xyz], imports: [no_such_module_xyz]}}
environment: {{HUNT_REPORT: "{report}", HUNT_KILL: "{kill}"{extra}}}
"""
WORKSPACE = {
    "hunt.ipynb": notebook(HUNT),
    "raise1.ipynb": notebook("raise RuntimeError('the runtime is broken')"),
    "raise2.ipynb": notebook("1 / 0"),
}


@pytest.fixture
def workspace_files() -> dict[str, str]:
    """The workspace the fake Paperspace API serves (`ps`): the forger's, and the hello one."""
    return {**WORKSPACE, "hello.ipynb": notebook("print('hello')")}


def failing_runtime(tmp_path: Path, *, kill: bool, ids_file: Path | None = None) -> Path:
    extra = f', HUNT_IDS_FILE: "{ids_file}"' if ids_file else ""
    text = FAILING.format(report=tmp_path / "hunt.json", kill=int(kill), extra=extra)
    return write_matrices(tmp_path, text)


def check_forgery_failed(
    tmp_path: Path, cell: dict[str, Any], log: str, nonce: str, bundle_id: str
) -> None:
    hunted = json.loads((tmp_path / "hunt.json").read_text())
    assert bundle_id in hunted["ids"], "the test must give the forger the public id"
    assert nonce not in hunted["keys"] and nonce not in json.dumps(hunted)
    assert len(hunted["processes"]) >= 2  # it saw its ancestors (the harness, PID 1)
    # every frame it made for the id reached the log (one per candidate key, at most 400, and "")
    assert log.count(f"GRT-BUNDLE-BEGIN v2 {bundle_id} ") >= 1 + min(len(hunted["keys"]), 400)
    assert cell["status"] in ("failed", "error"), cell
    assert cell["status"] != "passed" and "H100" not in json.dumps(cell)
    assert "forged or repeated" in cell["reason"], cell["reason"]


@pytest.mark.kernel
@pytest.mark.parametrize("kill", [False, True], ids=["beside-the-harness", "harness-killed"])
def test_a_forging_notebook_never_passes_a_failing_runtime_locally(
    tmp_path: Path, kill: bool
) -> None:
    """The local provider as `grt run` drives it (jobs, orchestrator, provider), keeping the job
    in hand to know its nonce."""
    needs_namespaces()
    repo = make_workspace(tmp_path, WORKSPACE)
    catalogue = load_catalogue(failing_runtime(tmp_path, kill=kill))
    (cell,) = plan(catalogue, [catalogue.runtime("Hardened")], ()).cells
    provider = LocalProvider(base_env={"PATH": os.environ["PATH"]}, scratch_root=tmp_path)
    job = make_job(
        cell,
        provider=provider,
        run_id="r1",
        keep=Keep.NEVER,
        workspace=str(repo),
        ref=None,
        project_id=None,
    )
    try:
        (outcome,) = Orchestrator(provider, options_for(0.05, max_parallel=1)).run([job])
    finally:
        provider.close()
    result = outcome.result
    check_forgery_failed(
        tmp_path,
        {
            "status": result.status.value,
            "reason": result.reason,
            "tests": [(t.name, t.status.value) for t in result.tests],
            "environment": dict(result.environment),
        },
        "\n".join(outcome.log),
        job.nonce,
        job.bundle_id,
    )


@pytest.mark.kernel
@pytest.mark.parametrize("kill", [False, True], ids=["beside-the-harness", "harness-killed"])
def test_a_forging_notebook_never_passes_a_failing_runtime_on_the_fake_platform(
    ps: FakePaperspace, tmp_path: Path, canaries: Canaries, kill: bool
) -> None:
    if not ps.pid1:
        needs_namespaces()
    ids_file = tmp_path / "told-ids.txt"
    matrices = failing_runtime(tmp_path, kill=kill, ids_file=ids_file)
    env = gradient_env(ps, canaries.api_key)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    done: list[Any] = []
    thread = threading.Thread(
        target=lambda: done.append(canaries.grt([*argv, "--out", str(tmp_path / "out")], env))
    )
    thread.start()
    wait_until(lambda: bool(ps.notebooks), 60, "the notebook to be created")
    (nb,) = ps.notebooks.values()
    ids_file.write_text(bundle_id_of(nb))  # the attacker knows the public id (the name)
    thread.join(timeout=300)
    assert done and done[0].code == 1, done and done[0].text
    cell = results(tmp_path / "out")["C5"]
    check_forgery_failed(tmp_path, cell, nb.log_text(), spec_of(nb)["nonce"], bundle_id_of(nb))
    assert nb.returncode is not None  # the notebook ended (by the harness, the forger, or grt)


# --- secrets in grt's environment, local provider ------------------------------------------------

READ_ENVIRON = notebook(
    "import os\n"
    "for pid in sorted(os.listdir('/proc')):\n"
    "    if pid.isdigit():\n"
    "        try:\n"
    "            data = open('/proc/%s/environ' % pid, 'rb').read()\n"
    "        except OSError as exc:\n"
    "            print(pid, exc)\n"
    "            continue\n"
    "        text = data.decode(errors='replace')\n"
    "        print(pid, text[::-1])  # reversed: past any masking\n"
    "        os.write(1, (text[::-1] + '\\n').encode())\n",
    "1 / 0",
)
ENVIRON_RUNTIME = """\
name: Hardened
container: paperspace/gradient-base:pt112
machines: [C5]
notebooks: [environ.ipynb]
"""


def grt_process(argv: list[str], env: dict[str, str], canaries: Canaries) -> int:
    """`grt` as a process: secrets in its initial environment, where /proc shows them."""
    proc = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    canaries.texts += [("stdout of grt", proc.stdout), ("stderr of grt", proc.stderr)]
    return proc.returncode


def secret_env(tmp_path: Path, canaries: Canaries, path: str) -> dict[str, str]:
    return {
        "PATH": path,
        "HOME": str(tmp_path),
        "GRT_POLL_INTERVAL": "0.05",
        "PAPERSPACE_API_KEY": canaries.api_key,
        "GITHUB_TOKEN": canaries.token,
        "GH_TOKEN": canaries.token,
    }


@pytest.mark.kernel
def test_a_notebook_reading_every_environ_finds_no_secret_locally(
    tmp_path: Path, canaries: Canaries
) -> None:
    needs_namespaces()
    repo = make_workspace(tmp_path, {"environ.ipynb": READ_ENVIRON})
    matrices = write_matrices(tmp_path, ENVIRON_RUNTIME)
    env = secret_env(tmp_path, canaries, os.environ["PATH"])
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--workspace", str(repo)]
    code = grt_process([*argv, "--out", str(tmp_path / "out")], env, canaries)
    assert code == 1
    assert results(tmp_path / "out")["C5"]["status"] == "failed"
    executed = (tmp_path / "out" / "notebooks" / "C5" / "environ.ipynb").read_text()
    assert "=HTAP" in executed  # it did read and print environments, reversed ("PATH=")
    # and the canaries fixture finds neither secret, plain or reversed, anywhere under tmp_path


def test_without_namespaces_a_run_holding_secrets_is_refused(
    tmp_path: Path, canaries: Canaries
) -> None:
    stubs = tmp_path / "no-namespaces"
    stubs.mkdir()
    (stubs / "unshare").write_text("#!/bin/sh\necho 'unshare: not allowed' >&2\nexit 1\n")
    (stubs / "unshare").chmod(0o755)
    matrices = write_matrices(tmp_path, ENVIRON_RUNTIME)
    env = secret_env(tmp_path, canaries, f"{stubs}{os.pathsep}{os.environ['PATH']}")
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--out", "out"]
    proc = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    canaries.texts += [("stdout of grt", proc.stdout), ("stderr of grt", proc.stderr)]
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "GITHUB_TOKEN, GH_TOKEN, PAPERSPACE_API_KEY is set" in line
    assert "grt report --results DIR --comment" in line and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


# --- bombs ---------------------------------------------------------------------------------------


@functools.cache
def gigabyte_of_zeros() -> bytes:
    """gzip of 1 GiB of zeros (about 1 MB). Built from one fully flushed deflate block of a MiB
    of zeros, repeated (a full flush resets the compressor, so every such block is the same
    bytes), which takes a second where compressing the gigabyte takes ten."""
    block = b"\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + deflated * 1024 + packer.flush() + struct.pack("<II", crc, 1 << 30)


BOMBS: dict[str, Callable[[], bytes]] = {
    "gigabyte": gigabyte_of_zeros,
    "containers": lambda: gzip.compress(b"[" + b"[]," * (MAX_PAYLOAD_BYTES // 3 - 2) + b"[]]"),
    "depth": lambda: gzip.compress(b"[" * 500_000 + b"]" * 500_000),
}


def bomb_replay(kind: str) -> Callable[[FakeNotebook], str]:
    """A notebook log whose frame is authentic (the right nonce) but holds a bomb."""
    import base64
    import hashlib

    packed = BOMBS[kind]()

    def log(nb: FakeNotebook) -> str:
        bundle_id, nonce = bundle_id_of(nb), spec_of(nb)["nonce"]
        text = base64.b64encode(packed).decode()
        digest = hashlib.sha256(packed).hexdigest()
        chunks = [text[i : i + 900] for i in range(0, len(text), 900)]
        n = len(chunks)
        lines = [f"GRT-BUNDLE-BEGIN v2 {bundle_id} chunks={n} chars={len(text)} sha256={digest}"]
        lines += [f"GRT-BUNDLE {bundle_id} {i + 1}/{n} {c}" for i, c in enumerate(chunks)]
        lines.append(
            f"GRT-BUNDLE-END {bundle_id} mac={frame_mac(nonce, bundle_id, n, len(text), digest)}"
        )
        return "\n".join(lines) + "\n"

    return log


# Starts grt from a small process and prints its status and maximum RSS (KiB). A child's
# ru_maxrss counts the memory image it was forked from until its exec: measured straight from a
# pytest worker (hundreds of MB after a while), the worker's size would stand in for grt's.
_MEASURE = """
import os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "gradient_runtime_test", *sys.argv[1:]],
                     os.environ)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_mb(argv: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, float, str]:
    """Run `grt ARGV` as a process; its exit status, maximum RSS in MB, and stderr."""
    err = tmp_path / "grt.err"
    with err.open("w") as stderr:
        measured = subprocess.run(
            [sys.executable, "-c", _MEASURE, *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            check=True,
        )
    code, kib = measured.stdout.split()[-2:]
    return int(code), int(kib) / 1024, err.read_text()


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_a_bomb_frame_is_an_error_within_bounded_memory(
    ps: FakePaperspace, tmp_path: Path, canaries: Canaries, kind: str
) -> None:
    ps.faults.replay_log = bomb_replay(kind)
    matrices = write_matrices(tmp_path)
    env = gradient_env(ps, canaries.api_key)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    code, peak, err = peak_rss_mb(
        [*argv, "--machine", "C5", "--out", str(tmp_path / "out")], env, tmp_path
    )
    assert code == 1, err
    cell = results(tmp_path / "out")["C5"]
    assert cell["status"] == "error" and "over a cap" in cell["reason"], cell["reason"]
    print(f"grt's peak RSS with the {kind} bomb: {peak:.0f} MB")  # docs/reliability.md figures
    assert peak < 200, f"grt peaked at {peak:.0f} MB decoding the {kind} bomb"


def test_the_bombs_would_exhaust_memory_without_the_caps() -> None:
    """The bombs are real: the gigabyte one says 1 GiB in its trailer and starts inflating at
    over a thousand to one; the others are arrays 2.8 million wide or 500,000 deep."""
    packed = gigabyte_of_zeros()
    assert len(packed) < 1_100_000
    assert struct.unpack("<I", packed[-4:])[0] == 1 << 30  # gzip's ISIZE
    stream = zlib.decompressobj(31)
    first = stream.decompress(packed, 64 << 20)
    assert first == b"\0" * (64 << 20)
    assert len(packed) - len(stream.unconsumed_tail) < (64 << 20) // 1000
    containers = zlib.decompress(BOMBS["containers"](), 31)
    assert containers.count(b"[") > 2_700_000 and len(containers) <= MAX_PAYLOAD_BYTES
    assert zlib.decompress(BOMBS["depth"](), 31).startswith(b"[" * 500_000)


# --- SIGKILL: the notebook ends itself, with the platform's PID 1 ---------------------------------


@pytest.mark.kernel
def test_sigkilled_grt_leaves_notebooks_that_end_themselves(
    ps: FakePaperspace, tmp_path: Path, canaries: Canaries
) -> None:
    if not ps.pid1:
        needs_namespaces()
    ps.stop_grace_s = 1.0
    matrices = write_matrices(tmp_path)
    env = gradient_env(ps, canaries.api_key)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradient_runtime_test", *argv, "--out", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: any(nb.state == "Running" for nb in ps.notebooks.values()), 60, "Running")
    proc.kill()
    proc.wait()
    killed_at = time.time()
    stops_before = len(ps.requests_to("stopNotebook"))
    for nb in ps.notebooks.values():
        nb.wait_for_state("Stopped", "Error", timeout=120)
    for nb in ps.notebooks.values():
        end = next(r for r in nb.rows() if r.message.startswith("GRT-BUNDLE-END"))
        record = nb.to_json(ps.metrics_address)
        finished = _at(record["dtFinished"])
        assert nb.state == "Stopped" and nb.stop_reason is None, (nb.state, nb.stop_reason)
        assert finished - _at(end.timestamp) < 60, "ended more than 60 s after the harness"
        assert finished - killed_at < 120
    assert len(ps.requests_to("stopNotebook")) == stops_before  # nobody stopped them


def _at(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

"""`grt plan` and `grt validate` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from gradient_runtime_test.plan import normalise_repository

ROOT = Path(__file__).resolve().parents[1]
GPU11 = [
    "P4000",
    "RTX4000",
    "P5000",
    "P6000",
    "A4000",
    "V100",
    "V100-32G",
    "A5000",
    "A6000",
    "A100",
    "A100-80G",
]


def grt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), env={})
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(
    capsys: pytest.CaptureFixture[str], *argv: str, matrices: Path = ROOT / "matrices"
) -> dict:
    code, out, err = grt(capsys, "plan", "--matrices", str(matrices), "--format", "json", *argv)
    assert code == 0, err
    return json.loads(out)


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = grt(capsys, "validate", "--matrices", str(ROOT / "matrices"))
    assert code == 0
    assert out.startswith("OK: 12 runtimes and 34 machines")


def test_validate_reports_problems_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "runtimes").mkdir()
    (tmp_path / "machines.yaml").write_text("machines:\n  C5: {accelerator: cpu}\n")
    (tmp_path / "runtimes" / "x.yaml").write_text(
        "name: X\ncontainer: a/b\nmachines: [C55]\nnoteboks: []\n"
    )
    code, out, err = grt(capsys, "validate", "--matrices", str(tmp_path))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].endswith(
        "runtimes/x.yaml:3: machines[0]: unknown machine 'C55'; did you mean 'C5'? (valid: C5)"
    )
    assert "x.yaml:4: noteboks: unknown key 'noteboks'; did you mean 'notebooks'?" in lines[1]
    assert lines[-1] == "2 problems found."
    assert "Traceback" not in err


def test_plan_pytorch_lists_the_eleven_gpu_machines(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--runtime", "PyTorch 1.12")
    assert [c["machine"] for c in data["cells"]] == GPU11
    first = data["cells"][0]
    assert first["container"] == "paperspace/gradient-base:pt112-tf29-jax0314-py39-20220803"
    assert first["workspace"] == "https://github.com/gradient-ai/PyTorch"
    assert first["notebooks"] == ["quick_start_pytorch.ipynb"]
    assert data["estimated_cost_usd"] == round(
        sum([0.51, 0.56, 0.78, 1.10, 0.76, 2.30, 1.38, 1.89, 1.15]) * 0.5, 2
    )


@pytest.mark.parametrize(
    "repo",
    [
        "gradient-ai/TensorFlow",
        "https://github.com/gradient-ai/tensorflow",
        "https://github.com/Gradient-AI/TensorFlow.git",
        "git@github.com:gradient-ai/TensorFlow.git",
    ],
)
def test_plan_by_repository_any_url_form(capsys: pytest.CaptureFixture[str], repo: str) -> None:
    data = plan_json(capsys, "--repository", repo)
    assert {c["runtime"] for c in data["cells"]} == {"TensorFlow 2.9.1"}


def test_plan_by_repository_selects_all_runtimes_of_a_shared_workspace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = plan_json(capsys, "--repository", "fastai/fastbook")
    assert {c["runtime"] for c in data["cells"]} == {"Paperspace + Fast.AI"}


def test_plan_changed_runtime_file(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(
        capsys,
        "--changed-file",
        "matrices/runtimes/pytorch-ipu.yaml",
        "--changed-file",
        "README.md",
    )
    assert [(c["runtime"], c["machine"]) for c in data["cells"]] == [
        ("PyTorch on IPU", "Free-IPU-POD16")
    ]


def test_plan_changed_machines_file_without_base_selects_every_runtime(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    data = plan_json(capsys, "--changed-file", "matrices/machines.yaml")
    assert len({c["runtime"] for c in data["cells"]}) == 12


def test_plan_changed_machines_against_a_base_ref(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "matrices").mkdir(parents=True)
    for part in ("machines.yaml", "runtimes"):
        src = ROOT / "matrices" / part
        if src.is_dir():
            import shutil

            shutil.copytree(src, repo / "matrices" / part)
        else:
            (repo / "matrices" / part).write_text(src.read_text())
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    machines = repo / "matrices" / "machines.yaml"
    machines.write_text(machines.read_text().replace('IPU-POD16"}', 'IPU-POD16 (new)"}'))
    monkeypatch.chdir(repo)
    data = plan_json(
        capsys,
        "--changed-file",
        "matrices/machines.yaml",
        "--base-ref",
        "HEAD",
        matrices=Path("matrices"),
    )
    assert {c["runtime"] for c in data["cells"]} == {
        "Hugging Face Optimum on IPU",
        "PyTorch on IPU",
        "TensorFlow 2 on IPU",
    }


def test_plan_machine_filter_and_github_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = grt(
        capsys,
        "plan",
        "--matrices",
        str(ROOT / "matrices"),
        "--runtime",
        "PyTorch 1.12",
        "--machine",
        "A4000",
        "--machine",
        "A100",
        "--format",
        "github-matrix",
    )
    assert code == 0
    assert json.loads(out) == {
        "include": [
            {
                "runtime": "PyTorch 1.12",
                "slug": "pytorch-1-12",
                "machine": "A4000",
                "cell": "pytorch-1-12--A4000",
            },
            {
                "runtime": "PyTorch 1.12",
                "slug": "pytorch-1-12",
                "machine": "A100",
                "cell": "pytorch-1-12--A100",
            },
        ]
    }


def test_plan_table_shows_price_and_total(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = grt(
        capsys,
        "plan",
        "--matrices",
        str(ROOT / "matrices"),
        "--runtime",
        "PyTorch 1.12",
        "--expected-duration",
        "1h",
    )
    assert code == 0
    assert "A4000     1× A4000 16 GB    0.76" in out
    assert (
        "Estimated cost at 60 min per cell: $10.43 (2 cells without a public price not counted)"
        in out
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--runtime", "Pytorch 1.12"],
            "ERROR: --runtime: unknown runtime 'Pytorch 1.12'; did you mean 'PyTorch 1.12'?",
        ),
        (["--machine", "A400"], "ERROR: --machine: unknown machine 'A400'; did you mean 'A4000'?"),
        (
            ["--runtime", "PyTorch 1.12", "--machine", "C5"],
            "ERROR: --machine: 'C5' is not offered by PyTorch 1.12 (valid: A100, A100-80G",
        ),
        (
            ["--repository", "nobody/nothing"],
            "ERROR: --repository: no runtime has workspace 'nobody/nothing' (valid: fastai/fastbook, gradient-ai/clipit-pixeldraw",
        ),
        (
            ["--repository", "not a repo"],
            "ERROR: --repository: 'not a repo' is not a GitHub repository (valid: OWNER/NAME or its URL)",
        ),
        (
            ["--expected-duration", "soon"],
            "ERROR: --expected-duration: 'soon' is not a duration (valid: e.g. 90s, 30m, 6h, 1h30m, 2d)",
        ),
    ],
)
def test_plan_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = grt(capsys, "plan", "--matrices", str(ROOT / "matrices"), *argv)
    assert code == 2 and out == ""
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1


def test_normalise_repository() -> None:
    assert normalise_repository("https://github.com/O/R.git/") == "o/r"
    assert normalise_repository("O/R") == "o/r"
    assert normalise_repository("https://gitlab.com/o/r") == ""


def test_validate_and_plan_do_not_import_heavy_modules() -> None:
    """The CLI stays fast: no gradient SDK, PyGithub, nbclient or jupyter_client on these paths."""
    code = (
        "import sys\n"
        "from gradient_runtime_test.cli import main\n"
        "for argv in (['validate'], ['plan', '--format', 'json'], ['plan', '--changed-file', 'matrices/machines.yaml']):\n"
        "    assert main(argv, env={}) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'gradient', 'github', 'nbclient', 'jupyter_client', 'nbformat', 'jsonschema', 'requests', 'nbconvert', 'bleach'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stderr


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr

"""`grt init` through the real entry point: notebooks listed at the ref of a local repository
reached through the user's git config, machines from the catalogue; the file it writes validates
and plans, and it never overwrites or writes anything on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from gradient_runtime_test.cli import main
from gradient_runtime_test.commands.init import RUNTIME_SCHEMA_URL
from gradient_runtime_test.sources.scaffold import scalar
from tests.fakes.registry import FakeRegistry
from tests.sources.gitrepos import git, instead_of, make_repo, user_env

ROOT = Path(__file__).resolve().parents[2]
URL = "https://git.example.invalid/org/Fancy-Runtime.git"
MACHINES = """\
machines:
  C5: {accelerator: cpu}
  Free-CPU: {accelerator: cpu, free: true}
  A4000: {accelerator: gpu, count: 1, model: A4000, price_per_hour: 0.76}
  A6000x2: {accelerator: gpu, count: 2, model: A6000}
  Free-GPU: {accelerator: gpu, count: 1, free: true}
  Free-IPU-POD16: {accelerator: ipu, count: 16, free: true}
"""
FILES = {
    "intro.ipynb": "{}",
    "train/fine tune.ipynb": "{}",
    "train/eval.ipynb": "{}",
    "train/.ipynb_checkpoints/eval-checkpoint.ipynb": "{}",
    "odd/%2e%2e/x.ipynb": "{}",
    "README.md": "x",
}


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.env = user_env(tmp / "home")
        self.repo = tmp / "origin"
        self.commit = make_repo(self.repo, self.env, FILES)
        instead_of(self.env, URL, self.repo)
        self.matrices = tmp / "matrices"
        self.matrices.mkdir()
        (self.matrices / "machines.yaml").write_text(MACHINES)

    def grt(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main([*argv], env=self.env)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    def init(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        base = ["init", "--workspace", URL, "--container", "org/img:1", "--matrices"]
        return self.grt(capsys, *base, str(self.matrices), *argv)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_init_writes_a_file_that_validates_plans_and_checks(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = setup.init(capsys)
    assert code == 0, err
    file = setup.matrices / "runtimes" / "fancy-runtime.yaml"
    text = file.read_text()
    assert text.startswith(f"# yaml-language-server: $schema={RUNTIME_SCHEMA_URL}\n#\n")
    assert yaml.safe_load(text) == {
        "name": "Fancy-Runtime",
        "container": "org/img:1",
        "workspace": URL,
        "machines": ["A4000"],  # gpu: the paid single-GPU machines
        "notebooks": ["intro.ipynb", "train/eval.ipynb", "train/fine tune.ipynb"],
    }
    assert f"Wrote {file}: 3 of 4 notebooks at {URL} ({setup.commit[:12]}), 1 machine." in out
    assert "left out 'odd/%2e%2e/x.ipynb': " in out and "escapes the workspace" in out
    assert "grt plan --matrices" in out and "--runtime Fancy-Runtime --check-sources" in out
    assert setup.grt(capsys, "validate", "--matrices", str(setup.matrices))[0] == 0
    code, out, _ = setup.grt(capsys, "plan", "--matrices", str(setup.matrices), "--format", "json")
    (cell,) = json.loads(out)["cells"]
    assert cell["machine"] == "A4000" and len(cell["notebooks"]) == 3
    with FakeRegistry() as hub:
        hub.add_image("org/img", "1")
        setup.env["GRT_DOCKER_HUB_URL"] = hub.url
        code, _, err = setup.grt(
            capsys, "plan", "--matrices", str(setup.matrices), "--check-sources"
        )
    assert code == 0, err


def test_init_refuses_to_overwrite(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    assert setup.init(capsys, "--name", "Mine")[0] == 0
    file = setup.matrices / "runtimes" / "mine.yaml"
    before = file.read_bytes()
    code, out, err = setup.init(capsys, "--name", "Mine", "--machines", "cpu")
    assert (code, out) == (2, "")
    assert err == (
        f"ERROR: {file}: already exists and grt init never overwrites"
        " (valid: another --name, or edit that file)\n"
    )
    assert file.read_bytes() == before
    code, _, err = setup.init(capsys, "--name", "mine!")  # same slug, other file name: refused
    assert code == 2 and "already exists" in err
    (setup.matrices / "runtimes" / "other.yaml").write_text("name: Taken\n")
    code, _, err = setup.init(capsys, "--name", "Taken")
    assert code == 2
    assert err.startswith("ERROR: --name: 'Taken' is already the name of ")
    assert sorted(p.name for p in (setup.matrices / "runtimes").iterdir()) == [
        "mine.yaml",
        "other.yaml",
    ]


def test_notebooks_by_glob_machines_by_class_and_name_at_a_ref(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    git(setup.env, "tag", "v1", cwd=setup.repo)
    code, _, err = setup.init(
        capsys,
        "--name",
        "IPU 2.1",
        "--ref",
        "v1",
        "--notebook",
        "train/*",
        "--machines",
        "ipu, C5,A6000x2",
    )
    assert code == 0, err
    text = (setup.matrices / "runtimes" / "ipu-2-1.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["workspace_ref"] == "v1" and data["cluster_required"] is True
    assert data["machines"] == ["C5", "A6000x2", "Free-IPU-POD16"]  # catalogue order
    assert data["notebooks"] == ["train/eval.ipynb", "train/fine tune.ipynb"]
    assert "shutdown_timeout" not in data and "command" not in data  # defaults are not repeated


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--notebook", "nope/*"],
            "ERROR: --notebook: 'nope/*' matches no notebook at",
        ),
        (
            ["--machines", "A400"],
            "ERROR: --machines: unknown machine 'A400'; did you mean 'A4000'?",
        ),
        (["--ref", "nope"], f"ERROR: --workspace: 'nope' is not a branch or tag of {URL}"),
        (["--ref=a..b"], "ERROR: --ref: 'a..b' is not valid (valid: a branch, tag or commit)"),
        (["--container", "bad image"], "ERROR: --container: 'bad image' is not valid"),
        (["--name", "+++"], "ERROR: --name: '+++' gives no file name"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    setup: Setup, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = setup.init(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message) and len(err.splitlines()) == 1, err
    assert not (setup.matrices / "runtimes").exists()


def test_a_workspace_that_cannot_be_read_and_a_missing_catalogue(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = setup.grt(
        capsys,
        "init",
        "--workspace",
        "https://git.example.invalid/org/none",
        "--container",
        "org/img:1",
        "--matrices",
        str(setup.matrices),
    )
    assert code == 2 and err.startswith("ERROR: --workspace: git ls-remote failed: ")
    code, _, err = setup.grt(
        capsys, "init", "--workspace", URL, "--container", "o/i", "--matrices", str(tmp_path)
    )
    assert code == 2
    assert err == (
        f"ERROR: {tmp_path / 'machines.yaml'}: not found (valid: --matrices DIR, a folder holding machines.yaml)\n"
    )


def test_a_local_workspace_folder_in_this_repositorys_matrices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Beside a schema/ folder (as in this repository) the schema is referenced by path."""
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples)
    shutil.copytree(ROOT / "matrices" / "schema", examples / "matrices" / "schema")
    (examples / "workspace" / ".ipynb_checkpoints").mkdir()
    (examples / "workspace" / ".ipynb_checkpoints" / "hello-checkpoint.ipynb").write_text("{}")
    argv = ["init", "--workspace", "../workspace", "--container", "o/i:1", "--name", "Copy"]
    code = main([*argv, "--machines", "cpu", "--matrices", str(examples / "matrices")], env={})
    _, err = capsys.readouterr()
    assert code == 0, err
    text = (examples / "matrices" / "runtimes" / "copy.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema/runtime.schema.json\n")
    assert f"# {examples / 'workspace'}.\n" in text  # a folder: no commit
    assert yaml.safe_load(text)["notebooks"] == [
        "analysis/summary.ipynb",
        "hello.ipynb",
        "magics.ipynb",
    ]
    assert main(["validate", "--matrices", str(examples / "matrices")], env={}) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain/path.ipynb", "plain/path.ipynb"),
        ("with space.ipynb", '"with space.ipynb"'),
        ("yes", '"yes"'),
        ("1.10", '"1.10"'),
        ("a: b", '"a: b"'),
        ("#x", '"#x"'),
        ("Ünïcode", '"Ünïcode"'),
    ],
)
def test_scalars_read_back_as_the_same_string(value: str, expected: str) -> None:
    assert scalar(value) == expected
    assert yaml.safe_load(f"k: {scalar(value)}") == {"k": value}

"""`grt validate` also checks what a run would need (issue 14): every runtime's notebook command
within the platform's cap, and a local workspace folder that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from gradient_runtime_test.command import MAX_COMMAND_CHARS, notebook_command, notebook_spec
from gradient_runtime_test.commands.validate import FIXED_CHARS_BOUND, command_size
from gradient_runtime_test.harness.protocol import Keep
from gradient_runtime_test.matrix.load import load_catalogue

ROOT = Path(__file__).resolve().parents[1]


def runtime_file(root: Path) -> Path:
    return (root / "runtimes" / "big.yaml").resolve()


def grt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), env={})
    out, err = capsys.readouterr()
    return code, out, err


def matrices(tmp_path: Path, runtime: str) -> Path:
    root = tmp_path / "matrices"
    (root / "runtimes").mkdir(parents=True)
    (root / "machines.yaml").write_text(
        "machines:\n  C5: {accelerator: cpu}\n  A4000: {accelerator: gpu, model: A4000}\n"
    )
    (root / "runtimes" / "big.yaml").write_text(runtime)
    return root


def test_command_size_is_the_length_of_the_command_a_run_creates() -> None:
    catalogue = load_catalogue(ROOT / "matrices")
    for runtime in catalogue.runtimes:
        for name in runtime.machines:
            machine = catalogue.machines[name]
            spec = notebook_spec(runtime, machine, bundle_id="0123456789ab", keep=Keep.FAILED)
            command = notebook_command(spec, runtime.command)
            assert command_size(runtime, machine) == len(command), (runtime.name, name)
            # the quick bound validation starts with is a bound
            bound = command_size(runtime, machine, exact=False)
            assert len(command) < bound < len(command) + FIXED_CHARS_BOUND


def test_a_runtime_whose_command_is_over_the_cap_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [
        f"  - {{path: chapter_{i:03d}/a_rather_long_notebook_name_{i:03d}.ipynb,"
        f" parameters: {{learning_rate: 0.001, epochs: {i}}}}}\n"
        for i in range(400)
    ]
    root = matrices(
        tmp_path,
        "name: Big\ncontainer: img/x:1\nmachines: [C5, A4000]\nnotebooks:\n" + "".join(entries),
    )
    code, out, err = grt(capsys, "validate", "--matrices", str(root))
    assert (code, out) == (2, "")
    (line, summary) = err.strip().splitlines()
    assert line.startswith(
        f"{runtime_file(root)}:4: notebooks: runtime 'Big': the notebook command would be "
    )
    size = int(line.split("would be ")[1].split(" ")[0].replace(",", ""))
    assert size > MAX_COMMAND_CHARS
    assert f"characters on A4000 (valid: at most {MAX_COMMAND_CHARS:,}); split the runtime" in line
    assert "`grt run --harness-from URL`" in line
    assert summary == "1 problem found."
    # the same runtime with a few notebooks is fine
    (root / "runtimes" / "big.yaml").write_text(
        "name: Big\ncontainer: img/x:1\nmachines: [C5]\nnotebooks:\n" + "".join(entries[:20])
    )
    assert grt(capsys, "validate", "--matrices", str(root))[0] == 0


def test_a_missing_local_workspace_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = matrices(
        tmp_path,
        "name: Local\ncontainer: img/x:1\nworkspace: ../no-such-folder\nmachines: [C5]\n",
    )
    code, out, err = grt(capsys, "validate", "--matrices", str(root))
    assert (code, out) == (2, "")
    missing = (tmp_path / "no-such-folder").resolve()
    assert err.splitlines()[0] == (
        f"{runtime_file(root)}:3: workspace: local folder {missing} not found (valid: an"
        " existing folder, relative to the matrices folder, or an https:// git URL)"
    )
    (tmp_path / "no-such-folder").mkdir()
    assert grt(capsys, "validate", "--matrices", str(root))[0] == 0


def test_the_example_with_its_local_workspace_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = grt(capsys, "validate", "--matrices", str(ROOT / "examples" / "matrices"))
    assert (code, out.startswith("OK: 1 runtimes")) == (0, True)

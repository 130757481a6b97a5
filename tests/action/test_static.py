"""What act does not run or check, checked statically: zizmor's audit (permissions, triggers,
injection, pinning), and the stand-ins that the act runs use in place of third-party actions
(tests/action/standins/): one per action used, declaring every input and output used."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.action.act import STANDIN_OF, STANDINS
from tests.action.helpers import ACTION_YML, EXAMPLES, REPO, WORKFLOWS, load_yaml

ZIZMOR = Path(sys.prefix, "bin", "zizmor")
AUDITED = [ACTION_YML, *WORKFLOWS, *EXAMPLES]
THIRD_PARTY = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)@[0-9a-f]{40}$")


def zizmor(root: Path, *inputs: str) -> tuple[int, list[dict[str, Any]]]:
    """zizmor offline with this project's configuration: (exit code, findings of high severity)."""
    proc = subprocess.run(
        [str(ZIZMOR), "--offline", "--config", str(REPO / ".github" / "zizmor.yml"),
         "--min-severity", "high", "--format", "json", *inputs],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 11, 12, 13, 14), proc.stderr  # 1x: findings, by severity
    return proc.returncode, json.loads(proc.stdout or "[]")


def test_zizmor_finds_nothing_of_high_severity() -> None:
    inputs = [".", *(str(p.relative_to(REPO)) for p in EXAMPLES)]
    code, findings = zizmor(REPO, *inputs)
    described = [
        f"{f['ident']}: {f['locations'][0]['symbolic']['key']} {f['desc']}" for f in findings
    ]
    assert (code, described) == (0, [])


def test_zizmor_would_catch_script_injection(tmp_path: Path) -> None:
    """The gate can fail: a copy of ci.yml whose script expands the pull request's title."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    text = text.replace(
        '          echo "conclusion=$CONCLUSION passed=$PASSED failed=$FAILED"\n',
        '          echo "${{ github.event.pull_request.title }}"\n',
    )
    (workflows / "ci.yml").write_text(text)
    code, findings = zizmor(tmp_path, ".")
    assert code == 14
    assert [f["ident"] for f in findings] == ["template-injection"]


# --- the stand-ins ------------------------------------------------------------------------------


def third_party_steps() -> Iterator[tuple[Path, str, dict[str, Any], dict[str, Any]]]:
    """(file, action, step, all steps by id) for each third-party `uses:` in action.yml, the
    workflows and the examples."""
    for path in AUDITED:
        data = load_yaml(path)
        jobs = [data["runs"]] if "runs" in data else list(data["jobs"].values())
        for job in jobs:
            steps = job.get("steps", [])
            by_id = {s["id"]: s for s in steps if "id" in s}
            for step in steps:
                match = THIRD_PARTY.match(str(step.get("uses", "")))
                if match:
                    yield path, match["action"], step, by_id


def standin(action: str) -> dict[str, Any]:
    return load_yaml(STANDINS / STANDIN_OF[action] / "action.yml")


def test_every_third_party_action_has_a_stand_in_and_every_stand_in_is_used() -> None:
    used = {action for _, action, _, _ in third_party_steps()}
    assert used == set(STANDIN_OF)
    assert {p.name for p in STANDINS.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        STANDIN_OF.values()
    )


@pytest.mark.parametrize("action", sorted(STANDIN_OF))
def test_each_stand_in_says_what_it_stands_in_for(action: str) -> None:
    header = (STANDINS / STANDIN_OF[action] / "action.yml").read_text().split("\nname:")[0]
    assert header.startswith(f"# Stand-in for {action} (v")
    assert "no code of" in header
    runs = standin(action)["runs"]
    assert runs["using"] == "node20"  # like the actions they stand in for
    for stage in ("main", "post"):
        if stage in runs:
            script = (STANDINS / STANDIN_OF[action] / runs[stage]).read_text()
            assert f'"{STANDIN_OF[action]}", "{stage}"' in script


def test_stand_ins_declare_every_input_given_to_the_actions() -> None:
    for path, action, step, _ in third_party_steps():
        unknown = set(step.get("with") or {}) - set(standin(action)["inputs"])
        assert not unknown, f"{path.name}: {action} is given {sorted(unknown)}: add to its stand-in"


def test_stand_ins_declare_every_output_read_from_the_actions() -> None:
    for path, action, step, by_id in third_party_steps():
        if "id" not in step:
            continue
        text = path.read_text()
        read = set(re.findall(rf"steps\.{re.escape(step['id'])}\.outputs\.([\w-]+)", text))
        assert by_id[step["id"]] is step
        unknown = read - set(standin(action)["outputs"])
        assert not unknown, f"{path.name}: {action} outputs {sorted(unknown)} are read"


def test_stand_in_code_runs_on_python_3_8_with_the_standard_library_only() -> None:
    script = STANDINS / "standin.py"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())",
         "--target=3.8-", "--no-tips", "--violations", str(script)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = set(re.findall(r"^(?:import|from) ([\w]+)", script.read_text(), re.MULTILINE))
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_every_setup_uv_pins_the_uv_that_the_act_tests_install() -> None:
    """setup-uv's `version` (action.yml, ci.yml) is the `uv` dev dependency that
    tests/action/act.py puts in the runner's tool cache: bump them together."""
    lock = (REPO / "uv.lock").read_text()
    locked = re.search(r'\[\[package\]\]\nname = "uv"\nversion = "([^"]+)"', lock)
    assert locked, "uv is not a locked dev dependency"
    setups = [(p.name, s) for p, a, s, _ in third_party_steps() if a == "astral-sh/setup-uv"]
    assert {name for name, _ in setups} >= {"action.yml", "ci.yml"}
    for name, step in setups:
        assert (step.get("with") or {}).get("version") == locked.group(1), name

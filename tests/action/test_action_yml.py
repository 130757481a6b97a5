"""action.yml as a contract: metadata, every input forwarded through `env:` only, outputs mapped to
steps, third-party actions pinned by commit, and its steps clean under actionlint."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.action.helpers import (
    ACTION_YML,
    EXAMPLES,
    REPO,
    WORKFLOWS,
    expressions_in,
    load_action,
    run_actionlint,
)

ACTION = load_action()
INPUTS: dict[str, Any] = ACTION["inputs"]
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
SCRIPTS = {s["id"]: s for s in STEPS if "run" in s}
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # v\d+\.\d+\.\d+$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>.+?)\s*$", re.MULTILINE)


def test_metadata_names_describes_and_brands_a_composite_action() -> None:
    assert ACTION["name"] and ACTION["description"]
    assert ACTION["branding"]["icon"] and ACTION["branding"]["color"]
    assert ACTION["runs"]["using"] == "composite"


def test_every_input_and_output_is_described() -> None:
    for name, spec in {**INPUTS, **ACTION["outputs"]}.items():
        assert str(spec.get("description", "")).strip(), name
        assert "${{" not in spec["description"], f"{name}: an expression in a description"


def test_required_inputs_are_the_documented_ones() -> None:
    expected = {
        "api-key", "project-id", "runtime", "machines", "cluster-id", "workspace-ref", "matrices",
        "max-parallel", "keep", "fail-on", "comment", "check-run", "github-token", "mode",
        "results", "provider", "out",
    }  # fmt: skip
    assert expected <= set(INPUTS)
    assert INPUTS["github-token"]["default"] == "${{ github.token }}"
    assert INPUTS["provider"]["default"] == "gradient"
    assert INPUTS["out"]["default"] == "grt-results"
    assert INPUTS["mode"]["default"] == "run"


def test_no_expression_inside_any_run_script() -> None:
    """Script injection: an input (or event field) expanded into `run:` becomes shell code."""
    for step in STEPS:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_every_input_reaches_a_script_through_env_and_every_env_var_is_used() -> None:
    referenced: set[str] = set()
    for step in SCRIPTS.values():
        for var, value in (step.get("env") or {}).items():
            for expr in expressions_in(str(value)):
                referenced.update(re.findall(r"\binputs\.([\w-]+)", expr))
            # an env var that the script never reads is a forwarding bug waiting to happen (one
            # set to "" blanks what the job may hold: the local step's secrets)
            read = re.search(rf'\${{?{var}\b|environ\["{var}"\]', step["run"])
            assert read or var.startswith("UV_") or value == "", (
                f"step {step['id']}: env {var} is not used by its script"
            )
    assert referenced == set(INPUTS), f"inputs never forwarded: {set(INPUTS) - referenced}"


def test_inputs_that_grt_needs_are_in_the_grt_steps_env() -> None:
    env = " ".join(str(v) for v in SCRIPTS["grt"]["env"].values())
    forwarded = set(re.findall(r"\binputs\.([\w-]+)", env))
    via_prep = {
        "runtime", "workspace-ref", "matrices", "artifact-name", "allow-fork-code", "harness-from"
    }  # fmt: skip
    before = {"check-sources"}  # the sources step, before any notebook is created
    history = {"history-branch", "save-history"}  # the history steps, around grt's
    assert forwarded == set(INPUTS) - via_prep - before - history
    assert set(re.findall(r"\bsteps\.prep\.outputs\.([\w-]+)", env)) == {
        "runtime",
        "runtimes",
        "workspace-ref",
        "matrices",
        "artifact-name",  # what the reports name as the artifact holding the pages
        "harness-from",  # checked, and `release` resolved, by prep
    }


def test_secrets_go_to_grt_as_its_environment_variables() -> None:
    script = SCRIPTS["grt"]["run"]
    assert 'export PAPERSPACE_API_KEY="$INPUT_API_KEY"' in script
    assert 'export GITHUB_TOKEN="$INPUT_GITHUB_TOKEN"' in script
    assert "::add-mask::" in SCRIPTS["prep"]["run"]
    # the key is masked before the first command that could print it
    prep = SCRIPTS["prep"]["run"]
    assert prep.index("::add-mask::") < prep.index("grt plan")


def test_the_local_step_runs_notebooks_without_any_secret_and_grt_publishes_after_it() -> None:
    """With the local provider, notebook code runs on the runner: the step that runs it reads no
    secret (and blanks those a job sets); the grt step after it publishes with `grt report`."""
    order = [s.get("id") for s in STEPS]
    assert order.index("history") < order.index("local") < order.index("grt")
    local = SCRIPTS["local"]
    assert "inputs.provider == 'local'" in local["if"] and "inputs.mode == 'run'" in local["if"]
    env = {k: str(v) for k, v in local["env"].items()}
    secret_inputs = {"api-key", "github-token"}
    assert not secret_inputs & {i for v in env.values() for i in re.findall(r"inputs\.([\w-]+)", v)}
    assert not any("secrets." in v or "github.token" in v for v in env.values())
    assert {k: env[k] for k in ("GITHUB_TOKEN", "GH_TOKEN", "PAPERSPACE_API_KEY")} == dict.fromkeys(
        ("GITHUB_TOKEN", "GH_TOKEN", "PAPERSPACE_API_KEY"), ""
    )
    script = local["run"]
    assert "unset GITHUB_TOKEN GH_TOKEN PAPERSPACE_API_KEY" in script
    assert "--provider local" in script and "--fail-on never" in script
    # the history it reads is a copy: the grt step records this run's results, once
    assert '--history "$GRT_HISTORY_COPY"' in script
    grt = SCRIPTS["grt"]["run"]
    local_branch = grt[grt.index('if [ "$INPUT_PROVIDER" = local ]') : grt.index("args=(run ")]
    assert 'report --results "$INPUT_OUT/results.json"' in local_branch
    assert "history[@]" in local_branch and "publish[@]" in local_branch


def test_doctor_mode_runs_grt_doctor_with_what_it_checks() -> None:
    prep, script = SCRIPTS["prep"]["run"], SCRIPTS["grt"]["run"]
    assert 'one_of mode "$INPUT_MODE" run plan report doctor' in prep
    doctor = script[script.index("doctor)") : script.index(";;", script.index("doctor)"))]
    assert "args=(doctor " in doctor and 'exec grt "${args[@]}"' in doctor
    for flag, var in (
        ("--runtime", "$runtime"),
        ("--project-id", "$INPUT_PROJECT_ID"),
        ("--cluster-id", "$INPUT_CLUSTER_ID"),
    ):
        assert f'args+=({flag} "{var}")' in doctor, flag
    # --matrices and every --machine come from the arguments every mode shares
    assert script.index('args=(--matrices "$GRT_MATRICES_DIR")') < script.index("doctor)")
    assert "mode: doctor" in (REPO / "docs" / "action.md").read_text()


def test_outputs_come_from_the_grt_step() -> None:
    ids = {s.get("id") for s in STEPS}
    for name, spec in ACTION["outputs"].items():
        refs = re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", spec["value"])
        assert refs and refs[0] == ("grt", name), name
        assert all(step in ids for step, _ in refs), name


def test_install_is_locked_private_and_from_the_action_path() -> None:
    install = SCRIPTS["install"]
    assert (
        "uv sync --frozen" in install["run"] and '--project "$GITHUB_ACTION_PATH"' in install["run"]
    )
    assert install["env"]["UV_PROJECT_ENVIRONMENT"] == "${{ runner.temp }}/grt-venv"
    python = next(s for s in STEPS if s.get("id") == "python")
    assert python["with"]["update-environment"] is False
    upload = next(s for s in STEPS if "upload-artifact" in s.get("uses", ""))
    assert upload["if"].startswith("always()")
    assert upload["with"]["path"] == "${{ inputs.out }}"


@pytest.mark.parametrize(
    "path", [ACTION_YML, *WORKFLOWS, *EXAMPLES], ids=lambda p: str(p.relative_to(REPO))
)
def test_third_party_actions_are_pinned_by_commit_with_a_version_comment(path: Any) -> None:
    for m in USES_LINE.finditer(path.read_text(encoding="utf-8")):
        ref = m.group("ref")
        if ref.startswith("./") or ref == "./" or "/gradient-runtime-test@" in ref:
            continue  # this action itself
        assert PINNED.match(ref), f"{path.name}: {ref!r} is not `owner/repo@<sha> # vX.Y.Z`"


def test_one_commit_per_third_party_action_everywhere() -> None:
    seen: dict[str, set[str]] = {}
    for path in [ACTION_YML, *WORKFLOWS, *EXAMPLES]:
        for m in USES_LINE.finditer(path.read_text(encoding="utf-8")):
            if pinned := PINNED.match(m.group("ref")):
                seen.setdefault(pinned["action"], set()).add(m.group("ref"))
    assert {a: refs for a, refs in seen.items() if len(refs) > 1} == {}


def test_steps_lint_clean_as_a_workflow() -> None:
    """actionlint reads no action metadata, so its steps are linted as the steps of a job whose
    workflow_call inputs are the action's inputs: expression types, step ids, untrusted input in
    scripts."""
    workflow = {
        "name": "action.yml as a workflow",
        "on": {
            "workflow_call": {
                "inputs": {name: {"type": "string", "required": False} for name in INPUTS}
            }
        },
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "outputs": {k: v["value"] for k, v in ACTION["outputs"].items()},
                "steps": STEPS,
            }
        },
    }
    text = yaml.safe_dump(workflow, sort_keys=False, width=10_000)
    proc = run_actionlint("--stdin", "action.yml (its steps as a workflow)", stdin=text)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Hostile matrices and command lines: each is refused with one clear message naming the file,
field or flag and the value, exit status 2, no traceback, nothing created, and not a single request
to the (started) fake Paperspace API or fake GitHub API. Valid values full of shell
metacharacters reach the notebook literally (tests/hardening/test_literal_values.py).

Every case runs the real thing: `grt run --provider gradient` (not a dry run) with an API key, a
project and, for the GitHub flags, a pull request's Actions environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import MACHINES, asked, gradient_env, write_matrices

# 70,400 hex digits: the spec travels compressed, and these do not compress below ~35 kB
INCOMPRESSIBLE = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(2200))

pytestmark = pytest.mark.server

F = "matrices/runtimes/hostile.yaml"
M = "matrices/machines.yaml"
BASE = {
    "name": "Hostile",
    "container": "paperspace/gradient-base:pt112",
    "workspace": "https://github.com/hardening/workspace",
    "machines": "[C5]",
    "notebooks": "[hello.ipynb]",
}
PWNED = "pwned"  # what an injected `touch` would create, in the working folder


def rt(extra: str = "", **fields: str) -> str:
    """The base runtime (lines 1-5), fields replaced (raw YAML), `extra` lines from line 6."""
    lines = [f"{key}: {fields.get(key, value)}" for key, value in BASE.items()]
    lines += [f"{key}: {value}" for key, value in fields.items() if key not in BASE]
    return "\n".join(lines) + "\n" + extra


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[str, ...]  # fragments of stderr ({f}: the runtime file, {m}: machines.yaml)
    runtime: str | bytes = dataclasses.field(default_factory=rt)
    machines: str = MACHINES
    file: str = "hostile"
    argv: tuple[str, ...] = ()  # more `grt run` flags
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    command: tuple[str, ...] | None = None  # another command instead of `grt run`


LONG = "x" * 300_000
MATRIX_CASES = [
    # --- wrong types -----------------------------------------------------------------------------
    Case("name-int", ("{f}:1: name: must be a string, not an integer",), rt(name="123")),
    Case("name-list", ("{f}:1: name: must be a string, not a list",), rt(name="[a, b]")),
    Case("machines-string", ("{f}:4: machines: must be a list, not a string",), rt(machines="C5")),
    Case(
        "notebooks-mapping",
        ("{f}:5: notebooks: must be a list, not a mapping",),
        rt(notebooks="{hello.ipynb: yes}"),
    ),
    Case(
        "environment-list",
        ("{f}:6: environment: must be a mapping of NAME: value, not a list",),
        rt(environment="[A, B]"),
    ),
    Case("checks-string", ("{f}:6: checks: must be a mapping, not a string",), rt(checks="git")),
    Case(
        "shutdown-string",
        ("{f}:6: shutdown_timeout: must be an integer, not a string (valid: 1 to 168 hours)",),
        rt(shutdown_timeout='"6"'),
    ),
    Case(
        "ref-is-a-date",
        ("{f}:6: workspace_ref: must be a string, not date",),
        rt(workspace_ref="2024-01-01"),
    ),
    Case("name-binary", ("{f}:1: name: must be a string, not bytes",), rt(name="!!binary aGk=")),
    Case("key-int", ("{f}:6: (file): key '1' must be a string",), rt("1: one\n")),
    # --- YAML bombs, sizes and encodings ---------------------------------------------------------
    Case(
        "quadratic-blowup",
        ("{f}:6: (file): document expands to more than 2,000,000 characters",),
        rt(f'description: &a "{LONG}"\nchecks:\n  commands: [' + ", ".join(["*a"] * 40) + "]\n"),
    ),
    Case(
        "deep-nesting",
        ("(file): values are nested more than 50 levels deep",),
        rt("checks:\n" + "".join(" " * (i + 1) + "-\n" for i in range(900)) + " " * 901 + "x\n"),
    ),
    Case(
        "integer-of-5000-digits",
        ("{f}:6: (file): invalid value: Exceeds the limit (4300 digits)",),
        rt("shutdown_timeout: " + "9" * 5000 + "\n"),
    ),
    Case(
        "file-over-1-mb",
        ("{f}:1: (file): file is 1,000,1", "bytes (valid: at most 1,000,000)"),
        rt("# " + "x" * 1_000_000 + "\n"),
    ),
    Case(
        "latin-1",
        ("{f}:1: (file): not valid UTF-8 (byte 12: 0xe9)",),
        rt().replace("Hostile", "Hostil\xe9").encode("latin-1"),
    ),
    Case(
        "utf-16-with-bom",
        ("{f}:1: (file): not valid UTF-8 (byte 0: 0xff)",),
        rt().encode("utf-16"),
    ),
    Case(
        "tab-indentation-in-a-mapping",
        ("{f}:7: (file): invalid YAML:", "(a tab: YAML indentation must use spaces)"),
        rt("environment:\n\tA: b\n"),
    ),
    Case(
        "nested-duplicate-key",
        ("{f}:6: (file): duplicate key 'commands' (first on line 6)",),
        rt("checks: {commands: [git], commands: [curl]}\n"),
    ),
    Case(
        "two-documents",
        ("{f}:6: (file): invalid YAML: expected a single document",),
        rt("---\nname: Other\n"),
    ),
    Case("only-whitespace", ("{f}:1: (file): is empty (valid: a YAML mapping)",), "  \n\n   \n"),
    Case("only-comments", ("{f}:1: (file): is empty (valid: a YAML mapping)",), "# nothing\n"),
    Case("only-a-document-marker", ("{f}:1: (file): is empty",), "---\n...\n"),
    Case("a-list", ("{f}:1: (file): must be a mapping, not a list",), "- name: Hostile\n"),
    Case(
        "merge-key",
        ("{f}:7: (file): merge keys (<<) are not supported",),
        rt("x: &x {a: 1}\n<<: *x\n"),
    ),
    Case(
        "custom-tag",
        ("{f}:1: (file): invalid value: could not determine a constructor",),
        rt(name="!shell id"),
    ),
    # --- unknown fields --------------------------------------------------------------------------
    Case(
        "unknown-check",
        ("{f}:6: checks.comands: unknown key 'comands'; did you mean 'commands'?",),
        rt("checks: {comands: [git]}\n"),
    ),
    Case(
        "unknown-expected-failure-key",
        ("{f}:6: expected_failures[0].machines: unknown key 'machines'",),
        rt("expected_failures: [{machine: C5, machines: C5, test: checks/python, reason: r}]\n"),
    ),
    Case(
        "unknown-machine-key",
        ("{m}:2: machines.C5.gpus: unknown key 'gpus'",),
        machines="machines:\n  C5: {accelerator: cpu, gpus: 1}\n",
    ),
    # --- shell metacharacters where they cannot be valid -----------------------------------------
    Case(
        "name-with-newline",
        ("{f}:1: name: 'Hostile\\n$(touch pwned)' contains a control character",),
        rt(name='"Hostile\\n$(touch pwned)"'),
    ),
    Case(
        "name-101-characters",
        ("{f}:1: name: is 101 characters long (valid: at most 100)",),
        rt(name="n" * 101),
    ),
    Case(
        "container-command-substitution",
        ("{f}:2: container: 'img:1$(touch pwned)' is not valid",),
        rt(container='"img:1$(touch pwned)"'),
    ),
    Case(
        "container-backticks",
        ("{f}:2: container: 'img:`touch pwned`' is not valid",),
        rt(container='"img:`touch pwned`"'),
    ),
    Case(
        "workspace-semicolon",
        ("{f}:3: workspace: 'https://github.com/o/r;touch pwned' is not valid",),
        rt(workspace='"https://github.com/o/r;touch pwned"'),
    ),
    Case(
        "workspace-ref-option",
        (
            "{f}:6: workspace_ref: '--upload-pack=touch pwned' is not valid (valid: a branch, tag or commit)",
        ),
        rt(workspace_ref='"--upload-pack=touch pwned"'),
    ),
    Case(
        "workspace-ref-substitution",
        ("{f}:6: workspace_ref: '$(touch pwned)' is not valid",),
        rt(workspace_ref='"$(touch pwned)"'),
    ),
    Case(
        "cluster-id-semicolon",
        ("{f}:6: cluster_id: 'c1;touch pwned' is not valid",),
        rt(cluster_id='"c1;touch pwned"'),
    ),
    Case(
        "command-check-with-semicolon",
        (
            "{f}:6: checks.commands[0]: 'git;touch pwned' is not valid (valid: command names like git)",
        ),
        rt("checks: {commands: ['git;touch pwned']}\n"),
    ),
    Case(
        "import-with-code",
        ("{f}:6: checks.imports[0]: \"os;os.system('touch pwned')\" is not valid",),
        rt("checks: {imports: [\"os;os.system('touch pwned')\"]}\n"),
    ),
    Case(
        "file-name-substitution",
        (
            "matrices/runtimes/$(touch pwned).yaml:1: (file): file name '$(touch pwned).yaml' is not valid",
        ),
        file="$(touch pwned)",
    ),
    Case(
        "machine-name-semicolon",
        ("{m}:2: machines.A4000;id: 'A4000;id' is not a valid machine name",),
        machines="machines:\n  A4000;id: {accelerator: gpu}\n  C5: {accelerator: cpu}\n",
    ),
    # --- notebook paths --------------------------------------------------------------------------
    Case(
        "path-up-in-the-middle",
        ("{f}:5: notebooks[0]: 'a/../../b.ipynb' escapes the workspace",),
        rt(notebooks="[a/../../b.ipynb]"),
    ),
    Case(
        "path-dot-slash-up",
        ("{f}:5: notebooks[0]: './../x.ipynb' escapes the workspace",),
        rt(notebooks="[./../x.ipynb]"),
    ),
    Case(
        "path-percent-encoded",
        (
            "{f}:5: notebooks[0]: '%2e%2e/x.ipynb' escapes the workspace once decoded as '../x.ipynb'",
        ),
        rt(notebooks="['%2e%2e/x.ipynb']"),
    ),
    Case(
        "path-percent-encoded-slash",
        ("{f}:5: notebooks[0]: '..%2fx.ipynb' escapes the workspace once decoded as '../x.ipynb'",),
        rt(notebooks="['..%2fx.ipynb']"),
    ),
    Case(
        "path-fullwidth-dots",
        (
            "{f}:5: notebooks[0]: '\uff0e\uff0e/x.ipynb' escapes the workspace once decoded as '../x.ipynb'",
        ),
        rt(notebooks="['\uff0e\uff0e/x.ipynb']"),
    ),
    Case(
        "path-two-dot-leader",
        (
            "{f}:5: notebooks[0]: '\u2025/x.ipynb' escapes the workspace once decoded as '../x.ipynb'",
        ),
        rt(notebooks="['\u2025/x.ipynb']"),
    ),
    Case(
        "path-backslash",
        ("{f}:5: notebooks[0]: '..\\\\x.ipynb' is absolute",),
        rt(notebooks="['..\\x.ipynb']"),
    ),
    Case(
        "path-home",
        ("{f}:5: notebooks[0]: '~/x.ipynb' is absolute",),
        rt(notebooks="['~/x.ipynb']"),
    ),
    Case(
        "path-not-a-notebook",
        ("{f}:5: notebooks[0]: 'run.sh' is not a notebook",),
        rt(notebooks="[run.sh]"),
    ),
    # --- environment -----------------------------------------------------------------------------
    Case(
        "env-name-with-equals",
        ("{f}:7: environment.A=B: 'A=B' is not a valid variable name",),
        rt('environment:\n  "A=B": x\n'),
    ),
    Case(
        "env-name-with-newline",
        ("{f}:7: environment.A\nB: 'A\\nB' is not a valid variable name",),
        rt('environment:\n  "A\\nB": x\n'),
    ),
    Case(
        "env-value-with-newline",
        ("{f}:7: environment.A: contains a newline or NUL (valid: a single-line string)",),
        rt('environment:\n  A: "x\\ntouch pwned"\n'),
    ),
    Case(
        "env-value-null",
        ("{f}:7: environment.A: must be a string, not empty (null)",),
        rt("environment:\n  A:\n"),
    ),
    Case(
        "env-github-token",
        ("{f}:7: environment.GH_TOKEN: 'GH_TOKEN' may not be set",),
        rt("environment:\n  GH_TOKEN: x\n"),
    ),
    Case(
        "env-grt-prefix",
        ("{f}:7: environment.GRT_SPEC: 'GRT_SPEC' may not be set",),
        rt("environment:\n  GRT_SPEC: x\n"),
    ),
    # --- numbers out of range --------------------------------------------------------------------
    Case(
        "timeout-zero",
        ("{f}:5: notebooks[0].timeout: 0 is out of range (valid: 1 to 86400 seconds)",),
        rt(notebooks="[{path: hello.ipynb, timeout: 0}]"),
    ),
    Case(
        "timeout-negative",
        ("notebooks[0].timeout: -5 is out of range",),
        rt(notebooks="[{path: hello.ipynb, timeout: -5}]"),
    ),
    Case(
        "timeout-a-day-and-a-second",
        ("notebooks[0].timeout: 86401 is out of range",),
        rt(notebooks="[{path: hello.ipynb, timeout: 86401}]"),
    ),
    Case(
        "timeout-float",
        ("notebooks[0].timeout: must be an integer, not a number",),
        rt(notebooks="[{path: hello.ipynb, timeout: 1.5}]"),
    ),
    Case(
        "timeout-boolean",
        ("notebooks[0].timeout: must be an integer, not a boolean",),
        rt(notebooks="[{path: hello.ipynb, timeout: true}]"),
    ),
    Case(
        "timeout-infinite",
        ("notebooks[0].timeout: must be an integer, not a number",),
        rt(notebooks="[{path: hello.ipynb, timeout: .inf}]"),
    ),
    Case(
        "shutdown-zero",
        ("{f}:6: shutdown_timeout: 0 is out of range (valid: 1 to 168 hours)",),
        rt(shutdown_timeout="0"),
    ),
    Case(
        "machine-count-1000",
        ("{m}:2: machines.A4000.count: 1000 is out of range (valid: 1 to 64)",),
        machines="machines:\n  A4000: {accelerator: gpu, count: 1000}\n  C5: {accelerator: cpu}\n",
    ),
    Case(
        "price-negative",
        ("{m}:2: machines.C5.price_per_hour: -1 is out of range",),
        machines="machines:\n  C5: {accelerator: cpu, price_per_hour: -1}\n",
    ),
    # --- notebook parameters ---------------------------------------------------------------------
    Case(
        "parameter-keyword",
        ("{f}:5: notebooks[0].parameters.class: 'class' is a Python keyword",),
        rt(notebooks="[{path: hello.ipynb, parameters: {class: 1}}]"),
    ),
    Case(
        "parameter-nan",
        ("{f}:5: notebooks[0].parameters.lr: holds .nan or .inf",),
        rt(notebooks="[{path: hello.ipynb, parameters: {lr: .nan}}]"),
    ),
    Case(
        "parameter-name-code",
        ("notebooks[0].parameters.x;import os: 'x;import os' is not a Python identifier",),
        rt(notebooks="[{path: hello.ipynb, parameters: {'x;import os': 1}}]"),
    ),
    Case(  # the command carries the spec compressed: a value that does not compress
        "parameter-too-big-for-a-command",
        ("ERROR: runtime 'Hostile': the notebook command would be", "(valid: at most 60,000;"),
        rt(notebooks="[{path: hello.ipynb, parameters: {blob: '" + INCOMPRESSIBLE + "'}}]"),
    ),
]


# --- the command line --------------------------------------------------------------------------

CLI_CASES = [
    Case(
        "flag-max-parallel-zero",
        ("ERROR: --max-parallel: 0 is out of range (valid: 1 to 100)",),
        argv=("--max-parallel", "0"),
    ),
    Case(
        "flag-max-parallel-negative",
        ("--max-parallel: -3 is out of range",),
        argv=("--max-parallel=-3",),
    ),
    Case(
        "flag-max-parallel-huge",
        ("--max-parallel: 1000 is out of range",),
        argv=("--max-parallel", "1000"),
    ),
    Case(
        "flag-max-parallel-word",
        ("argument --max-parallel: invalid int value: 'two'",),
        argv=("--max-parallel", "two"),
    ),
    Case(
        "flag-keep-sometimes",
        ("argument --keep: invalid choice: 'sometimes'",),
        argv=("--keep", "sometimes"),
    ),
    Case(
        "flag-provider-unknown",
        ("argument --provider: invalid choice: 'cloud'",),
        argv=("--provider", "cloud"),
    ),
    Case(
        "flag-fail-on-unknown",
        ("argument --fail-on: invalid choice: 'maybe'",),
        argv=("--fail-on", "maybe"),
    ),
    Case("flag-unknown-flag", ("unrecognized arguments: --parallel 3",), argv=("--parallel", "3")),
    Case(
        "flag-harness-from-not-a-url",
        (
            "ERROR: --harness-from: 'file:///etc/passwd' is not valid (valid: an https:// or http://",
        ),
        argv=("--harness-from", "file:///etc/passwd"),
    ),
    Case(
        "flag-harness-from-shell",
        ("--harness-from: 'https://x.example/a.pyz;reboot' is not valid",),
        argv=("--harness-from", "https://x.example/a.pyz;reboot"),
    ),
    Case(
        "flag-runtime-substitution",
        ("ERROR: --runtime: unknown runtime '$(touch pwned) `touch pwned`'",),
        argv=("--runtime", "$(touch pwned) `touch pwned`"),
    ),
    Case(
        "flag-runtime-newline",
        ("--runtime: unknown runtime 'Hostile\\ntouch pwned'",),
        argv=("--runtime", "Hostile\ntouch pwned"),
    ),
    Case(
        "flag-machine-semicolon",
        ("ERROR: --machine: unknown machine 'C5;touch pwned'",),
        argv=("--machine", "C5;touch pwned"),
    ),
    Case(
        "flag-machine-not-offered",
        ("--machine: 'A4000' is not offered by Hostile",),
        argv=("--machine", "A4000"),
    ),
    Case(
        "flag-workspace-ref-option-form",
        ("argument --workspace-ref: expected one argument",),
        argv=("--workspace-ref", "-x"),
    ),
    Case(
        "flag-workspace-ref-dash",
        ("ERROR: --workspace-ref: '-x' is not valid (valid: a branch, tag or commit)",),
        argv=("--workspace-ref=-x",),
    ),
    Case(
        "flag-workspace-ref-upload-pack",
        ("--workspace-ref: '--upload-pack=touch pwned' is not valid",),
        argv=("--workspace-ref=--upload-pack=touch pwned",),
    ),
    Case(
        "flag-workspace-ref-semicolon",
        ("--workspace-ref: 'main;touch pwned' is not valid",),
        argv=("--workspace-ref", "main;touch pwned"),
    ),
    Case(
        "flag-workspace-ref-substitution",
        ("--workspace-ref: '$(touch pwned)' is not valid",),
        argv=("--workspace-ref", "$(touch pwned)"),
    ),
    Case(
        "flag-workspace-ref-dot-dot",
        ("--workspace-ref: 'main..evil' is not valid",),
        argv=("--workspace-ref", "main..evil"),
    ),
    Case(
        "flag-workspace-semicolon",
        ("ERROR: --workspace: 'https://github.com/o/r;touch pwned' is not valid",),
        argv=("--workspace", "https://github.com/o/r;touch pwned"),
    ),
    Case(
        "flag-workspace-substitution",
        ("--workspace: 'https://github.com/o/$(touch pwned)' is not valid",),
        argv=("--workspace", "https://github.com/o/$(touch pwned)"),
    ),
    Case(
        "flag-workspace-space-option",
        ("--workspace: 'https://github.com/o/r --upload-pack=x' is not valid",),
        argv=("--workspace", "https://github.com/o/r --upload-pack=x"),
    ),
    Case(
        "flag-workspace-file-url",
        ("workspace 'file:///etc': the gradient provider clones a git URL",),
        argv=("--workspace", "file:///etc"),
    ),
    Case(
        "flag-workspace-dash",
        ("--workspace: '--upload-pack=touch pwned' is not valid",),
        argv=("--workspace=--upload-pack=touch pwned",),
    ),
    Case(
        "flag-cluster-id-semicolon",
        ("ERROR: --cluster-id: 'c1;touch pwned' is not valid",),
        argv=("--cluster-id", "c1;touch pwned"),
    ),
    Case(
        "flag-project-id-substitution",
        ("ERROR: --project-id: '$(touch pwned)' is not valid",),
        argv=("--project-id", "$(touch pwned)"),
    ),
    Case(
        "flag-project-id-env-space",
        ("ERROR: PAPERSPACE_PROJECT_ID: 'pr1 pr2' is not valid",),
        env={"PAPERSPACE_PROJECT_ID": "pr1 pr2"},
    ),
    Case(
        "flag-out-is-a-file",
        ("ERROR: --out: 'a-file' cannot hold the results",),
        argv=("--out", "a-file"),
    ),
    Case(
        "flag-out-below-a-file",
        ("ERROR: --out: 'a-file/out' cannot hold the results",),
        argv=("--out", "a-file/out"),
    ),
    Case(
        "flag-matrices-missing",
        ("matrices-nowhere: matrices folder not found",),
        argv=("--matrices", "matrices-nowhere"),
    ),
    Case(
        "flag-poll-interval-word",
        ("ERROR: GRT_POLL_INTERVAL: 'soon' is not valid",),
        env={"GRT_POLL_INTERVAL": "soon"},
    ),
    Case(
        "flag-poll-interval-nan",
        ("GRT_POLL_INTERVAL: 'nan' is not valid (valid: seconds from 0.05 to 300)",),
        env={"GRT_POLL_INTERVAL": "nan"},
    ),
    Case(
        "flag-startup-timeout-negative",
        ("GRT_STARTUP_TIMEOUT: '-1' is not valid",),
        env={"GRT_STARTUP_TIMEOUT": "-1"},
    ),
    Case(
        "flag-api-key-unset",
        ("ERROR: PAPERSPACE_API_KEY is not set",),
        env={"PAPERSPACE_API_KEY": ""},
    ),
    Case(
        "flag-api-key-two-lines",
        ("ERROR: PAPERSPACE_API_KEY contains a space, a line break",),
        env={"PAPERSPACE_API_KEY": "abc\nX-Evil: 1"},
    ),
    Case(
        "flag-config-host-without-scheme",
        ("ERROR: PAPERSPACE_CONFIG_HOST: '127.0.0.1:1' is not valid",),
        env={"PAPERSPACE_CONFIG_HOST": "127.0.0.1:1"},
    ),
    Case(
        "sweep-older-than-soon",
        ("ERROR: --older-than: 'soon' is not a duration",),
        command=("sweep", "--older-than", "soon"),
    ),
    Case(
        "sweep-older-than-negative",
        ("--older-than: '-5m' is not a duration",),
        command=("sweep", "--older-than=-5m"),
    ),
    Case(
        "sweep-project-substitution",
        ("ERROR: --project-id: '$(touch pwned)' is not valid",),
        command=("sweep", "--project-id", "$(touch pwned)"),
    ),
    Case(
        "report-missing-file",
        ("ERROR: --results: nowhere.json: not a results file",),
        command=("report", "--results", "nowhere.json", "--comment", "--check-run"),
    ),
    Case(
        "report-garbage",
        ("ERROR: --results: a-file: not a results file",),
        command=("report", "--results", "a-file", "--comment"),
    ),
    Case(
        "report-wrong-shape",
        ("ERROR: --results: shape.json: not a results file",),
        command=("report", "--results", "shape.json", "--check-run"),
    ),
]
GITHUB_FLAGS = ("--comment", "--check-run")


@dataclasses.dataclass(frozen=True)
class World:
    """Both fakes started, a pull request's Actions environment, the working folder."""

    ps: FakePaperspace
    gh: FakeGitHub
    env: dict[str, str]
    canaries: Canaries
    root: Path


@pytest.fixture
def world(
    *,
    ps: FakePaperspace,
    gh: FakeGitHub,
    actions_env: dict[str, str],
    canaries: Canaries,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not json\n")
    (tmp_path / "shape.json").write_text(json.dumps({"schema": 1, "runtime": "x", "cells": 5}))
    env = {**gradient_env(ps, canaries.api_key), **actions_env}
    return World(ps, gh, env, canaries, tmp_path)


@pytest.mark.parametrize("case", MATRIX_CASES + CLI_CASES, ids=lambda c: c.id)
def test_refused_with_one_clear_message_and_no_request(case: Case, world: World) -> None:
    root = world.root
    write_matrices(root, case.runtime, machines=case.machines, name=case.file)
    if case.command is not None:
        argv = list(case.command)
    else:
        argv = ["run", "--matrices", "matrices", "--runtime", "Hostile", "--provider", "gradient"]
        argv += ["--out", "out", *GITHUB_FLAGS, *case.argv]
    result = world.canaries.grt(argv, {**world.env, **case.env})

    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    for fragment in case.expect:
        assert fragment.format(f=F, m=M) in result.err, result.err
    assert asked(world.ps, world.gh) == []
    assert not (root / "out").exists(), "a refused run created its output folder"
    assert not list(root.rglob(f"{PWNED}*")), "an injected command ran"
    assert (root / "github-output").read_text() == ""


def test_enough_cases() -> None:
    """The issue asks for at least 40 hostile cases beyond tests/matrix_corpus/."""
    assert len(MATRIX_CASES) + len(CLI_CASES) >= 40
    assert len({c.id for c in MATRIX_CASES + CLI_CASES}) == len(MATRIX_CASES) + len(CLI_CASES)


def test_a_utf8_bom_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editors on Windows write a byte-order mark: the file still loads, names unchanged."""
    from gradient_runtime_test.matrix.load import load_catalogue

    matrices = write_matrices(tmp_path, ("\ufeff" + rt()).encode("utf-8"))
    catalogue = load_catalogue(matrices)
    assert [r.name for r in catalogue.runtimes] == ["Hostile"]

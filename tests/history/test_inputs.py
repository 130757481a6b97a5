"""The input hash: what decides a verdict changes it, what does not leaves it alone; the inputs
pinned down with git (a local repository) and the registry (a fake one)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gradient_runtime_test.history.inputs import Inputs, harness_version, pin
from gradient_runtime_test.matrix.model import (
    Accelerator,
    Checks,
    Machine,
    NotebookEntry,
    Runtime,
)
from gradient_runtime_test.sources.check import SourceSettings
from gradient_runtime_test.sources.git import Git
from gradient_runtime_test.sources.registry import UrllibTransport
from tests.fakes.registry import FakeRegistry
from tests.sources.gitrepos import commit, make_repo, user_env

RUNTIME = Runtime(
    name="PyTorch 1.12",
    slug="pytorch-1-12",
    container="acme/img:1",
    workspace="https://github.com/acme/ws",
    workspace_ref="main",
    machines=("A4000", "A6000"),
    notebooks=(NotebookEntry("a.ipynb", parameters={"epochs": 1}),),
    checks=Checks(imports=("torch",)),
    description="prose",
    source="matrices/runtimes/pytorch-1-12.yaml",
)
A4000 = Machine("A4000", Accelerator.GPU, 1, "A4000", 16, price_per_hour=0.76)
PINNED = Inputs("gradient", "https://github.com/acme/ws", "c" * 40, "sha256:" + "d" * 64)


def test_the_hash_is_stable_and_covers_what_decides_a_verdict() -> None:
    base = PINNED.cell_hash(RUNTIME, A4000)
    assert len(base) == 64 and base == PINNED.cell_hash(RUNTIME, A4000)
    changed = [
        PINNED.cell_hash(dataclasses.replace(RUNTIME, container="acme/img:2"), A4000),
        PINNED.cell_hash(dataclasses.replace(RUNTIME, notebooks=()), A4000),
        PINNED.cell_hash(
            dataclasses.replace(
                RUNTIME, notebooks=(NotebookEntry("a.ipynb", parameters={"epochs": 2}),)
            ),
            A4000,
        ),
        PINNED.cell_hash(dataclasses.replace(RUNTIME, environment={"X": "1"}), A4000),
        PINNED.cell_hash(RUNTIME, dataclasses.replace(A4000, memory_gb=24)),
        dataclasses.replace(PINNED, commit="e" * 40).cell_hash(RUNTIME, A4000),
        dataclasses.replace(PINNED, image_digest=None).cell_hash(RUNTIME, A4000),
        dataclasses.replace(PINNED, provider="local").cell_hash(RUNTIME, A4000),
        dataclasses.replace(PINNED, cluster_id="clu1").cell_hash(RUNTIME, A4000),
        dataclasses.replace(PINNED, harness_version="0.1.0+other").cell_hash(RUNTIME, A4000),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_what_does_not_decide_a_verdict_leaves_the_hash_alone() -> None:
    base = PINNED.cell_hash(RUNTIME, A4000)
    same = [
        PINNED.cell_hash(dataclasses.replace(RUNTIME, description="other", source="x.yaml"), A4000),
        PINNED.cell_hash(dataclasses.replace(RUNTIME, machines=("A4000",)), A4000),
        PINNED.cell_hash(dataclasses.replace(RUNTIME, workspace_ref=PINNED.commit), A4000),
        PINNED.cell_hash(RUNTIME, dataclasses.replace(A4000, price_per_hour=9.0, description="x")),
    ]
    assert set(same) == {base}


def test_unpinned_inputs_have_no_hash() -> None:
    assert dataclasses.replace(PINNED, commit=None).cell_hash(RUNTIME, A4000) == ""
    assert dataclasses.replace(PINNED, problem="unreachable").cell_hash(RUNTIME, A4000) == ""
    bare = Inputs("gradient", None, None, None)
    assert bare.pinned and bare.cell_hash(RUNTIME, A4000) != ""


def test_the_harness_version_is_the_release_and_a_digest_of_its_sources() -> None:
    release, _, digest = harness_version().partition("+")
    assert release == "0.1.0" and len(digest) == 12


@pytest.mark.server
def test_pin_resolves_the_commit_and_the_digest(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    repo = tmp_path / "ws"
    first = make_repo(repo, env, {"a.ipynb": "{}"})
    with FakeRegistry() as hub:
        digest = hub.add_image("acme/img", "1")
        sources = SourceSettings(Git(env=env), UrllibTransport(env), docker_hub_url=hub.url)

        def pinned(provider: str, ref: str | None = None) -> Inputs:
            return pin(str(repo), ref, provider=provider, container="acme/img:1", cluster_id=None,
                       sources=sources)  # fmt: skip

        on_gradient = pinned("gradient")
        assert (on_gradient.commit, on_gradient.image_digest) == (first, digest)
        local = pinned("local")
        assert (local.commit, local.image_digest) == (first, None)  # no image runs locally
        second = commit(repo, env, {"b.ipynb": "{}"}, "second")
        assert pinned("gradient", "main").commit == second
        missing = pinned("gradient", "no-such-branch")
        assert not missing.pinned and "no-such-branch" in (missing.problem or "")
        folder = tmp_path / "plain"
        folder.mkdir()
        plain = pin(str(folder), None, provider="local", container="acme/img:1", cluster_id=None,
                    sources=sources)  # fmt: skip
        assert not plain.pinned and "not a git repository" in (plain.problem or "")

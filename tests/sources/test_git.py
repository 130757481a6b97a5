"""sources.git and sources.workspace against real local repositories, reached as a user's git
config says (`url.<local>.insteadOf`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradient_runtime_test.sources.errors import SourceError
from gradient_runtime_test.sources.git import Git, list_files, redact, resolve_commit
from gradient_runtime_test.sources.workspace import folder_files, snapshot
from tests.sources.gitrepos import commit, git, instead_of, make_repo, remove, user_env

URL = "https://git.example.invalid/org/workspace"


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Git, Path, dict[str, str]]:
    env = user_env(tmp_path / "home")
    path = tmp_path / "origin"
    first = make_repo(path, env, {"a.ipynb": "{}", "sub/b.ipynb": "{}", "README.md": "x"})
    git(env, "tag", "light", cwd=path)
    git(env, "tag", "-a", "v1", "-m", "release", cwd=path)
    second = commit(path, env, {"c.ipynb": "{}"}, "second")
    instead_of(env, URL, path)
    return Git(env=env), path, {"first": first, "second": second}


def test_refs_resolve_like_git_does(repo: tuple[Git, Path, dict[str, str]]) -> None:
    g, _, commits = repo
    assert resolve_commit(g, URL, None) == commits["second"]  # default branch
    assert resolve_commit(g, URL, "main") == commits["second"]
    assert resolve_commit(g, URL, "refs/heads/main") == commits["second"]
    assert resolve_commit(g, URL, "light") == commits["first"]
    assert resolve_commit(g, URL, "v1") == commits["first"]  # annotated tag, peeled
    assert resolve_commit(g, URL, commits["first"].upper()) == commits["first"]


def test_an_unknown_ref_names_the_branches_and_tags(repo: tuple[Git, Path, dict[str, str]]) -> None:
    g, _, _ = repo
    with pytest.raises(SourceError) as info:
        resolve_commit(g, URL, "mian")
    assert info.value.missing
    assert info.value.message == f"'mian' is not a branch or tag of {URL} (valid: light, main, v1)"
    with pytest.raises(SourceError, match="abbreviated commit"):
        resolve_commit(g, URL, "1a2b3c4")


def test_files_at_a_commit_come_without_a_checkout(
    repo: tuple[Git, Path, dict[str, str]],
) -> None:
    g, _, commits = repo
    assert list_files(g, URL, commits["first"]) == {"a.ipynb", "sub/b.ipynb", "README.md"}
    assert "c.ipynb" in list_files(g, URL, commits["second"])
    with pytest.raises(SourceError) as info:
        list_files(g, URL, "0" * 40)
    assert info.value.missing and "is not in" in info.value.message


def test_the_users_git_config_is_what_reaches_the_url(
    repo: tuple[Git, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Without the user's insteadOf rule the URL does not resolve: git config is honoured."""
    _, _, _ = repo
    bare = Git(env=user_env(tmp_path / "other-home"))
    with pytest.raises(SourceError) as info:
        resolve_commit(bare, URL, "main")
    assert not info.value.missing
    assert info.value.message.startswith("git ls-remote failed: ")


def test_no_git_on_path_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^git is not on PATH"):
        resolve_commit(Git(env={"PATH": str(tmp_path)}), URL, "main")


def test_credentials_in_urls_are_hidden() -> None:
    assert redact("fatal: https://user:tok@host/x and http://tok@h/y") == (
        "fatal: https://***@host/x and http://***@h/y"
    )


def test_snapshot_of_a_url_knows_its_commit(repo: tuple[Git, Path, dict[str, str]]) -> None:
    g, path, commits = repo
    snap = snapshot(URL, "v1", git=g)
    assert snap.commit == commits["first"]
    assert snap.notebooks == ("a.ipynb", "sub/b.ipynb")
    assert snap.at == f"{URL}@v1 ({commits['first'][:12]})"
    newer = remove(path, g.env, "a.ipynb")
    assert snapshot(URL, None, git=g).commit == newer
    assert "a.ipynb" not in snapshot(URL, None, git=g).files


def test_local_folders_are_read_as_the_local_provider_places_them(
    repo: tuple[Git, Path, dict[str, str]], tmp_path: Path
) -> None:
    g, path, commits = repo
    # a plain folder, relative to the matrices folder: its files on disk
    plain = tmp_path / "ws"
    (plain / ".ipynb_checkpoints").mkdir(parents=True)
    (plain / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")
    (plain / "__pycache__").mkdir()
    (plain / "__pycache__" / "y.ipynb").write_text("{}")
    (plain / "x.ipynb").write_text("{}")
    snap = snapshot("../ws", None, git=g, matrices_root=tmp_path / "matrices")
    assert snap.commit is None and snap.notebooks == ("x.ipynb",)
    assert folder_files(plain) == {"x.ipynb", ".ipynb_checkpoints/x-checkpoint.ipynb"}
    # a repository is cloned: its commit, not the files on disk
    (path / "uncommitted.ipynb").write_text("{}")
    snap = snapshot(str(path), "v1", git=g)
    assert snap.commit == commits["first"] and "uncommitted.ipynb" not in snap.files
    with pytest.raises(SourceError, match="no such folder"):
        snapshot("missing", None, git=g, matrices_root=tmp_path)

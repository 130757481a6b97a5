"""The work of the stand-in actions in the folders beside this file (used by tests/action/act.py).

Each stand-in keeps the inputs and outputs of the third-party action it replaces in runs under act
(its action.yml says which), does that action's job on this machine with this machine's own
resources (git remotes, the runner's tool cache, act's artifact and cache servers) and fails with
an `::error::` naming the input when asked for something it does not implement. Nothing here is
code of those actions: only their documented inputs, outputs and behaviour are followed.

    python3 standin.py ACTION STAGE      # ACTION: a folder name beside this file; STAGE: main|post

Standard library only, Python 3.8+: it runs on whatever `python3` the runner has.
"""

from __future__ import annotations

import base64
import fnmatch
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

# --- the runner's interface (the same files and variables every action uses) ------------------


class Failed(Exception):
    """The step fails with this message as an `::error::` annotation."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def get_input(name: str, default: str = "") -> str:
    """An input as the runner passes it (`INPUT_<NAME>`, spaces as underscores, upper case)."""
    value = os.environ.get("INPUT_" + name.replace(" ", "_").upper(), "").strip()
    return value or default


def get_lines(name: str) -> List[str]:
    return [line.strip() for line in get_input(name).splitlines() if line.strip()]


def get_bool(name: str, default: bool) -> bool:
    value = get_input(name, "true" if default else "false").lower()
    if value not in ("true", "false"):
        raise Failed(f"{name}: {value!r} is not a boolean (valid: true, false)")
    return value == "true"


def _append(variable: str, text: str) -> None:
    path = os.environ.get(variable)
    if not path:
        raise Failed(f"{variable} is not set: not run by an Actions runner")
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def _file_command(variable: str, name: str, value: str) -> None:
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    _append(variable, f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def set_output(name: str, value: str) -> None:
    _file_command("GITHUB_OUTPUT", name, value)


def save_state(name: str, value: str) -> None:
    _file_command("GITHUB_STATE", name, value)


def get_state(name: str) -> str:
    return os.environ.get(f"STATE_{name}", "")


def export_variable(name: str, value: str) -> None:
    _file_command("GITHUB_ENV", name, value)


def add_path(directory: Path) -> None:
    _append("GITHUB_PATH", f"{directory}\n")


def escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def info(message: str) -> None:
    print(message, flush=True)


def warning(message: str) -> None:
    print(f"::warning::{escape(message)}", flush=True)


def workspace() -> Path:
    return Path(env("GITHUB_WORKSPACE") or os.getcwd())


def resolve(path: str, base: Optional[Path] = None) -> Path:
    """A path input: `~` is the home folder, a relative path is relative to the workspace."""
    expanded = Path(os.path.expanduser(path))
    return expanded if expanded.is_absolute() else (base or workspace()) / expanded


def run(*argv: str, cwd: Optional[Path] = None, check: bool = True) -> str:
    info("[command]" + " ".join(argv))
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if proc.stdout.strip():
        info(proc.stdout.rstrip())
    if proc.stderr.strip():
        info(proc.stderr.rstrip())
    if check and proc.returncode != 0:
        raise Failed(f"`{' '.join(argv)}` failed with exit code {proc.returncode}")
    return proc.stdout


def http(
    method: str,
    url: str,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
) -> Tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_json(method: str, url: str, payload: object = None) -> Tuple[int, object]:
    body = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = env("ACTIONS_RUNTIME_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, data = http(method, url, body, headers)
    try:
        return status, json.loads(data.decode() or "null")
    except ValueError:
        return status, data.decode(errors="replace")


# --- actions/checkout ---------------------------------------------------------------------------


def checkout_main() -> None:
    """Fetches `repository` from `github-server-url` (the runner's git configuration maps that
    URL to a local repository) into `path`, at `ref` or at the commit of the event, with
    `fetch-depth` commits of history (0: every branch and tag), like actions/checkout does."""
    this_repository = env("GITHUB_REPOSITORY")
    repository = get_input("repository", this_repository)
    server = get_input("github-server-url", env("GITHUB_SERVER_URL", "https://github.com"))
    url = f"{server.rstrip('/')}/{repository}"
    target = resolve(get_input("path", "."))
    if not str(target.resolve()).startswith(str(workspace().resolve())):
        raise Failed(f"path: {target} is not under {workspace()}")
    depth_text = get_input("fetch-depth", "1")
    if not depth_text.isdigit():
        raise Failed(
            f"fetch-depth: {depth_text!r} is not valid (valid: a number, 0 for all history)"
        )
    depth = int(depth_text)
    ref = get_input("ref")
    sha = ""
    if not ref and repository.lower() == this_repository.lower():
        ref, sha = env("GITHUB_REF"), env("GITHUB_SHA")
    elif re.fullmatch(r"[0-9a-fA-F]{40}", ref):
        ref, sha = "", ref
    elif ref and not ref.startswith("refs/"):
        ref = _qualify(url, ref)

    if target.exists() and get_bool("clean", True):
        for child in target.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    target.mkdir(parents=True, exist_ok=True)
    run("git", "init", "--quiet", str(target))
    run("git", "remote", "add", "origin", url, cwd=target)

    local = _local_ref(ref) if ref else ""
    fetch = ["git", "fetch", "--prune", "--no-recurse-submodules"]
    if depth == 0:
        refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        run(*fetch, "origin", *refspecs, cwd=target)
        if sha or ref.startswith("refs/pull/"):
            # the event's own commit, even where the branch has moved on since
            destination = local or "refs/remotes/origin/HEAD"
            run(*fetch, "origin", f"+{sha or ref}:{destination}", cwd=target)
    else:
        tags = [] if get_bool("fetch-tags", False) else ["--no-tags"]
        source = sha or ref
        run(*fetch, *tags, f"--depth={depth}", "origin", f"+{source}:{local or source}", cwd=target)

    if ref.startswith("refs/heads/"):
        branch = ref[len("refs/heads/") :]
        run("git", "checkout", "--force", "-B", branch, f"refs/remotes/origin/{branch}", cwd=target)
    else:
        run("git", "checkout", "--force", "--detach", sha or local, cwd=target)

    if get_bool("persist-credentials", True):
        token = get_input("token")
        header = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        key = f"http.{server.rstrip('/')}/.extraheader"
        run("git", "config", "--local", key, f"AUTHORIZATION: basic {header}", cwd=target)
        save_state("credentials", f"{target}\n{key}")
    set_output("ref", ref)
    set_output("commit", run("git", "rev-parse", "HEAD", cwd=target).strip())


def checkout_post() -> None:
    """Removes the credentials that main left in the repository's git configuration."""
    saved = get_state("credentials")
    if saved:
        target, key = saved.split("\n", 1)
        run("git", "config", "--local", "--unset-all", key, cwd=Path(target), check=False)


def _qualify(url: str, ref: str) -> str:
    """A short ref (`main`, `v1.2.3`) as the remote has it: a branch first, then a tag."""
    listed = run("git", "ls-remote", url, f"refs/heads/{ref}", f"refs/tags/{ref}")
    names = [line.split("\t", 1)[1] for line in listed.splitlines() if "\t" in line]
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}"):
        if name in names:
            return name
    raise Failed(f"ref: {ref!r} is neither a branch nor a tag of {url}")


def _local_ref(ref: str) -> str:
    if ref.startswith("refs/heads/"):
        return "refs/remotes/origin/" + ref[len("refs/heads/") :]
    if ref.startswith("refs/pull/"):
        return "refs/remotes/pull/" + ref[len("refs/pull/") :]
    return ref  # refs/tags/... and other full refs keep their name


# --- actions/setup-python -----------------------------------------------------------------------


def setup_python_main() -> None:
    """Finds each `python-version` in the runner's tool cache (RUNNER_TOOL_CACHE/Python/<version>/
    x64, the layout actions/setup-python uses), outputs the last one and, unless
    `update-environment` is false, puts them on PATH. It never downloads a Python."""
    specs = get_lines("python-version")
    if not specs:
        raise Failed("python-version: not set (this stand-in reads no python-version-file)")
    cache = Path(env("RUNNER_TOOL_CACHE")) / "Python"
    found: List[Tuple[str, Path]] = []
    for spec in specs:
        if not re.fullmatch(r"\d+(\.\d+){0,2}", spec):
            raise Failed(f"python-version: {spec!r} is not valid here (valid: 3, 3.12 or 3.12.1)")
        candidates = [
            d.name
            for d in cache.glob("*")
            if (d.name == spec or d.name.startswith(spec + ".")) and (d / "x64.complete").exists()
        ]
        if not candidates:
            have = sorted(d.name for d in cache.glob("*")) if cache.is_dir() else []
            raise Failed(
                f"python-version: {spec} is not in the tool cache {cache} (there: {have or 'none'})"
                "; this runner cannot download Pythons"
            )
        version = max(candidates, key=lambda v: tuple(int(p) for p in v.split(".")))
        found.append((version, cache / version / "x64"))
    version, root = found[-1]
    if get_bool("update-environment", True):
        for _, prefix in found:
            add_path(prefix / "bin")
            add_path(prefix)
        for name in ("pythonLocation", "Python_ROOT_DIR", "Python3_ROOT_DIR"):
            export_variable(name, str(root))
        export_variable("PKG_CONFIG_PATH", str(root / "lib" / "pkgconfig"))
    set_output("python-version", version)
    set_output("python-path", str(root / "bin" / "python"))
    set_output("cache-hit", "false")
    info(f"Python {version} from {root}")


# --- astral-sh/setup-uv -------------------------------------------------------------------------


def setup_uv_main() -> None:
    """Puts the uv of `version` (else the `required-version` of uv.toml or pyproject.toml in
    `working-directory`) from the runner's tool cache (RUNNER_TOOL_CACHE/uv/<version>/x86_64) on
    PATH. Without a version setup-uv asks GitHub for the latest release: not reproducible, and
    impossible offline, so this stand-in refuses."""
    directory = resolve(get_input("working-directory", "."))
    version = get_input("version") or _required_uv_version(directory)
    if not version:
        raise Failed(
            "version: not set, and no required-version in "
            f"{directory / 'uv.toml'} or {directory / 'pyproject.toml'}: setup-uv would ask GitHub"
            " for the latest uv at every run (valid: an exact version such as 0.13.9)"
        )
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise Failed(f"version: {version!r} is not an exact version (valid: e.g. 0.13.9)")
    if get_input("enable-cache", "auto") == "true":
        raise Failed("enable-cache: true is not implemented by this stand-in (valid: false, auto)")
    home = Path(env("RUNNER_TOOL_CACHE")) / "uv" / version / "x86_64"
    uv = home / "uv"
    if not os.access(uv, os.X_OK):
        raise Failed(f"version: uv {version} is not in the tool cache ({uv} is missing)")
    add_path(home)
    set_output("uv-version", version)
    set_output("uv-path", str(uv))
    set_output("uvx-path", str(home / "uvx"))
    set_output("cache-hit", "false")
    info(f"uv {version} from {home}")


def _required_uv_version(directory: Path) -> str:
    for name, section in (("uv.toml", ""), ("pyproject.toml", "tool.uv")):
        path = directory / name
        if not path.is_file():
            continue
        current = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            header = re.match(r"^\s*\[([^\]]+)\]", line)
            if header:
                current = header.group(1).strip()
                continue
            found = re.match(r'^\s*required-version\s*=\s*"(?:==)?([^"]+)"', line)
            if found and current == section:
                return found.group(1).strip()
    return ""


# --- actions/cache ------------------------------------------------------------------------------


def _cache_url(path: str) -> str:
    base = env("ACTIONS_CACHE_URL")
    if not base:
        raise Failed("ACTIONS_CACHE_URL is not set: the runner has no cache server")
    return base.rstrip("/") + "/_apis/artifactcache/" + path


def _cache_version(paths: List[str]) -> str:
    # The paths as written (before `~` or the workspace are resolved) and the archive format: the
    # same inputs on any runner give the same version, so a runner-specific path never hits.
    return hashlib.sha256("|".join([*paths, "tar"]).encode()).hexdigest()


def cache_main() -> None:
    """Restores `path` from the runner's cache server: the entry whose key is `key`, else the
    newest whose key starts with one of `restore-keys`; `cache-hit` is true on an exact match."""
    paths, key = get_lines("path"), get_input("key")
    if not paths:
        raise Failed("Input required and not supplied: path")
    if not key:
        raise Failed("Input required and not supplied: key")
    if len(key) > 512 or "," in key:
        raise Failed(f"key: {key!r} is longer than 512 characters or has a comma")
    keys = [key, *get_lines("restore-keys")]
    version = _cache_version(paths)
    save_state("key", key)
    query = urllib.parse.urlencode({"keys": ",".join(keys), "version": version})
    status, found = http_json("GET", _cache_url(f"cache?{query}"))
    if status == 204 or not isinstance(found, dict):
        if get_bool("fail-on-cache-miss", False):
            raise Failed(
                f"Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {key}"
            )
        info(f"Cache not found for input keys: {', '.join(keys)}")
        set_output("cache-hit", "false")
        return
    if status != 200:
        raise Failed(f"cache server: HTTP {status}: {found}")
    matched = str(found["cacheKey"])
    save_state("matched-key", matched)
    if not get_bool("lookup-only", False):
        with tempfile.TemporaryFile() as archive:
            request = urllib.request.Request(str(found["archiveLocation"]))
            with urllib.request.urlopen(request, timeout=300) as response:
                shutil.copyfileobj(response, archive, 1 << 20)
            archive.seek(0)
            with tarfile.open(fileobj=archive, mode="r:") as tar:
                for member in tar:
                    _extract(tar, member)
    set_output("cache-hit", "true" if matched.lower() == key.lower() else "false")
    info(f"Cache restored from key: {matched}")


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    """Extracts one member at its absolute path. A file already there is replaced (not rewritten:
    a hard-linked file keeps its other names' contents), or kept when its size and modification
    time are the archived ones (the result is the same, and restoring onto a warm cache is quick)."""
    target = Path("/", member.name)
    if not member.isdir() and (target.is_symlink() or target.exists()):
        status = target.lstat()
        if (
            member.isfile()
            and target.is_file()
            and (status.st_size, int(status.st_mtime)) == (member.size, int(member.mtime))
        ):
            return
        target.unlink()
    if hasattr(tarfile, "tar_filter"):  # Python 3.12+, and 3.8-3.11 security releases
        tar.extract(member, "/", filter="tar")
    else:
        tar.extract(member, "/")  # our own archive, written by cache_post


def cache_post() -> None:
    """Saves `path` under `key` when main found no exact match (the action's `post-if` runs this
    only when the job succeeded)."""
    key = get_state("key")
    if not key:
        return  # main failed before it looked the key up
    if get_state("matched-key").lower() == key.lower():
        info(f"Cache hit occurred on the primary key {key}, not saving cache.")
        return
    paths = get_lines("path")
    found = [resolve(p) for p in paths if resolve(p).exists()]
    if not found:
        warning(
            "Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved."
        )
        return
    version = _cache_version(paths)
    query = urllib.parse.urlencode({"keys": key, "version": version})
    status, existing = http_json("GET", _cache_url(f"cache?{query}"))
    if (
        status == 200
        and isinstance(existing, dict)
        and str(existing.get("cacheKey")).lower() == key.lower()
    ):
        # GitHub's cache service refuses a second entry with the same key and version (act's
        # server does not, so the stand-in asks first).
        warning(
            f"Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache."
        )
        return
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w:") as tar:
            for path in found:
                tar.add(str(path), arcname=str(path.resolve()).lstrip("/"))
        size = archive.tell()
        status, reserved = http_json(
            "POST", _cache_url("caches"), {"key": key, "version": version, "cacheSize": size}
        )
        if status != 200 or not isinstance(reserved, dict):
            warning(
                f"Failed to save: unable to reserve cache with key {key} (HTTP {status}: {reserved})"
            )
            return
        cache_id = reserved["cacheId"]
        archive.seek(0)
        start = 0
        while True:
            part = archive.read(32 << 20)
            if not part:
                break
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {start}-{start + len(part) - 1}/*",
            }
            status, answer = http("PATCH", _cache_url(f"caches/{cache_id}"), part, headers)
            if status != 200:
                raise Failed(f"cache server: HTTP {status} uploading {key}: {answer!r}")
            start += len(part)
    status, answer = http_json("POST", _cache_url(f"caches/{cache_id}"), {"size": size})
    if status != 200:
        raise Failed(f"cache server: HTTP {status} committing {key}: {answer}")
    info(f"Cache saved with key: {key} ({size} bytes)")


# --- actions/upload-artifact and actions/download-artifact --------------------------------------
# act's artifact server speaks the runner's artifact API of the v3 actions; the files go one by
# one (no zip), named `<artifact>/<path in the artifact>`.

_BAD_NAME = re.compile(r'["\\:<>|*?\r\n/]')


def _artifacts_url(query: str = "") -> str:
    base = env("ACTIONS_RUNTIME_URL")
    if not base:
        raise Failed("ACTIONS_RUNTIME_URL is not set: the runner has no artifact server")
    run_id = env("GITHUB_RUN_ID")
    return f"{base.rstrip('/')}/_apis/pipelines/workflows/{run_id}/artifacts?api-version=6.0-preview{query}"


def _list_artifacts() -> List[Dict[str, str]]:
    try:
        status, listed = http_json("GET", _artifacts_url())
    except (ConnectionError, urllib.error.URLError):
        return []  # act's server drops the connection while the run has no artifact yet
    if status != 200 or not isinstance(listed, dict):
        return []
    return list(listed.get("value") or [])


def upload_artifact_main() -> None:
    """Uploads the files that `path` (lines of paths or globs, `!` to exclude) matches as the
    artifact `name`, paths relative to the files' least common ancestor."""
    name = get_input("name", "artifact")
    if _BAD_NAME.search(name):
        raise Failed(
            f'name: {name!r} contains a character artifact names cannot have (" : < > | * ? \\ / CR LF)'
        )
    if_none = get_input("if-no-files-found", "warn")
    if if_none not in ("warn", "error", "ignore"):
        raise Failed(f"if-no-files-found: {if_none!r} is not valid (valid: warn, error, ignore)")
    hidden = get_bool("include-hidden-files", False)
    patterns = get_lines("path")
    if not patterns:
        raise Failed("Input required and not supplied: path")
    files, root = _match_files(patterns, hidden)
    if not files:
        message = f"No files were found with the provided path: {chr(10).join(patterns)}. No artifacts will be uploaded."
        if if_none == "error":
            raise Failed(message)
        (warning if if_none == "warn" else info)(message)
        return
    position, digest, total = _upload(name, files, root, overwrite=get_bool("overwrite", False))
    server = env("GITHUB_SERVER_URL", "https://github.com")
    set_output("artifact-id", str(position))
    set_output(
        "artifact-url",
        f"{server}/{env('GITHUB_REPOSITORY')}/actions/runs/{env('GITHUB_RUN_ID')}/artifacts/{position}",
    )
    set_output("artifact-digest", digest)
    info(f"Artifact {name} uploaded: {len(files)} files, {total} bytes")


def _upload(name: str, files: List[Path], root: Path, *, overwrite: bool) -> Tuple[int, str, int]:
    """`files` (paths relative to `root`) as the artifact `name` of this run on the runner's
    artifact server: (its position in the run's list, SHA-256 of paths and contents, bytes)."""
    listed = _list_artifacts()
    if any(a.get("name") == name for a in listed) and not overwrite:
        raise Failed(
            f"Failed to CreateArtifact: an artifact with this name already exists on the workflow run: {name}"
        )
    status, created = http_json("POST", _artifacts_url(), {"Type": "actions_storage", "Name": name})
    if status != 200 or not isinstance(created, dict):
        raise Failed(f"artifact server: HTTP {status} creating {name}: {created}")
    container = str(created["fileContainerResourceUrl"])
    digest = hashlib.sha256()
    total = 0
    for path in files:
        relative = path.relative_to(root).as_posix()
        data = path.read_bytes()
        digest.update(relative.encode() + b"\0" + data)
        total += len(data)
        item = urllib.parse.quote(f"{name}/{relative}")
        headers = {"Content-Type": "application/octet-stream"}
        if data:
            headers["Content-Range"] = f"bytes 0-{len(data) - 1}/{len(data)}"
        status, answer = http("PUT", f"{container}?itemPath={item}", data, headers)
        if status != 200:
            raise Failed(f"artifact server: HTTP {status} uploading {relative}: {answer!r}")
    status, answer = http_json(
        "PATCH", _artifacts_url(f"&artifactName={urllib.parse.quote(name)}"), {"Size": total}
    )
    if status != 200:
        raise Failed(f"artifact server: HTTP {status} finalizing {name}: {answer}")
    position = 1 + next((i for i, a in enumerate(_list_artifacts()) if a.get("name") == name), 0)
    return position, digest.hexdigest(), total


def _download(name: str, folder: Path) -> None:
    """The artifact `name` of this run into `folder`."""
    artifact = next((a for a in _list_artifacts() if a.get("name") == name), None)
    if artifact is None:
        raise Failed(f"Unable to download artifact(s): Artifact not found for name: {name}")
    status, items = http_json(
        "GET", f"{artifact['fileContainerResourceUrl']}?itemPath={urllib.parse.quote(name)}"
    )
    if status != 200 or not isinstance(items, dict):
        raise Failed(f"artifact server: HTTP {status} listing {name}: {items}")
    for item in items.get("value") or []:
        relative = str(item["path"])[len(name) + 1 :]
        destination = (folder / relative).resolve()
        if not str(destination).startswith(str(folder.resolve())):
            raise Failed(f"artifact {name}: {relative} is outside the download folder")
        status, data = http("GET", str(item["contentLocation"]))
        if status != 200:
            raise Failed(f"artifact server: HTTP {status} downloading {item['path']}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)


# --- actions/upload-pages-artifact and actions/deploy-pages -----------------------------------


def upload_pages_artifact_main() -> None:
    """Packs the folder `path` into one tar file (no links inside: Pages refuses them) and uploads
    it as the artifact `name` (default `github-pages`), as a Pages deployment expects."""
    folder = resolve(get_input("path", "_site/"))
    if not folder.is_dir():
        raise Failed(f"path: {folder} is not a folder of static files")
    links = [p for p in folder.rglob("*") if p.is_symlink()]
    if links:
        raise Failed(f"path: {links[0]} is a link; a Pages artifact holds none")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "artifact.tar"
        with tarfile.open(archive, "w") as tar:
            for path in sorted(folder.rglob("*")):
                if path.name.startswith(".") or path.name == ".git":
                    continue
                tar.add(str(path), arcname=path.relative_to(folder).as_posix(), recursive=False)
        position, _, total = _upload(
            get_input("name", "github-pages"), [archive], Path(tmp), overwrite=False
        )
    set_output("artifact_id", str(position))
    info(f"Pages artifact uploaded: {total} bytes")


def deploy_pages_main() -> None:
    """ "Deploys" the Pages artifact of this run: extracts it into the runner's own stand-in for
    the Pages site, `$HOME/pages/<repository>/`, and says where the site would be."""
    name = get_input("artifact_name", "github-pages")
    owner, _, repo = env("GITHUB_REPOSITORY", "octo/runtimes").partition("/")
    site = Path(env("HOME", str(workspace())), "pages", repo)
    with tempfile.TemporaryDirectory() as tmp:
        _download(name, Path(tmp))
        archive = Path(tmp) / "artifact.tar"
        if not archive.is_file():
            raise Failed(f"artifact {name}: no artifact.tar (upload it with upload-pages-artifact)")
        shutil.rmtree(site, ignore_errors=True)
        site.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                target = (site / member.name).resolve()
                inside = str(target).startswith(str(site.resolve()) + os.sep)
                if not inside or not (member.isfile() or member.isdir()):
                    raise Failed(f"artifact {name}: {member.name} cannot be deployed")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                source = tar.extractfile(member)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read() if source else b"")
    url = f"https://{owner}.github.io/{repo}/"
    set_output("page_url", url)
    info(f"Deployed to {site} (would be {url})")


def _match_files(patterns: List[str], hidden: bool) -> Tuple[List[Path], Path]:
    include = [resolve(p) for p in patterns if not p.startswith("!")]
    exclude = [resolve(p[1:].strip()) for p in patterns if p.startswith("!")]
    found: Dict[Path, None] = {}
    for pattern in include:
        for match in sorted(glob.glob(str(pattern), recursive=True)) or []:
            path = Path(match)
            candidates = (
                sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            )
            for file in candidates:
                inside = file.relative_to(path) if path.is_dir() else Path(file.name)
                if not hidden and any(part.startswith(".") for part in inside.parts):
                    continue
                if any(
                    fnmatch.fnmatch(str(file), str(x)) or str(file).startswith(f"{x}/")
                    for x in exclude
                ):
                    continue
                found[file] = None
    files = list(found)
    if not files:
        return [], workspace()
    if len(include) == 1 and include[0].is_dir():
        return files, include[0]
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    return files, root


def download_artifact_main() -> None:
    """Downloads the artifact `name` into `path`, or every artifact (that `pattern` matches) into
    `path/<artifact name>/` (into `path` itself with `merge-multiple`)."""
    name, pattern = get_input("name"), get_input("pattern")
    target = resolve(get_input("path", "."))
    merge = get_bool("merge-multiple", False)
    listed = _list_artifacts()
    if name:
        chosen = [(a, target) for a in listed if a.get("name") == name]
        if not chosen:
            raise Failed(f"Unable to download artifact(s): Artifact not found for name: {name}")
    else:
        chosen = [
            (a, target if merge else target / str(a["name"]))
            for a in listed
            if not pattern or fnmatch.fnmatchcase(str(a.get("name")), pattern)
        ]
    for artifact, folder in chosen:
        artifact_name = str(artifact["name"])
        query = urllib.parse.quote(artifact_name)
        status, items = http_json("GET", f"{artifact['fileContainerResourceUrl']}?itemPath={query}")
        if status != 200 or not isinstance(items, dict):
            raise Failed(f"artifact server: HTTP {status} listing {artifact_name}: {items}")
        for item in items.get("value") or []:
            relative = str(item["path"])[len(artifact_name) + 1 :]
            destination = (folder / relative).resolve()
            if not str(destination).startswith(str(folder.resolve())):
                raise Failed(f"artifact {artifact_name}: {relative} is outside the download folder")
            status, data = http("GET", str(item["contentLocation"]))
            if status != 200:
                raise Failed(f"artifact server: HTTP {status} downloading {item['path']}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        info(f"Artifact {artifact_name} downloaded to {folder}")
    if not chosen:
        info("No artifacts to download" + (f" matching {pattern}" if pattern else ""))
    set_output("download-path", str(target))


ACTIONS: Dict[Tuple[str, str], Callable[[], None]] = {
    ("checkout", "main"): checkout_main,
    ("checkout", "post"): checkout_post,
    ("setup-python", "main"): setup_python_main,
    ("setup-uv", "main"): setup_uv_main,
    ("cache", "main"): cache_main,
    ("cache", "post"): cache_post,
    ("upload-artifact", "main"): upload_artifact_main,
    ("download-artifact", "main"): download_artifact_main,
    ("upload-pages-artifact", "main"): upload_pages_artifact_main,
    ("deploy-pages", "main"): deploy_pages_main,
}


def main(argv: List[str]) -> int:
    action = ACTIONS.get((argv[0], argv[1])) if len(argv) == 2 else None
    if action is None:
        print(
            f"usage: standin.py ACTION STAGE ({', '.join(sorted({a for a, _ in ACTIONS}))})",
            file=sys.stderr,
        )
        return 2
    try:
        action()
    except Failed as error:
        print(f"::error::{escape(str(error))}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The matrix model: machines and runtimes as frozen records, and the rules their values follow.

`matrix_load.load_catalogue(dir)` reads and validates the files into a `Catalogue`. A runtime's
notebook entries and checks are the harness protocol's own records, so their fields, defaults
and value rules are defined once, in `harness/protocol.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from ..harness.protocol import Accelerator, Checks, NotebookEntry

DEFAULT_COMMAND = (
    "PIP_DISABLE_PIP_VERSION_CHECK=1 jupyter lab --allow-root --ip=0.0.0.0 --no-browser"
    " --ServerApp.trust_xheaders=True --ServerApp.disable_check_xsrf=False"
    " --ServerApp.allow_remote_access=True --ServerApp.allow_origin='*'"
    " --ServerApp.allow_credentials=True"
)
DEFAULT_SHUTDOWN_TIMEOUT_H = 6
MAX_TIMEOUT_S = 86_400
MAX_SHUTDOWN_TIMEOUT_H = 168

# Variables a runtime may not set (README "Matrices"), compared ignoring case: names that are
# ours or the platform's, names that make a loader, shell or interpreter run other code than the
# one asked for (the harness runs under this environment too), and names that look like secrets
# (a matrix file is no place for one, and the notebook's code can read its environment).
ENV_REFUSED: Mapping[str, tuple[str, ...]] = {
    "set by grt or the platform": ("PATH", "HOME", "GRT_*"),
    "changes the code a program loads or runs": (
        "LD_*",
        "DYLD_*",
        "ENV",
        "BASH_ENV",
        "BASHOPTS",
        "SHELLOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "CDPATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PYTHONUSERBASE",
        "PYTHONEXECUTABLE",
        "PYTHONPLATLIBDIR",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "GIT_*",
    ),
    "looks like a secret": (
        "TOKEN",
        "*_TOKEN",
        "*_TOKEN_*",
        "KEY",
        "*_KEY",
        "*APIKEY*",
        "*SECRET*",
        "*PASSWORD*",
        "*PASSWD*",
        "*CREDENTIAL*",
    ),
}
_REFUSED = [
    (re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$", re.IGNORECASE), why)
    for why, patterns in ENV_REFUSED.items()
    for pattern in patterns
]


def env_refusal(name: str) -> str | None:
    """Why a runtime may not set the variable `name`, or None when it may."""
    return next((why for pattern, why in _REFUSED if pattern.match(name)), None)


CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")
REF = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/@+-]{1,200}$")
CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MACHINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
TEST_NAME = re.compile(r"^(checks|notebooks|harness)/\S.*$")
WORKSPACE_URL = re.compile(r"^https://[^\s'\"`$;|&<>\\]+$")
WORKSPACE_PATH = re.compile(r"^(?![/-])[A-Za-z0-9._/-]+$")  # relative to the matrices folder

# The same values are valid in a matrix and on the command line (settings.py checks the flags).


@dataclasses.dataclass(frozen=True)
class Machine:
    name: str
    accelerator: Accelerator
    count: int = 0  # accelerators a notebook on it must see (0 on CPU machines)
    model: str | None = None  # substring of the name nvidia-smi reports, e.g. "A4000"
    memory_gb: float | None = None  # per accelerator
    price_per_hour: float | None = None  # USD, public list price
    free: bool = False
    description: str = ""

    @property
    def label(self) -> str:
        if self.accelerator == Accelerator.CPU:
            return "CPU"
        memory = f" {self.memory_gb:g} GB" if self.memory_gb else ""
        return f"{self.count}× {self.model or self.accelerator.upper()}{memory}"


@dataclasses.dataclass(frozen=True)
class ExpectedFailure:
    machine: str  # a machine name, or "*"
    test: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Runtime:
    name: str
    slug: str
    container: str
    workspace: str | None
    workspace_ref: str | None
    machines: tuple[str, ...]
    notebooks: tuple[NotebookEntry, ...] = ()
    command: str = DEFAULT_COMMAND
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cluster_id: str | None = None
    cluster_required: bool = False
    shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT_H
    checks: Checks = dataclasses.field(default_factory=Checks)
    expected_failures: tuple[ExpectedFailure, ...] = ()
    partner: bool = False
    description: str = ""
    source: str = ""  # the matrix file it came from
    # Notebooks a cell runs at once, each in a fresh kernel (None: one per CPU on CPU machines,
    # one at a time on GPU/IPU machines, whose notebooks compete for the accelerator).
    parallel_notebooks: int | None = None


@dataclasses.dataclass(frozen=True)
class Catalogue:
    root: Path
    machines: Mapping[str, Machine]
    runtimes: tuple[Runtime, ...]

    def runtime(self, name: str) -> Runtime:
        for runtime in self.runtimes:
            if runtime.name == name:
                return runtime
        raise KeyError(name)

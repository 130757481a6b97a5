"""Packing the harness as a zipapp (the orchestrator embeds it in the notebook command).

Inside the archive the package is ``grt_harness`` and a top-level ``__main__.py`` runs it, so
``python3 harness.pyz --spec ...`` works with nothing installed. The bytes are reproducible: same
sources, same archive.
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import Callable, Dict, Optional

PACKAGE = "grt_harness"
MAIN_SOURCE = "import sys\nfrom grt_harness.__main__ import main\nsys.exit(main())\n"
_EXCLUDED = ("pack.py",)  # only needed to build the archive


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

"""The dashboard screenshot in the README (docs/dashboard.png), and the command that retakes it:

    uv run python -m tests.dashboard.screenshot      (needs Debian's chromium)

It renders the sample history of two runtimes (tests/dashboard/samples.py, without its hostile
entries) and screenshots index.html in headless Chromium at 1200x820.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from gradient_runtime_test import history
from gradient_runtime_test.dashboard import write_site
from gradient_runtime_test.history import store
from tests.browser import browser
from tests.dashboard.samples import records

TARGET = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store.append(root / "history", records(hostile=False))
        write_site(history.load(root / "history"), root / "site", generated="2026-11-30T09:00:00Z")
        with browser(root / "profile") as page:
            page.open((root / "site" / "index.html").as_uri(), width=1200, height=820)
            TARGET.write_bytes(page.screenshot())
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

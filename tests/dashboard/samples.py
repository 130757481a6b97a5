"""A run history of two runtimes over a few nights, as `grt run --history` writes it: every status,
prices and none, a reused cell, a fan-out run, and hostile text where history may carry it."""

from __future__ import annotations

from pathlib import Path

from gradient_runtime_test.history import store
from gradient_runtime_test.history.records import Record, order, slug
from gradient_runtime_test.results import CellStatus, Reuse

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \x1b[31mred'
PRICES = {"A4000": 0.76, "A6000": 1.89, "C5": 0.09, "Free-GPU": None}


def _record(
    runtime: str,
    machine: str,
    night: int,
    status: CellStatus,
    **kw: object,
) -> Record:
    day = f"2026-11-{night:02d}"
    billed = 600.0 + 60 * night
    price = PRICES[machine]
    fields: dict[str, object] = {
        "run_url": f"https://github.com/acme/runtimes/actions/runs/{9000 + night}",
        "event": "schedule",
        "tests": {"passed": 12} if status == CellStatus.PASSED else {"passed": 11, "failed": 1},
        "notebook_url": f"https://console.paperspace.com/notebook/n{night}{machine}",
        **kw,
    }
    return Record(
        run_id=f"{9000 + night}/1",
        runtime=runtime,
        machine=machine,
        status=status,
        started_at=f"{day}T03:23:10Z",
        finished_at=f"{day}T03:41:52Z",
        duration_s=billed - 90,
        billed_s=billed,
        price_per_hour=price,
        cost_usd=None if price is None else billed * price / 3600,
        provider="gradient",
        container="paperspace/gradient-base:pt112",
        **fields,  # type: ignore[arg-type]
    )


def records(*, hostile: bool = True) -> list[Record]:
    found: list[Record] = []
    for night in range(20, 30):
        found.append(_record("PyTorch 1.12", "A4000", night, CellStatus.PASSED))
        status = CellStatus.FAILED if night % 3 == 0 else CellStatus.PASSED
        failures = ("notebooks/quick_start.ipynb",) if status == CellStatus.FAILED else ()
        found.append(_record("PyTorch 1.12", "A6000", night, status, failures=failures))
        found.append(
            _record(
                "PyTorch 1.12", "Free-GPU", night, CellStatus.UNAVAILABLE, reason="out of capacity"
            )
        )
    for night in range(25, 30):
        status = CellStatus.ERROR if night == 29 else CellStatus.PASSED
        found.append(
            _record(
                "TensorFlow 2.9.1",
                "C5",
                night,
                status,
                reason="harness: bundle truncated" if night == 29 else "",
            )
        )
        found.append(
            _record("TensorFlow 2.9.1", "A4000", night, CellStatus.CANCELLED, reason="budget")
        )
    reused = Reuse(
        "9028/1", "2026-11-28T03:41:52Z", "https://github.com/acme/runtimes/actions/runs/9028"
    )
    found.append(_record("TensorFlow 2.9.1", "A6000", 29, CellStatus.PASSED, reused_from=reused))
    found.append(_record("TensorFlow 2.9.1", "A6000", 28, CellStatus.SKIPPED))
    if not hostile:
        return found
    # hostile text in every field a page shows
    found.append(
        _record(
            HOSTILE,
            "C5",
            29,
            CellStatus.FAILED,
            failures=(HOSTILE,),
            reason=HOSTILE,
            run_url="javascript:alert(1)",
            event=HOSTILE,
        )
    )
    return found


def history_files(*, hostile: bool = False) -> dict[str, str]:
    """The history as a grt-history branch holds it: one JSON-lines file per runtime."""
    by_file: dict[str, list[Record]] = {}
    for r in records(hostile=hostile):
        by_file.setdefault(slug(r.runtime) + store.SUFFIX, []).append(r)
    return {name: store.render(order(found)) for name, found in by_file.items()}


def write(folder: Path, extra: list[Record] | None = None) -> Path:
    store.append(folder, [*records(), *(extra or [])])
    return folder

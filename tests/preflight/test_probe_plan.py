"""What the probe creates and how it reads back what it printed (pure, plus its command run under
the shell a runtime's image has: dash)."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gradient_runtime_test.matrix.load import load_catalogue
from gradient_runtime_test.preflight import probe_plan
from gradient_runtime_test.preflight.probe_plan import (
    BURST_LINES,
    LONG_LINE_CHARS,
    analyse_logs,
    cheapest_cpu,
    long_line,
    pad_length,
    probe_command,
    runtime_for,
)
from tests.preflight.helpers import write_matrices


@dataclasses.dataclass(frozen=True)
class Row:
    line: int | None
    message: str
    timestamp: str | None = "2024-05-01T10:02:01.100Z"


def test_the_long_line_tells_where_it_was_cut() -> None:
    line = long_line()
    assert len(line) == LONG_LINE_CHARS == 2000
    assert line.startswith("GRTPROBE-LONG-LINE: 000000030|")
    # each block ends at the position it names (1-based)
    for end in (1000, 1500, 2000):
        assert line[:end].endswith(f"{end:09d}|")


@pytest.mark.parametrize("size", [5000, 45_000])
def test_the_command_is_padded_to_the_size_of_ours(size: int) -> None:
    command = probe_command("jupyter lab --allow-root", size=size, lifetime_s=600)
    assert len(command) == size
    assert command.endswith("exec sh -c 'jupyter lab --allow-root'")
    bare = probe_command("jupyter lab --allow-root", size=0, lifetime_s=600)
    assert pad_length(bare) == 0 and pad_length(command) == size - len(bare)


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash is not installed")
def test_under_dash_it_prints_its_lines_then_ends_jupyter_by_itself(tmp_path: Path) -> None:
    marker = tmp_path / "jupyter-started"
    # Jupyter stands in as a long sleep; the probe's timer ends it (its own session: the timer
    # signals its whole process group).
    command = probe_command(f"touch {marker}; exec sleep 60", size=40_000, lifetime_s=1)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["dash", "-c", command], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    out, _ = proc.communicate(timeout=30)
    lines = out.splitlines()
    assert lines[0] == long_line()
    assert lines[1 : 1 + BURST_LINES] == [f"GRTPROBE-BURST {i}" for i in range(1, 501)]
    assert lines[-2:] == [f"GRTPROBE-PAD {pad_length(command)}", "GRTPROBE-END"]
    assert marker.exists()  # then Jupyter's command ran...
    assert proc.returncode == -signal.SIGTERM  # ...until the timer ended it
    assert time.monotonic() - started < 20


def test_analysis_of_rows_that_came_whole_and_in_order() -> None:
    command = probe_command("jupyter lab", size=1000, lifetime_s=60)
    messages = [
        long_line(),
        *(f"GRTPROBE-BURST {i}" for i in range(1, 501)),
        f"GRTPROBE-PAD {pad_length(command)}",
        "GRTPROBE-END",
    ]
    rows = [Row(i, m) for i, m in enumerate(messages, start=1)]
    logs = analyse_logs(rows, pad_sent=pad_length(command))
    assert logs["order"] == "ascending" and logs["gaps"] == [] and logs["repeated_lines"] == 0
    assert logs["long_line"] == {
        "sent": 2000, "kept": 2000, "intact": True, "head_kept": True, "split_rows": 0,
    }  # fmt: skip
    assert logs["burst"]["received"] == 500 and logs["burst"]["missing"] == []
    assert logs["pad"]["command_intact"] is True and logs["end_seen"]
    assert not logs["end_marker"]


def test_analysis_of_rows_cut_split_lost_repeated_and_reversed() -> None:
    line = long_line()
    rows = [
        Row(510, "PSEOF"),
        Row(9, "GRTPROBE-BURST 7"),
        Row(9, "GRTPROBE-BURST 7"),
        Row(4, "GRTPROBE-BURST 3"),
        Row(2, line[1000:]),  # the rest of the long line on a row of its own
        Row(1, line[:1000]),
        Row(None, "no number", None),
    ]
    logs = analyse_logs(rows, pad_sent=10)
    assert logs["order"] == "descending"
    assert logs["repeated_lines"] == 1
    assert logs["gaps"][0] == [3, 3] and logs["gaps"][1] == [5, 8]
    assert logs["end_marker"] is True
    assert logs["long_line"]["kept"] == 1000 and logs["long_line"]["split_rows"] == 1
    assert logs["long_line"]["head_kept"] and not logs["long_line"]["intact"]
    burst = logs["burst"]
    assert burst["received"] == 2 and burst["repeated"] == 1 and not burst["in_order"]
    assert burst["missing"][:2] == [[1, 2], [4, 6]]
    assert logs["pad"] == {"sent": 10, "received": None, "command_intact": None}
    assert logs["timestamps"] == 6


def test_the_cheapest_offered_cpu_machine_is_chosen(tmp_path: Path) -> None:
    catalogue = load_catalogue(write_matrices(tmp_path))
    everything = ["C4", "C5", "C7", "A4000", "A6000"]
    assert cheapest_cpu(catalogue, everything).name == "C7"  # type: ignore[union-attr]
    assert cheapest_cpu(catalogue, ["C4", "C5", "A4000"]).name == "C5"  # type: ignore[union-attr]
    assert cheapest_cpu(catalogue, ["C4", "A4000"]).name == "C4"  # type: ignore[union-attr]
    assert cheapest_cpu(catalogue, everything, ["C5"]).name == "C5"  # type: ignore[union-attr]
    assert cheapest_cpu(catalogue, ["A4000"]) is None
    machine = catalogue.machines["C7"]
    assert probe_plan.estimate(machine, 1800) == pytest.approx(0.025)
    assert probe_plan.estimate(catalogue.machines["C4"], 1800) is None


def test_the_image_comes_from_a_runtime_offered_on_that_machine(tmp_path: Path) -> None:
    other = "name: CPU Runtime\ncontainer: paperspace/cpu:1\nworkspace: null\nmachines: [C7]\n"
    catalogue = load_catalogue(write_matrices(tmp_path, extra={"cpu": other}))
    c7, cpu = catalogue.machines["C7"], catalogue.runtime("CPU Runtime")
    assert runtime_for(catalogue, c7, ()) == cpu
    doctor = catalogue.runtime("Doctor Runtime")
    assert runtime_for(catalogue, c7, (doctor,)) == doctor  # the one asked for wins

"""bench/table.py renders its table from the measurements and bench/history.jsonl: each row's goal,
whether it is met, and the previous figure of the same kind (a quick run never stands for a real one).
No benchmark runs here: the measurements are given."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("bench_table", ROOT / "bench" / "table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_table"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_table", None)


def _line(row, figure, quick, date, commit="abc1234"):
    return {"date": date, "commit": commit, "row": row, "figure": figure, "quick": quick, "command": "x"}


def test_the_table_marks_missed_goals_and_shows_the_previous_real_figure(table, tmp_path):
    history = tmp_path / "history.jsonl"
    lines = [
        _line("http", 1.75, False, "2026-11-26T20:00:00+00:00", "eac5401"),
        _line("http", 1.20, False, "2026-12-01T20:00:00+00:00", "1111111"),
        _line("http", 0.40, True, "2026-12-02T20:00:00+00:00", "2222222"),  # quick: not the real figure
        _line("undo", 24.9, False, "2026-12-04T17:00:00+00:00"),
    ]
    history.write_text("".join(json.dumps(x) + "\n" for x in lines))
    measured = {
        "http": table.Measured("cmd-http", {"http": (0.95, "runs 0.9, 1.0 s")}, load=(0.5, 0.75)),
        "undo": table.Measured("cmd-undo", {"undo": (12.5, "")}, load=(1.0, 2.0)),
        "idle": table.Measured("", error="bench/idle_cpu.py is not on this branch", load=(0.1, 0.1)),
    }
    cells = {c[0]: c for c in table.table_rows(measured, table.read_history(history), quick=False)}
    http = cells["1,000-row import over HTTP, median of 5"]
    assert http[1:4] == ["0.95 s", "≤ 1.00 s (issue 23)", "met"]
    assert http[4] == "1.20 s (2026-12-01, 1111111)"
    assert http[5] == "0.50 → 0.75" and http[6] == "cmd-http"
    undo = cells["undo record's share of a 1M-row upsert"]
    assert undo[1] == "12.5%" and undo[3] == "MISSED" and undo[4].startswith("24.9%")
    idle = cells["`roster serve` idle, CPU of its tree"]
    assert idle[1] == "not measured" and "idle_cpu.py" in idle[7] and idle[4] == "none"
    assert "**missed**" in table.render_markdown(list(cells.values()))
    assert "MISSED" in table.render_text(list(cells.values()))

    quick = {c[0]: c for c in table.table_rows(measured, table.read_history(history), quick=True)}
    assert quick["1,000-row import over HTTP, median of 2 (quick)"][4] == "0.40 s (2026-12-02, 2222222, quick)"


def test_a_quick_run_is_recorded_as_quick_and_left_out_of_results(table, tmp_path, monkeypatch):
    history, results = tmp_path / "history.jsonl", tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n")

    def fake(size, log):
        return table.Measured(f"fixed --runs {size['runs']}", {"fixed": (2.5, "")})

    monkeypatch.setitem(table.MEASURE, "fixed", fake)
    table.main(["--quick", "--only", "fixed", "--history", str(history), "--results", str(results)])
    (line,) = table.read_history(history)
    assert line["row"] == "fixed" and line["quick"] is True and line["met"] is False and line["command"] == "fixed --runs 2"
    assert results.read_text() == "# Benchmark results\n"

    table.main(["--only", "fixed", "--history", str(history), "--results", str(results)])
    real = table.read_history(history)[-1]
    assert real["quick"] is False and real["command"] == "fixed --runs 5"
    section = results.read_text()
    assert "## The bench table, " in section and "| `roster import` of 5 rows, median of 5 | 2.50 s |" in section
    assert "| none |" in section  # the quick line before it is not its previous figure


def test_the_idle_row_reads_the_last_line_of_idle_cpu_json(table, tmp_path, monkeypatch):
    """The interface the idle row expects of bench/idle_cpu.py: `--json --seconds N --settle N`, and
    a JSON object with "idle_cpu_percent" as the last line of its output (here a stand-in script)."""
    (tmp_path / "bench").mkdir()
    script = tmp_path / "bench" / "idle_cpu.py"
    monkeypatch.setattr(table, "ROOT", tmp_path)
    monkeypatch.setattr(table, "PY", sys.executable)
    assert table.idle({"seconds": 10, "settle": 5}, print).error == "bench/idle_cpu.py is not in this checkout"

    script.write_text(
        "import json, sys\n"
        "assert sys.argv[1:] == ['--json', '--seconds', '10', '--settle', '5'], sys.argv\n"
        "print('  1.2%  pid 1  roster serve')\n"
        "print(json.dumps({'idle_cpu_percent': 3.25, 'processes_started': 1, 'processes_ended': 0}))\n"
    )
    logged = []
    m = table.idle({"seconds": 10, "settle": 5}, logged.append)
    assert m.figures["idle"][0] == 3.25 and m.error is None
    assert logged == ["  1.2%  pid 1  roster serve"]
    assert m.command.endswith("bench/idle_cpu.py --json --seconds 10 --settle 5")

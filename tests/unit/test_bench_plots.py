"""bench/plots.py draws make bench's charts from the tables recorded in bench/results.md."""

from __future__ import annotations

from pathlib import Path

from bench.plots import column, draw, section_table

RESULTS = """# Benchmark results

## 1. Fan-out scale

| connections | ours: wall s | ours: posts/s | tutorial: wall s |
|---|---|---|---|
| 10 | 0.06 | 176 | 0.35 |
| 1000 | 2.01 | 498 | nan |

## 3. Local end-to-end

| clients | latency p50 ms | p95 ms | p99 ms |
|---|---|---|---|
| 10 | 367 | 756 | 873 |
| 50 | 1164 | 2130 | 2348 |

## 7. Fan-out workers for large rooms

| connections | time to the last delivery s |
|---|---|
| 10,000 | **1.20** (with moto's SQS: 2.05) |
"""


def test_the_recorded_tables_are_read_by_section_and_column() -> None:
    assert column(section_table(RESULTS, 1), "tutorial: wall s") == [0.35, None]
    assert column(section_table(RESULTS, 7), "connections") == [10_000.0]
    assert column(section_table(RESULTS, 7), "time to the last") == [1.2]
    assert section_table(RESULTS, 5) == []


def test_both_charts_are_drawn_from_results_md_and_missing_sections_are_left_out(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results.md"
    results.write_text(RESULTS, encoding="utf-8")
    written = draw(results, tmp_path / "img")
    assert [p.name for p in written] == ["latency.png", "fanout.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results.write_text("# Benchmark results\n", encoding="utf-8")
    assert draw(results, tmp_path / "none") == []

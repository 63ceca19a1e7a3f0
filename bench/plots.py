"""`make bench`'s charts, drawn from the tables recorded in bench/results.md (no bench re-run):

- latency.png: local end-to-end latency percentiles against clients (section 3), beside a
  plain websockets broadcast server under the same load (section 8);
- fanout.png: time to deliver one message against connections, ours and the Scan-and-post
  tutorial design (section 1), and through the fan-out workers (section 7).

    python -m bench.plots [--results bench/results.md] [--out docs/img]

A series missing from results.md (a section not run) is left out of its chart.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.common import REPO

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def section_table(markdown: str, number: int) -> list[dict[str, str]]:
    """The rows of the first table under `## <number>.`, as header => cell; [] if none."""
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", markdown, re.M | re.S)
    if not match:
        return []
    lines = [line for line in match.group(0).splitlines() if line.startswith("|")]
    if len(lines) < 3:
        return []
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    headers = cells[0]
    return [dict(zip(headers, row, strict=False)) for row in cells[2:]]


def number(cell: str) -> float | None:
    """The first number in a cell (`**2.18** (with ...)` is 2.18; `nan` or text is None)."""
    found = NUMBER.search(cell.replace("**", ""))
    return float(found.group(0).replace(",", "")) if found else None


def column(rows: list[dict[str, str]], prefix: str) -> list[float | None]:
    """The cells of the first column whose header starts with `prefix`, as numbers."""
    if not rows:
        return []
    name = next((h for h in rows[0] if h.startswith(prefix)), None)
    return [number(r[name]) if name else None for r in rows]


def draw(results: Path, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markdown = results.read_text(encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    written = []

    e2e = section_table(markdown, 3)
    clients = column(e2e, "clients")
    if clients:
        figure, axes = plt.subplots(figsize=(6, 4))
        for label, prefix in (("p50", "latency p50"), ("p95", "p95"), ("p99", "p99")):
            values = column(e2e, prefix)
            points = [(c, v) for c, v in zip(clients, values, strict=True) if c and v]
            axes.plot(*zip(*points, strict=True), marker="o", label=f"ours, {label}")
        floor = section_table(markdown, 8)
        floor_clients = column(floor, "clients")
        for label, prefix in (("p50", "latency p50"), ("p99", "p99")):
            values = column(floor, prefix)
            points = [(c, v) for c, v in zip(floor_clients, values, strict=True) if c and v]
            if points:
                axes.plot(
                    *zip(*points, strict=True),
                    marker="^",
                    linestyle="--",
                    label=f"plain websockets server, {label}",
                )
        axes.set(
            xlabel="clients in one room (100 messages at 20/s)",
            ylabel="send to receipt, ms",
            title="Local cloud: latency against clients",
        )
        axes.set_yscale("log")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        written.append(out / "latency.png")
        figure.savefig(written[-1], dpi=120)
        plt.close(figure)

    scale = section_table(markdown, 1)
    chunks = section_table(markdown, 7)
    if scale or chunks:
        figure, axes = plt.subplots(figsize=(6, 4))
        sizes = column(scale, "connections")
        for label, prefix in (
            ("ours: one function, 32 posts in flight", "ours: wall s"),
            ("tutorial: Scan, post one by one", "tutorial: wall s"),
        ):
            values = column(scale, prefix)
            points = [(c, v) for c, v in zip(sizes, values, strict=True) if c and v]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=label)
        chunk_sizes = column(chunks, "connections")
        last = column(chunks, "time to the last delivery")
        points = [(c, v) for c, v in zip(chunk_sizes, last, strict=True) if c and v]
        if points:
            axes.plot(
                *zip(*points, strict=True),
                marker="s",
                linestyle="--",
                label="ours: fan-out workers (partly computed, bench 7)",
            )
        axes.axhline(60, color="grey", linestyle=":", label="stream processor timeout, 60 s")
        axes.set(
            xlabel="connections in the room",
            ylabel="time to the last delivery, s",
            title="Fan-out of one message (posts answered after 20 ms)",
        )
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        written.append(out / "fanout.png")
        figure.savefig(written[-1], dpi=120)
        plt.close(figure)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results.md")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    for path in draw(args.results, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""`make bench`: every benchmark, printed and written to bench/results.md.

python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (  # noqa: E402
    broadcast_baseline,
    cold_start,
    cost,
    fanout_chunks,
    fanout_scale,
    frontend_render,
    limits_cost,
    local_e2e,
    plots,
    search,
)
from bench.common import REPO, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    sections = []
    steps = [
        (
            "1. Fan-out scale",
            lambda: fanout_scale.run([10, 100] if args.quick else [10, 100, 1000, 5000], 20.0, 32),
        ),
        ("2. Cost per message", lambda: cost.run([2, 10] if args.quick else [2, 10, 100])),
        (
            "3. Local end-to-end",
            # The clients ask for messageBatch frames, as the browser client does.
            lambda: local_e2e.run(
                [10] if args.quick else [10, 50, 100],
                20.0,
                40 if args.quick else 100,
                batch=True,
            ),
        ),
        ("4. Cold-start proxies", cold_start.run),
        (
            "5. Browser client rendering",
            lambda: frontend_render.run(runs=2 if args.quick else 5),
        ),
        (
            "6. Search reads",
            lambda: search.run([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]),
        ),
        (
            "7. Fan-out workers for large rooms",
            lambda: fanout_chunks.run([10_000] if args.quick else [10_000, 100_000], 20.0, 32)[0],
        ),
        (
            "8. The floor: a plain websockets broadcast server",
            lambda: broadcast_baseline.run([10] if args.quick else [10, 50, 100], 20.0, 100),
        ),
        ("9. What each abuse limit costs", limits_cost.run),
    ]
    started = time.monotonic()
    for title, step in steps:
        print(f"== {title}", flush=True)
        t0 = time.monotonic()
        body = step()
        print(body, f"\n({time.monotonic() - t0:.0f} s)\n", flush=True)
        sections.append(f"## {title}\n\n{body}\n")
    header = (
        "# Benchmark results\n\n"
        f"Measured {datetime.date.today().isoformat()} on {machine()} by "
        f"`make bench`{' (--quick)' if args.quick else ''} in {time.monotonic() - started:.0f} s. "
        "What each figure means: docs/benchmarks.md.\n"
    )
    if not args.quick:
        (REPO / "bench" / "results.md").write_text(header + "\n" + "\n".join(sections))
        print("wrote bench/results.md")
        # The charts are drawn from what was just written (bench/plots.py redraws them alone).
        for path in plots.draw(REPO / "bench" / "results.md", REPO / "docs" / "img"):
            print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()

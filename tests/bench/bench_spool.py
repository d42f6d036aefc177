"""How fast the spool commits, how many fsyncs that costs, and whether kill -9 loses anything.

    .venv/bin/python tests/bench/bench_spool.py [--dir DIR] [--seconds S] [--size BYTES] [--kills N]

Commits run for ``--seconds`` at 1, 8 and 64 concurrent committers on a fresh
spool under ``--dir`` (default: the system's temporary directory; point it at
the disk the relay's spool will live on, and not at a tmpfs, whose fsync is
free and says nothing). Then
``--kills`` crash runs: a child process commits and finishes messages and is
killed with SIGKILL at a random moment; every id it reported as committed must
be recovered, none it reported done may come back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from relay.queue import QueuedMessage, Spool  # noqa: E402
from tests.relay.queue.test_spool import kill_and_recover  # noqa: E402


async def commits_per_second(directory: Path, concurrency: int, seconds: float, size: int) -> dict[str, float]:
    spool = Spool(directory)
    spool.open()
    body = b"Subject: benchmark\r\n\r\n" + b"x" * max(0, size - 24) + b"\r\n"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def committer(n: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await spool.commit(QueuedMessage("", "billing@shop.example", (f"c{n}@example.com",)), body)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(committer(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    stats = spool.stats
    await spool.close()
    latencies.sort()
    return {
        "commits": stats.commits,
        "per_second": stats.commits / elapsed,
        "fsyncs_per_commit": stats.fsyncs_per_commit,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=None, help="where to make the temporary spools")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each concurrency level runs")
    parser.add_argument("--size", type=int, default=8192, help="message size in bytes")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-spool-", dir=args.dir) as scratch:
        print(f"spool on {scratch}, {args.size}-byte messages, {args.seconds:g} s per level")
        print(f"{'committers':>10} {'commits/s':>10} {'fsyncs/commit':>14} {'p50 ms':>8} {'p99 ms':>8}")
        for concurrency in (1, 8, 64):
            figures = asyncio.run(
                commits_per_second(Path(scratch) / f"c{concurrency}", concurrency, args.seconds, args.size)
            )
            print(
                f"{concurrency:>10} {figures['per_second']:>10.0f} {figures['fsyncs_per_commit']:>14.3f}"
                f" {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f}"
            )

        if args.kills:
            print(f"\nkill -9 runs (16 committers in a child, killed at a random moment; {os.cpu_count()} CPUs)")
            totals = {"committed": 0, "recovered": 0, "lost": 0, "resurrected": 0}
            for run in range(args.kills):
                counts = kill_and_recover(Path(scratch) / f"kill{run}", random.randint(20, 5000))
                print(
                    f"  run {run + 1}: {counts['committed']} acknowledged, {counts['done']} finished"
                    f" ({counts['finishing']} being finished at the kill), {counts['recovered']} recovered,"
                    f" {counts['lost']} lost, {counts['resurrected']} finished ones back"
                )
                for key in totals:
                    totals[key] += counts[key]
            print(
                f"  total: {totals['committed']} acknowledged, {totals['lost']} lost,"
                f" {totals['resurrected']} finished ones back"
            )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How far two workers can go on this machine: the ceiling for `-j 2` over `-j 1`.

Runs, in alternating rounds on the same input and output format:

  one      `transmogrify flatten -j 1`, alone;
  side     two `transmogrify flatten -j 1` processes started together, sharing
           nothing (each its own output directory), timed until both are done;
  two      `transmogrify flatten -j 2`, alone.

and prints the medians with two ratios: `side` as the work of one run done per
second (2 x one / side), which is what the machine gives two independent copies of
the one-thread run, and `two` over `one`, which is what the second worker gives.
Where two independent runs slow each other down (shared caches, memory bandwidth,
page cache, disk), the second worker cannot do better than the first ratio.

Usage:
  scaling.py --ours target/release/transmogrify --input events.jsonl \\
      [--format parquet] [--rounds 9] [--workdir DIR] [-- extra flatten arguments]

Each run's output directory is removed and the file system synced before the
next run, so no run pays for another's writeback. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import rounds


def flatten(ours: str, input_path: str, out: str, fmt: str, workers: int, extra: list[str]):
    return [ours, "flatten", input_path, "-o", out, "-f", fmt, "-j", str(workers), "--quiet", *extra]


def timed(commands: list[list[str]]) -> float:
    """Starts every command at once; seconds until the last one exits."""
    start = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    failed = []
    for p, c in zip(procs, commands):
        _, err = p.communicate()
        if p.returncode != 0:
            failed.append(f"{' '.join(c)}: exit {p.returncode}: {err.decode(errors='replace')[-500:]}")
    elapsed = time.perf_counter() - start
    if failed:
        sys.exit("scaling: a run failed\n" + "\n".join(failed))
    return elapsed


def main() -> None:
    parser = rounds.parser(__doc__, rounds=9)
    args = parser.parse_args()
    rounds.check(parser, args)

    work = args.workdir or tempfile.mkdtemp(prefix="transmogrify-scaling-")
    os.makedirs(work, exist_ok=True)
    outs = [os.path.join(work, "a"), os.path.join(work, "b")]

    def clean() -> None:
        for d in outs:
            shutil.rmtree(d, ignore_errors=True)
        os.sync()

    rounds.warm(args.input)

    run = lambda out, j: flatten(args.ours, args.input, out, args.format, j, args.extra)
    one, side, two = [], [], []
    for _ in range(args.rounds):
        clean()
        one.append(timed([run(outs[0], 1)]))
        clean()
        side.append(timed([run(outs[0], 1), run(outs[1], 1)]))
        clean()
        two.append(timed([run(outs[0], 2)]))
    clean()
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)

    m1, ms, m2 = (statistics.median(x) for x in (one, side, two))
    print(f"input {args.input} ({os.path.getsize(args.input) / 1e6:.1f} MB), "
          f"to {args.format}, {os.cpu_count()} cores, medians of {args.rounds} rounds")
    print(f"  one thread                        {m1:6.3f} s")
    print(f"  two one-thread runs side by side  {ms:6.3f} s  {2 * m1 / ms:.2f}x the work per second")
    print(f"  two threads                       {m2:6.3f} s  {m1 / m2:.2f}x")
    print(f"  two threads reach {100 * (m1 / m2) / (2 * m1 / ms):.0f}% of what two independent runs get")
    rounds.print_runs([("one", one), ("side", side), ("two", two)])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How far two workers can go on this machine: the ceiling for `-j 2` over `-j 1`.

Runs, in alternating rounds on the same input and output format:

  one      `transmogrify flatten -j 1`, alone;
  side     two `transmogrify flatten -j 1` processes started together, sharing
           nothing (each its own output directory), timed until both are done;
  two      `transmogrify flatten -j 2`, alone.

and prints the medians (seconds, input MB per second, peak RSS of each process)
with two ratios: `side` as the work of one run done per second (2 x one / side),
which is what the machine gives two independent copies of the one-thread run, and
`two` over `one`, which is what the second worker gives.
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
import tempfile

import rounds


def flatten(ours: str, input_path: str, out: str, fmt: str, workers: int, extra: list[str]):
    return [ours, "flatten", input_path, "-o", out, "-f", fmt, "-j", str(workers), "--quiet", *extra]


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
    timed = lambda commands: rounds.run(commands, "scaling")
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

    mb = os.path.getsize(args.input) / 1e6
    m1, ms, m2 = (statistics.median(r.seconds for r in x) for x in (one, side, two))
    p1, ps, p2 = (statistics.median(max(r.peaks) for r in x) for x in (one, side, two))
    print(f"input {args.input} ({mb:.1f} MB), to {args.format}, {os.cpu_count()} cores, "
          f"medians of {args.rounds} rounds (peak RSS: the largest process of a run)")
    print(f"  one thread                        {m1:6.3f} s  {mb / m1:7.1f} MB/s  {rounds.mib(p1)}")
    print(f"  two one-thread runs side by side  {ms:6.3f} s  {2 * mb / ms:7.1f} MB/s  "
          f"{rounds.mib(ps)} each  {2 * m1 / ms:.2f}x the work per second")
    print(f"  two threads                       {m2:6.3f} s  {mb / m2:7.1f} MB/s  {rounds.mib(p2)}  "
          f"{m1 / m2:.2f}x")
    print(f"  two threads reach {100 * (m1 / m2) / (2 * m1 / ms):.0f}% of what two independent runs get")
    rounds.print_runs([(name, [r.seconds for r in x]) for name, x in
                       (("one", one), ("side", side), ("two", two))])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""One worker against the parse ceiling: `transmogrify flatten` on one thread against
serde_json parsing the same bytes into `serde_json::Value`.

Runs, in alternating rounds on the same JSONL input:

  value    benches/value-rate: the file read into memory, then every line parsed into
           a `serde_json::Value` (serde_json's default features, built with LTO); the
           parse time alone is counted, not the reading;
  ignored  the same lines validated into `IgnoredAny`, for reference;
  ours     `transmogrify flatten --executor sequential` to the format asked for, the
           whole process timed (reading, flattening, writing and syncing the files).

and prints the medians (seconds, MB per second, peak RSS) with the ratio the
performance goals state: ours at N times the
`Value` rate (at least 1, aiming for 1.5, to Parquet). The serde_json program is built
on first use with `cargo build --release` (crates.io is needed once, for serde_json).

Usage:
  value_rate.py --ours target/release/transmogrify --input events.jsonl \\
      [--format parquet] [--rounds 7] [--value-rate BIN] [-- extra flatten arguments]

Each run's output directory is removed and the file system synced before the next run,
so no run pays for another's writeback. Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import rounds

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_value_rate() -> str:
    """Builds benches/value-rate (outside the workspace) and returns its binary."""
    manifest = os.path.join(ROOT, "benches", "value-rate", "Cargo.toml")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    target = os.path.join(target, "value-rate")
    build = ["cargo", "build", "--release", "--quiet", "--manifest-path", manifest,
             "--target-dir", target]
    done = subprocess.run(build)
    if done.returncode != 0:
        sys.exit(f"value_rate: `{' '.join(build)}` failed (exit {done.returncode})")
    return os.path.join(target, "release", "transmogrify-value-rate")


def parse_run(program: str, input_path: str, ignored_any: bool) -> tuple[float, int]:
    """The parse time the serde_json program reports for one run, and its peak RSS
    (the whole file is read into memory first: about its size, plus the parser's)."""
    cmd = [program, *(["--ignored-any"] if ignored_any else []), input_path]
    done = rounds.run([cmd], "value_rate", keep_stdout=True)
    last = done.stdouts[0].decode().strip().splitlines()[-1]
    return float(json.loads(last)["parse_seconds"]), done.peaks[0]


def main() -> None:
    parser = rounds.parser(__doc__, rounds=7)
    parser.add_argument("--value-rate", default=None,
                        help="the benches/value-rate binary [built with cargo on first use]")
    args = parser.parse_args()
    rounds.check(parser, args)
    program = args.value_rate or build_value_rate()

    work = args.workdir or tempfile.mkdtemp(prefix="transmogrify-value-rate-")
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "out")
    ours_cmd = [args.ours, "flatten", args.input, "-o", out, "-f", args.format,
                "--executor", "sequential", "--force", "--quiet", *args.extra]

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        os.sync()

    rounds.warm(args.input)

    value, ignored, ours = [], [], []
    peaks = {"value": [], "ignored": [], "ours": []}
    for _ in range(args.rounds):
        for name, runs, ignored_any in (("value", value, False), ("ignored", ignored, True)):
            seconds, peak = parse_run(program, args.input, ignored_any)
            runs.append(seconds)
            peaks[name].append(peak)
        clean()
        done = rounds.run([ours_cmd], "value_rate")
        ours.append(done.seconds)
        peaks["ours"].append(done.peaks[0])
    clean()
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)

    mb = os.path.getsize(args.input) / 1e6
    mv, mi, mo = (statistics.median(x) for x in (value, ignored, ours))
    ratios = [v / o for v, o in zip(value, ours)]
    print(f"input {args.input} ({mb:.1f} MB), {os.cpu_count()} cores, medians of {args.rounds} rounds")
    rows = [("serde_json into Value (parse only)", mv, peaks["value"]),
            ("serde_json into IgnoredAny (parse only)", mi, peaks["ignored"]),
            (f"ours, one worker, to {args.format} (whole run)", mo, peaks["ours"])]
    width = max(len(label) for label, _, _ in rows)
    for label, seconds, peak in rows:
        print(f"  {label:{width}s}  {seconds:6.3f} s  {mb / seconds:7.1f} MB/s  "
              f"peak RSS {rounds.mib(statistics.median(peak))}")
    print(f"  ours at {mv / mo:.2f}x the Value rate (round by round {min(ratios):.2f}-{max(ratios):.2f}x)")
    rounds.print_runs([("value", value), ("ignored", ignored), ("ours", ours)])


if __name__ == "__main__":
    main()

"""What the alternating-rounds scripts beside this file share (scaling.py,
value_rate.py): their common arguments, their checks, a warm input and timed runs
with their peak memory. Standard library only (`os.wait4`: Linux and other Unixes)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass


def parser(doc: str, rounds: int) -> argparse.ArgumentParser:
    """An argument parser with the options every such script takes: --ours, --input,
    --format, --rounds (default `rounds`), --workdir and extra flatten arguments."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--ours", required=True, help="the transmogrify binary")
    p.add_argument("--input", required=True, help="input file")
    p.add_argument("--format", default="parquet", choices=["csv", "json", "jsonl", "parquet"])
    p.add_argument("--rounds", type=int, default=rounds, help=f"alternating rounds [{rounds}]")
    p.add_argument("--workdir", default=None, help="where outputs go [a temporary directory]")
    p.add_argument("extra", nargs="*", help="extra arguments for `transmogrify flatten`")
    return p


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stops with a usage error unless the rounds, the input and the binary are usable."""
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if not os.path.isfile(args.input):
        p.error(f"no input file {args.input}")
    if not (os.path.isfile(args.ours) and os.access(args.ours, os.X_OK)):
        p.error(f"{args.ours} is not an executable (build it: cargo build --release -p transmogrify-cli)")


def warm(path: str) -> None:
    """Reads the input through once, so that every run finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def print_runs(named: list[tuple[str, list[float]]]) -> None:
    """Prints every run's seconds, a line per kind of run, in round order."""
    width = max(len(name) for name, _ in named) + 1
    for name, xs in named:
        print(f"    {name:{width}s}" + " ".join(f"{x:.3f}" for x in xs))


@dataclass
class Run:
    """What one batch of processes started together took."""

    seconds: float
    """Wall time from the start until the last of them exited."""
    peaks: list[int]
    """Each process's peak resident set, in bytes (`ru_maxrss`)."""
    stdouts: list[bytes]
    """Each process's standard output."""


def run(commands: list[list[str]], script: str, keep_stdout: bool = False) -> Run:
    """Starts every command at once and waits for them all: the seconds until the
    last one exits and each one's peak RSS. Stops the script with the command, its
    exit code and the end of its standard error if any of them fails."""
    outs = [tempfile.TemporaryFile() for _ in commands]
    errs = [tempfile.TemporaryFile() for _ in commands]
    start = time.perf_counter()
    procs = [
        subprocess.Popen(c, stdout=o if keep_stdout else subprocess.DEVNULL, stderr=e)
        for c, o, e in zip(commands, outs, errs)
    ]
    peaks, failed = [], []
    for p, c, e in zip(procs, commands, errs):
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss is in KiB on Linux (bytes on macOS, where the peaks read 1024x).
        peaks.append(usage.ru_maxrss * 1024)
        if p.returncode != 0:
            e.seek(0)
            tail = e.read().decode(errors="replace")[-500:]
            failed.append(f"{' '.join(c)}: exit {p.returncode}: {tail}")
    seconds = time.perf_counter() - start
    stdouts = []
    for o, e in zip(outs, errs):
        o.seek(0)
        stdouts.append(o.read())
        o.close()
        e.close()
    if failed:
        sys.exit(f"{script}: a run failed\n" + "\n".join(failed))
    return Run(seconds, peaks, stdouts)


def mib(n: float) -> str:
    """Bytes as MiB, for the peak RSS columns."""
    return f"{n / (1 << 20):5.0f} MiB"

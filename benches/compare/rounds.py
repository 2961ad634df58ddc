"""What the alternating-rounds scripts beside this file share (scaling.py,
value_rate.py): their common arguments, their checks and a warm input. Standard
library only."""

from __future__ import annotations

import argparse
import os


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

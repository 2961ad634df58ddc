#!/usr/bin/env python3
"""Runs Transmogrify and its peers on the same input and prints a comparison table.

Called by `benches/compare.sh`, which sets up the virtual environment, builds the CLI
and generates the input. Two modes:

  run_peers.py compare --input FILE --ours BIN [options]
      Runs every (format, tool, threads) combination in its own process, --repeat
      times in rounds (each round runs every combination once), measures wall
      time and peak RSS of that process (os.wait4), checks that output was written and
      prints the table. Results are also written as JSON (--json).

  run_peers.py one TOOL FORMAT THREADS INPUT OUTDIR
      Runs one peer (flatterer, transmog, transmog-typed, duckdb) in this process. Used
      by `compare` so that each run has its own process and its own peak RSS. Prints one
      JSON line of extra facts (rows, notes) on stdout.

Only the standard library is needed for `compare`; `one` imports the peer it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

PEERS = ("flatterer", "transmog", "transmog-typed", "duckdb")
TOOLS = ("ours",) + PEERS
FORMATS = ("csv", "parquet")


# --------------------------------------------------------------------------- one run


def run_flatterer(fmt: str, threads: int, input_path: str, out_dir: str) -> dict:
    import flatterer

    # json_stream (a stream of objects, which JSONL is) rather than ndjson: with ndjson
    # the threads option has no effect in 0.25; the output is the same.
    flatterer.flatten(
        input_path,
        out_dir,
        csv=(fmt == "csv"),
        parquet=(fmt == "parquet"),
        json_stream=True,
        threads=threads,
        force=True,
    )
    return {"data_dir": os.path.join(out_dir, fmt)}


def run_transmog(fmt: str, threads: int, input_path: str, out_dir: str, typed: bool) -> dict:
    import transmog

    if threads != 1:
        raise SystemExit("transmog has no thread option")
    # Text mode (stringify_values) matches Transmogrify's default; typed mode is
    # transmog's own default.
    config = transmog.TransmogConfig(stringify_values=not typed)
    name = os.path.splitext(os.path.basename(input_path))[0].replace("-", "_")
    transmog.flatten_stream(input_path, out_dir, name=name, output_format=fmt, config=config)
    return {"notes": "typed values" if typed else "stringify_values=True"}


def run_duckdb(fmt: str, threads: int, input_path: str, out_dir: str) -> dict:
    import duckdb

    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"out.{fmt}")
    con = duckdb.connect()
    con.execute(f"SET threads={int(threads)}")
    # ignore_errors: DuckDB refuses objects with duplicate keys; with it the offending
    # value is dropped and the record kept (rows are counted below).
    ignore = os.environ.get("DUCKDB_IGNORE_ERRORS", "0") != "0"
    options = ", ignore_errors=true" if ignore else ""
    source = f"read_ndjson_auto('{input_path}'{options})"
    con.execute(f"COPY (SELECT * FROM {source}) TO '{out}' (FORMAT {fmt})")
    return {
        # Not the same output: DuckDB infers one table whose nested objects and
        # arrays stay whole values (STRUCT, LIST, or one MAP for records of many
        # keys), where the others flatten them into columns and child tables.
        "notes": "one table, nested values kept whole (no flattening, no child tables)"
                 + ("; ignore_errors=true" if ignore else ""),
    }


def cmd_one(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.tool == "flatterer":
        extra = run_flatterer(args.format, args.threads, args.input, args.out_dir)
    elif args.tool == "transmog":
        extra = run_transmog(args.format, args.threads, args.input, args.out_dir, typed=False)
    elif args.tool == "transmog-typed":
        extra = run_transmog(args.format, args.threads, args.input, args.out_dir, typed=True)
    elif args.tool == "duckdb":
        extra = run_duckdb(args.format, args.threads, args.input, args.out_dir)
    else:
        raise SystemExit(f"unknown peer {args.tool}")
    extra["inner_seconds"] = time.perf_counter() - start
    print(json.dumps(extra))
    return 0


# --------------------------------------------------------------------------- compare


@dataclass
class Result:
    tool: str
    format: str
    threads: int
    ok: bool = False
    seconds: float | None = None
    mb_per_second: float | None = None
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    load: float | None = None
    tables: int | None = None
    output_mb: float | None = None
    vs_ours: float | None = None
    notes: str = ""
    runs: list = field(default_factory=list)


def output_files(out_dir: str, fmt: str, data_dir: str | None) -> list[str]:
    root = data_dir or out_dir
    found = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith("." + fmt):
                if data_dir is None and name in ("fields.csv", "tables.csv"):
                    continue
                found.append(os.path.join(dirpath, name))
    return found


def last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "no message"
    # The first `error:` line where there is one (ours and other command-line tools
    # print hints after it); else the last exception a Python traceback names
    # (`ValueError: ...`, DuckDB's `_duckdb.InvalidInputException: ...`, which it
    # follows with the query and a caret line); else the message of a Rust panic
    # (the line after `panicked at <file>:<line>:<column>:`); else the last line
    # with words in it.
    errors = [line for line in lines if line.startswith("error:")]
    exceptions = [line for line in lines
                  if re.match(r"^[\w.]*(Error|Exception)\b[^:]*: ", line)]
    panics = [lines[i + 1] for i, line in enumerate(lines[:-1])
              if re.search(r"panicked at \S+:\d+:\d+:?$", line)]
    wordy = [line for line in lines
             if re.search(r"[A-Za-z]{3,}", line)
             and not re.fullmatch(r"[\w./\\-]+:\d+(:\d+)?:?", line)]
    message = next(iter(errors or [])) if errors else (
        exceptions[-1] if exceptions else panics[-1] if panics
        else wordy[-1] if wordy else lines[-1])
    return message if len(message) <= 160 else message[:157] + "..."


def wait_idle(max_load: float | None, max_wait: float) -> bool:
    """Waits (at most max_wait seconds) until the 1-minute load average is below
    max_load, saying so on stderr; false if the wait ran out."""
    if max_load is None or os.getloadavg()[0] < max_load:
        return True
    print(f"waiting up to {max_wait:.0f} s for the load average "
          f"({os.getloadavg()[0]:.2f}) to drop below {max_load}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= max_load:
        if time.monotonic() >= deadline:
            print(f"the load average is still {os.getloadavg()[0]:.2f}: running anyway",
                  file=sys.stderr, flush=True)
            return False
        time.sleep(2)
    return True


def warm(path: str) -> None:
    """Reads the input through once, so every run starts with it in the page cache
    (a machine may drop cached pages of a file between runs, and the run that found
    them gone would pay for the disk)."""
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def timed(cmd: list[str], log_path: str, timeout: float):
    """Runs cmd; returns (status, seconds, peak RSS in MB, CPU seconds, stdout, stderr)."""
    with open(log_path + ".out", "w+b") as out, open(log_path + ".err", "w+b") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        status = None
        rusage = None
        deadline = start + timeout
        while True:
            pid, wait_status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, wait_status, rusage = os.wait4(proc.pid, 0)
                status = None
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        proc.returncode = status if status is not None else -9  # keep Popen from re-waiting
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    peak_mb = rusage.ru_maxrss * 1024 / 1e6  # Linux reports KiB
    cpu = rusage.ru_utime + rusage.ru_stime
    if status is None:
        return -1, seconds, peak_mb, cpu, stdout, f"timed out after {timeout:.0f} s"
    return status, seconds, peak_mb, cpu, stdout, stderr


def command_for(tool: str, fmt: str, threads: int, args, out_dir: str) -> list[str]:
    if tool == "ours":
        cmd = [args.ours, "flatten", args.input, "-o", out_dir, "-f", fmt, "--force", "--quiet"]
        if threads == 1:
            cmd += ["--executor", "sequential"]
        else:
            cmd += ["--executor", "threads", "--workers", str(threads)]
        return cmd + args.ours_arg
    return [sys.executable, os.path.abspath(__file__), "one", tool, fmt, str(threads), args.input, out_dir]


def supported_threads(tool: str, threads: list[int]) -> list[int]:
    if tool.startswith("transmog"):
        return [1]
    return threads


def failed(result: Result, run: dict, notes: str, out_dir: str) -> Result:
    """Marks `result` failed with the figures of `run` and removes its output."""
    result.ok = False
    result.seconds = run["seconds"]
    result.peak_rss_mb = run["peak_rss_mb"]
    result.cpu_seconds = run["cpu_seconds"]
    result.load = run["load"]
    result.notes = notes
    shutil.rmtree(out_dir, ignore_errors=True)
    return result


def run_once(result: Result, attempt: int, args) -> bool:
    """Runs `result`'s case once more (its run number `attempt`) and records the run;
    whether it succeeded (a failed run marks the whole case failed)."""
    tool, fmt, threads = result.tool, result.format, result.threads
    out_dir = os.path.join(args.workdir, "out", f"{tool}-{fmt}-{threads}")
    shutil.rmtree(out_dir, ignore_errors=True)
    log = os.path.join(args.workdir, "logs", f"{tool}-{fmt}-{threads}-{attempt}")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    cmd = command_for(tool, fmt, threads, args, out_dir)
    # Earlier runs' files go to disk first: no run pays for the writeback of the
    # output of the one before (which not every tool syncs itself).
    os.sync()
    idle = wait_idle(args.idle_load, args.idle_wait)
    warm(args.input)
    load = os.getloadavg()[0]
    status, seconds, peak_mb, cpu, stdout, stderr = timed(cmd, log, args.timeout)
    run = {"seconds": seconds, "peak_rss_mb": peak_mb, "cpu_seconds": cpu, "load": load,
           "status": status, "command": cmd, "round": attempt, "idle": idle}
    result.runs.append(run)
    if status != 0:
        failed(result, run, f"FAILED (exit {status}): {last_error_line(stderr)}", out_dir)
        return False
    extra = {}
    for line in reversed(stdout.strip().splitlines()):
        try:
            extra = json.loads(line)
            break
        except ValueError:
            continue
    run.update(extra)
    files = output_files(out_dir, fmt, extra.get("data_dir"))
    sizes = [os.path.getsize(f) for f in files]
    if not files or sum(sizes) == 0:
        failed(result, run, f"FAILED: exit 0 but no .{fmt} output in {out_dir}", out_dir)
        return False
    run["tables"] = len(files)
    run["output_bytes"] = sum(sizes)
    if not args.keep_output:
        shutil.rmtree(out_dir, ignore_errors=True)
    return True


def keep_best(result: Result, input_bytes: int) -> None:
    """Fills in `result`'s figures from its fastest run (all of its runs succeeded)."""
    best = min(result.runs, key=lambda run: run["seconds"])
    result.ok = True
    result.seconds = best["seconds"]
    result.mb_per_second = input_bytes / best["seconds"] / 1e6
    result.peak_rss_mb = best["peak_rss_mb"]
    result.cpu_seconds = best["cpu_seconds"]
    result.load = best["load"]
    result.tables = best["tables"]
    result.output_mb = best["output_bytes"] / 1e6
    result.notes = best.get("notes", "")
    if not best.get("idle", True):
        busy = f"ran on a busy machine (load {best['load']:.1f})"
        result.notes = f"{result.notes}; {busy}" if result.notes else busy


def run_rounds(results: list[Result], args, input_bytes: int) -> None:
    """Runs every case `args.repeat` times, in rounds: each round runs each case once,
    in the order given, so that a machine whose speed drifts from minute to minute
    weighs on every tool alike. A case that fails is not run again."""
    failed_cases = set()
    for attempt in range(args.repeat):
        for i, r in enumerate(results):
            if i in failed_cases:
                continue
            print(f"compare: round {attempt + 1}/{args.repeat}: {r.tool} -> {r.format}, "
                  f"{r.threads} thread(s) ...", file=sys.stderr, flush=True)
            if run_once(r, attempt, args):
                print(f"compare:   {r.runs[-1]['seconds']:.2f} s", file=sys.stderr, flush=True)
            else:
                failed_cases.add(i)
                print(f"compare:   {r.notes}", file=sys.stderr, flush=True)
    for i, r in enumerate(results):
        if i not in failed_cases:
            keep_best(r, input_bytes)


def fmt_num(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def print_medians(results: list[Result], out) -> None:
    """The median of each case's runs, and each peer's as a multiple of ours, when
    cases ran more than once: the best run tells what a tool can do, the medians
    how it usually does."""
    # A case left ok ran every round it was given, each run a success.
    by_round = {(r.tool, r.format, r.threads): {run["round"]: run["seconds"] for run in r.runs}
                for r in results if r.ok and len(r.runs) > 1}
    if not by_round:
        return
    ours = {(fmt, n): statistics.median(secs.values())
            for (tool, fmt, n), secs in by_round.items() if tool == "ours"}
    parts = []
    for (tool, fmt, n), secs in by_round.items():
        median = statistics.median(secs.values())
        base = ours.get((fmt, n))
        ratio = f" ({median / base:.2f}x ours)" if tool != "ours" and base else ""
        parts.append(f"{tool} {fmt} {n}: {median:.3f} s{ratio}")
    print("Medians of the runs: " + "; ".join(parts) + ".", file=out)
    print(file=out)
    # Each peer's run against ours of the same round (a few seconds apart at most).
    paired = []
    for (tool, fmt, n), secs in by_round.items():
        ours_rounds = by_round.get(("ours", fmt, n))
        if tool == "ours" or not ours_rounds:
            continue
        ratios = sorted(s / ours_rounds[k] for k, s in secs.items() if k in ours_rounds)
        if ratios:
            paired.append(f"{tool} {fmt} {n}: {ratios[0]:.2f}-{ratios[-1]:.2f}x "
                          f"(median {statistics.median(ratios):.2f}x)")
    if paired:
        print("Round by round, each peer against ours in the same round: "
              + "; ".join(paired) + ".", file=out)
        print(file=out)


def print_table(results: list[Result], out) -> None:
    headers = ["tool", "format", "threads", "seconds", "MB/s", "peak RSS MB", "vs ours",
               "CPU s", "tables", "out MB", "load", "notes"]
    rows = []
    for r in results:
        rows.append([
            r.tool,
            r.format,
            str(r.threads),
            # A failed case has no figures worth comparing: its run's are in the
            # JSON results only.
            fmt_num(r.seconds, ".2f") if r.ok else "failed",
            fmt_num(r.mb_per_second, ".1f" if r.mb_per_second >= 1 else ".3g") if r.ok else "-",
            fmt_num(r.peak_rss_mb, ".0f") if r.ok else "-",
            (format(r.vs_ours, ".2f") + "x") if r.vs_ours is not None else "-",
            fmt_num(r.cpu_seconds, ".2f") if r.ok else "-",
            fmt_num(r.tables, "d"),
            fmt_num(r.output_mb, ".1f"),
            fmt_num(r.load, ".1f"),
            r.notes,
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    numeric = {2, 3, 4, 5, 6, 7, 8, 9, 10}

    def line(cells):
        parts = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1:
                parts.append(cell)
            elif i in numeric:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        return "| " + " | ".join(parts).rstrip() + " |"

    print(line(headers), file=out)
    print("|" + "|".join("-" * (w + 1) + ":" if i in numeric
                         else "-" * (w + 2) if i < len(widths) - 1 else "-------"
                         for i, w in enumerate(widths)) + "|", file=out)
    for row in rows:
        print(line(row), file=out)


def peer_versions() -> dict:
    versions = {}
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return versions
    for name in ("flatterer", "transmog", "duckdb", "pyarrow"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions


def machine_info() -> dict:
    info = {"nproc": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return info


def cmd_compare(args: argparse.Namespace) -> int:
    tools = [t for t in args.tools.split(",") if t]
    formats = [f for f in args.formats.split(",") if f]
    threads = [int(t) for t in args.threads.split(",") if t]
    for t in tools:
        if t not in TOOLS:
            raise SystemExit(f"unknown tool {t!r}; known: {', '.join(TOOLS)}")
    for f in formats:
        if f not in FORMATS:
            raise SystemExit(f"unknown format {f!r}; known: {', '.join(FORMATS)}")
    os.makedirs(args.workdir, exist_ok=True)
    input_bytes = os.path.getsize(args.input)
    ours_version = ""
    if "ours" in tools:
        try:
            ours_version = subprocess.run([args.ours, "--version"], capture_output=True,
                                          text=True).stdout.strip()
        except OSError as e:
            raise SystemExit(f"cannot run {args.ours}: {e}")
    machine = machine_info()
    versions = peer_versions()

    results = [Result(tool=tool, format=fmt, threads=n)
               for fmt in formats for tool in tools for n in supported_threads(tool, threads)]
    run_rounds(results, args, input_bytes)

    ours = {(r.format, r.threads): r for r in results if r.tool == "ours" and r.ok}
    for r in results:
        base = ours.get((r.format, r.threads))
        if r.ok and base is not None:
            r.vs_ours = r.seconds / base.seconds

    out = sys.stdout
    print(file=out)
    print(f"Input: {args.input} ({input_bytes / 1e6:.1f} MB, {args.label})", file=out)
    print(f"Machine: {machine.get('cpu', '?')}, {machine['nproc']} cores, "
          f"{machine.get('mem_gib', '?')} GiB RAM; {machine['platform']}", file=out)
    peers = ", ".join(f"{k} {v}" for k, v in versions.items())
    print(f"Versions: {ours_version or 'transmogrify'}; {peers}; Python {machine['python']}",
          file=out)
    if args.ours_arg and "ours" in tools:
        print(f"Ours ran with: {' '.join(args.ours_arg)}", file=out)
    print(f"Best of {args.repeat} run(s) each, in {args.repeat} round(s) of every case; input "
          "in the page cache; earlier output flushed to disk before each run.", file=out)
    print(file=out)
    print_table(results, out)
    print(file=out)
    print_medians(results, out)
    print("seconds: wall time of the whole process (start-up and imports included); "
          "MB/s: input bytes / seconds / 1e6;", file=out)
    print("peak RSS: maximum resident set of the run's process (getrusage via wait4); "
          "vs ours: seconds / ours' seconds at the same format and thread count "
          "(above 1: ours is faster);", file=out)
    print("CPU s: user + system CPU seconds of the run; load: 1-minute load average when "
          "the run started (other work on the machine inflates seconds, less so CPU s).",
          file=out)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "input": args.input, "input_bytes": input_bytes, "label": args.label,
                "machine": machine, "versions": versions, "ours_version": ours_version,
                "results": [asdict(r) for r in results],
            }, f, indent=2)
    return 0 if all(r.ok for r in results if r.tool == "ours") else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    one = sub.add_parser("one", help="run one peer in this process")
    one.add_argument("tool", choices=PEERS)
    one.add_argument("format", choices=FORMATS)
    one.add_argument("threads", type=int)
    one.add_argument("input")
    one.add_argument("out_dir")

    cmp_ = sub.add_parser("compare", help="run every tool and print the table")
    cmp_.add_argument("--input", required=True)
    cmp_.add_argument("--ours", required=True, help="path of the transmogrify binary")
    cmp_.add_argument("--ours-arg", action="append", default=[],
                      help="extra argument for our CLI (repeatable)")
    cmp_.add_argument("--tools", default=",".join(TOOLS))
    cmp_.add_argument("--formats", default=",".join(FORMATS))
    cmp_.add_argument("--threads", default="1,2")
    cmp_.add_argument("--repeat", type=int, default=1)
    cmp_.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    cmp_.add_argument("--workdir", required=True, help="outputs and logs go here")
    cmp_.add_argument("--keep-output", action="store_true")
    cmp_.add_argument("--idle-load", type=float,
                      help="before each run, wait until the 1-minute load average is below this")
    cmp_.add_argument("--idle-wait", type=float, default=300.0,
                      help="longest wait for --idle-load, in seconds")
    cmp_.add_argument("--label", default="", help="description of the input for the header")
    cmp_.add_argument("--json", help="also write the results here as JSON")

    args = parser.parse_args()
    if args.command == "one":
        return cmd_one(args)
    args.input = os.path.abspath(args.input)
    args.workdir = os.path.abspath(args.workdir)
    args.repeat = max(1, args.repeat)
    return cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())

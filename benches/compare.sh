#!/usr/bin/env bash
# Compares Transmogrify with its peers (flatterer, transmog, DuckDB) on the same input
# and output format, and prints a table: tool, format, threads, seconds, MB/s, peak RSS,
# ratio to ours.
#
# Steps: create or reuse a virtual environment with the peers (from PyPI), build the
# release CLI and the data generator, generate the input (deterministic from SEED), run
# every tool in its own process (benches/compare/run_peers.py), print the table.
# Needs network access only for PyPI and crates.io, and only when something is missing.
#
# Usage: benches/compare.sh
# Settings (environment variables, defaults in brackets):
#   SIZE      input size, bytes or records as gen-data takes them      [300MB]
#   SHAPE     api-events | orders | wide | sparse                      [api-events]
#   SEED      generator seed                                           [42]
#   INPUT     use this JSONL file instead of generating one            []
#   TOOLS     comma list of ours,flatterer,transmog,transmog-typed,duckdb
#                                              [ours,flatterer,transmog,transmog-typed,duckdb]
#   FORMATS   comma list of csv,parquet                                [csv,parquet]
#   THREADS   comma list of thread counts (transmog always runs 1)     [1,2]
#   REPEAT    rounds, each running every case once; the fastest run of
#             each case is reported, with medians and round-by-round
#             ratios                                                   [1]
#   TIMEOUT   seconds before a run is killed and reported as failed    [1800]
#   IDLE_LOAD before each run, wait until the 1-minute load average is
#             below this (at most IDLE_WAIT seconds)                   [no waiting]
#   IDLE_WAIT                                                          [300]
#   DUCKDB_IGNORE_ERRORS 1 lets DuckDB skip records it cannot read      [0]
#   OURS_ARGS extra arguments for `transmogrify flatten` (e.g. --typed) []
#   WORKDIR   generated data, outputs and logs                  [${TMPDIR:-/tmp}/transmogrify-compare]
#   KEEP_DATA 1 keeps the generated input for the next run              [0]
#   VENV      virtual environment                                      [benches/.venv]
#   PYTHON    interpreter used to create the venv                      [python3]
#   PEERS     pip requirements       [flatterer==0.25.0 transmog==2.0.4 duckdb==2.0.1]
#   SKIP_BUILD 1 uses the existing target/release binaries              [0]
#   RESULTS   JSON copy of the results                         [$WORKDIR/results.json]
#
# Exit status: 0 when every run of ours succeeded (a peer that fails is a FAILED row,
# its error in the notes and its log in $WORKDIR/logs), 1 when a run of ours failed
# or a step before the runs did, 2 for a setting it cannot take.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=${SIZE:-300MB}
SHAPE=${SHAPE:-api-events}
SEED=${SEED:-42}
INPUT=${INPUT:-}
TOOLS=${TOOLS:-ours,flatterer,transmog,transmog-typed,duckdb}
FORMATS=${FORMATS:-csv,parquet}
THREADS=${THREADS:-1,2}
REPEAT=${REPEAT:-1}
TIMEOUT=${TIMEOUT:-1800}
IDLE_LOAD=${IDLE_LOAD:-}
IDLE_WAIT=${IDLE_WAIT:-300}
OURS_ARGS=${OURS_ARGS:-}
WORKDIR=${WORKDIR:-${TMPDIR:-/tmp}/transmogrify-compare}
KEEP_DATA=${KEEP_DATA:-0}
VENV=${VENV:-$ROOT/benches/.venv}
PYTHON=${PYTHON:-python3}
PEERS=${PEERS:-flatterer==0.25.0 transmog==2.0.4 duckdb==2.0.1}
SKIP_BUILD=${SKIP_BUILD:-0}
RESULTS=${RESULTS:-$WORKDIR/results.json}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { printf 'compare: %s\n' "$*" >&2; }

# Names checked before anything is installed, built or generated.
IFS=, read -ra tool_list <<< "$TOOLS"
for tool in "${tool_list[@]}"; do
    case "$tool" in
        ours|flatterer|transmog|transmog-typed|duckdb) ;;
        *) log "unknown tool '$tool'; known: ours,flatterer,transmog,transmog-typed,duckdb"; exit 2 ;;
    esac
done

IFS=, read -ra format_list <<< "$FORMATS"
for format in "${format_list[@]}"; do
    case "$format" in
        csv|parquet) ;;
        *) log "unknown format '$format' in FORMATS; known: csv,parquet"; exit 2 ;;
    esac
done
IFS=, read -ra thread_list <<< "$THREADS"
for threads in "${thread_list[@]}"; do
    [[ "$threads" =~ ^[1-9][0-9]*$ ]] \
        || { log "THREADS takes thread counts of 1 or more (1,2), not '$threads'"; exit 2; }
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { log "REPEAT takes a count of 1 or more, not '$REPEAT'"; exit 2; }
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { log "TIMEOUT takes seconds, 1 or more, not '$TIMEOUT'"; exit 2; }
if [[ -n "$INPUT" && ! -s "$INPUT" ]]; then
    log "INPUT $INPUT is missing or empty"
    exit 2
fi
if [[ -z "$INPUT" && "$SIZE" =~ ^0+[A-Za-z]*$ ]]; then
    log "SIZE $SIZE makes an empty input: nothing to compare"
    exit 2
fi

mkdir -p "$WORKDIR"

# 1. Peers in a virtual environment, installed once per PEERS value.
if [[ ",$TOOLS," =~ ,(flatterer|transmog|transmog-typed|duckdb), ]]; then
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    stamp="$VENV/.compare-peers"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$PEERS" ]] \
        || ! "$VENV/bin/python" -c 'import flatterer, transmog, duckdb' 2>/dev/null; then
        log "installing $PEERS"
        # shellcheck disable=SC2086 # PEERS is a list of requirements
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PEERS
        printf '%s' "$PEERS" >"$stamp"
    fi
    PY="$VENV/bin/python"
else
    PY="$PYTHON"
fi

# 2. Release builds of the CLI and the generator.
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release --quiet -p transmogrify-cli -p transmogrify-benches \
        --bin transmogrify --bin gen-data)
fi
OURS="$TARGET_DIR/release/transmogrify"
GEN="$TARGET_DIR/release/gen-data"
[[ -x "$OURS" ]] || { log "missing $OURS"; exit 1; }

# 3. Input.
generated=""
if [[ -n "$INPUT" ]]; then
    label="given file"
else
    INPUT="$WORKDIR/$SHAPE-$SIZE-seed$SEED.jsonl"
    label="gen-data $SHAPE $SIZE jsonl seed $SEED"
    if [[ ! -s "$INPUT" ]]; then
        [[ -x "$GEN" ]] || { log "missing $GEN"; exit 1; }
        log "generating $INPUT"
        "$GEN" "$SHAPE" "$SIZE" jsonl "$SEED" "$INPUT.part"
        mv "$INPUT.part" "$INPUT"
    fi
    [[ "$KEEP_DATA" == 1 ]] || generated="$INPUT"
fi
cleanup() {
    rm -rf "$WORKDIR/out"
    if [[ -n "$generated" ]]; then rm -f "$generated" "$generated.part"; fi
}
trap cleanup EXIT

# 4. Runs and table.
ours_args=()
for a in $OURS_ARGS; do ours_args+=("--ours-arg=$a"); done
if [[ -n "$IDLE_LOAD" ]]; then ours_args+=(--idle-load "$IDLE_LOAD" --idle-wait "$IDLE_WAIT"); fi
"$PY" "$ROOT/benches/compare/run_peers.py" compare \
    --input "$INPUT" --ours "$OURS" ${ours_args[@]+"${ours_args[@]}"} \
    --tools "$TOOLS" --formats "$FORMATS" --threads "$THREADS" \
    --repeat "$REPEAT" --timeout "$TIMEOUT" --workdir "$WORKDIR" \
    --label "$label" --json "$RESULTS"

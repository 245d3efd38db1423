#!/usr/bin/env bash
# The benchmark of `make bench`: one table of each stream command, ours
# beside `cat` on the same file and beside its python-subunit counterpart
# (paired on a slice), as ratios of medians of alternating runs, with peak
# RSS, subunit-mux's aggregate rate, and the memory rows (peak RSS at 1x, 4x
# and 16x the stream; bytes per test in progress). Inputs are generated
# (fixed seed) in /dev/shm when writable, else target/bench, and removed.
# Prints figures and PASS/MISS against issue 11's targets; asserts nothing
# about speed. Ours is whatever target/release holds after the build.
#
#   benches/compare.sh          (`make bench` runs it; 5 to 10 minutes)
#   BENCH_MIB=16 benches/compare.sh      (a quick run)
#
# Sizes (MiB) and counts, from the environment:
#   BENCH_MIB         the realistic run (118: 124 MB, the issue's)
#   BENCH_SLICE_MIB   its first part, for python-subunit (12, at most BENCH_MIB)
#   BENCH_TAP_MIB     the TAP input of subunit-wrap --tap (96, at most BENCH_MIB)
#   BENCH_MUX_MIB     all subunit-mux inputs together, 4 and 16 of them (BENCH_MIB)
#   BENCH_SCALE_MIB   the 1x of the 1x/4x/16x memory rows (16, at most BENCH_MIB/8)
#   BENCH_OPEN        numbers of open tests for the per-test rows ("100000 400000")
#   BENCH_RUNS        alternating runs of ours and cat (7)
#   BENCH_PY_RUNS     python runs on the slice (2); BENCH_SLICE_RUNS ours after each (3)
#   BENCH_DIR         where the inputs go
#
# Needs python-subunit in target/venv (`make venv`) and, for peak RSS,
# /usr/bin/time (Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${SUBUNIT_PYTHON_VENV:-target/venv}
[ -x "$venv/bin/subunit-stats" ] && [ -x "$venv/bin/python" ] || {
    echo "compare.sh: python-subunit not found in $venv (make venv)" >&2
    exit 2
}
cargo build --release --locked --quiet --bins --example gen_stream
target_dir=$(cargo metadata --format-version 1 --no-deps --offline |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' || true)
SUBUNIT_PYTHON_VENV=$venv BENCH_BIN=${target_dir:-target}/release \
    exec "$venv/bin/python" benches/compare.py

#!/usr/bin/env bash
# Side-by-side benchmark of subunit-stats: python-subunit's, ours, and
# `wc -l` on the same stream, in one run, with ratios (the machines are
# shared and noisy, so compare within a run, never across runs).
#
#   benches/compare.sh [SIZE_MIB]      (default 120; `make bench` runs it)
#
# Needs hyperfine (Debian: apt-get install hyperfine) and python-subunit in
# target/venv (`make venv`). Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-120}
venv=${SUBUNIT_PYTHON_VENV:-target/venv}
dir=target/bench
stream=$dir/stream-${size}MiB.subunit

command -v hyperfine >/dev/null || {
    echo "compare.sh: hyperfine not found (apt-get install hyperfine)" >&2
    exit 2
}
[ -x "$venv/bin/subunit-stats" ] || {
    echo "compare.sh: python-subunit not found in $venv (make venv)" >&2
    exit 2
}

cargo build --release --locked --quiet --bins --example gen_stream
mkdir -p "$dir"
if [ ! -s "$stream" ]; then
    # A realistic run: 4 interleaved workers, tags, attachments, tracebacks.
    target/release/examples/gen_stream --size "$size" --seed 42 > "$stream"
fi
# Time from memory (tmpfs) where there is one: this machine's page cache
# is not always kept, and disk waits would swamp what is measured.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    timed=$(mktemp /dev/shm/subunit-bench.XXXXXX)
    trap 'rm -f "$timed"' EXIT
    cp "$stream" "$timed"
    stream=$timed
fi
bytes=$(stat -c %s "$stream")
ours=target/release/subunit-stats
python="$venv/bin/subunit-stats"

echo "== stream: $stream ($bytes bytes, $(target/release/subunit2json "$stream" | wc -l) packets)"
echo "== same summary from both:"
diff <("$python" --no-passthrough < "$stream" 2>&1; echo "exit $?") \
     <("$ours" --no-passthrough "$stream" 2>/dev/null; echo "exit $?") && echo "identical"

json=$(mktemp)
trap 'rm -f "$json" "$json.fast" "$json.py" ${timed:+"$timed"}' EXIT
# python-subunit takes about a minute on 120 MiB: one run of it is enough
# against the spread of ours; hyperfine runs every command the same number
# of times, so python gets its own invocation within this same run.
hyperfine -N --warmup 3 --runs 20 -i --export-json "$json.fast" \
    "wc -l $stream" "$ours --no-passthrough $stream"
hyperfine --runs 1 -i --export-json "$json.py" \
    "$python --no-passthrough < $stream"

python3 - "$json.fast" "$json.py" "$bytes" <<'EOF'
import json, sys
fast = json.load(open(sys.argv[1]))["results"]
py = json.load(open(sys.argv[2]))["results"][0]
size = int(sys.argv[3])
wc, ours = fast[0], fast[1]
def med(r): return sorted(r["times"])[len(r["times"]) // 2]
def low(r): return min(r["times"])
print()
print(f"{'command':<26}{'median s':>10}{'min s':>10}{'MB/s (median)':>15}")
for name, r in [("wc -l", wc), ("subunit-stats (ours)", ours), ("subunit-stats (python)", py)]:
    print(f"{name:<26}{med(r):>10.3f}{low(r):>10.3f}{size / med(r) / 1e6:>15.0f}")
print()
print(f"python / ours: {med(py) / med(ours):8.0f}x median, {low(py) / low(ours):5.0f}x min   (target >= 300)")
print(f"ours / wc -l:  {med(ours) / med(wc):8.2f}x median, {low(ours) / low(wc):5.2f}x min   (target <= 6)")
EOF

echo
echo "== peak memory (max RSS) of ours on the stream (target < 32 MiB):"
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M KiB" "$ours" --no-passthrough "$stream" 2>&1 >/dev/null | tail -1
else
    # ru_maxrss of a child forked from python would count python's pages.
    echo "(needs /usr/bin/time: apt-get install time)"
fi

#!/usr/bin/env bash
# Aggregate throughput of subunit-mux merging four realistic streams of
# about 100 MiB each, to /dev/null and through a pipe, with `cat` of the same
# files beside it as the floor. Prints figures; asserts nothing.
#
#   benches/mux.sh [SIZE_MIB]      (default 100 per input)
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-100}
command -v hyperfine >/dev/null || {
    echo "mux.sh: hyperfine not found (apt-get install hyperfine)" >&2
    exit 2
}
cargo build --release --locked --quiet --bins --example gen_stream
dir=$(mktemp -d "${TMPDIR:-/dev/shm}/subunit-mux-bench.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$dir"' EXIT
inputs=()
for i in 0 1 2 3; do
    target/release/examples/gen_stream --size "$size" --seed $((10 + i)) > "$dir/in$i.subunit"
    inputs+=("$dir/in$i.subunit")
done
bytes=$(cat "${inputs[@]}" | wc -c)
mux="target/release/subunit-mux ${inputs[*]}"
json="$dir/times.json"
hyperfine --warmup 2 --runs 10 --export-json "$json" \
    "cat ${inputs[*]}" "$mux" "$mux | wc -c"
python3 - "$json" "$bytes" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2])
print()
print(f"{size / 1e6:.0f} MB in four inputs")
for r in results:
    t = sorted(r["times"])[len(r["times"]) // 2]
    print(f"{r['command'][:60]:<62}{t:8.3f} s {size / t / 1e9:6.2f} GB/s (median)")
PY

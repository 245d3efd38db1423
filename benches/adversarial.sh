#!/usr/bin/env bash
# subunit-stats on inputs built to make the reader work hard, beside a
# realistic stream of the same size: the reader's work must stay linear in
# its input whatever the input holds (target: within 10x of the realistic
# stream's time at 100 MiB). Prints figures; asserts nothing.
#
#   benches/adversarial.sh [SIZE_MIB...]      (default 10 100; `make bench`)
#
# The inputs, each a 16-byte pattern repeated (see SPEC 2.3: a failed
# candidate gives up only its signature byte, so every 16 bytes a new
# candidate covers the same 4 MiB again):
#   file-claim  a header claiming 4 MiB whose file content fills the claim:
#               only the CRC can reject it
#   id-claim    a header claiming 4 MiB whose test id fills the claim
#   tag-claim   a header claiming 4 MiB with many tags, the first empty
# Needs hyperfine (Debian: apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100)
command -v hyperfine >/dev/null || {
    echo "adversarial.sh: hyperfine not found (apt-get install hyperfine)" >&2
    exit 2
}
cargo build --release --locked --quiet --bins --example gen_stream
ours=target/release/subunit-stats
# From memory (tmpfs) where there is one, so disk waits are not measured.
dir=$(mktemp -d "/dev/shm/subunit-adversarial.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$dir"' EXIT

for size in "${sizes[@]}"; do
    bytes=$((size << 20))
    target/release/examples/gen_stream --size "$size" --seed 42 > "$dir/realistic"
    python3 - "$dir" "$bytes" <<'PY'
import sys
dir, size = sys.argv[1], int(sys.argv[2])
patterns = {
    # b3 | flags 0x2040 (file) | length 4194303 | name "x" |
    # content 4194288 bytes, to the CRC
    "file-claim": b"\xb3\x20\x40\xbf\xff\xff\x01x\xbf\xff\xf0xxxxx",
    # b3 | flags 0x2801 (test id, exists) | length 4194303 | id 4194290 bytes
    "id-claim": b"\xb3\x28\x01\xbf\xff\xff\xbf\xff\xf2abcdefg",
    # b3 | flags 0x2080 (tags) | length 4194303 | 63 tags, the first empty
    "tag-claim": b"\xb3\x20\x80\xbf\xff\xff\x3f" + b"\x00" * 9,
}
for name, pattern in patterns.items():
    assert len(pattern) == 16, name
    with open(f"{dir}/{name}", "wb") as out:
        out.write(pattern * (size // 16))
PY
    json="$dir/times.json"
    echo "== $size MiB"
    hyperfine -N --warmup 1 --runs 3 -i --export-json "$json" \
        --command-name realistic "$ours --no-passthrough $dir/realistic" \
        --command-name file-claim "$ours --no-passthrough $dir/file-claim" \
        --command-name id-claim "$ours --no-passthrough $dir/id-claim" \
        --command-name tag-claim "$ours --no-passthrough $dir/tag-claim" \
        > /dev/null
    python3 - "$json" "$bytes" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2])
def med(r): return sorted(r["times"])[len(r["times"]) // 2]
base = med(results[0])
print(f"{'input':<14}{'median s':>10}{'MB/s':>9}{'x realistic':>13}")
for r in results:
    print(f"{r['command']:<14}{med(r):>10.3f}{size / med(r) / 1e6:>9.0f}{med(r) / base:>13.1f}")
worst = max(med(r) for r in results[1:])
print(f"worst adversarial / realistic: {worst / base:.1f}x   (target <= 10)")
PY
    echo
done

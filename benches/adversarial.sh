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
# Each time is the median of 3 runs after one to warm up.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100)
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
    echo "== $size MiB"
    python3 - "$ours" "$dir" "$bytes" <<'PY'
import subprocess, sys, time
ours, dir, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
def median_time(name, runs=3):
    argv = [ours, "--no-passthrough", f"{dir}/{name}"]
    times = []
    for n in range(runs + 1):  # the first warms the page cache
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if n:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
names = ["realistic", "file-claim", "id-claim", "tag-claim"]
medians = {name: median_time(name) for name in names}
base = medians["realistic"]
print(f"{'input':<14}{'median s':>10}{'MB/s':>9}{'x realistic':>13}")
for name, t in medians.items():
    print(f"{name:<14}{t:>10.3f}{size / t / 1e6:>9.0f}{t / base:>13.1f}")
worst = max(t for name, t in medians.items() if name != "realistic")
print(f"worst adversarial / realistic: {worst / base:.1f}x   (target <= 10)")
PY
    echo
done

#!/usr/bin/env bash
# subunit2html on a run of about 100,000 tests: how long ours takes to
# write the page, and how long headless Chromium takes to open it (the
# page's script notes when it was ready: data-ready-ms, from navigation
# start). Target: under 2 s to open. Prints figures; asserts nothing.
#
#   benches/html_open.sh [SIZE_MIB]      (default 18: about 105,000 tests)
#
# Needs Chromium (Debian: apt-get install chromium); without it, says so
# and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-18}
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
    echo "html_open.sh: chromium not found (apt-get install chromium): skipped" >&2
    exit 0
fi
cargo build --release --locked --quiet --bins --example gen_stream
dir=$(mktemp -d "/dev/shm/subunit-html.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/examples/gen_stream --size "$size" --seed 42 --attachments 1 \
    --unfinished-percent 2 > "$dir/run.subunit"
start=$(date +%s.%N)
target/release/subunit2html -o "$dir/page.html" "$dir/run.subunit"
end=$(date +%s.%N)
tests=$(sed -n 's/.*<span class=total>\([0-9]*\) tests.*/\1/p' "$dir/page.html")
echo "== subunit2html: $tests tests, stream $(stat -c %s "$dir/run.subunit") bytes," \
    "page $(stat -c %s "$dir/page.html") bytes"
python3 -c "import sys; print(f'written in {float(sys.argv[2]) - float(sys.argv[1]):.3f} s')" "$start" "$end"
ready=()
for run in 1 2 3 4; do
    rm -rf "$dir/profile"
    ms=$("$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$dir/profile" --dump-dom "file://$dir/page.html" 2>/dev/null |
        sed -n 's/.*data-ready-ms="\([0-9]*\)".*/\1/p' | head -1)
    # The first run warms the page cache and the browser's own files.
    [ "$run" = 1 ] || ready+=("$ms")
done
sorted=$(printf '%s\n' "${ready[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${ready[@]}" | sort -n | sed -n 2p)
echo "opened in Chromium, ready after: ${sorted}ms; median ${median} ms (target < 2000 ms)"

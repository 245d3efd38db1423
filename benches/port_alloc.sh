#!/usr/bin/env bash
# Latency of port-alloc: one `port-alloc -n 3` call at a time (hyperfine),
# also holding the ports while a command runs, with and without --listen
# (binding the ports and passing the sockets), and 200 calls started at
# once (the whole batch, and each call in it). Target: under 5 ms a call,
# --listen included. Uses a private lease directory (never the
# machine-wide /tmp/port-alloc), emptied before each timed run so the pool
# never runs out.
#
#   benches/port_alloc.sh [BATCHES]      (default 5 batches of 200)
#
# Needs hyperfine (Debian: apt-get install hyperfine). Prints figures;
# asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

batches=${1:-5}
concurrent=200

command -v hyperfine >/dev/null || {
    echo "port_alloc.sh: hyperfine not found (apt-get install hyperfine)" >&2
    exit 2
}

cargo build --release --locked --quiet --bin port-alloc
bin=$PWD/target/release/port-alloc

work=$(mktemp -d "${TMPDIR:-/tmp}/port-alloc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PORT_ALLOC_DIR=$work/leases
unset PORT_ALLOC_PORTS PORT_ALLOC_PORTS_FILE
# An empty lease directory before each run (the directory itself is kept,
# as it is on a machine in use).
mkdir -m 1777 "$PORT_ALLOC_DIR"
empty="find $PORT_ALLOC_DIR -mindepth 1 -delete"

echo "== one call at a time (lease directory $PORT_ALLOC_DIR)"
# -N: no shell in between, so the figures are port-alloc's own.
hyperfine -N --warmup 20 --runs 300 --prepare "$empty" \
    --export-json "$work/single.json" \
    --command-name "port-alloc -n 3 (default pool)" "$bin -n 3" \
    --command-name "port-alloc -n 3 --consecutive (default pool)" "$bin -n 3 --consecutive" \
    --command-name "port-alloc -n 3 -- true (hold while a command runs)" "$bin -n 3 -- true" \
    --command-name "port-alloc -n 3 --listen -- true (bind, pass the sockets)" \
    "$bin -n 3 --listen -- true"
# A small pool (as test suites use) with every other port leased by a dead
# process: many picks first reclaim a stale lease (lock, re-read, probe).
cat > "$work/stale.sh" <<'EOF'
#!/usr/bin/env bash
# stale.sh DIR: empties DIR, then leases every other port of 21000-21349
# to a process that has ended.
dir=$1
find "$dir" -mindepth 1 -delete
dead=$(sh -c 'echo $$')
boot=$(cat /proc/sys/kernel/random/boot_id)
uid=$(id -u)
for ((port = 21000; port <= 21349; port += 2)); do
    printf 'port-alloc lease 1\nport=%s\npid=%s\nstart=1\nboot=%s\nuid=%s\ntaken=0\ngrace_until=0\nexpires=never\ncommand=bench\n' \
        "$port" "$dead" "$boot" "$uid" > "$dir/$port"
done
EOF
chmod +x "$work/stale.sh"
PORT_ALLOC_PORTS=21000-21349 hyperfine -N --warmup 5 --runs 200 \
    --prepare "$work/stale.sh $PORT_ALLOC_DIR" \
    --export-json "$work/reclaim.json" \
    --command-name "port-alloc -n 3 (350-port pool, half stale leases)" "$bin -n 3"

echo
echo "== $concurrent calls at once, $batches batches"
# Each call records its own start and end (bash's EPOCHREALTIME, taken in
# the subshell right around port-alloc, so it includes one fork+exec).
cat > "$work/batch.sh" <<'EOF'
#!/usr/bin/env bash
# batch.sh BIN N OUT: N `BIN -n 3` calls started at once; each appends
# "start end exit-status ports..." to OUT.
bin=$1 n=$2 out=$3
for ((i = 0; i < n; i++)); do
    (
        s=$EPOCHREALTIME
        ports=$("$bin" -n 3 2>/dev/null)
        rc=$?
        e=$EPOCHREALTIME
        echo "$s $e $rc ${ports//$'\n'/ }" >> "$out"
    ) &
done
wait
EOF
chmod +x "$work/batch.sh"
# The same batch with `true` in place of port-alloc: what bash and the
# scheduler cost; the difference is port-alloc's share.
: > "$work/calls.txt"
: > "$work/baseline.txt"
hyperfine -N --warmup 1 --runs "$batches" --prepare "$empty" \
    --export-json "$work/batch.json" \
    --command-name "$concurrent x port-alloc -n 3, all at once" \
    "$work/batch.sh $bin $concurrent $work/calls.txt" \
    --command-name "$concurrent x true, all at once (baseline)" \
    "$work/batch.sh $(command -v true) $concurrent $work/baseline.txt"

python3 - "$work/single.json" "$work/reclaim.json" "$work/batch.json" "$work/calls.txt" "$concurrent" "$work/baseline.txt" <<'EOF'
import json, os, statistics, sys
single = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
batch, baseline = json.load(open(sys.argv[3]))["results"]
n = int(sys.argv[5])
calls = []
bad = 0
duplicates = 0
# The first batch is hyperfine's warmup: leave it out.
lines = [l.split() for l in open(sys.argv[4]) if l.strip()][n:]
for fields in lines:
    start, end, rc = float(fields[0]), float(fields[1]), fields[2]
    calls.append((end - start) * 1000)
    if rc != "0" or len(fields) != 6:
        bad += 1
# Ports handed out within one batch must all differ (batch = n lines).
for b in range(0, len(lines) - len(lines) % n, n):
    ports = [p for f in lines[b:b + n] for p in f[3:]]
    duplicates += len(ports) - len(set(ports))

def ms(x): return f"{x * 1000:8.2f}"
def med(r): return statistics.median(r["times"])
print()
print(f"{'one call at a time':<58}{'median ms':>10}{'min ms':>9}{'p90 ms':>9}")
for r in single:
    t = sorted(r["times"])
    print(f"{r['command']:<58}{ms(med(r)):>10}{ms(t[0]):>9}{ms(t[int(len(t) * 0.9)]):>9}")
print()
t = sorted(calls)
q = lambda f: t[min(len(t) - 1, int(len(t) * f))]
print(f"{n} calls at once: whole batch median {med(batch) * 1000:.1f} ms "
      f"(min {min(batch['times']) * 1000:.1f} ms), {med(batch) * 1000 / n:.2f} ms a call amortized")
print(f"  each call ({len(t)} calls): median {statistics.median(t):.2f} ms, "
      f"p90 {q(0.9):.2f} ms, p99 {q(0.99):.2f} ms, max {t[-1]:.2f} ms")
print(f"  (a call's own time includes waiting for a CPU behind the other {n - 1})")
base = sorted((float(f[1]) - float(f[0])) * 1000
              for f in [l.split() for l in open(sys.argv[6]) if l.strip()][n:])
print(f"  baseline, the same batch running `true`: whole batch median {med(baseline) * 1000:.1f} ms, "
      f"each call median {statistics.median(base):.2f} ms")
print(f"  port-alloc's share: {(med(batch) - med(baseline)) * 1000 / n:.2f} ms a call "
      f"(batch minus baseline, over {n} calls; {len(os.sched_getaffinity(0))} CPUs)")
print(f"  failed calls: {bad}; ports handed out twice within a batch: {duplicates}")
print()
print(f"target: one call under 5 ms -> median {med(single[0]) * 1000:.2f} ms "
      f"({'under' if med(single[0]) < 0.005 else 'OVER'} target)")
listen = next(r for r in single if "--listen" in r["command"])
print(f"target: one --listen call under 5 ms -> median {med(listen) * 1000:.2f} ms "
      f"({'under' if med(listen) < 0.005 else 'OVER'} target)")
EOF

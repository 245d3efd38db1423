#!/usr/bin/env bash
# The README's shell-harness recipe for port-alloc, run by
# tests/port_alloc_recipes.rs: three ports leased for the life of this
# shell, a server started on the first, the lease list asked who holds
# them. The lines between the recipe markers stand as they are in the
# README.
set -euo pipefail

# >>> recipe
# The leases last while this shell runs (up to --lease seconds, 600 by
# default): the subshell of $(...) that starts port-alloc is passed over.
read -r p0 p1 p2 <<<"$(port-alloc -n 3 | tr '\n' ' ')"
python3 -m http.server --bind 127.0.0.1 "$p0" >/dev/null 2>&1 &
trap 'kill $!' EXIT
# <<< recipe

# The server answers on its port (within 10 seconds).
for _ in $(seq 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$p0/')" 2>/dev/null; then
        echo "served on $p0"
        break
    fi
    sleep 0.1
done
echo "ports $p0 $p1 $p2"
port-alloc list --json | python3 -c '
import json, sys
pid = int(sys.argv[1])
print("held by this shell:", " ".join(sorted(str(l["port"]) for l in json.load(sys.stdin) if l.get("pid") == pid)))
' $$

#!/bin/sh
# For the Makefile recipe: binds each port given, as a server would, and
# says who holds its lease (the pid in `port-alloc list`).
for port in "$@"; do
    python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
' "$port" || exit 1
    owner=$(port-alloc list --json | python3 -c '
import json, sys
print([l["pid"] for l in json.load(sys.stdin) if l["port"] == int(sys.argv[1])][0])
' "$port")
    echo "bound $port, leased to $owner, make is $PPID"
done

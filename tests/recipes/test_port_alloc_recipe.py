# Uses conftest.py's fixtures as a test suite would, and checks what they
# promise: free ports, leased to pytest, never shared, given back.
import json
import os
import socket
import subprocess

seen = []


def leases():
    listing = subprocess.run(["port-alloc", "list", "--json"], check=True,
                             capture_output=True, text=True).stdout
    return {lease["port"]: lease for lease in json.loads(listing)}


def test_a_server_binds_the_ports(free_ports, session_port):
    assert len(set(free_ports + [session_port])) == 4
    for port in free_ports + [session_port]:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
            server.listen()
    held = leases()
    assert all(held[port]["pid"] == os.getpid() for port in free_ports + [session_port])
    seen.extend(free_ports)


def test_the_ports_of_a_test_are_given_back_after_it(free_ports, session_port):
    held = leases()
    assert not any(port in held for port in seen if port not in free_ports), (seen, held)
    assert session_port in held
    assert session_port not in free_ports

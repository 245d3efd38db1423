# The README's pytest recipe for port-alloc, run by
# tests/port_alloc_recipes.rs (with test_port_alloc_recipe.py). The lines
# between the recipe markers stand as they are in the README.

# >>> recipe
import subprocess

import pytest


def port_alloc(*args):
    out = subprocess.run(["port-alloc", *args], check=True, capture_output=True, text=True)
    return [int(port) for port in out.stdout.split()]


@pytest.fixture
def free_ports():
    """Three ports for one test: leased to this pytest process (port-alloc's
    parent), given back when the test ends."""
    ports = port_alloc("-n", "3")
    yield ports
    subprocess.run(["port-alloc", "release", *map(str, ports)], check=True)


@pytest.fixture(scope="session")
def session_port():
    """One port for the whole session: its lease ends with pytest."""
    return port_alloc()[0]
# <<< recipe

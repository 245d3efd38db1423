#!/bin/sh
# The README's HGPORT recipe for port-alloc, run by
# tests/port_alloc_recipes.rs: Mercurial's run-tests gives each test three
# adjacent ports, HGPORT, HGPORT1 and HGPORT2 (HGPORT + 1 and + 2), that
# its test scripts start servers on. `hgport.sh COMMAND [ARGS]...` runs
# COMMAND with them, held while it runs. The lines between the recipe
# markers stand as they are in the README.

# >>> recipe
port-alloc -n 3 --consecutive -- \
    sh -c 'HGPORT=$PORT0 HGPORT1=$PORT1 HGPORT2=$PORT2 exec "$@"' sh "$@"
# <<< recipe

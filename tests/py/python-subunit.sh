#!/bin/sh
# Usage: tests/py/python-subunit.sh PYTHON DIR 'REQUIREMENT...'
#
# Makes DIR/bin hold `python` and python-subunit's tools (subunit-stats,
# subunit-filter, tap2subunit, ...) for the interop tests, which find them
# there (SUBUNIT_PYTHON_VENV=DIR):
#
# - when PYTHON already imports subunit (a distro's python3-subunit, or
#   PYTHON=/path/to/python given to make), DIR/bin runs that one: no network;
# - else a virtualenv in DIR with the REQUIREMENTs from PyPI (network,
#   once);
# - else nothing, with a warning: the interop tests are then skipped, each
#   saying so, and fail under CI=true.
#
# Runs again only when PYTHON or the REQUIREMENTs change. A python of the
# first kind may lack junitxml (python's subunit2junitxml needs it) or
# pytest (port-alloc's pytest recipe): the tests that need them then skip,
# as without python-subunit.
set -u
python=$1 dir=$2 requirement=$3
stamp=$dir/.installed
wanted="$python $requirement"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi
rm -rf "$dir"
if "$python" -c 'import subunit, testtools' 2>/dev/null; then
    exe=$("$python" -c 'import sys; print(sys.executable)')
    version=$("$python" -c 'import subunit; print(".".join(map(str, subunit.__version__[:3])))')
    mkdir -p "$dir/bin"
    ln -s "$exe" "$dir/bin/python"
    # The tools as the console scripts python-subunit installs run them.
    for module in $("$python" -c 'import pkgutil, subunit.filter_scripts as f; print(" ".join(m.name for m in pkgutil.iter_modules(f.__path__)))'); do
        tool=$(printf '%s' "$module" | tr _ -)
        cat > "$dir/bin/$tool" <<SCRIPT
#!/bin/sh
exec "$exe" -c 'import sys; from subunit.filter_scripts.$module import main; sys.argv[0] = "$tool"; sys.exit(main())' "\$@"
SCRIPT
        chmod +x "$dir/bin/$tool"
    done
    echo "interop tests: python-subunit $version of $exe"
elif "$python" -m venv "$dir" >/dev/null &&
    # shellcheck disable=SC2086 # one word per requirement
    "$dir/bin/pip" install --quiet --disable-pip-version-check --retries 2 --timeout 20 \
        $requirement; then
    echo "interop tests: $requirement from PyPI in $dir"
else
    rm -rf "$dir"
    echo "WARNING: no python-subunit ($python does not import subunit, and" \
        "$requirement could not be installed from PyPI): the interop tests" \
        "will be skipped" >&2
    exit 0
fi
echo "$wanted" > "$stamp"

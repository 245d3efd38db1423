echo "FAIL: printed by the failing test itself"
echo "expected 1, got 2" >&2
exit 1

echo "cannot set up" >&2
exit 99

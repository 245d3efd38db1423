complete -c subunit-trace -l color -d 'Colour the outcomes: auto (on a terminal without NO_COLOR), always (also `--color` alone, as in stestr) or never' -r -f -a "auto\t'On a terminal, unless NO_COLOR is set (and not empty)'
always\t'Always'
never\t'Never'"
complete -c subunit-trace -l slowest -d 'Also list the N slowest tests in the summary' -r
complete -c subunit-trace -l fail-on -d 'What makes the exit status 1, a comma-separated list' -r -f -a "failed\t'A test failed or unexpectedly succeeded'
unfinished\t'A test never finished'
none-run\t'No test finished at all'
damaged\t'A damaged packet was met (data lost upstream)'"
complete -c subunit-trace -l max-held -d 'Memory for the packets of tests in progress (K, M, G, T: powers of 1024); beyond it, those of the tests that started first wait in a temporary file in $TMPDIR until they end' -r
complete -c subunit-trace -s n -l no-failure-debug -d 'Do not show the traceback and attachments of failures as they come'
complete -c subunit-trace -s f -l fails -d 'Show every failure with its traceback and attachments again at the end'
complete -c subunit-trace -l failonly -d 'Show only failures (also when TRACE_FAILONLY is set, as in os-testr)'
complete -c subunit-trace -s a -l abbreviate -d 'One character per test (. F S x u, i for one that never finished)'
complete -c subunit-trace -l no-summary -d 'Do not print the summary at the end'
complete -c subunit-trace -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-trace -s V -l version -d 'Print version'

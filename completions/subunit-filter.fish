complete -c subunit-filter -l with-tag -d 'Include only tests with this tag (repeatable: all of them)' -r
complete -c subunit-filter -l without-tag -d 'Exclude tests with this tag (repeatable: any of them)' -r
complete -c subunit-filter -s m -l with -d 'Include only tests matching this regular expression (repeatable: any)' -r
complete -c subunit-filter -l without -d 'Exclude tests matching this regular expression (repeatable: any)' -r
complete -c subunit-filter -l fixup-expected-failures -d 'File of test ids expected to fail: their failures become expected failures, their successes unexpected successes (repeatable)' -r -F
complete -c subunit-filter -l rename -d 'Replace matches of the regular expression FROM in test ids with TO (repeatable, applied in order; \\1 and \\g<name> refer to groups)' -r
complete -c subunit-filter -l max-held -d 'Memory for the packets of tests in progress (K, M, G, T: powers of 1024); beyond it, those of the tests that started first wait in a temporary file in $TMPDIR until they end' -r
complete -c subunit-filter -l error -d 'Include errors (the default)'
complete -c subunit-filter -s e -l no-error -d 'Exclude errors'
complete -c subunit-filter -l failure -d 'Include failures (the default)'
complete -c subunit-filter -s f -l no-failure -d 'Exclude failures'
complete -c subunit-filter -s s -l success -d 'Include successes'
complete -c subunit-filter -l no-success -d 'Exclude successes (the default)'
complete -c subunit-filter -l no-skip -d 'Exclude skips'
complete -c subunit-filter -l xfail -d 'Include expected failures'
complete -c subunit-filter -l no-xfail -d 'Exclude expected failures (the default)'
complete -c subunit-filter -l passthrough -d 'Forward non-subunit input as `stdout` file packets (the default)'
complete -c subunit-filter -l no-passthrough -d 'Discard all non-subunit input and packets without a test id'
complete -c subunit-filter -s F -l only-genuine-failures -d 'Only pass through failures and errors: --no-success --no-skip --no-xfail --no-passthrough'
complete -c subunit-filter -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-filter -s V -l version -d 'Print version'

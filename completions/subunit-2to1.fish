complete -c subunit-2to1 -l max-held -d 'Memory for the packets of tests in progress (K, M, G, T: powers of 1024); beyond it, those of the tests that started first wait in a temporary file in $TMPDIR until they end' -r
complete -c subunit-2to1 -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-2to1 -s V -l version -d 'Print version'

complete -c subunit-wrap -l name -d 'File name of the wrapped chatter (filter mode)' -r
complete -c subunit-wrap -l test-id -d 'Attach the wrapped output to this test; in command mode, also the name of the command\'s test (default: the command line)' -r
complete -c subunit-wrap -l route-code -l route -d 'Route code of every packet made' -r
complete -c subunit-wrap -l mime -d 'MIME type of the wrapped output, e.g. "text/plain; charset=utf8"' -r
complete -c subunit-wrap -l no-timestamps -d 'Leave timestamps out of the packets made, for reproducible output'
complete -c subunit-wrap -l no-results -d 'Do not turn automake (or TAP) result lines into test results'
complete -c subunit-wrap -l tap -d 'Read TAP too: results (ok, not ok, # SKIP, # TODO), plans (missing tests fail), 1..0 and Bail out!'
complete -c subunit-wrap -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-wrap -s V -l version -d 'Print version'

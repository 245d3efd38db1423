complete -c subunit2csv -s o -l output-to -d 'Write the CSV to PATH rather than standard output' -r -F
complete -c subunit2csv -l no-passthrough -d 'Hide all non-subunit input (chatter and packets without a test id)'
complete -c subunit2csv -s f -l forward -d 'Forward the subunit stream on standard output, chatter wrapped as `stdout` file packets (dropped with --no-passthrough)'
complete -c subunit2csv -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit2csv -s V -l version -d 'Print version'

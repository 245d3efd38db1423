complete -c subunit-stats -s o -l output-to -d 'Write the summary to PATH rather than standard output' -r -F
complete -c subunit-stats -l slowest -d 'Also list the N slowest tests with their durations' -r
complete -c subunit-stats -l no-passthrough -d 'Hide all non-subunit input (chatter and files without a test id)'
complete -c subunit-stats -s f -l forward -d 'Forward the subunit stream on standard output, chatter wrapped as `stdout` file packets (dropped with --no-passthrough)'
complete -c subunit-stats -l json -d 'Print the summary as one JSON document (no passthrough)'
complete -c subunit-stats -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-stats -s V -l version -d 'Print version'

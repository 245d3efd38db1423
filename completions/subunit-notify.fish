complete -c subunit-notify -s o -l output-to -d 'Accepted as python\'s is; python\'s writes nothing there, so the file is created empty' -r -F
complete -c subunit-notify -l no-passthrough -d 'Hide all non-subunit input (chatter and files without a test id)'
complete -c subunit-notify -s f -l forward -d 'Forward the subunit stream on standard output, chatter wrapped as `stdout` file packets (dropped with --no-passthrough)'
complete -c subunit-notify -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-notify -s V -l version -d 'Print version'

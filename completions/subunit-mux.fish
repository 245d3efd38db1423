complete -c subunit-mux -l command -d 'Run COMMAND with `sh -c` and merge its standard output (repeatable)' -r -f -a "(__fish_complete_command)"
complete -c subunit-mux -l route-code -l route -d 'Route code of each input in turn, instead of its number (give one per input)' -r
complete -c subunit-mux -l no-timestamps -d 'Leave timestamps out of the packets made (wrapped chatter, failure reports), for reproducible output; the inputs\' packets keep theirs'
complete -c subunit-mux -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-mux -s V -l version -d 'Print version'

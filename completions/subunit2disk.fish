complete -c subunit2disk -s d -l directory -d 'Root directory to export to (created if missing)' -r -f -a "(__fish_complete_directories)"
complete -c subunit2disk -l no-passthrough -d 'Drop output that belongs to no test instead of writing it to standard output'
complete -c subunit2disk -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit2disk -s V -l version -d 'Print version'

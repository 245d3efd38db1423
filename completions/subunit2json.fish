complete -c subunit2json -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit2json -s V -l version -d 'Print version'

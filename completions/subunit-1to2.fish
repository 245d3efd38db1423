complete -c subunit-1to2 -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-1to2 -s V -l version -d 'Print version'

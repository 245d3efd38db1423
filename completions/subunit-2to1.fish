complete -c subunit-2to1 -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-2to1 -s V -l version -d 'Print version'

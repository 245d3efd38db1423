complete -c tap2subunit -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tap2subunit -s V -l version -d 'Print version'

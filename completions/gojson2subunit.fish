complete -c gojson2subunit -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gojson2subunit -s V -l version -d 'Print version'

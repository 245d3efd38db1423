complete -c junitxml2subunit -s d -l dir -d 'A directory to search for *.xml reports, in lexical order; may be repeated. Read before the FILE arguments, as python\'s does' -r -f -a "(__fish_complete_directories)"
complete -c junitxml2subunit -s h -l help -d 'Print help (see more with \'--help\')'
complete -c junitxml2subunit -s V -l version -d 'Print version'

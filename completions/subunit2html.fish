complete -c subunit2html -s o -l output-to -d 'Write the page to PATH (`-`: standard output); every FILE is then a stream' -r -F
complete -c subunit2html -l title -d 'The page\'s title' -r
complete -c subunit2html -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit2html -s V -l version -d 'Print version'

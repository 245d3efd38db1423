complete -c subunit-tags -l file -d 'A stream to read (repeatable: in order, as one; `-` is stdin). Without it, stdin' -r -F
complete -c subunit-tags -l help -d 'Print help'
complete -c subunit-tags -l version -d 'Print version'

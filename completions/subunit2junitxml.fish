complete -c subunit2junitxml -s o -l output-to -d 'Write the XML to PATH rather than standard output' -r -F
complete -c subunit2junitxml -l flavor -d 'Write for this consumer; by default what all of them accept' -r -f -a "jenkins\t'Jenkins (the JUnit plugin, Surefire\'s schema)'
gitlab\t'GitLab\'s test reports'
github\t'GitHub actions that read JUnit XML'"
complete -c subunit2junitxml -l no-passthrough -d 'Hide all non-subunit input (chatter and packets without a test id)'
complete -c subunit2junitxml -s f -l forward -d 'Forward the subunit stream on standard output (needs --output-to)'
complete -c subunit2junitxml -l suite-per-worker -d 'One `<testsuite>` per route code (worker) rather than one for the run'
complete -c subunit2junitxml -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit2junitxml -s V -l version -d 'Print version'

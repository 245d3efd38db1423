complete -c subunit-output -l success -d 'The test passed' -r
complete -c subunit-output -l fail -d 'The test failed' -r
complete -c subunit-output -l skip -d 'The test was skipped' -r
complete -c subunit-output -l xfail -d 'The test failed, as expected' -r
complete -c subunit-output -l uxsuccess -d 'The test passed but was expected to fail' -r
complete -c subunit-output -l exists -d 'The test exists (enumeration)' -r
complete -c subunit-output -l inprogress -d 'The test is running' -r
complete -c subunit-output -l attach-file -d 'Attach the file at PATH; `-` reads stdin (file name `stdin`)' -r -F
complete -c subunit-output -l file-name -d 'The attachment\'s name (default: PATH as given, or `stdin`)' -r
complete -c subunit-output -l mimetype -d 'The attachment\'s MIME type (default: none)' -r
complete -c subunit-output -l tag -d 'A tag of the event (repeatable)' -r
complete -c subunit-output -s h -l help -d 'Print help (see more with \'--help\')'
complete -c subunit-output -s V -l version -d 'Print version'

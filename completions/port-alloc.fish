# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_port_alloc_global_optspecs
    string join \n n/count= consecutive udp listen listen-address= owner= lease= grace= wait= exclude= json h/help V/version
end

function __fish_port_alloc_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_port_alloc_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_port_alloc_using_subcommand
    set -l cmd (__fish_port_alloc_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c port-alloc -n "__fish_port_alloc_needs_command" -s n -l count -d 'How many ports' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l listen-address -d 'The address to bind with --listen (default 127.0.0.1; repeatable, e.g. for ::1 too: a socket per port and address)' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l owner -d 'The process whose life the leases follow (default: the calling shell: the parent, or the shell a subshell such as `$(...)` was forked from)' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l lease -d 'The longest a lease holds, in seconds (at most 2592000, 30 days)' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l grace -d 'The least a lease holds after it was taken, in seconds (at most 86400, a day)' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l wait -d 'Wait up to SECONDS for enough ports when the pool is exhausted (at most 86400, a day; fractions allowed)' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l exclude -d 'Never hand out these ports (`lo-hi,port,...`; repeatable)' -r
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l consecutive -d 'Adjacent ports (N in a row)'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l udp -d 'Check that the ports are free for UDP too (with --listen: bind UDP sockets, not TCP)'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l listen -d 'Bind the ports (and listen, for TCP) and pass the sockets to COMMAND as file descriptors 3, 4, ... the way systemd does (see LISTEN). Only with -- COMMAND'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -l json -d 'Print JSON'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -s V -l version -d 'Print version'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -a "release" -d 'End the leases of these ports now'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -a "list" -d 'List the leases: port, owner, whether it is alive, the network namespace, when the lease ends and why (with its owner, its grace period, its lease cap), command'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -a "gc" -d 'Remove stale leases (dead owner or expired, past the grace period) of ports nobody has bound'
complete -c port-alloc -n "__fish_port_alloc_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand release" -l json -d 'Print JSON'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand release" -s h -l help -d 'Print help'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand list" -l json -d 'Print JSON'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand list" -s h -l help -d 'Print help'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand gc" -l json -d 'Print JSON'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand gc" -s h -l help -d 'Print help'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand help; and not __fish_seen_subcommand_from release list gc help" -f -a "release" -d 'End the leases of these ports now'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand help; and not __fish_seen_subcommand_from release list gc help" -f -a "list" -d 'List the leases: port, owner, whether it is alive, the network namespace, when the lease ends and why (with its owner, its grace period, its lease cap), command'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand help; and not __fish_seen_subcommand_from release list gc help" -f -a "gc" -d 'Remove stale leases (dead owner or expired, past the grace period) of ports nobody has bound'
complete -c port-alloc -n "__fish_port_alloc_using_subcommand help; and not __fish_seen_subcommand_from release list gc help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

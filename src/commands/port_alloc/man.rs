//! port-alloc's man page, after OPTIONS (which clap's `Args` make).

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Three ports for the calling shell, held while it runs (at most --lease \
         seconds; the subshell of $(...) that starts port-alloc, which ends at once, is \
         passed over):\n\n    \
         read -r p0 p1 p2 <<<\"$(port-alloc -n 3 | tr '\\n' ' ')\"\n\n\
         In a Makefile, ports for one recipe line, or for the whole make run \
         (owned by make, the parent of the shell $(shell) starts):\n\n    \
         check:\n    \
         \tport-alloc -n 2 -- sh -c './serve-and-check.sh $$PORT0 $$PORT1'\n    \
         PORTS = $(shell port-alloc -n 2 --owner $$PPID)\n\n\
         A pytest fixture: three ports leased to the pytest process (port-alloc's \
         parent) and given back after the test:\n\n    \
         @pytest.fixture\n    \
         def free_ports():\n    \
         \x20   out = subprocess.run([\"port-alloc\", \"-n\", \"3\"], check=True,\n    \
         \x20                        capture_output=True, text=True)\n    \
         \x20   ports = [int(port) for port in out.stdout.split()]\n    \
         \x20   yield ports\n    \
         \x20   subprocess.run([\"port-alloc\", \"release\", *map(str, ports)], check=True)\n\n\
         Mercurial's run-tests convention, three adjacent ports a test as HGPORT, \
         HGPORT1 and HGPORT2:\n\n    \
         port-alloc -n 3 --consecutive -- \\\n    \
         \x20   sh -c 'HGPORT=$PORT0 HGPORT1=$PORT1 HGPORT2=$PORT2 exec \"$@\"' sh run-test\n\n\
         These recipes, whole, are the scripts in the source's tests/recipes/.\n\n\
         Ports held exactly while a test runs (the server stopped when the client ends):\n\n    \
         port-alloc -n 2 -- sh -c 'server --port $PORT0 & trap \"kill $!\" EXIT; client --port $PORT1'\n\n\
         A server that never binds (see LISTEN), here Python's http.server:\n\n    \
         port-alloc --listen -- python3 -c 'import socket, http.server as h; \
         s = socket.socket(fileno=3); srv = h.HTTPServer(s.getsockname(), \
         h.SimpleHTTPRequestHandler, False); srv.socket = s; srv.serve_forever()'\n\n\
         A systemd-aware server started by a shell (exec keeps the pid LISTEN_PID names):\n\n    \
         port-alloc --listen --listen-address ::1 -- sh -c 'exec server --verbose'\n\n\
         See who holds what:\n\n    port-alloc list",
    ),
    (
        "POOL",
        "Ports 1024-65535 without the kernel's ephemeral range \
         (/proc/sys/net/ipv4/ip_local_port_range). PORT_ALLOC_PORTS=lo-hi,port,... or a \
         file named by PORT_ALLOC_PORTS_FILE (the same list; commas, spaces or newlines \
         between items, # comments) replaces that. Whatever the pool, the kernel's \
         reserved ports (ip_local_reserved_ports), the ports browsers refuse to connect \
         to and --exclude are never handed out. Ports are picked at random.",
    ),
    (
        "PROBE",
        "A port is handed out only if its lease was taken and nothing is bound to it: \
         binding without SO_REUSEADDR, as a server would, on 0.0.0.0, ::, 127.0.0.1 and \
         ::1 (TCP, and UDP with --udp). An address family the machine lacks is skipped. \
         A lease whose port turns out bound is given back at once.",
    ),
    (
        "LISTEN",
        "Between the probe and the server's own bind, a process that does not use \
         port-alloc (a client's ephemeral port, another user's server) can take a port. \
         With --listen and -- COMMAND, port-alloc closes that gap: it binds each port \
         itself, right after the probe, and passes the sockets to COMMAND, which never \
         binds. It follows systemd's socket activation (sd_listen_fds(3)): TCP sockets \
         listening (with SO_REUSEADDR, a backlog of 4096 capped by the kernel's \
         somaxconn), or with --udp datagram sockets, as file descriptors 3, 4, ..., \
         and LISTEN_FDS (their number), LISTEN_PID (COMMAND's pid) and LISTEN_FDNAMES \
         (PORT0:PORT1:...) in COMMAND's environment, with PORT0, ... and PORTS as \
         ever. The kernel accepts connections into the backlog before COMMAND has \
         looked at the socket, so a client may connect as soon as port-alloc has started \
         COMMAND.\n\n\
         Each port is bound on each --listen-address (default 127.0.0.1; :: or 0.0.0.0 \
         for every interface; an IPv6 address binds IPv6 only), address by address: \
         with N ports, descriptor 3+i is port i on the first address, 3+N+i port i on \
         the second, and so on, so adding an address leaves the first one's descriptors \
         where they were; the sockets of one port share its name in LISTEN_FDNAMES. A \
         port bound by someone else between the probe and the bind is given back and \
         new ports taken (at most 5 times); an address the machine does not have is an \
         error (status 2), its leases given back.\n\n\
         The descriptors are open in COMMAND without close-on-exec, as they must be to \
         reach it through exec; nothing else of port-alloc's is, and port-alloc keeps no \
         copy, so once COMMAND and what it started have closed them the ports are free. \
         A child COMMAND starts without closing descriptors has them too (Python's \
         subprocess closes them, a shell does not), but LISTEN_PID names COMMAND only, \
         so a systemd-aware program it starts does not take them for its own \
         (sd_listen_fds returns 0 there); a COMMAND that takes them as sd_listen_fds \
         does (close-on-exec, the LISTEN_ variables unset) passes them to none of its \
         children. To pass them on, exec: sh -c 'exec server' keeps the pid, so the \
         server finds LISTEN_PID its own.\n\n\
         How servers take them: in Python, socket.socket(fileno=3) (family and type \
         are read from the socket), for http.server or socketserver with \
         bind_and_activate=False and the socket put in place of theirs (see EXAMPLES); \
         in C, sd_listen_fds(0) of libsystemd, then SD_LISTEN_FDS_START (3) onwards; \
         daemons that support systemd socket activation read LISTEN_FDS themselves; \
         elsewhere, whatever makes a listener of an open descriptor (Go's \
         net.FileListener(os.NewFile(3, \"PORT0\")), Rust's \
         TcpListener::from_raw_fd(3), Node's server.listen({fd: 3})).",
    ),
    (
        "LEASES",
        "Leases live in /tmp/port-alloc (PORT_ALLOC_DIR overrides it; see SECURITY for \
         who may own it). A lease records its owner's pid and start time (so a reused \
         pid or a zombie does not keep it alive), the boot, the network namespace (see \
         NETWORK NAMESPACES), the user, when it was taken, \
         its grace and expiry, and at most 4 KiB of the owner's command line. It is \
         written whole to a temporary file and linked into place, which fails if the \
         port's lease exists: at most one caller ever holds it. What callers killed \
         while writing a lease leave (.tmp- files) is removed by the next allocation, \
         at once if the writer has ended, after a minute otherwise.\n\n\
         A lease of another boot has ended, whatever its grace. So has one that no \
         honest caller could write, which list shows as forged: taken more than a day \
         in the future, a grace or an expiry beyond the maximum of --grace or --lease, \
         or never expiring (only the leases of -- COMMAND do, whose owner is port-alloc \
         itself) while its owner runs as another user than the lease's. A lease's user \
         is its file's owner, whatever the file says. So a hand-written lease holds no \
         longer than an honest one could: at most 30 days whatever its owner (as \
         --owner 1 --lease 2592000 would), or while a process of its own user lives (as \
         -- COMMAND would).\n\n\
         Nothing in the directory is opened through a symbolic link; a file there that \
         is not a lease keeps its port out of use and is reported. A lease is removed \
         only under the directory's lock, after reading it again, and a stale one only \
         if nobody has bound its port. The lock is flock(2) of the directory itself, \
         not of a file in it (which its owner could replace, or someone make a FIFO \
         that blocks whoever opens it). The file .lock that port-alloc 0.1.0 locked is \
         locked too while such versions may run, if it is a regular file of the \
         directory's owner; anything else named .lock is left alone. A \
         lock held for over 5 seconds is an error naming its holder: release and gc \
         fail, an allocation that must reclaim or give back a lease fails, and -- \
         COMMAND says which leases it could not give back.",
    ),
    (
        "NETWORK NAMESPACES",
        "A port is only shared within one network namespace: bound in one, it is free \
         in another. So a lease records its caller's network namespace (the inode of \
         /proc/self/ns/net; list shows it as NETNS, and --json as netns, with \
         this_netns true for the caller's own), and only a lease of the caller's own \
         namespace keeps a port from it. Leases of another namespace are not \
         reclaimed while they live, and a port whose lease file PORT is another \
         namespace's is leased in the file PORT@NETNS instead; a caller that took a \
         port by one of the two names gives it back if the other is a live lease of \
         its namespace, so one namespace never has a port twice. The probe, and the \
         check that a stale lease's port is not bound, happen in the caller's own \
         namespace (a stale lease of another one is removed unprobed: its own \
         namespace probes before using the port). release gives back the caller's \
         namespace's lease only.\n\n\
         A lease written by a version that did not record namespaces (no netns line; \
         list shows any) is read as ever and keeps its port from every namespace. \
         Such versions, which know only PORT files, do not see the leases named \
         PORT@NETNS: run no older port-alloc on a directory that namespaces share. The \
         kernel reuses a namespace's inode once the namespace is gone, so a lease that \
         outlives its namespace (its owner is elsewhere: --owner) can keep a port from \
         a new namespace with that inode: a port kept, never one given twice.",
    ),
    (
        "SECURITY",
        "The lease directory may be shared by the users of one machine: one boot and \
         one pid namespace (a lease names its owner by pid, so a container that shares \
         the directory but not the pids would take live owners for gone); containers \
         that share it but not the network do not block each other's ports (see \
         NETWORK NAMESPACES). It must be \
         owned by the caller or root and, if others may write to it, have the sticky \
         bit, as /tmp has; port-alloc refuses any other, on every run: its owner, and \
         without the sticky bit anyone who may write to it, could remove any lease and \
         so have a live owner's port handed out again. A new directory is made owned by \
         its creator, writable by all and sticky, so on a machine shared with other \
         users have root make it, e.g. with the systemd-tmpfiles line d /tmp/port-alloc \
         1777 root root - (the - keeps it from ageing leases away), or give each user a \
         PORT_ALLOC_DIR of their own.\n\n\
         A hostile local user who may write to a shared directory can deny service: \
         hold ports for as long as an honest caller could (see LEASES), keep a port out \
         of use with a file named like it that is not a lease, or hold the directory's \
         lock (see LEASES). They cannot make port-alloc hand one port to two live \
         callers, remove or change another user's lease, make port-alloc write, read \
         or create anything through a symbolic link, or make it block on a FIFO or \
         wait on a lock for more than 5 seconds. Root can do anything, and so can \
         whoever owns the directory.",
    ),
    (
        "SIGNALS",
        "With -- COMMAND, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 and SIGWINCH \
         sent to port-alloc are passed on to the command, each time one comes, until \
         it has been waited for: never to another process that was given its pid. \
         Outside its terminal's foreground (a CI job, a test harness, a background job) \
         the command leads a process group of its own and signals go to that group, so \
         what it started gets them too. In its terminal's foreground it stays in \
         port-alloc's group, so that it can read the terminal (a process of another \
         group would be stopped by SIGTTIN) and gets Ctrl-C and Ctrl-Z from the \
         terminal itself; signals sent to port-alloc then go to the command's own \
         process, and one the terminal sent is not sent again (one sent to the whole \
         process group, kill -TERM -PGID, reaches the command twice: nothing tells the \
         two apart).\n\n\
         SIGHUP, SIGINT, SIGQUIT and SIGTERM end the run. If the command still runs 5 \
         seconds after the first of them (it ignores or handles it), port-alloc says so \
         on standard error and sends it SIGTERM, and SIGKILL 5 seconds later. Once the \
         command has ended, what is left running in its process group gets SIGTERM, \
         and SIGKILL 5 seconds later; then the leases are given back, and port-alloc \
         ends as the EXIT STATUS says. What the command leaves running when it exits \
         by itself, without a signal, is not stopped (see EXAMPLES), nor, in a \
         terminal's foreground, what it leaves after a signal; a server left running \
         keeps its port bound, so the port is not handed out again while it runs.\n\n\
         A signal that comes while the leases are being taken (or, without a command, \
         before the ports are printed) gives them back and ends port-alloc by it.",
    ),
    (
        "ENVIRONMENT",
        "PORT_ALLOC_DIR: the lease directory. PORT_ALLOC_PORTS, PORT_ALLOC_PORTS_FILE: \
         the pool. With -- COMMAND, COMMAND gets PORT0, PORT1, ... and PORTS, and \
         with --listen also LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES (see LISTEN), \
         whatever port-alloc inherited of these.",
    ),
    (
        "EXIT STATUS",
        "0 when the ports were reserved (or released, listed, collected); 1 when not \
         enough ports are free (nothing is then reserved) or release found no lease; 2 \
         on usage errors, when the lease directory is unusable (its lock held for over \
         5 seconds included) and when the output cannot be written (the ports are then \
         given back). A closed standard output ends port-alloc quietly with status 0, \
         its ports given back: nobody got them. With -- COMMAND, COMMAND's status, \
         128+N if signal N killed it, 127 (not found) or 126 when it cannot be started, \
         and 2 in place of 0 if a lease could not be given back (port-alloc says \
         which). When a signal port-alloc got killed the command, or port-alloc then \
         had to stop it (see SIGNALS), port-alloc ends by the signal it got once the \
         leases are given back, as subunit-wrap does, so that the shell or CI job that \
         sent it sees it took effect (a shell shows 128+N; a script's loop stops on \
         Ctrl-C); so it does after a signal that came when the command had ended. A \
         command that handles the signal and exits gives its own status.",
    ),
];

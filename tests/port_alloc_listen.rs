//! port-alloc --listen: the command gets the leased ports as bound,
//! listening sockets (fds 3, 4, ...) with systemd's LISTEN_FDS, LISTEN_PID
//! and LISTEN_FDNAMES; a real Python HTTP server serves on one; the ports
//! stay leased while the command runs. Pools of 22900-22999 (the other
//! port-alloc tests use other ones).

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::port_alloc::*;

/// python3, or `None` (the test then says it is skipped).
fn python3(test: &str) -> Option<&'static str> {
    match Command::new("python3")
        .arg("-c")
        .arg("")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Some("python3"),
        _ => {
            eprintln!("SKIPPED {test}: no python3 on PATH");
            None
        }
    }
}

/// Makes `cmd` start with nothing open but standard input, output and
/// error, whatever the test harness inherited, so that the descriptors
/// the command finds are port-alloc's doing alone.
fn only_stdio(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: close_range is a system call, async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        })
    }
}

/// The port a `--listen` command printed first, on a line of its own.
fn first_port(lines: &Lines) -> u16 {
    let line = lines.next(Duration::from_secs(20)).expect("the port");
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a port: {line}"))
}

/// What a test sees of a socket: connected to `port` on 127.0.0.1 with a
/// timeout, so that a port nobody listens on fails the test at once.
fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("connect to port {port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

/// The man page's recipe: python's http.server on the socket port-alloc
/// bound (socket.socket(fileno=3), HTTPServer without binding), serving a
/// file; a plain HTTP/1.0 request from here gets the file's contents.
#[test]
fn a_python_http_server_serves_a_page_on_the_passed_socket() {
    let Some(python) = python3("a_python_http_server_serves_a_page_on_the_passed_socket") else {
        return;
    };
    let fx = Fixture::new("http", "22900-22909");
    let site = fx.path("site");
    std::fs::create_dir(&site).expect("mkdir site");
    std::fs::write(site.join("page.txt"), "served on a passed socket\n").expect("page");
    let server = r#"
import functools, http.server, os, socket, sys
sock = socket.socket(fileno=3)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.HTTPServer(sock.getsockname()[:2], handler, bind_and_activate=False)
server.socket = sock
print(os.environ["PORT0"], flush=True)
server.handle_request()
"#;
    let site_arg = site.to_str().expect("UTF-8 path");
    let mut cmd = fx.cmd(&["--listen", "--", python, "-c", server, site_arg]);
    let mut running = Running::spawn(&mut cmd);
    let lines = Lines::of(&mut running);
    let port = first_port(&lines);
    assert!(
        (22900..=22909).contains(&port),
        "port {port} not of the pool"
    );
    let mut stream = connect(port);
    stream
        .write_all(b"GET /page.txt HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    assert!(
        response.starts_with("HTTP/1.0 200") && response.ends_with("served on a passed socket\n"),
        "response:\n{response}"
    );
    let out = finish(
        running.take(),
        std::time::Instant::now() + Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

/// The kernel completes connections on the passed socket while the command
/// has not even looked at it: the command waits at a gate, a client
/// connects and sends, then the command accepts and answers what it got.
#[test]
fn the_socket_accepts_connections_before_the_command_reads_it() {
    let Some(python) = python3("the_socket_accepts_connections_before_the_command_reads_it") else {
        return;
    };
    let fx = Fixture::new("backlog", "22910-22919");
    let mut gate = Gate::new(fx.path("gate"));
    let script = r#"echo "$PORT0"; : < "$1"; exec "$2" -c '
import socket
conn, _ = socket.socket(fileno=3).accept()
conn.sendall(b"got:" + conn.recv(100))
'"#;
    let gate_arg = gate.path.to_str().expect("UTF-8 path").to_owned();
    let mut cmd = fx.cmd(&[
        "--listen", "--", "sh", "-c", script, "sh", &gate_arg, python,
    ]);
    let mut running = Running::spawn(&mut cmd);
    let lines = Lines::of(&mut running);
    let port = first_port(&lines);
    // The command is held at the gate: nobody has called accept.
    let mut stream = connect(port);
    stream.write_all(b"ping").expect("send before accept");
    gate.open();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    assert_eq!(answer, "got:ping");
    let out = finish(
        running.take(),
        std::time::Instant::now() + Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", show(&out));
}

/// LISTEN_PID is the command's pid (also through `sh -c 'exec ...'`,
/// which keeps it); LISTEN_FDS counts the sockets, in the documented
/// order: every port on the first address, then every port on the next;
/// LISTEN_FDNAMES names them PORT0, PORT1, ... per address; nothing else
/// is open past standard error; the command starts with no signal
/// blocked (port-alloc blocks them for itself).
#[test]
fn listen_pid_is_the_commands_and_the_fds_are_exactly_the_sockets_in_order() {
    let Some(python) =
        python3("listen_pid_is_the_commands_and_the_fds_are_exactly_the_sockets_in_order")
    else {
        return;
    };
    let fx = Fixture::new("env", "22920-22929");
    let report = r#"
import os, socket
env = os.environ
print("pid", os.getpid(), env["LISTEN_PID"], env["LISTEN_FDS"], env["LISTEN_FDNAMES"])
print("ports", env["PORTS"])
status = open("/proc/self/status").read()
print("blocked", [l.split()[1] for l in status.splitlines() if l.startswith("SigBlk")][0])
for fd in range(3, 64):
    try:
        os.fstat(fd)
    except OSError:
        continue
    s = socket.socket(fileno=fd)
    print("fd", fd, s.getsockname()[0], s.getsockname()[1], s.type == socket.SOCK_STREAM,
          s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    s.detach()
"#;
    let mut args = vec!["-n", "2", "--listen", "--listen-address", "127.0.0.1"];
    let ipv6 = has_ipv6_loopback();
    if ipv6 {
        args.extend(["--listen-address", "::1"]);
    }
    for through_sh in [false, true] {
        let mut all = args.clone();
        let exec_python = format!("exec {python} -c \"$1\"");
        if through_sh {
            all.extend(["--", "sh", "-c", &exec_python, "sh", report]);
        } else {
            all.extend(["--", python, "-c", report]);
        }
        let out = run({
            let mut cmd = fx.cmd(&all);
            only_stdio(&mut cmd);
            cmd
        });
        assert!(out.status.success(), "{}", show(&out));
        let text = stdout(&out);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
        let pid = &lines[0];
        assert_eq!(pid[0], "pid", "{text}");
        assert_eq!(
            pid[1], pid[2],
            "LISTEN_PID is not the command's pid:\n{text}"
        );
        let (fds, names) = if ipv6 {
            ("4", "PORT0:PORT1:PORT0:PORT1")
        } else {
            ("2", "PORT0:PORT1")
        };
        assert_eq!((pid[3], pid[4]), (fds, names), "{text}");
        let ports: Vec<&str> = lines[1][1..].to_vec();
        assert_eq!(lines[2], ["blocked", "0000000000000000"], "{text}");
        let mut expected = vec![
            format!("fd 3 127.0.0.1 {} True 1", ports[0]),
            format!("fd 4 127.0.0.1 {} True 1", ports[1]),
        ];
        if ipv6 {
            expected.push(format!("fd 5 ::1 {} True 1", ports[0]));
            expected.push(format!("fd 6 ::1 {} True 1", ports[1]));
        }
        let found: Vec<&str> = text.lines().skip(3).collect();
        assert_eq!(found, expected, "through sh: {through_sh}\n{text}");
    }
}

/// What the man page says of CMD's children: the sockets are open in CMD
/// without close-on-exec (they must be, to reach it through exec), so a
/// child it starts without closing descriptors has them, but LISTEN_PID
/// tells that child they are not its own (sd_listen_fds would return 0
/// there); once CMD takes them as sd_listen_fds does (close-on-exec, the
/// variables unset), its children get nothing at all: no descriptor past
/// standard error, which fails if port-alloc left any of its own open.
#[test]
fn the_sockets_reach_the_commands_children_only_as_it_passes_them() {
    let Some(python) = python3("the_sockets_reach_the_commands_children_only_as_it_passes_them")
    else {
        return;
    };
    let fx = Fixture::new("children", "22930-22939");
    // os.spawnv: fork and exec, closing nothing (subprocess would close
    // every descriptor past 2 and hide what is inherited).
    let command = r#"
import fcntl, os, sys
child = r'''
import os
fds = []
for fd in range(3, 64):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
mine = os.environ.get("LISTEN_PID") == str(os.getpid())
print(sys_tag, fds, "mine" if mine else "not mine", os.environ.get("LISTEN_FDS"), flush=True)
'''
def spawn(tag):
    os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-c", "sys_tag = %r\n" % tag + child])
spawn("before")
# sd_listen_fds(1): the descriptors close-on-exec, the variables gone.
for fd in range(3, 3 + int(os.environ["LISTEN_FDS"])):
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
    del os.environ[name]
spawn("after")
"#;
    let out = run({
        let mut cmd = fx.cmd(&["-n", "2", "--listen", "--", python, "-c", command]);
        only_stdio(&mut cmd);
        cmd
    });
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        stdout(&out),
        "before [3, 4] not mine 2\nafter [] not mine None\n",
        "{}",
        show(&out)
    );
}

/// The ports passed with --listen stay leased while the command runs:
/// of a pool of 6, with 3 held by a --listen command, a caller gets the
/// other 3 and the next one nothing; the leases are given back when it ends.
#[test]
fn ports_passed_with_listen_are_never_handed_out_while_the_command_runs() {
    let fx = Fixture::new("held", "22940-22945");
    let mut gate = Gate::new(fx.path("gate"));
    let gate_arg = gate.path.to_str().expect("UTF-8 path").to_owned();
    let mut cmd = fx.cmd(&[
        "-n",
        "3",
        "--listen",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS"; : < "$1""#,
        "sh",
        &gate_arg,
    ]);
    let mut running = Running::spawn(&mut cmd);
    let lines = Lines::of(&mut running);
    let held: Vec<u16> = lines
        .next(Duration::from_secs(20))
        .expect("the ports")
        .split(' ')
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(held.len(), 3);
    for &port in &held {
        connect(port); // bound and listening while the command runs
    }
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "3", "--owner", &owner.pid_arg()]);
    let others = ok_ports(&out, "the other half");
    assert!(
        others.iter().all(|p| !held.contains(p)),
        "{others:?} shares a port with the --listen command's {held:?}"
    );
    let out = fx.run(&["--owner", &owner.pid_arg()]);
    assert_not_enough(&out, "a seventh port of a pool of 6");
    gate.open();
    let out = finish(
        running.take(),
        std::time::Instant::now() + Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        fx.lease_ports(),
        set(others),
        "only the other caller's leases are left"
    );
}

/// --udp --listen binds datagram sockets: a datagram sent to PORT0 before
/// the command reads reaches it, and its answer comes back.
#[test]
fn listen_with_udp_passes_datagram_sockets() {
    let Some(python) = python3("listen_with_udp_passes_datagram_sockets") else {
        return;
    };
    let fx = Fixture::new("udp", "22950-22959");
    let command = r#"
import os, socket
s = socket.socket(fileno=3)
print(os.environ["PORT0"], s.type == socket.SOCK_DGRAM, flush=True)
data, peer = s.recvfrom(100)
s.sendto(b"got:" + data, peer)
"#;
    let mut cmd = fx.cmd(&["--udp", "--listen", "--", python, "-c", command]);
    let mut running = Running::spawn(&mut cmd);
    let lines = Lines::of(&mut running);
    let line = lines.next(Duration::from_secs(20)).expect("a line");
    let (port, datagram) = line.split_once(' ').expect("two fields");
    assert_eq!(datagram, "True", "not a datagram socket: {line}");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind a client");
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    client
        .send_to(b"ping", ("127.0.0.1", port.parse::<u16>().expect("port")))
        .expect("send");
    let mut buf = [0u8; 100];
    let (n, _) = client.recv_from(&mut buf).expect("the answer");
    assert_eq!(&buf[..n], b"got:ping");
    let out = finish(
        running.take(),
        std::time::Instant::now() + Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", show(&out));
}

/// --listen without a command, or --listen-address without --listen, is a
/// usage error that names what is missing; an address that is not the
/// machine's fails naming it, with the leases given back.
#[test]
fn listen_usage_errors_and_an_address_that_cannot_be_bound() {
    let fx = Fixture::new("usage", "22960-22969");
    let out = fx.run(&["--listen"]);
    assert_fails(
        &out,
        2,
        &["--listen", "COMMAND"],
        "--listen without a command",
    );
    let out = fx.run(&["--listen-address", "::1", "--", "true"]);
    assert_fails(&out, 2, &["--listen"], "--listen-address without --listen");
    let out = fx.run(&["--listen-address", "nowhere", "--listen", "--", "true"]);
    assert_fails(&out, 2, &["nowhere"], "a bad address");
    // 192.0.2.1 (TEST-NET-1) is no address of this machine.
    let out = fx.run(&["--listen", "--listen-address", "192.0.2.1", "--", "true"]);
    assert_fails(
        &out,
        2,
        &["cannot bind TCP 192.0.2.1:229"],
        "an address not the machine's",
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

//! Sockets bound (and, for TCP, listening) on leased ports, for
//! `port-alloc --listen`: whoever binds a port first holds it, so binding
//! it here, right after the probe, and handing the socket on leaves no
//! moment in which a process that does not lease ports can take it.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use super::PortError;

/// The backlog of a listening socket: the kernel caps it at its
/// `somaxconn`. Connections wait there, accepted by the kernel, until
/// the server first calls accept(2).
const BACKLOG: i32 = 4096;

/// Binds a socket on each port at each address, TCP (listening) or UDP
/// (datagram), address by address: all the ports on `addresses[0]`, then
/// all on `addresses[1]`, ... (so the sockets of the first address come
/// first whatever other addresses are added). All or none: on an error
/// the sockets bound so far are closed.
///
/// TCP sockets get `SO_REUSEADDR`, as servers set it (a port probed free
/// has no listener; the option only lets connections of a previous run
/// in TIME_WAIT not block it); UDP sockets do not, as there it would let
/// another socket bind the same port. IPv6 sockets are IPv6 only, so that
/// `::` and `0.0.0.0` are two sockets, as they are two addresses.
pub fn bind_sockets(
    ports: &[u16],
    addresses: &[IpAddr],
    udp: bool,
) -> Result<Vec<Socket>, PortError> {
    let mut sockets = Vec::with_capacity(ports.len() * addresses.len());
    for &ip in addresses {
        for &port in ports {
            let address = SocketAddr::new(ip, port);
            let bound = bind_one(address, udp).map_err(|source| PortError::Bind {
                address,
                udp,
                source,
            })?;
            sockets.push(bound);
        }
    }
    Ok(sockets)
}

fn bind_one(address: SocketAddr, udp: bool) -> io::Result<Socket> {
    let (kind, protocol) = if udp {
        (Type::DGRAM, Protocol::UDP)
    } else {
        (Type::STREAM, Protocol::TCP)
    };
    // socket2 makes its sockets close-on-exec: none reaches a command
    // but the copies made for it on purpose.
    let socket = Socket::new(Domain::for_address(address), kind, Some(protocol))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if !udp {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&address.into())?;
    if !udp {
        socket.listen(BACKLOG)?;
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_listening_socket_accepts_before_anyone_calls_accept() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let Ok(sockets) = bind_sockets(&[port], &[IpAddr::V4(Ipv4Addr::LOCALHOST)], false) else {
            return; // taken again meanwhile by someone else: nothing to learn
        };
        assert_eq!(sockets.len(), 1);
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the backlog");
        // Bound twice: refused, and says which address.
        let again = bind_sockets(&[port], &[IpAddr::V4(Ipv4Addr::LOCALHOST)], false);
        let err = again.expect_err("the port is bound").to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    }
}

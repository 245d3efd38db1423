//! Whether a port is free right now: a bind test, as a server would bind.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// Whether `port` is free: nothing is bound to it on 0.0.0.0, ::, 127.0.0.1
/// or ::1 (TCP, and UDP too with `udp`). Binding without SO_REUSEADDR, as a
/// server would; a family the machine lacks is skipped.
pub fn port_is_free(port: u16, udp: bool) -> bool {
    let addresses = [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    let kinds: &[(Type, Protocol)] = if udp {
        &[(Type::STREAM, Protocol::TCP), (Type::DGRAM, Protocol::UDP)]
    } else {
        &[(Type::STREAM, Protocol::TCP)]
    };
    for &(kind, protocol) in kinds {
        for address in addresses {
            let socket = match Socket::new(Domain::for_address(address), kind, Some(protocol)) {
                Ok(socket) => socket,
                Err(_) => continue, // no such family here
            };
            if address.is_ipv6() && socket.set_only_v6(true).is_err() {
                continue;
            }
            match socket.bind(&address.into()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {} // no ::1 here
                Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
                Err(_) => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_is_free(port, false));
        // (Whether it is free once closed depends on the rest of the
        // machine: the kernel's port may be taken again at once.)
        drop(listener);
    }
}

//! Datagrams to a receiver that may be away: a connected socket, so that the ICMP port
//! unreachable its host answers comes back as an error on it (RFC 1122 4.1.3.3).

use std::net::{SocketAddr, UdpSocket};

/// A socket of `target`'s family on an ephemeral port, connected to it.
pub fn connected(target: SocketAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().unwrap_or(target)
    } else {
        "[::]:0".parse().unwrap_or(target)
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    Ok(socket)
}

/// Sends one datagram; an error when it could not be sent or the receiver's host answered
/// that nothing listens (the kernel has handled that answer by the time `send` returns on
/// loopback; from a remote host it arrives a round trip later and fails the next send, so
/// one datagram can be lost unseen).
pub fn send(socket: &UdpSocket, datagram: &[u8]) -> Result<(), String> {
    // An error left from an earlier datagram: that one is gone; this one is still to send.
    let _ = socket.take_error();
    let peer = socket
        .peer_addr()
        .map_or_else(|_| "the receiver".to_string(), |a| a.to_string());
    match socket.send(datagram) {
        Ok(n) if n == datagram.len() => {}
        Ok(n) => return Err(format!("{peer}: sent {n} of {} bytes", datagram.len())),
        Err(e) => return Err(format!("{peer}: {e}")),
    }
    match socket.take_error() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(format!("{peer}: {e}")),
        Err(e) => Err(format!("{peer}: {e}")),
    }
}

//! Datagrams to a receiver that may be away: a connected socket, so that the ICMP port
//! unreachable its host answers comes back as an error on it (RFC 1122 4.1.3.3).

use crate::Failure;
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
///
/// A datagram larger than UDP carries (EMSGSIZE) is a [`Failure::permanent`]: the same bytes
/// would fail again at every retry.
pub fn send(socket: &UdpSocket, datagram: &[u8]) -> Result<(), Failure> {
    // An error left from an earlier datagram: that one is gone; this one is still to send.
    let _ = socket.take_error();
    let peer = socket
        .peer_addr()
        .map_or_else(|_| "the receiver".to_string(), |a| a.to_string());
    match socket.send(datagram) {
        Ok(n) if n == datagram.len() => {}
        Ok(n) => return Err(format!("{peer}: sent {n} of {} bytes", datagram.len()).into()),
        Err(e) if e.raw_os_error() == Some(EMSGSIZE) => {
            return Err(Failure::permanent(format!(
                "{peer}: {e} ({} bytes: more than a UDP datagram carries; not retried)",
                datagram.len()
            )))
        }
        Err(e) => return Err(format!("{peer}: {e}").into()),
    }
    match socket.take_error() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(format!("{peer}: {e}").into()),
        Err(e) => Err(format!("{peer}: {e}").into()),
    }
}

/// "Message too long" (Linux, include/uapi/asm-generic/errno.h).
const EMSGSIZE: i32 = 90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_too_large_for_udp_is_a_permanent_failure() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connected(receiver.local_addr().unwrap()).unwrap();
        assert_eq!(send(&socket, &[0u8; 1000]), Ok(()));
        let failure = send(&socket, &vec![0u8; 70_000]).unwrap_err();
        assert!(failure.permanent, "{failure:?}");
        assert!(
            failure
                .message
                .contains("70000 bytes: more than a UDP datagram carries"),
            "{}",
            failure.message
        );
    }
}

//! Live reception by multicast join: any-source groups (ASM, G) and source-specific channels
//! (SSM, S,G; RFC 4607), IPv4 and IPv6, on a chosen interface.
//!
//! Joins use the protocol-independent `MCAST_JOIN_GROUP` / `MCAST_JOIN_SOURCE_GROUP` socket
//! options (RFC 3678 section 5.1), which name the interface by index for both families.
//! Datagrams are read in batches with `recvmmsg(2)`, each with its kernel receive time
//! (`SO_TIMESTAMPNS`), so a busy group costs one system call per batch, not per packet.

#![allow(unsafe_code)]

use crate::sockopt::setsockopt;
use socket2::{Domain, Protocol, Socket, Type};
use std::cell::Cell;
use std::fmt;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::str::FromStr;
use wire::UdpDatagram;

const MCAST_JOIN_GROUP: libc::c_int = 42;
const MCAST_LEAVE_GROUP: libc::c_int = 45;
const MCAST_JOIN_SOURCE_GROUP: libc::c_int = 46;
const MCAST_LEAVE_SOURCE_GROUP: libc::c_int = 47;
const IP_MULTICAST_ALL: libc::c_int = 49;
const IPV6_MULTICAST_ALL: libc::c_int = 29;

/// A group to join: `GROUP:PORT` (ASM) or `SOURCE@GROUP:PORT` (SSM), the form of the
/// authority in `udp://` and `amt://` URLs. IPv6 groups are bracketed: `[ff3e::1]:5000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Join {
    /// The source of a source-specific channel; `None` for any source.
    pub source: Option<IpAddr>,
    /// The group address and UDP port.
    pub group: SocketAddr,
}

impl fmt::Display for Join {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            Some(IpAddr::V6(s)) => write!(f, "[{s}]@{}", self.group),
            Some(s) => write!(f, "{s}@{}", self.group),
            None => write!(f, "{}", self.group),
        }
    }
}

impl FromStr for Join {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text}: {why}");
        let rest = text.strip_prefix("udp://").unwrap_or(text);
        if text.starts_with("amt://") {
            return Err(bad(
                "AMT tunnels are not supported yet; join the group natively",
            ));
        }
        let (source, group) = match rest.split_once('@') {
            Some((s, g)) => {
                let s = s.trim_start_matches('[').trim_end_matches(']');
                let s: IpAddr = s
                    .parse()
                    .map_err(|_| bad("the source before @ is not an IP address"))?;
                (Some(s), g)
            }
            None => (None, rest),
        };
        let group: SocketAddr = group.trim_end_matches('/').parse().map_err(|_| {
            bad("expected [SOURCE@]GROUP:PORT, e.g. 239.1.1.1:5000 or 10.0.0.1@232.1.1.1:5000")
        })?;
        if !group.ip().is_multicast() {
            return Err(bad("the group is not a multicast address"));
        }
        if group.port() == 0 {
            return Err(bad("the port is 0"));
        }
        if let Some(s) = source {
            if s.is_ipv4() != group.is_ipv4() {
                return Err(bad("the source and the group are of different IP versions"));
            }
            if s.is_multicast() || s.is_unspecified() {
                return Err(bad("the source must be a unicast address"));
            }
        }
        Ok(Join { source, group })
    }
}

/// A joined group: its socket, bound to the group address and port so that it receives that
/// group alone.
pub struct MulticastSocket {
    socket: Socket,
    join: Join,
    interface: u32,
    /// The socket's drop counter as of its latest datagram (SO_RXQ_OVFL), and as of the
    /// last [`MulticastSocket::take_drops`].
    drops: Cell<(u32, u32)>,
    /// Datagrams whose source address was not IPv4 or IPv6 since the last
    /// [`MulticastSocket::take_invalid_sources`].
    invalid_sources: Cell<u64>,
}

fn storage(addr: IpAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; zeroed is valid, and it is large enough and
    // aligned for both sockaddr_in and sockaddr_in6.
    let mut s: libc::sockaddr_storage = unsafe { zeroed() };
    let sa = socket2::SockAddr::from(SocketAddr::new(addr, 0));
    // SAFETY: copies the encoded address, at most its length, into the storage.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            (&mut s as *mut libc::sockaddr_storage).cast::<u8>(),
            sa.len() as usize,
        );
    }
    s
}

impl MulticastSocket {
    /// Joins `join` on interface `interface` (an index; 0 lets the kernel choose by route),
    /// asking for a receive buffer of `rcvbuf` bytes when given. Errors name the group.
    pub fn open(join: Join, interface: u32, rcvbuf: Option<usize>) -> io::Result<Self> {
        let fail = |what: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("join {join}: {what}: {e}"))
        };
        let v6 = join.group.is_ipv6();
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket =
            Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| fail("socket", e))?;
        // Other programs (and other probes) may listen to the same group and port.
        socket
            .set_reuse_address(true)
            .map_err(|e| fail("SO_REUSEADDR", e))?;
        socket
            .set_reuse_port(true)
            .map_err(|e| fail("SO_REUSEPORT", e))?;
        if v6 {
            socket
                .set_only_v6(true)
                .map_err(|e| fail("IPV6_V6ONLY", e))?;
        }
        let fd = socket.as_raw_fd();
        // Linux delivers every group any socket on the host joined to a socket bound to the
        // port unless told otherwise (ip(7) IP_MULTICAST_ALL): this socket wants its own.
        let (level, all) = if v6 {
            (libc::IPPROTO_IPV6, IPV6_MULTICAST_ALL)
        } else {
            (libc::IPPROTO_IP, IP_MULTICAST_ALL)
        };
        // IPV6_MULTICAST_ALL needs Linux 4.20; older kernels keep the default.
        let _ = setsockopt(fd, level, all, &0i32);
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)
            .map_err(|e| fail("SO_TIMESTAMPNS", e))?;
        // Each datagram then carries the count of datagrams the socket dropped so far for a
        // full receive buffer: the kernel-drop figure of a joined group.
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, &1i32)
            .map_err(|e| fail("SO_RXQ_OVFL", e))?;
        if let Some(bytes) = rcvbuf {
            set_receive_buffer(&socket, bytes).map_err(|e| fail("receive buffer", e))?;
        }
        let bind_to = match join.group {
            SocketAddr::V4(g) => SocketAddr::V4(SocketAddrV4::new(*g.ip(), g.port())),
            // A link-local scoped group needs the interface as its scope.
            SocketAddr::V6(g) => SocketAddr::V6(SocketAddrV6::new(
                *g.ip(),
                g.port(),
                0,
                if g.ip().segments()[0] & 0x000f == 2 {
                    interface
                } else {
                    0
                },
            )),
        };
        socket.bind(&bind_to.into()).map_err(|e| fail("bind", e))?;
        match join.source {
            None => {
                let req = libc::group_req {
                    gr_interface: interface,
                    gr_group: storage(join.group.ip()),
                };
                setsockopt(fd, level, MCAST_JOIN_GROUP, &req)
                    .map_err(|e| fail("MCAST_JOIN_GROUP", e))?;
            }
            Some(source) => {
                let req = libc::group_source_req {
                    gsr_interface: interface,
                    gsr_group: storage(join.group.ip()),
                    gsr_source: storage(source),
                };
                setsockopt(fd, level, MCAST_JOIN_SOURCE_GROUP, &req)
                    .map_err(|e| fail("MCAST_JOIN_SOURCE_GROUP", e))?;
            }
        }
        socket
            .set_nonblocking(true)
            .map_err(|e| fail("non-blocking", e))?;
        Ok(MulticastSocket {
            socket,
            join,
            interface,
            drops: Cell::new((0, 0)),
            invalid_sources: Cell::new(0),
        })
    }

    /// The group this socket joined.
    pub fn join(&self) -> Join {
        self.join
    }

    /// The socket, to wait on with `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Datagrams the kernel dropped for a full receive buffer since the last call (as far
    /// as the datagrams received since tell).
    pub fn take_drops(&self) -> u64 {
        let (now, before) = self.drops.get();
        self.drops.set((now, now));
        u64::from(now.wrapping_sub(before))
    }

    /// Datagrams left out since the last call because the kernel gave no IPv4 or IPv6
    /// source address for them (not seen with UDP, but never dropped uncounted).
    pub fn take_invalid_sources(&self) -> u64 {
        self.invalid_sources.replace(0)
    }

    /// Reads the datagrams waiting (at most one batch), handing each to `on` with its
    /// receive time (ns since the Unix epoch) and its length as an Ethernet frame on the wire.
    /// Never blocks; returns the datagrams read.
    pub fn receive(
        &self,
        batch: &mut ReceiveBatch,
        mut on: impl FnMut(i64, &UdpDatagram<'_>, u32),
    ) -> io::Result<usize> {
        let n = batch.receive(self.fd())?;
        let header = if self.join.group.is_ipv4() {
            20 + 8
        } else {
            40 + 8
        };
        for i in 0..n {
            let (arrival_ns, src, len, drops) = batch.message(i);
            if let Some(d) = drops {
                self.drops.set((d, self.drops.get().1));
            }
            let Some(src) = src else {
                self.invalid_sources.set(self.invalid_sources.get() + 1);
                continue;
            };
            let kept = len.min(SLOT);
            let d = UdpDatagram {
                src,
                dst: self.join.group,
                payload: &batch.buffers[i * SLOT..i * SLOT + kept],
                payload_len: len.min(usize::from(u16::MAX)) as u16,
            };
            // An Ethernet header: the length the datagram had on the wire, as an interface
            // capture would count it (802.1Q tags, if any, are not seen here).
            on(arrival_ns, &d, (len + header + 14) as u32);
        }
        Ok(n)
    }
}

impl Drop for MulticastSocket {
    fn drop(&mut self) {
        // Leave explicitly: the kernel would on close, but the leave is then sent at once
        // rather than whenever the descriptor's last reference goes.
        let fd = self.socket.as_raw_fd();
        let level = if self.join.group.is_ipv6() {
            libc::IPPROTO_IPV6
        } else {
            libc::IPPROTO_IP
        };
        let _ = match self.join.source {
            None => setsockopt(
                fd,
                level,
                MCAST_LEAVE_GROUP,
                &libc::group_req {
                    gr_interface: self.interface,
                    gr_group: storage(self.join.group.ip()),
                },
            ),
            Some(source) => setsockopt(
                fd,
                level,
                MCAST_LEAVE_SOURCE_GROUP,
                &libc::group_source_req {
                    gsr_interface: self.interface,
                    gsr_group: storage(self.join.group.ip()),
                    gsr_source: storage(source),
                },
            ),
        };
    }
}

/// Sets the receive buffer to at least `bytes`: SO_RCVBUF up to `net.core.rmem_max`, beyond
/// it SO_RCVBUFFORCE, which needs CAP_NET_ADMIN; said so when missing.
fn set_receive_buffer(socket: &Socket, bytes: usize) -> io::Result<()> {
    socket.set_recv_buffer_size(bytes)?;
    // The kernel doubles the value asked for (socket(7)) and caps it at rmem_max.
    if socket.recv_buffer_size()? >= bytes {
        return Ok(());
    }
    let value = bytes.min(i32::MAX as usize) as i32;
    match setsockopt(
        socket.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        &value,
    ) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let max = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap_or_default();
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{bytes} bytes is above net.core.rmem_max ({}) and needs CAP_NET_ADMIN; grant it, raise the sysctl, or ask for less",
                    max.trim()
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

/// Datagrams read per system call.
pub const BATCH: usize = 64;
/// Bytes kept of each datagram: a jumbo frame's payload. Longer (fragmented) datagrams are
/// kept cut, and counted so, as a snap length would cut them.
pub const SLOT: usize = 9216;
const CONTROL: usize = 64;

/// Buffers for one `recvmmsg` call, shared by all the sockets a worker reads.
pub struct ReceiveBatch {
    buffers: Vec<u8>,
    addresses: Vec<libc::sockaddr_storage>,
    control: Vec<[u64; CONTROL / 8]>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovecs` and `headers` point into this value's own vectors and
// are rebuilt before every use.
unsafe impl Send for ReceiveBatch {}

impl Default for ReceiveBatch {
    fn default() -> Self {
        ReceiveBatch {
            buffers: vec![0; BATCH * SLOT],
            // SAFETY: plain data, zeroed is valid.
            addresses: vec![unsafe { zeroed() }; BATCH],
            control: vec![[0; CONTROL / 8]; BATCH],
            iovecs: Vec::with_capacity(BATCH),
            headers: Vec::with_capacity(BATCH),
        }
    }
}

impl ReceiveBatch {
    fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        self.iovecs.clear();
        self.headers.clear();
        for i in 0..BATCH {
            self.iovecs.push(libc::iovec {
                iov_base: self.buffers[i * SLOT..].as_mut_ptr().cast(),
                iov_len: SLOT,
            });
        }
        for i in 0..BATCH {
            // SAFETY: msghdr is plain data; zeroed is valid.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut self.addresses[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut self.iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.control[i].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = CONTROL;
            self.headers.push(h);
        }
        // SAFETY: every header points at buffers of this batch, sized as declared. MSG_TRUNC
        // makes the kernel report a datagram's real length when it was longer than its slot.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }

    /// Message `i` of the last call: receive time, source, length, the socket's drop counter.
    fn message(&self, i: usize) -> (i64, Option<SocketAddr>, usize, Option<u32>) {
        let h = &self.headers[i];
        let mut arrival = 0;
        let mut drops = None;
        // SAFETY: the control buffer was filled by the kernel; the CMSG macros walk it within
        // msg_controllen.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&h.msg_hdr);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    arrival = ts.tv_sec * 1_000_000_000 + ts.tv_nsec;
                }
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_RXQ_OVFL {
                    drops = Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<u32>()));
                }
                c = libc::CMSG_NXTHDR(&h.msg_hdr, c);
            }
        }
        if arrival == 0 {
            arrival = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64);
        }
        // SAFETY: the kernel wrote a socket address of msg_namelen bytes into the storage.
        let src =
            unsafe { socket2::SockAddr::new(self.addresses[i], h.msg_hdr.msg_namelen) }.as_socket();
        (arrival, src, h.msg_len as usize, drops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_asm_and_ssm() {
        let j: Join = "239.1.1.1:5000".parse().unwrap();
        assert_eq!(j.source, None);
        assert_eq!(j.group, "239.1.1.1:5000".parse().unwrap());
        let j: Join = "udp://10.0.0.1@232.1.1.1:5000".parse().unwrap();
        assert_eq!(j.source, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(j.to_string(), "10.0.0.1@232.1.1.1:5000");
        let j: Join = "[2001:db8::1]@[ff3e::8000:1]:5004".parse().unwrap();
        assert_eq!(j.source, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(j.to_string(), "[2001:db8::1]@[ff3e::8000:1]:5004");
    }

    #[test]
    fn refuses_what_cannot_be_joined() {
        for (text, why) in [
            ("10.0.0.1:5000", "not a multicast address"),
            ("239.1.1.1", "expected [SOURCE@]GROUP:PORT"),
            ("239.1.1.1:0", "port is 0"),
            ("2001:db8::1@239.1.1.1:5000", "different IP versions"),
            ("239.1.1.2@239.1.1.1:5000", "unicast"),
            ("amt://10.0.0.1@232.1.1.1:5000", "AMT"),
        ] {
            let e = text.parse::<Join>().unwrap_err();
            assert!(e.starts_with(text) && e.contains(why), "{e}");
        }
    }
}

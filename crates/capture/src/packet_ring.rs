//! Live capture from a network interface: an AF_PACKET socket with a TPACKET_V3 receive ring.
//!
//! Why our own ring rather than libpcap's: the probe's workers each need their own socket in
//! one fanout group (`PACKET_FANOUT_HASH`, Documentation/networking/packet_mmap.rst), so that
//! every packet of a flow reaches the same worker, and each worker must read a whole block
//! of packets with no system call per packet. TPACKET_V3 hands user space blocks of packets
//! in a memory ring shared with the kernel: a worker reads a block in place, hands it back,
//! and sleeps in `poll` only when no block is ready.

#![allow(unsafe_code)]

use crate::bpf::{BpfFilter, BpfInstruction};
use crate::sockopt::setsockopt;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, Ordering};
use wire::{Frame, LinkType};

// Kernel ABI (include/uapi/linux/if_packet.h), stable since Linux 3.2.
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TPACKET_V3: libc::c_int = 2;
const PACKET_FANOUT_HASH: u32 = 0;
/// Fragments of one IP datagram are gathered before the fanout hash is taken, so a
/// fragmented datagram reaches one worker whole.
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
/// `tp_vlan_tci` holds the outer VLAN tag the kernel took out of the frame (linux/if_packet.h).
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const ETH_P_ALL: u16 = 0x0003;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_NONE: u16 = 0xfffe;
const ARPHRD_IPGRE: u16 = 778;
const ARPHRD_TUNNEL: u16 = 768;
const ARPHRD_TUNNEL6: u16 = 769;

#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

#[repr(C)]
struct TpacketBlockDesc {
    version: u32,
    offset_to_priv: u32,
    // struct tpacket_hdr_v1
    block_status: u32,
    num_pkts: u32,
    offset_to_first_pkt: u32,
    blk_len: u32,
    seq_num: u64,
    ts_first: [u32; 2],
    ts_last: [u32; 2],
}

#[repr(C)]
struct Tpacket3Hdr {
    tp_next_offset: u32,
    tp_sec: u32,
    tp_nsec: u32,
    tp_snaplen: u32,
    tp_len: u32,
    tp_status: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_rxhash: u32,
    tp_vlan_tci: u32,
    tp_vlan_tpid: u16,
    tp_padding: u16,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

#[repr(C)]
struct PacketMreq {
    mr_ifindex: libc::c_int,
    mr_type: libc::c_ushort,
    mr_alen: libc::c_ushort,
    mr_address: [u8; 8],
}

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const BpfInstruction,
}

/// How to open an interface.
#[derive(Clone, Debug)]
pub struct RingOptions {
    /// Interface name.
    pub interface: String,
    /// Kernel filter (tcpdump syntax); `None` takes every packet.
    pub filter: Option<String>,
    /// Put the interface in promiscuous mode while the socket is open.
    pub promiscuous: bool,
    /// Ring size in bytes (rounded down to whole blocks, at least 4 blocks).
    pub ring_bytes: usize,
    /// Fanout group shared by the sockets of all workers on this interface; `None` when one
    /// socket reads the interface alone.
    pub fanout_group: Option<u16>,
}

/// Ring block size: 1 MiB holds ~700 full-size frames, so a busy 10 Gbit/s link fills one in
/// about a millisecond and a worker reads many packets per wake-up.
const BLOCK_SIZE: usize = 1 << 20;
/// A block that is not full is handed over after this many ms, which bounds the latency of a
/// quiet link.
const BLOCK_TIMEOUT_MS: u32 = 8;

/// Counters the kernel keeps for one socket (`PACKET_STATISTICS`); reading resets them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets that passed the filter (including the dropped ones).
    pub packets: u64,
    /// Packets dropped because the ring was full.
    pub drops: u64,
}

/// An interface opened for capture: an AF_PACKET socket and its TPACKET_V3 ring.
pub struct PacketRing {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    blocks: usize,
    next: usize,
    link: LinkType,
    /// The frames of the block being read. They borrow the ring, not 'static: the vector is
    /// emptied before the block goes back to the kernel, and `on` only sees them for the
    /// length of its call.
    scratch: Vec<Frame<'static>>,
}

// SAFETY: the ring's memory belongs to this value alone (the mapping is private to its
// socket); moving it to another thread moves sole ownership.
unsafe impl Send for PacketRing {}

/// Why an interface could not be opened: one line naming the interface and what to do.
fn open_error(interface: &str, what: &str, e: io::Error) -> io::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (capture needs CAP_NET_RAW: run as root, or `setcap cap_net_raw+ep` on the binary)"
        }
        Some(libc::ENODEV) | Some(libc::ENXIO) => " (no such interface: see `ip link`)",
        Some(libc::ENOMEM) => {
            " (not enough locked memory for the ring: ask for a smaller --ring-mb)"
        }
        _ => "",
    };
    io::Error::new(e.kind(), format!("{interface}: {what}: {e}{hint}"))
}

/// The index of a network interface by name.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        Err(io::Error::from_raw_os_error(libc::ENODEV))
    } else {
        Ok(index)
    }
}

impl PacketRing {
    /// Opens `options.interface`: socket, filter, ring, bind, then promiscuous mode and fanout.
    /// The socket is created with protocol 0, so it receives nothing until it is bound with
    /// its filter and ring in place: no unfiltered packet slips in.
    pub fn open(options: &RingOptions) -> io::Result<Self> {
        let name = options.interface.as_str();
        let index = interface_index(name).map_err(|e| open_error(name, "interface", e))?;
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(open_error(
                name,
                "AF_PACKET socket",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sock = fd.as_raw_fd();
        let hatype = hardware_type(sock, index).map_err(|e| open_error(name, "link type", e))?;
        let link = match hatype {
            ARPHRD_ETHER | ARPHRD_LOOPBACK => LinkType::Ethernet,
            ARPHRD_NONE | ARPHRD_IPGRE | ARPHRD_TUNNEL | ARPHRD_TUNNEL6 => LinkType::RawIp,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                    "{name}: link type {other} (ARPHRD) is not Ethernet, loopback or an IP tunnel"
                ),
                ))
            }
        };
        if let Some(expression) = &options.filter {
            let program = BpfFilter::compile(expression, link)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {e}")))?;
            let fprog = SockFprog {
                len: program.instructions.len() as libc::c_ushort,
                filter: program.instructions.as_ptr(),
            };
            setsockopt(sock, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
                .map_err(|e| open_error(name, "attach filter", e))?;
        }
        setsockopt(sock, libc::SOL_PACKET, PACKET_VERSION, &TPACKET_V3)
            .map_err(|e| open_error(name, "TPACKET_V3", e))?;
        // A probe on a host sees the packets it sends too: leave them out (Linux 4.20+;
        // older kernels ignore nothing and the option fails harmlessly).
        let _ = setsockopt(sock, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &1i32);
        // Asking for socket timestamps turns on the kernel's receive timestamps for every
        // frame (net_enable_timestamp): each frame is then stamped once, when the interface
        // hands it to the stack, before any tap sees it. Otherwise, unless another socket on
        // the host asked, each packet socket stamps a frame when its own turn comes
        // (af_packet's tpacket_rcv): later than the frame arrived, and not the stamp a
        // tcpdump beside the probe writes.
        setsockopt(sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)
            .map_err(|e| open_error(name, "SO_TIMESTAMPNS", e))?;
        let blocks = (options.ring_bytes / BLOCK_SIZE).max(4);
        let req = TpacketReq3 {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: 2048,
            tp_frame_nr: (BLOCK_SIZE / 2048 * blocks) as u32,
            tp_retire_blk_tov: BLOCK_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(sock, libc::SOL_PACKET, PACKET_RX_RING, &req)
            .map_err(|e| open_error(name, "receive ring", e))?;
        let map_len = blocks * BLOCK_SIZE;
        // SAFETY: maps the ring the kernel just allocated for this socket; the length is the
        // ring's, and the mapping is unmapped in Drop before the socket closes.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                sock,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(open_error(name, "map the ring", io::Error::last_os_error()));
        }
        let ring = PacketRing {
            fd,
            map: map.cast(),
            map_len,
            blocks,
            next: 0,
            link,
            scratch: Vec::with_capacity(BLOCK_SIZE / 64),
        };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL.to_be();
        addr.sll_ifindex = index as i32;
        // SAFETY: `addr` is a valid sockaddr_ll of the size passed.
        let r = unsafe {
            libc::bind(
                sock,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(open_error(name, "bind", io::Error::last_os_error()));
        }
        if options.promiscuous {
            let mreq = PacketMreq {
                mr_ifindex: index as i32,
                mr_type: PACKET_MR_PROMISC,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            // The kernel takes promiscuous mode back when the socket closes.
            setsockopt(sock, libc::SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| open_error(name, "promiscuous mode", e))?;
        }
        if let Some(group) = options.fanout_group {
            let value = u32::from(group) | (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16;
            setsockopt(sock, libc::SOL_PACKET, PACKET_FANOUT, &value)
                .map_err(|e| open_error(name, "fanout group", e))?;
        }
        Ok(ring)
    }

    /// The socket, to wait on with `poll(2)` for a block.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn block(&self, i: usize) -> *mut TpacketBlockDesc {
        // SAFETY (of the arithmetic): i < blocks, so the offset stays inside the mapping.
        unsafe { self.map.add(i * BLOCK_SIZE).cast() }
    }

    /// Reads every block the kernel has filled, handing each block's frames to `on` in
    /// arrival order, then the block back to the kernel. Returns the frames read. Never
    /// blocks: when no block is ready it returns 0 (wait on [`PacketRing::fd`]).
    pub fn read_blocks(&mut self, mut on: impl FnMut(&[Frame<'_>])) -> usize {
        let mut total = 0;
        let mut frames = std::mem::take(&mut self.scratch);
        for _ in 0..self.blocks {
            let desc = self.block(self.next);
            // SAFETY: `desc` points at a block header inside the mapping; the status word is
            // written by the kernel, so it is read volatile, and the acquire fence orders the
            // reads of the block's packets after it (packet_mmap.rst).
            let status = unsafe { std::ptr::addr_of!((*desc).block_status).read_volatile() };
            if status & TP_STATUS_USER == 0 {
                break;
            }
            fence(Ordering::Acquire);
            // SAFETY: the block belongs to user space until its status is set back to
            // TP_STATUS_KERNEL below; its header fields are plain integers.
            let (count, first) = unsafe {
                (
                    (*desc).num_pkts as usize,
                    (*desc).offset_to_first_pkt as usize,
                )
            };
            let base = desc.cast::<u8>();
            frames.clear();
            let mut offset = first;
            for _ in 0..count {
                if offset + std::mem::size_of::<Tpacket3Hdr>() > BLOCK_SIZE {
                    break;
                }
                // SAFETY: the kernel lays packets out inside the block; offsets are checked
                // against the block's size before each read.
                let hdr = unsafe { &*base.add(offset).cast::<Tpacket3Hdr>() };
                let start = offset + usize::from(hdr.tp_mac);
                let len = hdr.tp_snaplen as usize;
                if start + len > BLOCK_SIZE {
                    break;
                }
                // SAFETY: in bounds (checked above); the bytes stay valid and unchanged until
                // the block is handed back, which happens after `on` returns: the 'static
                // lifetime never leaves this function (the vector is cleared below, and
                // `on` cannot keep a frame past its call).
                let data: &'static [u8] =
                    unsafe { std::slice::from_raw_parts(base.add(start), len) };
                frames.push(Frame {
                    arrival_ns: i64::from(hdr.tp_sec) * 1_000_000_000 + i64::from(hdr.tp_nsec),
                    link: self.link,
                    data,
                    wire_len: hdr.tp_len,
                    // The kernel takes the outer tag out of the frame and gives it here
                    // (a QinQ frame keeps only its inner tag in the bytes).
                    vlan: (hdr.tp_status & TP_STATUS_VLAN_VALID != 0)
                        .then_some((hdr.tp_vlan_tci & 0x0fff) as u16),
                });
                if hdr.tp_next_offset == 0 {
                    break;
                }
                offset += hdr.tp_next_offset as usize;
            }
            total += frames.len();
            on(&frames);
            frames.clear();
            fence(Ordering::Release);
            // SAFETY: hands the block back; nothing refers to its bytes any more.
            unsafe {
                std::ptr::addr_of_mut!((*desc).block_status).write_volatile(TP_STATUS_KERNEL)
            };
            self.next = (self.next + 1) % self.blocks;
        }
        self.scratch = frames;
        total
    }

    /// The kernel's counters since the last call.
    pub fn stats(&self) -> io::Result<KernelStats> {
        let mut stats = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `stats` is writable for `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&mut stats as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(KernelStats {
            packets: u64::from(stats.tp_packets),
            drops: u64::from(stats.tp_drops),
        })
    }
}

impl Drop for PacketRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once; no frame borrows it any more.
        unsafe { libc::munmap(self.map.cast(), self.map_len) };
    }
}

/// The ARPHRD type of interface `index` (SIOCGIFHWADDR would need the name; the packet
/// socket's address after a temporary bind would receive packets, so ask netdevice).
fn hardware_type(sock: RawFd, index: u32) -> io::Result<u16> {
    // SAFETY: ifreq is plain data; zeroed is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_ifru.ifru_ifindex = index as i32;
    // SAFETY: SIOCGIFNAME fills ifr_name from the index in `req`.
    if unsafe { libc::ioctl(sock, libc::SIOCGIFNAME, &mut req) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR reads ifr_name and fills ifr_hwaddr.
    if unsafe { libc::ioctl(sock, libc::SIOCGIFHWADDR, &mut req) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the union member just filled by the kernel.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
}

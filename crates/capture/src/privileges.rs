//! Giving up privileges once the capture sockets are open.
//!
//! Opening a packet socket needs CAP_NET_RAW, and a receive buffer above `net.core.rmem_max`
//! needs CAP_NET_ADMIN; reading from them afterwards needs neither. A probe parses untrusted
//! packets all day, so once its sockets are open it drops every capability (capset(2)) and
//! forbids regaining any through exec (`PR_SET_NO_NEW_PRIVS`). Capabilities are per thread:
//! call this on the main thread before the workers start, and they inherit the empty sets.

#![allow(unsafe_code)]

use std::io;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capget() -> io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array, as capget(2) expects for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(data)
}

/// Drops every capability of the calling thread and sets `no_new_privs`. Returns how many
/// capabilities were held before.
pub fn drop_all() -> io::Result<u32> {
    let before = capget()?;
    let held = before.iter().map(|d| d.permitted.count_ones()).sum();
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array of empty sets (capset(2), version 3).
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_drops_holds_nothing() {
        // In a thread of its own: capabilities are per thread, the test runner keeps its own.
        std::thread::spawn(|| {
            drop_all().unwrap();
            let sets = capget().unwrap();
            assert!(sets.iter().all(|d| d.effective == 0 && d.permitted == 0));
            // A raw packet socket is now refused, root or not.
            // SAFETY: plain socket(2) call, closed if it was opened.
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
            if fd >= 0 {
                unsafe { libc::close(fd) };
            }
            assert!(fd < 0);
        })
        .join()
        .unwrap();
    }
}

//! machine-memory [PCAP]: what this machine's memory costs the hot path (test support, not the
//! product). Prints
//! - the latency of dependent loads at random over buffers of 1 MB to 1 GB: where a working
//!   set leaves the cache, and what a line from DRAM costs;
//! - with a legacy pcap file (little-endian; read it once first, `cat PCAP >/dev/null`, so
//!   that it comes from the page cache, not the disk): the time to walk its
//!   record chain (read a record's length, jump to the next) with no prefetch, with the record
//!   32 ahead prefetched by stride (one line), with its first two lines prefetched, and the
//!   time to stream every line of the file (memory bandwidth).
//!
//! These are the figures behind `streamprobe-capture`'s lookahead and the binary's huge-page
//! allocator (docs/architecture.md).

use std::time::Instant;

fn main() {
    for mb in [1usize, 4, 16, 64, 256, 1024] {
        println!(
            "dependent loads over {mb:>4} MB: {:6.1} ns",
            load_latency(mb << 20)
        );
    }
    if let Some(path) = std::env::args().nth(1) {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| fail(&path, e));
        let map = Map::new(&file).unwrap_or_else(|e| fail(&path, e));
        let data = map.bytes();
        if data.len() < 24
            || data[..4] != [0xd4, 0xc3, 0xb2, 0xa1] && data[..4] != [0x4d, 0x3c, 0xb2, 0xa1]
        {
            fail(&path, "not a little-endian legacy pcap file");
        }
        for (name, lines) in [
            ("no prefetch", 0),
            ("stride, one line", 1),
            ("stride, two lines", 2),
        ] {
            let (records, ns) = walk(data, lines);
            println!(
                "record chain, {name:<17}: {:5.1} ns a record ({records} records)",
                ns
            );
        }
        let t = Instant::now();
        let sum = data
            .iter()
            .step_by(64)
            .fold(0u64, |s, &b| s.wrapping_add(u64::from(b)));
        let s = t.elapsed().as_secs_f64();
        println!(
            "every line of the file: {:.1} GB/s ({:.2} s, check {sum})",
            data.len() as f64 / s / 1e9,
            s
        );
    }
}

fn fail(path: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("machine-memory: {path}: {e}");
    std::process::exit(1);
}

/// Mean ns of a load whose address depends on the previous one, over a random cycle through
/// every line of a buffer of `bytes`.
fn load_latency(bytes: usize) -> f64 {
    let lines = bytes / 64;
    let mut order: Vec<usize> = (0..lines).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..lines).rev() {
        // xorshift64: a fixed seed, so every run walks the same cycle.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut next = vec![0usize; lines * 8];
    for k in 0..lines {
        next[order[k] * 8] = order[(k + 1) % lines] * 8;
    }
    let steps = 2_000_000;
    let mut p = 0;
    for _ in 0..lines.min(steps) {
        p = next[p];
    }
    let t = Instant::now();
    for _ in 0..steps {
        p = next[p];
    }
    let ns = t.elapsed().as_nanos() as f64 / steps as f64;
    std::hint::black_box(p);
    ns
}

/// Walks the record chain of a little-endian pcap, prefetching `lines` lines of the record
/// 32 ahead (guessed by the last record's length). Returns (records, ns a record).
fn walk(data: &[u8], lines: usize) -> (u64, f64) {
    const AHEAD: usize = 32;
    let t = Instant::now();
    let (mut pos, mut records, mut sum, mut last) = (24usize, 0u64, 0u64, 0usize);
    while pos + 16 <= data.len() {
        for line in 0..lines {
            prefetch(data, pos + AHEAD * last + 64 * line);
        }
        let caplen =
            u32::from_le_bytes([data[pos + 8], data[pos + 9], data[pos + 10], data[pos + 11]]);
        // Read a byte of the RTP header too, as the analysis does.
        sum += u64::from(*data.get(pos + 56).unwrap_or(&0));
        last = 16 + caplen as usize;
        pos += last;
        records += 1;
    }
    std::hint::black_box(sum);
    (
        records,
        t.elapsed().as_nanos() as f64 / records.max(1) as f64,
    )
}

fn prefetch(data: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = data.get(at) {
        // SAFETY: a prefetch never faults; this address lies inside `data`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (byte as *const u8).cast(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}

/// A read-only map of a whole file.
struct Map {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Map {
    fn new(file: &std::fs::File) -> std::io::Result<Map> {
        use std::os::fd::AsRawFd;
        let len = file.metadata()?.len() as usize;
        // SAFETY: a private read-only map of an open file; unmapped on drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Map { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the map is `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

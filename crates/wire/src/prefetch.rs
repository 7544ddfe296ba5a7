//! A cache prefetch hint, shared by the hot paths that know which bytes they will read next
//! (the capture reader's records, the flow table's slots and states).

/// Level 1 and every level below it (`prefetcht0`).
#[cfg(target_arch = "x86_64")]
const TO_L1: i32 = std::arch::x86_64::_MM_HINT_T0;
/// Level 2 and below, not level 1 (`prefetcht2`).
#[cfg(target_arch = "x86_64")]
const TO_L2: i32 = std::arch::x86_64::_MM_HINT_T2;
#[cfg(not(target_arch = "x86_64"))]
const TO_L1: i32 = 0;
#[cfg(not(target_arch = "x86_64"))]
const TO_L2: i32 = 0;

/// Asks the CPU to bring the cache line holding `at` into the level `HINT` names. A hint: a
/// prefetch never faults and changes nothing observable, whatever the address.
#[inline(always)]
fn line<const HINT: i32>(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address; every caller's lies inside a
    // value or slice it borrows.
    #[allow(unsafe_code)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<HINT>(at.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Asks the CPU to bring the cache lines of `value` closer. A hint: it never faults and
/// changes nothing observable, so it is safe to call with any reference.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    prefetch_prefix(value, std::mem::size_of::<T>());
}

/// Asks the CPU to bring the cache lines of the first `bytes` bytes of `value` closer (at
/// most all of it): for state whose per-packet fields come first.
#[inline(always)]
pub fn prefetch_prefix<T>(value: &T, bytes: usize) {
    let start = (value as *const T).cast::<u8>();
    for offset in (0..bytes.min(std::mem::size_of::<T>())).step_by(64) {
        line::<TO_L1>(start.wrapping_add(offset));
    }
}

/// Asks the CPU to bring the cache line holding every `stride`-th byte of `bytes`, from the
/// first: the start of each MPEG-TS packet of a datagram, whose first bytes the analysis reads
/// one packet after another. The payload is fresh from the capture, so without the hints each
/// packet's first read waits for memory in turn.
#[inline(always)]
pub fn prefetch_every(bytes: &[u8], stride: usize) {
    for offset in (0..bytes.len()).step_by(stride.max(1)) {
        line::<TO_L1>(bytes.as_ptr().wrapping_add(offset));
    }
}

/// Asks the CPU to bring the cache line holding `bytes[0]` into its level-2 cache only (not
/// level 1): for data streamed well ahead of its use, such as every line of a capture file
/// whose record boundaries cannot be predicted: level 1 and its fill buffers stay free for
/// the flow state (docs/performance.md, "Choices in the code").
#[inline(always)]
pub fn prefetch_to_l2(bytes: &[u8]) {
    if !bytes.is_empty() {
        line::<TO_L2>(bytes.as_ptr());
    }
}

//! A cache prefetch hint, shared by the hot paths that know which bytes they will read next
//! (the capture reader's records, the flow table's slots and states).

/// Asks the CPU to bring the cache lines of `value` closer. A hint: it never faults and
/// changes nothing observable, so it is safe to call with any reference.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = (value as *const T).cast::<i8>();
        for line in (0..std::mem::size_of::<T>()).step_by(64) {
            // SAFETY: a prefetch never faults, whatever the address; this one lies inside
            // `value`.
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    start.wrapping_add(line),
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

//! The global allocator: the system's, asking for transparent huge pages for large blocks.
//!
//! Why: a probe's flow state is a few large arrays (the flow table's slots and tuples, the
//! streams) that every packet reads at random. 55,000 cameras' streams span 40 MB, 10,000
//! pages of 4 KiB, far beyond the TLB's reach, so nearly every packet's flow costs page walks
//! as well as cache misses, and in a virtual machine a page walk is two-dimensional. In 2 MiB
//! pages the same state is 20 TLB entries. Most systems (Debian's kernel included) give
//! huge pages only to memory marked with `madvise(MADV_HUGEPAGE)`
//! (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise`); this marks every block of
//! at least [`HUGE_FROM`] bytes. The kernel falls back to small pages when it has no huge
//! one, so the advice never fails an allocation.
//!
//! Huge blocks are mapped by this allocator itself, so that a block that grows (a vector of
//! streams doubling) is moved by `mremap`, its pages handed over whole, instead of copied
//! into a new block: a copy held the old and the new block at once (peak RSS 143 MB on
//! 55,000 cameras, against 104 MB without huge pages) and touched every page twice.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks from this size on are mapped here, huge-page aligned and advised (smaller ones
/// would waste most of a 2 MiB page).
const HUGE_FROM: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// [`System`] for small blocks; blocks of at least [`HUGE_FROM`] bytes are anonymous
/// mappings on a huge page boundary, advised before their first touch (pages already
/// touched stay small).
pub struct HugePageAllocator;

/// Whether a block of this layout is a huge one (mapped here).
fn is_huge(layout: Layout) -> bool {
    layout.size() >= HUGE_FROM && layout.align() <= HUGE_PAGE
}

/// A huge block's mapped length: whole huge pages.
fn mapped_len(size: usize) -> usize {
    size.next_multiple_of(HUGE_PAGE)
}

/// Maps `len` bytes (whole huge pages) on a huge page boundary, advised; null on failure.
/// The pages are zero until touched.
#[allow(unsafe_code)]
fn map_huge(len: usize) -> *mut u8 {
    let Some(reserve) = len.checked_add(HUGE_PAGE) else {
        return std::ptr::null_mut();
    };
    // SAFETY: a new private anonymous mapping, then unmapping only its parts outside the
    // aligned range kept; nothing else refers to them.
    unsafe {
        let raw = libc::mmap(
            std::ptr::null_mut(),
            reserve,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if raw == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        let raw = raw as usize;
        let start = raw.next_multiple_of(HUGE_PAGE);
        if start > raw {
            libc::munmap(raw as *mut libc::c_void, start - raw);
        }
        let tail = raw + reserve - (start + len);
        if tail > 0 {
            libc::munmap((start + len) as *mut libc::c_void, tail);
        }
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        start as *mut u8
    }
}

/// Unmaps `len` bytes at `ptr`.
#[allow(unsafe_code)]
fn unmap(ptr: *mut u8, len: usize) {
    // SAFETY: callers pass a range of a huge block this allocator mapped and no longer uses.
    unsafe {
        libc::munmap(ptr.cast(), len);
    }
}

/// Grows a huge block of `old_len` mapped bytes to `new_len`: its pages move (page tables,
/// not contents) to the start of a new aligned mapping, whose rest is fresh. Null, with
/// the old block untouched, on failure.
#[allow(unsafe_code)]
fn grow_huge(ptr: *mut u8, old_len: usize, new_len: usize) -> *mut u8 {
    let target = map_huge(new_len);
    if target.is_null() {
        return target;
    }
    // SAFETY: `ptr..ptr + old_len` is a huge block this allocator mapped, and `target` a
    // new mapping at least as long; MREMAP_FIXED replaces the target's first `old_len`
    // bytes with the old pages and unmaps the old range. Both ends are huge page aligned,
    // so huge pages move whole.
    let moved = unsafe {
        libc::mremap(
            ptr.cast(),
            old_len,
            old_len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            target.cast::<libc::c_void>(),
        )
    };
    if moved == libc::MAP_FAILED {
        unmap(target, new_len);
        return std::ptr::null_mut();
    }
    target
}

// SAFETY: small blocks are System's, with their own layout; huge blocks (by `is_huge` of
// the layout, the same at allocation and release) are mappings of `mapped_len` bytes made
// and released here. Contents are kept when a block moves (moved pages, or a copy).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(layout) {
            map_huge(mapped_len(layout.size()))
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(layout) {
            // Fresh anonymous pages are zero, and stay untouched until used.
            map_huge(mapped_len(layout.size()))
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(layout) {
            unmap(ptr, mapped_len(layout.size()));
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: realloc's contract is that `new_size`, rounded up to the block's alignment,
        // does not overflow: a valid layout.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (is_huge(layout), is_huge(new_layout)) {
            (false, false) => System.realloc(ptr, layout, new_size),
            (true, true) => {
                let (old_len, new_len) = (mapped_len(layout.size()), mapped_len(new_size));
                if new_len <= old_len {
                    if new_len < old_len {
                        unmap(ptr.add(new_len), old_len - new_len);
                    }
                    ptr
                } else {
                    grow_huge(ptr, old_len, new_len)
                }
            }
            _ => {
                // Crossing the huge size: a copy between the two kinds of block.
                let moved = self.alloc(new_layout);
                if !moved.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks keep their contents when they grow past the huge size (copied) and while they
    /// grow as huge blocks (moved), and when they shrink; huge blocks are huge page aligned,
    /// and huge zeroed blocks are zero.
    #[test]
    fn blocks_hold_their_contents_through_growth() {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..(5 * HUGE_FROM / 8) as u64 {
            v.push(i);
            if v.capacity() * 8 >= HUGE_FROM {
                assert_eq!(v.as_ptr() as usize % HUGE_PAGE, 0);
            }
        }
        assert!(
            v.capacity() * 8 >= 4 * HUGE_FROM,
            "grew as a huge block twice"
        );
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
        v.truncate(HUGE_FROM / 8 + 1);
        v.shrink_to_fit();
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(v, (0..10).collect::<Vec<u64>>());
        let zeroed = vec![0u8; HUGE_FROM + 1];
        assert!(zeroed.iter().all(|&b| b == 0));
        assert_eq!(zeroed.as_ptr() as usize % HUGE_PAGE, 0);
    }

    /// The allocator itself, through its trait: growth keeps bytes written at both ends.
    #[test]
    #[allow(unsafe_code)]
    fn realloc_moves_huge_pages_with_their_contents() {
        let a = HugePageAllocator;
        let layout = Layout::from_size_align(HUGE_FROM, 64).unwrap();
        // SAFETY: blocks of the layouts used, released with them.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            p.write(7);
            p.add(HUGE_FROM - 1).write(9);
            let q = a.realloc(p, layout, 3 * HUGE_FROM);
            assert!(!q.is_null());
            assert_eq!((q.read(), q.add(HUGE_FROM - 1).read()), (7, 9));
            assert_eq!(q.add(3 * HUGE_FROM - 1).read(), 0, "fresh pages are zero");
            a.dealloc(q, Layout::from_size_align(3 * HUGE_FROM, 64).unwrap());
        }
    }
}

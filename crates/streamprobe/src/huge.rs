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

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks from this size on are huge-page aligned and advised (smaller ones would waste
/// most of a 2 MiB page).
const HUGE_FROM: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// [`System`], with blocks of at least [`HUGE_FROM`] bytes aligned on a huge page and
/// advised before their first touch (pages already touched stay small, so the advice must
/// come first: a block that grows past [`HUGE_FROM`] is moved to a new, advised one).
pub struct HugePageAllocator;

/// Whether a block of `size` bytes is a huge one.
fn is_huge(size: usize) -> bool {
    size >= HUGE_FROM
}

/// The layout a block is really allocated with.
fn real(layout: Layout) -> Layout {
    if is_huge(layout.size()) {
        // The alignment is a power of two no smaller than the requested one, and the size
        // unchanged: always a valid layout.
        Layout::from_size_align(layout.size(), layout.align().max(HUGE_PAGE)).unwrap_or(layout)
    } else {
        layout
    }
}

/// Advises `len` bytes at `ptr`, a huge block's start (so on a huge page boundary).
fn advise(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        // SAFETY: the range is a block this allocator just obtained; advice changes how the
        // kernel backs its pages, never their contents.
        #[allow(unsafe_code)]
        unsafe {
            libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE);
        }
    }
}

// SAFETY: blocks come from System with the layout `real` gives, the same for a block's
// allocation and release; contents are copied when a block moves.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(real(layout));
        if is_huge(layout.size()) {
            advise(ptr, layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !is_huge(layout.size()) {
            return System.alloc_zeroed(layout);
        }
        // Advised before zeroing: System's own zeroing of an over-aligned block would touch
        // every page first, and touched pages stay small.
        let ptr = self.alloc(layout);
        if !ptr.is_null() {
            std::ptr::write_bytes(ptr, 0, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, real(layout))
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !is_huge(layout.size()) && !is_huge(new_size) {
            return System.realloc(ptr, layout, new_size);
        }
        // SAFETY: realloc's contract is that `new_size`, rounded up to the block's alignment,
        // does not overflow: a valid layout.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let moved = self.alloc(new_layout);
        if !moved.is_null() {
            std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks keep their contents when they grow past the huge size (moved by copy), and
    /// huge zeroed blocks are zero.
    #[test]
    fn blocks_hold_their_contents_through_growth() {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..(3 * HUGE_FROM / 8) as u64 {
            v.push(i);
        }
        assert!(v.capacity() * 8 >= HUGE_FROM);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
        let zeroed = vec![0u8; HUGE_FROM + 1];
        assert!(zeroed.iter().all(|&b| b == 0));
    }
}

//! [`TapRing`]: a bounded single-producer single-consumer ring of datagrams, preallocated,
//! so that the worker copies a tapped datagram with no allocation, lock or system call.
//!
//! Records are laid end to end, each 8-byte aligned: `len: u32`, 4 bytes of padding,
//! `arrival_ns: i64`, then `len` bytes of UDP payload padded to 8. A record never wraps:
//! where the rest of the buffer is too short, a `WRAP` length says "go on at the start".
//! The producer owns `head` (bytes written, ever), the consumer `tail` (bytes read, ever):
//! `head - tail` bytes are in use. A datagram that does not fit is dropped and counted; the
//! ring never overwrites what the consumer has not read.
//!
//! Exactly one thread pushes (the worker the ring belongs to: [`crate::TapSet::worker`]
//! hands each worker index out once, and only a `&mut WorkerTap` pushes) and one thread reads
//! (whoever holds the tap's sender lock: the mirror's sender, or [`crate::TapSet::remove`]).
//! The `unsafe` below rests on that contract and on the orderings: the producer's bytes are
//! published by its `Release` store of `head`, which the consumer `Acquire`s; the consumer
//! frees bytes by its `Release` store of `tail`, which the producer `Acquire`s before writing
//! over them.
//!
//! The contract is kept by construction: the type is private to this crate (safe code
//! outside cannot reach [`TapRing::push`] at all), and its producer and consumer methods
//! are `unsafe fn`s, so each call in the crate says at its `unsafe` block why it is the one
//! producer or the one consumer.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const HEADER: usize = 16;
const WRAP: u32 = u32::MAX;

/// Rounds up to a multiple of 8.
const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// The bytes one record of a `len`-byte payload takes.
pub(crate) const fn record_bytes(len: usize) -> usize {
    HEADER + align8(len)
}

/// A bounded ring of (arrival time, UDP payload) records.
pub(crate) struct TapRing {
    buf: Box<[UnsafeCell<u8>]>,
    mask: usize,
    /// Bytes written, ever (the producer's).
    head: AtomicUsize,
    /// Bytes read, ever (the consumer's).
    tail: AtomicUsize,
    /// Datagrams pushed (counted before each is published: a consumer that has seen a
    /// record sees it counted).
    pushed: AtomicU64,
    /// Datagrams taken by the consumer (the consumer's).
    popped: AtomicU64,
    /// Datagrams that found the ring full.
    dropped: AtomicU64,
}

// SAFETY: the buffer is shared by one producer and one consumer that never touch the same
// bytes at once: only `push` writes the buffer and only `front` reads it, both `unsafe fn`s
// whose callers promise to be the one producer and the one consumer (module doc); the type
// is not visible outside the crate. Everything else is atomic.
#[allow(unsafe_code)]
unsafe impl Sync for TapRing {}

// The ring is where this crate's `unsafe` lives (its producer and consumer are `unsafe fn`s).
#[allow(unsafe_code)]
impl TapRing {
    /// A ring of `bytes` (rounded up to a power of two, at least 256 KiB: the largest datagram
    /// must fit in half). The memory is zeroed by the allocator, so the kernel maps its pages only
    /// as the worker first writes them: a ring a worker never uses costs address space only.
    pub(crate) fn new(bytes: usize) -> TapRing {
        let cap = bytes.max(1 << 18).next_power_of_two();
        let zeroed: Box<[u8]> = vec![0u8; cap].into_boxed_slice();
        // SAFETY: `UnsafeCell<u8>` is `repr(transparent)` over `u8`: the same layout, so the
        // allocation is the same slice seen as cells.
        #[allow(unsafe_code)]
        let buf = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<u8>]) };
        TapRing {
            buf,
            mask: cap - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            pushed: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Its size, bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    fn base(&self) -> *mut u8 {
        UnsafeCell::raw_get(self.buf.as_ptr())
    }

    /// Copies a datagram in (the producer). False, and counted, when it does not fit.
    ///
    /// # Safety
    /// The caller is this ring's one producer: no other thread calls `push` on it, ever
    /// (concurrent pushes would write the same bytes and race on `head`).
    #[inline]
    pub(crate) unsafe fn push(&self, arrival_ns: i64, payload: &[u8]) -> bool {
        let need = record_bytes(payload.len());
        let cap = self.capacity();
        let mut head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let pos = head & self.mask;
        let contiguous = cap - pos;
        let skip = if need > contiguous { contiguous } else { 0 };
        if need > cap / 2 || head + skip + need - tail > cap {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // SAFETY: [head, head + skip + need) is free (checked above against the tail the
        // consumer published) and inside the buffer (positions are masked; a record never
        // crosses the end); only this thread writes (the caller is the one producer).
        #[allow(unsafe_code)]
        unsafe {
            if skip > 0 {
                // contiguous >= 8: positions and the capacity are multiples of 8.
                std::ptr::copy_nonoverlapping(WRAP.to_ne_bytes().as_ptr(), self.base().add(pos), 4);
                head += skip;
            }
            let at = self.base().add(head & self.mask);
            let len = payload.len() as u32;
            std::ptr::copy_nonoverlapping(len.to_ne_bytes().as_ptr(), at, 4);
            std::ptr::copy_nonoverlapping(arrival_ns.to_ne_bytes().as_ptr(), at.add(8), 8);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), at.add(HEADER), payload.len());
        }
        // Counted first: the Release store of head publishes the count with the record.
        self.pushed.fetch_add(1, Ordering::Relaxed);
        self.head.store(head + need, Ordering::Release);
        true
    }

    /// Where the producer has written to, now: what [`front_before`](Self::front_before)
    /// may read up to (the records before it are whole and published).
    pub(crate) fn head(&self) -> usize {
        self.head.load(Ordering::Acquire)
    }

    /// The oldest record, not yet taken (the consumer): (arrival ns, payload).
    ///
    /// # Safety
    /// As [`front_before`](Self::front_before).
    pub(crate) unsafe fn front(&self) -> Option<(i64, &[u8])> {
        // SAFETY: the caller's promise, passed on; the head is the one just published.
        unsafe { self.front_before(self.head()) }
    }

    /// The oldest record, not yet taken, if it was written before `head` (a value
    /// [`head`](Self::head) returned): the consumer reads up to where the producer was,
    /// not on after it.
    ///
    /// # Safety
    /// The caller is this ring's one consumer (it holds the tap's sender lock) until it has
    /// let go of the slice (it `pop`s it or drops it before anyone else reads).
    pub(crate) unsafe fn front_before(&self, head: usize) -> Option<(i64, &[u8])> {
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail >= head {
                return None;
            }
            let pos = tail & self.mask;
            // SAFETY: [tail, head) was published by the producer's Release store of head and
            // is not written again until this thread (the one consumer) moves the tail past
            // it.
            #[allow(unsafe_code)]
            unsafe {
                let at = self.base().add(pos);
                let mut word = [0u8; 4];
                std::ptr::copy_nonoverlapping(at, word.as_mut_ptr(), 4);
                let len = u32::from_ne_bytes(word);
                if len == WRAP {
                    tail += self.capacity() - pos;
                    self.tail.store(tail, Ordering::Release);
                    continue;
                }
                let mut time = [0u8; 8];
                std::ptr::copy_nonoverlapping(at.add(8), time.as_mut_ptr(), 8);
                let payload = std::slice::from_raw_parts(at.add(HEADER), len as usize);
                return Some((i64::from_ne_bytes(time), payload));
            }
        }
    }

    /// Takes the record [`front`](Self::front) showed (the consumer).
    ///
    /// # Safety
    /// The caller is the one consumer, `len` the length of the payload `front` just showed,
    /// and that slice is not used after (the producer may write over it).
    pub(crate) unsafe fn pop(&self, len: usize) {
        let tail = self.tail.load(Ordering::Relaxed);
        self.popped.fetch_add(1, Ordering::Relaxed);
        self.tail.store(tail + record_bytes(len), Ordering::Release);
    }

    /// Datagrams taken by the consumer, ever. Read by the consumer (under the tap's sender
    /// lock), `pushed() - popped()` is what the ring holds, or more if the producer pushed
    /// since (never less).
    pub(crate) fn popped(&self) -> u64 {
        self.popped.load(Ordering::Relaxed)
    }

    /// Datagrams pushed, ever.
    pub(crate) fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }

    /// Datagrams that found the ring full, ever.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    // SAFETY (every `unsafe` block below): each test has one producer thread and one consumer
    // thread per ring, as the module's contract asks.
    use super::*;

    fn drain(ring: &TapRing, out: &mut Vec<(i64, Vec<u8>)>) {
        while let Some((t, p)) = unsafe { ring.front() } {
            let len = p.len();
            out.push((t, p.to_vec()));
            unsafe { ring.pop(len) };
        }
    }

    #[test]
    fn records_come_out_in_order_across_the_wrap() {
        let ring = TapRing::new(1 << 17);
        let mut out = Vec::new();
        let mut want = Vec::new();
        // 1,000 datagrams of odd sizes, drained every 7: the ring wraps many times.
        for i in 0..1000u32 {
            let payload: Vec<u8> = (0..(i * 37 % 1500) as usize)
                .map(|b| (b as u32 ^ i) as u8)
                .collect();
            assert!(unsafe { ring.push(i64::from(i) * 1000, &payload) });
            want.push((i64::from(i) * 1000, payload));
            if i % 7 == 6 {
                drain(&ring, &mut out);
            }
        }
        drain(&ring, &mut out);
        assert_eq!(out, want);
        assert_eq!(
            (ring.pushed(), ring.popped(), ring.dropped()),
            (1000, 1000, 0)
        );
    }

    #[test]
    fn a_full_ring_drops_and_counts_and_never_overwrites() {
        let ring = TapRing::new(1 << 17);
        let payload = [7u8; 1316];
        let fit = ring.capacity() / record_bytes(1316);
        for i in 0..fit + 10 {
            unsafe { ring.push(i as i64, &payload) };
        }
        assert_eq!(ring.pushed() as usize, fit);
        assert_eq!(ring.dropped(), 10);
        let mut out = Vec::new();
        drain(&ring, &mut out);
        assert_eq!(out.len(), fit);
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, (t, p))| *t == i as i64 && p[..] == payload[..]));
        // Room again after the drain.
        assert!(unsafe { ring.push(99, &payload) });
    }

    #[test]
    fn one_producer_and_one_consumer_on_two_threads_agree() {
        let ring = std::sync::Arc::new(TapRing::new(1 << 17));
        let producer = {
            let ring = std::sync::Arc::clone(&ring);
            std::thread::spawn(move || {
                let mut sent = Vec::new();
                for i in 0..200_000u32 {
                    let len = (i % 300) as usize;
                    let payload: Vec<u8> = (0..len).map(|b| (b as u32 + i) as u8).collect();
                    if unsafe { ring.push(i64::from(i), &payload) } {
                        sent.push(i);
                    }
                }
                sent
            })
        };
        let mut got = Vec::new();
        loop {
            while let Some((t, p)) = unsafe { ring.front() } {
                let i = t as u32;
                assert_eq!(p.len(), (i % 300) as usize);
                assert!(p
                    .iter()
                    .enumerate()
                    .all(|(b, &x)| x == (b as u32 + i) as u8));
                got.push(i);
                unsafe { ring.pop(p.len()) };
            }
            if producer.is_finished() && unsafe { ring.front() }.is_none() {
                break;
            }
        }
        let sent = producer.join().unwrap();
        assert_eq!(got, sent);
        assert_eq!(ring.pushed() + ring.dropped(), 200_000);
    }
}

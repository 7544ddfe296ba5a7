//! Bounded IP reassembly (RFC 791, RFC 8200 section 4.5). Fragmented media is rare, so this
//! path may allocate; what matters is that a flood of fragments cannot exhaust memory.

use std::net::IpAddr;
use wire::{IpFragment, SkipReason};

/// Most datagrams reassembled at once.
pub const MAX_PENDING: usize = 256;
/// Most fragments one datagram may come in: the largest datagram takes 45 over a 1,500-byte
/// MTU and 118 over RFC 791's 576 bytes; more (down to 8-byte fragments, 8,192) is an attack
/// on the quadratic overlap check, not a path.
pub const MAX_FRAGMENTS: u64 = 128;
/// A datagram whose fragments do not all arrive within this much packet time is dropped.
pub const TIMEOUT_NS: i64 = 30_000_000_000;
/// Largest reassembled IP payload.
const MAX_LEN: u32 = 65_535;

type Key = (IpAddr, IpAddr, u32, u8);

#[derive(Debug)]
struct Pending {
    key: Key,
    first_ns: i64,
    data: Vec<u8>,
    ranges: Vec<(u32, u32)>,
    total: Option<u32>,
    fragments: u64,
}

/// A reassembled datagram: the IP payload and its addresses.
#[derive(Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Protocol of the payload.
    pub protocol: u8,
    /// The IP payload.
    pub payload: Vec<u8>,
    /// The fragments (captured frames) it was made of.
    pub fragments: u64,
}

/// What a fragment did.
#[derive(Debug, PartialEq, Eq)]
pub enum FragmentOutcome {
    /// Held until the rest arrives.
    Pending,
    /// The datagram is complete.
    Complete(Reassembled),
    /// Fragments were dropped: (reason, how many fragments).
    Dropped(SkipReason, u64),
}

/// The reassembly table.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Vec<Pending>,
    /// Fragments dropped because their datagram timed out; read and reset by the caller.
    pub expired_fragments: u64,
}

impl Reassembler {
    /// Adds a fragment received at `now_ns`.
    pub fn push(&mut self, now_ns: i64, f: &IpFragment<'_>) -> FragmentOutcome {
        self.expire(now_ns);
        let key = (f.src, f.dst, f.identification, f.protocol);
        let pos = self.pending.iter().position(|p| p.key == key);
        let len = f.data.len() as u32;
        let end = f.offset.saturating_add(len);
        let invalid = end > MAX_LEN || (f.more_fragments && len % 8 != 0);
        if !f.complete || invalid {
            let dropped = pos.map_or(0, |i| self.pending.swap_remove(i).fragments);
            let reason = if invalid {
                SkipReason::FragmentInvalid
            } else {
                SkipReason::FragmentIncomplete
            };
            return FragmentOutcome::Dropped(reason, dropped + 1);
        }
        let i = match pos {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    return FragmentOutcome::Dropped(SkipReason::FragmentLimit, 1);
                }
                self.pending.push(Pending {
                    key,
                    first_ns: now_ns,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    fragments: 0,
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[i];
        p.fragments += 1;
        if p.fragments > MAX_FRAGMENTS {
            // Each fragment is checked against the others for overlap: past the cap the
            // datagram is dropped rather than the scan growing quadratically.
            let dropped = self.pending.swap_remove(i).fragments;
            return FragmentOutcome::Dropped(SkipReason::FragmentLimit, dropped);
        }
        // RFC 5722: overlapping fragments make the whole datagram invalid.
        let overlaps = p.ranges.iter().any(|&(s, e)| f.offset < e && s < end);
        let conflicting_end = match (p.total, f.more_fragments) {
            (Some(t), false) => t != end,
            (Some(t), true) => end > t,
            (None, false) => p.ranges.iter().any(|&(_, e)| e > end),
            (None, true) => false,
        };
        if overlaps || conflicting_end {
            let dropped = self.pending.swap_remove(i).fragments;
            return FragmentOutcome::Dropped(SkipReason::FragmentInvalid, dropped);
        }
        if !f.more_fragments {
            p.total = Some(end);
        }
        if p.data.len() < end as usize {
            p.data.resize(end as usize, 0);
        }
        p.data[f.offset as usize..end as usize].copy_from_slice(f.data);
        p.ranges.push((f.offset, end));
        let covered: u32 = p.ranges.iter().map(|&(s, e)| e - s).sum();
        if p.total == Some(covered) {
            let done = self.pending.swap_remove(i);
            return FragmentOutcome::Complete(Reassembled {
                src: done.key.0,
                dst: done.key.1,
                protocol: done.key.3,
                payload: done.data,
                fragments: done.fragments,
            });
        }
        FragmentOutcome::Pending
    }

    /// Drops the datagrams older than [`TIMEOUT_NS`] at `now_ns`, counted in
    /// `expired_fragments`.
    pub fn expire(&mut self, now_ns: i64) {
        let before: u64 = self.pending.iter().map(|p| p.fragments).sum();
        self.pending
            .retain(|p| now_ns.saturating_sub(p.first_ns) <= TIMEOUT_NS);
        let after: u64 = self.pending.iter().map(|p| p.fragments).sum();
        self.expired_fragments += before - after;
    }

    /// Heap bytes held by the datagrams being reassembled.
    pub fn heap_bytes(&self) -> usize {
        self.pending.capacity() * std::mem::size_of::<Pending>()
            + self
                .pending
                .iter()
                .map(|p| p.data.capacity() + p.ranges.capacity() * 8 + 2 * crate::ALLOCATION)
                .sum::<usize>()
    }

    /// Fragments (captured frames) held for datagrams not yet complete.
    pub fn held_fragments(&self) -> u64 {
        self.pending.iter().map(|p| p.fragments).sum()
    }

    /// Drops everything still pending (end of capture); returns the fragments dropped.
    pub fn flush(&mut self) -> u64 {
        let n = self.pending.iter().map(|p| p.fragments).sum::<u64>() + self.expired_fragments;
        self.pending.clear();
        self.expired_fragments = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: u32, more: bool, data: &[u8]) -> IpFragment<'_> {
        IpFragment {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            identification: 7,
            protocol: 17,
            offset,
            more_fragments: more,
            data,
            complete: true,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut r = Reassembler::default();
        let a = [1u8; 16];
        let b = [2u8; 5];
        assert_eq!(r.push(0, &frag(16, false, &b)), FragmentOutcome::Pending);
        let FragmentOutcome::Complete(d) = r.push(1, &frag(0, true, &a)) else {
            panic!()
        };
        assert_eq!(d.payload.len(), 21);
        assert_eq!(&d.payload[16..], &b);
        assert_eq!(r.flush(), 0);
    }

    #[test]
    fn overlap_timeout_and_limit() {
        let mut r = Reassembler::default();
        let a = [1u8; 16];
        r.push(0, &frag(0, true, &a));
        assert_eq!(
            r.push(0, &frag(8, true, &a)),
            FragmentOutcome::Dropped(SkipReason::FragmentInvalid, 2)
        );
        r.push(0, &frag(0, true, &a));
        r.push(TIMEOUT_NS + 1, &frag(0, true, &a[..8]));
        assert_eq!(r.expired_fragments, 1);
        assert_eq!(r.flush(), 2);
        for id in 0..MAX_PENDING as u32 + 1 {
            let mut f = frag(0, true, &a);
            f.identification = id;
            let out = r.push(0, &f);
            if id as usize == MAX_PENDING {
                assert_eq!(out, FragmentOutcome::Dropped(SkipReason::FragmentLimit, 1));
            }
        }
    }

    /// A datagram cut into more than 128 fragments (8 bytes each) is dropped, all of them
    /// counted, before the overlap check grows quadratic.
    #[test]
    fn too_many_fragments_drop_the_datagram() {
        let mut r = Reassembler::default();
        let piece = [3u8; 8];
        for k in 0..MAX_FRAGMENTS as u32 {
            assert_eq!(
                r.push(0, &frag(k * 8, true, &piece)),
                FragmentOutcome::Pending
            );
        }
        assert_eq!(
            r.push(0, &frag(MAX_FRAGMENTS as u32 * 8, true, &piece)),
            FragmentOutcome::Dropped(SkipReason::FragmentLimit, MAX_FRAGMENTS + 1)
        );
        assert_eq!(r.flush(), 0);
    }
}

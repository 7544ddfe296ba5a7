//! [`WorkerTap`]: a worker's side of the taps. With no tap in force it costs one relaxed
//! atomic load, a compare and a length check per batch of frames (one predictable branch);
//! the analysis is not touched either way. With taps, each frame of the batch is decoded to
//! its 4-tuple (the same fast path the analysis takes) and compared with each tap's
//! match; a matching datagram is copied into the tap's ring for this worker.

use crate::set::{Tap, TapSet};
use crate::FlowMatch;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use wire::link::{decode_frame_general, decode_plain, Decoded, FourTuple};
use wire::{Frame, UdpDatagram};

/// One worker's view of the taps.
pub struct WorkerTap {
    set: Arc<TapSet>,
    index: usize,
    /// The generation of `taps`.
    seen: u64,
    taps: Vec<(FlowMatch, Arc<Tap>)>,
}

impl WorkerTap {
    pub(crate) fn new(set: Arc<TapSet>, index: usize) -> WorkerTap {
        WorkerTap {
            set,
            index,
            seen: 0,
            taps: Vec::new(),
        }
    }

    /// Takes the taps in force if they changed; whether there are any.
    #[inline(always)]
    pub fn sync(&mut self) -> bool {
        if self.set.generation() != self.seen {
            self.refresh();
        }
        !self.taps.is_empty()
    }

    #[cold]
    #[inline(never)]
    fn refresh(&mut self) {
        self.seen = self.set.generation();
        let taps = self.set.snapshot();
        self.taps = taps.iter().map(|t| (t.matcher, Arc::clone(t))).collect();
    }

    /// Copies the tapped datagrams of a batch of frames (before they are analysed).
    #[inline(always)]
    pub fn on_frames(&mut self, frames: &[Frame<'_>]) {
        if self.sync() {
            self.copy_frames(frames);
        }
    }

    #[inline(never)]
    fn copy_frames(&mut self, frames: &[Frame<'_>]) {
        for f in frames {
            if let Some(d) = decode_plain(f.link, f.data) {
                self.offer(f.arrival_ns, &d.tuple, d.payload, d.payload_len);
            } else if let Ok(Decoded::Udp(d)) = decode_frame_general(f.link, f.data) {
                // IPv6, IPv4 with options. Fragments are not mirrored (docs/mirror.md).
                self.offer(
                    f.arrival_ns,
                    &FourTuple::new(d.src, d.dst),
                    d.payload,
                    d.payload_len,
                );
            }
        }
    }

    /// Copies a datagram received from a joined group's socket, if tapped. Call
    /// [`sync`](Self::sync) once per read of the sockets first.
    #[inline(always)]
    pub fn on_received(&mut self, arrival_ns: i64, d: &UdpDatagram<'_>) {
        if !self.taps.is_empty() {
            self.offer(
                arrival_ns,
                &FourTuple::new(d.src, d.dst),
                d.payload,
                d.payload_len,
            );
        }
    }

    #[inline]
    fn offer(&self, arrival_ns: i64, tuple: &FourTuple, payload: &[u8], payload_len: u16) {
        for (m, tap) in &self.taps {
            if m.matches(tuple, payload) {
                if payload.len() < usize::from(payload_len) {
                    tap.cut.fetch_add(1, Ordering::Relaxed);
                } else {
                    // SAFETY: this is worker `index`'s one `WorkerTap` (`TapSet::worker` hands
                    // each index out once) and it pushes only from `&mut self` methods
                    // (`on_frames`, `on_received`): ring `index` of every tap has this one
                    // producer.
                    #[allow(unsafe_code)]
                    unsafe {
                        tap.rings[self.index].push(arrival_ns, payload);
                    }
                }
            }
        }
    }
}

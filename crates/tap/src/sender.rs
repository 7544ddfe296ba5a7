//! The mirror's sender: one thread per probe that drains every tap's rings, oldest datagram
//! first across the workers' rings, applies the rate limit and sends each datagram's UDP
//! payload, unchanged, to the tap's destination. It wakes every millisecond while a tap is
//! in force (a datagram leaves at most ~1 ms after the worker copied it), every 50 ms
//! otherwise, and at once when a tap is added.

use crate::set::{Tap, TapSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The running sender.
pub struct Sender {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sender {
    /// Starts the sender of `set`.
    pub fn start(set: Arc<TapSet>) -> Result<Sender, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("mirror".into())
            .spawn(move || {
                *set.sender.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(std::thread::current());
                loop {
                    // Read before draining: what the workers copied before the stop is sent.
                    let last = stopping.load(Ordering::SeqCst);
                    let taps = set.snapshot();
                    for tap in taps.iter() {
                        drain(tap);
                    }
                    if last {
                        return;
                    }
                    let nap = if taps.is_empty() { 50 } else { 1 };
                    std::thread::park_timeout(Duration::from_millis(nap));
                }
            })
            .map_err(|e| format!("cannot start the mirror's thread: {e}"))?;
        Ok(Sender {
            stop,
            thread: Some(thread),
        })
    }

    /// Sends what the rings hold, then stops (call once the workers have stopped).
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Sends what `tap`'s rings held when it was called, in arrival order: not what the workers
/// copy meanwhile (a flow fed as fast as it is sent would keep the tap's lock, and starve
/// every other tap, for as long as it lasts). Stops at the next datagram once the tap is
/// removed, so `TapSet::remove` waits for one `sendto` at most.
fn drain(tap: &Tap) {
    let mut state = tap.sender.lock().unwrap_or_else(|e| e.into_inner());
    let state = &mut *state;
    state.heads.clear();
    state.heads.extend(tap.rings.iter().map(|r| r.head()));
    // SAFETY (every `unsafe` block below): this thread holds the tap's sender lock, so it is
    // the rings' one consumer; each slice `front_before` shows is dropped before the `pop`
    // after it; the heads are values `head()` returned.
    loop {
        if tap.removed.load(Ordering::SeqCst) {
            return;
        }
        // The ring whose oldest datagram is the oldest (few rings: one per worker).
        let mut next: Option<(usize, i64)> = None;
        for (i, ring) in tap.rings.iter().enumerate() {
            #[allow(unsafe_code)]
            if let Some((t, _)) = unsafe { ring.front_before(state.heads[i]) } {
                if next.is_none_or(|(_, best)| t < best) {
                    next = Some((i, t));
                }
            }
        }
        let Some((i, _)) = next else { return };
        let ring = &tap.rings[i];
        #[allow(unsafe_code)]
        let Some((arrival_ns, payload)) = (unsafe { ring.front_before(state.heads[i]) }) else {
            return;
        };
        let len = payload.len();
        let allowed = state.limit.admit(arrival_ns, len);
        if let Some(bps) = state.limit.measured_bps() {
            tap.measured_bps.store(bps, Ordering::Relaxed);
        }
        if let Some(rate) = state.limit.limit_bps() {
            tap.limit_bps.store(rate, Ordering::Relaxed);
        }
        if !allowed {
            tap.dropped_rate.fetch_add(1, Ordering::Relaxed);
        } else {
            match state.socket.send_to(payload, tap.to) {
                Ok(_) => {
                    tap.sent_packets.fetch_add(1, Ordering::Relaxed);
                    tap.sent_bytes.fetch_add(len as u64, Ordering::Relaxed);
                }
                Err(_) => {
                    tap.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        #[allow(unsafe_code)]
        unsafe {
            ring.pop(len)
        };
    }
}

//! One receiver's queue of alarms and the thread that sends them.
//!
//! Invariants:
//! - The bus's thread only puts alarms in the queue ([`ReceiverSink::write`] never waits for
//!   the receiver): capture and analysis never wait for a receiver, and one receiver away
//!   never delays another.
//! - Alarms are sent one at a time, in the order they were judged; a failed send is tried
//!   again, the same alarm, after a back-off (1 s, doubling to 60 s), so a receiver that
//!   comes back gets what it missed, late but in order. A failure that a retry cannot mend
//!   ([`Failure::permanent`]: an HTTP 4xx other than 408 and 429, a datagram too large) drops
//!   that alarm, counted dropped and as an error, and the next one is sent at once.
//! - The queue holds at most `queue` alarms (the one being retried included). When it is
//!   full the OLDEST is dropped, counted: after a long outage the newest alarms say what is
//!   true now (what is raised, what has cleared); the old ones are still in the store and
//!   the API's alarm log.
//! - `received == written + dropped + queued` (the counters the bus shows): an alarm
//!   dropped while it was being sent that did arrive is counted written, not dropped.
//! - When the bus closes, what is queued is sent while the receiver takes it, for at most
//!   [`FINAL_DRAIN`]; at the first failure, or at that deadline, the rest is counted dropped
//!   (the probe does not wait for a receiver away, nor for 1,000 alarms to a slow one). A send
//!   still under way at the deadline is left to finish on its own thread: its alarm is
//!   counted dropped, and written instead should it arrive after all.

use analysis::alarm::AlarmRecord;
use outputs::bus::OwnQueue;
use outputs::{IntervalBatch, Sink, SinkError};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a receiver's last alarms may take to go out when the probe stops, in all.
pub const FINAL_DRAIN: Duration = Duration::from_secs(5);

/// How alarms reach one receiver. `send` runs on the receiver's own thread and may take
/// up to its timeout; an error means the alarm did not arrive: it is tried again, unless
/// the failure is [`Failure::permanent`].
pub trait Channel: Send + 'static {
    fn send(&mut self, alarm: &AlarmRecord) -> Result<(), Failure>;
}

/// Why an alarm did not arrive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// One line naming the receiver and what went wrong.
    pub message: String,
    /// Sending the same alarm again cannot succeed (an HTTP 4xx other than 408 and 429, a
    /// datagram too large for UDP): it is counted dropped and the next one is sent, rather
    /// than holding up the receiver's queue for ever.
    pub permanent: bool,
}

impl Failure {
    /// A failure that sending the alarm again cannot mend.
    pub fn permanent(message: String) -> Failure {
        Failure {
            message,
            permanent: true,
        }
    }
}

/// A failure worth a retry (the receiver away, a timeout, a 5xx).
impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            permanent: false,
        }
    }
}

/// The queue, under its lock.
struct Queue {
    /// Waiting alarms, oldest first, each with its place in the order.
    alarms: VecDeque<(u64, Arc<AlarmRecord>)>,
    next: u64,
    bound: usize,
    /// The alarm being sent, and whether it was dropped from the queue meanwhile.
    in_flight: Option<(u64, bool)>,
    closing: bool,
    /// Set with `closing`: no send starts after it.
    deadline: Option<Instant>,
    /// `stop` gave up waiting: the thread ends after the send under way.
    abandoned: bool,
    /// The sending thread has ended.
    done: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    counters: Arc<OwnQueue>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data: go on.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A receiver as a sink of the record bus: it takes the alarms receivers are sent
/// ([`AlarmRecord::notify`]) from each interval into its own bounded queue.
pub struct ReceiverSink {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ReceiverSink {
    /// Starts the sending thread `sender-NAME` of a receiver whose queue holds `bound`
    /// alarms, backing off from `backoff.0` to `backoff.1`.
    pub fn start(
        name: &str,
        channel: impl Channel,
        bound: usize,
        backoff: (Duration, Duration),
    ) -> std::io::Result<ReceiverSink> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                alarms: VecDeque::new(),
                next: 0,
                bound: bound.max(1),
                in_flight: None,
                closing: false,
                deadline: None,
                abandoned: false,
                done: false,
            }),
            wake: Condvar::new(),
            counters: Arc::default(),
        });
        let thread = std::thread::Builder::new()
            .name(format!("alarm-{name}"))
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    send_loop(channel, &shared, backoff);
                    shared.lock().done = true;
                    shared.wake.notify_all();
                }
            })?;
        Ok(ReceiverSink {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues one alarm (the oldest goes when the queue is full).
    pub fn offer(&self, alarm: &AlarmRecord) {
        let c = &self.shared.counters;
        let mut q = self.shared.lock();
        let mut oldest_dropped = false;
        if q.alarms.len() >= q.bound {
            if let Some((seq, _)) = q.alarms.pop_front() {
                oldest_dropped = true;
                if let Some((sending, dropped)) = &mut q.in_flight {
                    if *sending == seq {
                        *dropped = true;
                    }
                }
            }
        }
        let seq = q.next;
        q.next += 1;
        q.alarms.push_back((seq, Arc::new(alarm.clone())));
        c.update(|n| {
            n.received += 1;
            if oldest_dropped {
                n.dropped += 1;
                n.queued -= 1;
            }
            n.queued += 1;
        });
        self.shared.wake.notify_all();
    }

    /// Its counters.
    pub fn counters(&self) -> Arc<OwnQueue> {
        Arc::clone(&self.shared.counters)
    }

    /// Sends what it can of what is queued, for at most [`FINAL_DRAIN`], and stops its
    /// thread (see the module's invariants).
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + FINAL_DRAIN;
        let mut q = self.shared.lock();
        q.closing = true;
        q.deadline = Some(deadline);
        self.shared.wake.notify_all();
        while !q.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            q = self
                .shared
                .wake
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if q.done {
            drop(q);
            let _ = thread.join();
            return;
        }
        // A send is still under way: what is queued, that alarm included, is lost unless it
        // arrives after all (the thread then counts it written). The thread is not waited for.
        let c = &self.shared.counters;
        if let Some((_, dropped)) = &mut q.in_flight {
            *dropped = true;
        }
        lose_the_rest(&mut q, c);
        q.abandoned = true;
    }
}

impl Drop for ReceiverSink {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Sink for ReceiverSink {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        for alarm in batch.alarms.iter().filter(|a| a.notify()) {
            self.offer(alarm);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.stop();
        Ok(())
    }

    fn own_queue(&self) -> Option<Arc<OwnQueue>> {
        Some(self.counters())
    }
}

/// What is queued is lost: counted dropped.
fn lose_the_rest(q: &mut Queue, c: &OwnQueue) {
    let left = q.alarms.len() as u64;
    q.alarms.clear();
    c.update(|n| {
        n.queued -= left;
        n.dropped += left;
    });
}

/// The sending thread: the oldest alarm, until it arrives; then the next.
fn send_loop(mut channel: impl Channel, shared: &Shared, (first, max): (Duration, Duration)) {
    let c = &shared.counters;
    let mut backoff = first;
    loop {
        let (seq, alarm) = {
            let mut q = shared.lock();
            while q.alarms.is_empty() && !q.closing {
                q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.abandoned {
                return;
            }
            if q.deadline.is_some_and(|d| Instant::now() >= d) {
                // Closing, and the final drain's time is up: what is left is lost.
                lose_the_rest(&mut q, c);
                return;
            }
            let Some((seq, alarm)) = q.alarms.front().cloned() else {
                return; // closing, and nothing left
            };
            q.in_flight = Some((seq, false));
            (seq, alarm)
        };
        let sent = channel.send(&alarm);
        let mut q = shared.lock();
        let dropped_meanwhile = matches!(q.in_flight.take(), Some((_, true)));
        match sent {
            Ok(()) => {
                let was_queued =
                    !dropped_meanwhile && q.alarms.front().map(|(s, _)| *s) == Some(seq);
                if was_queued {
                    q.alarms.pop_front();
                }
                c.update(|n| {
                    n.written += 1;
                    if dropped_meanwhile {
                        // It arrived after all: written, not dropped.
                        n.dropped -= 1;
                    } else if was_queued {
                        n.queued -= 1;
                    }
                });
                c.retrying.store(false, Ordering::Relaxed);
                backoff = first;
            }
            Err(Failure {
                message,
                permanent: true,
            }) => {
                c.failed(message);
                c.retrying.store(false, Ordering::Relaxed);
                if !dropped_meanwhile && q.alarms.front().map(|(s, _)| *s) == Some(seq) {
                    q.alarms.pop_front();
                    c.update(|n| {
                        n.queued -= 1;
                        n.dropped += 1;
                    });
                }
                backoff = first;
            }
            Err(Failure { message, .. }) => {
                c.failed(message);
                if q.closing {
                    // The probe is stopping and the receiver is away: what is left is lost.
                    lose_the_rest(&mut q, c);
                    return;
                }
                // Wait out the back-off, or until the bus closes.
                let (_q, _) = shared
                    .wake
                    .wait_timeout_while(q, backoff, |q| !q.closing)
                    .unwrap_or_else(|p| p.into_inner());
                backoff = (backoff * 2).min(max);
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! The alarm desk: acknowledgements asked through the API wait here until the records
//! thread, which owns the alarm engine, takes them at its next interval (the engine is
//! never shared: the API only queues). Bounded: past [`DESK_QUEUE`] waiting, a request is
//! refused, not queued.

use analysis::alarm::AckRequest;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Acknowledgements waiting at most.
pub const DESK_QUEUE: usize = 1000;

/// The queue between the API and the alarm engine.
#[derive(Debug, Default)]
pub struct AlarmDesk {
    waiting: Mutex<Vec<AckRequest>>,
    /// Acknowledgements taken from the desk that the engine refused (their alarm cleared,
    /// or was acknowledged, between the request and the interval's end).
    refused: AtomicU64,
}

/// Why a request was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum DeskRefused {
    /// The desk is full: the records thread has not taken its requests (it is stuck, or
    /// the source has ended and no interval closes any more).
    Full,
    /// An acknowledgement of this alarm waits already (only the first would be recorded).
    Queued,
}

impl AlarmDesk {
    /// Queues an acknowledgement for the next interval.
    pub fn request(&self, ack: AckRequest) -> Result<(), DeskRefused> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting.iter().any(|w| w.id == ack.id) {
            return Err(DeskRefused::Queued);
        }
        if waiting.len() >= DESK_QUEUE {
            return Err(DeskRefused::Full);
        }
        waiting.push(ack);
        Ok(())
    }

    /// The engine refused one it took (counted for `/api/v1/health`).
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Acknowledgements the engine refused since the start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Takes every request waiting, oldest first.
    pub fn take(&self) -> Vec<AckRequest> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_taken_in_order_and_bounded() {
        let desk = AlarmDesk::default();
        let ack = |id| AckRequest {
            id,
            by: "t".into(),
            time_ns: 0,
            note: None,
        };
        for id in 0..DESK_QUEUE as u64 {
            desk.request(ack(id)).unwrap();
        }
        assert_eq!(desk.request(ack(9999)), Err(DeskRefused::Full));
        assert_eq!(desk.request(ack(7)), Err(DeskRefused::Queued));
        let taken = desk.take();
        assert_eq!(taken.len(), DESK_QUEUE);
        assert_eq!(taken[0].id, 0);
        assert!(desk.take().is_empty());
        desk.request(ack(1)).unwrap();
        // One per alarm waits: the second is refused, not dropped later in silence.
        assert_eq!(desk.request(ack(1)), Err(DeskRefused::Queued));
        assert_eq!(desk.take().len(), 1);
        desk.request(ack(1)).unwrap();
    }
}

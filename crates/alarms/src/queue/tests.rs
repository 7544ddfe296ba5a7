use super::*;
use analysis::alarm::{AlarmRule, AlarmState, ALARM_SCHEMA};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{channel, Sender};

/// A receiver that is up or away as the test says, and reports what arrived.
struct Switch {
    up: Arc<AtomicBool>,
    arrived: Sender<u64>,
}

impl Channel for Switch {
    fn send(&mut self, alarm: &AlarmRecord) -> Result<(), Failure> {
        if self.up.load(Ordering::SeqCst) {
            let _ = self.arrived.send(alarm.id);
            Ok(())
        } else {
            Err(String::from("away").into())
        }
    }
}

fn alarm(id: u64) -> AlarmRecord {
    AlarmRecord {
        schema: ALARM_SCHEMA,
        kind_of_record: "alarm",
        id,
        time: 0,
        state: AlarmState::Raised,
        rule: AlarmRule::Silent,
        flow: None,
        group: None,
        raised: 0,
        value: None,
        threshold: None,
        text: String::new(),
        summary: None,
        summarised_in: None,
        reason: None,
        ack: None,
    }
}

fn figures(c: &OwnQueue) -> [u64; 4] {
    let n = c.counts();
    [n.received, n.written, n.dropped, n.queued]
}

#[test]
fn a_receiver_away_gets_the_newest_alarms_late_in_order_and_the_oldest_are_counted_dropped() {
    let up = Arc::new(AtomicBool::new(false));
    let (tx, rx) = channel();
    let backoff = (Duration::from_millis(10), Duration::from_millis(40));
    let sink = ReceiverSink::start(
        "t",
        Switch {
            up: Arc::clone(&up),
            arrived: tx,
        },
        4,
        backoff,
    )
    .unwrap();
    for id in 1..=10 {
        sink.offer(&alarm(id));
    }
    let c = sink.counters();
    assert_eq!(figures(&c), [10, 0, 6, 4]);
    // It has found the receiver away before it comes back.
    let waited = std::time::Instant::now();
    while c.errors.load(Ordering::SeqCst) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "no send was tried"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    up.store(true, Ordering::SeqCst);
    let got: Vec<u64> = (0..4)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    assert_eq!(got, [7, 8, 9, 10]);
    drop(sink);
    assert_eq!(figures(&c), [10, 4, 6, 0]);
    assert!(!c.retrying.load(Ordering::SeqCst));
}

#[test]
fn alarms_left_when_the_bus_closes_with_the_receiver_away_are_counted_dropped() {
    let (tx, _rx) = channel();
    let mut sink = ReceiverSink::start(
        "t",
        Switch {
            up: Arc::new(AtomicBool::new(false)),
            arrived: tx,
        },
        100,
        (Duration::from_secs(60), Duration::from_secs(60)),
    )
    .unwrap();
    for id in 1..=3 {
        sink.offer(&alarm(id));
    }
    let c = sink.counters();
    let started = std::time::Instant::now();
    sink.stop();
    // The back-off is cut short by the close.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(figures(&c), [3, 0, 3, 0]);
}

#[test]
fn only_the_alarms_receivers_are_sent_are_queued() {
    let (tx, rx) = channel();
    let mut sink = ReceiverSink::start(
        "t",
        Switch {
            up: Arc::new(AtomicBool::new(true)),
            arrived: tx,
        },
        10,
        (Duration::from_millis(10), Duration::from_millis(10)),
    )
    .unwrap();
    let mut covered = alarm(2);
    covered.summarised_in = Some(3);
    let batch = IntervalBatch {
        end_ns: 0,
        records: Vec::new(),
        alarms: vec![alarm(1), covered, alarm(3)],
        probe: outputs::ProbeRecord::from_reports(&[outputs::WorkerReport::default()]),
        published: None,
    };
    sink.write(&batch).unwrap();
    sink.finish().unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 3]);
    assert_eq!(figures(&sink.counters()), [2, 2, 0, 0]);
}

/// A receiver that refuses alarm `refused` for good and takes the others.
struct Refuses {
    refused: u64,
    arrived: Sender<u64>,
}

impl Channel for Refuses {
    fn send(&mut self, alarm: &AlarmRecord) -> Result<(), Failure> {
        if alarm.id == self.refused {
            return Err(Failure::permanent(format!("alarm {}: refused", alarm.id)));
        }
        let _ = self.arrived.send(alarm.id);
        Ok(())
    }
}

#[test]
fn a_permanent_failure_drops_that_alarm_and_the_next_go_on() {
    let (tx, rx) = channel();
    let mut sink = ReceiverSink::start(
        "t",
        Refuses {
            refused: 2,
            arrived: tx,
        },
        10,
        // A retry would wait a minute: the test would see it.
        (Duration::from_secs(60), Duration::from_secs(60)),
    )
    .unwrap();
    for id in 1..=4 {
        sink.offer(&alarm(id));
    }
    let got: Vec<u64> = (0..3)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    assert_eq!(got, [1, 3, 4]);
    sink.stop();
    let c = sink.counters();
    assert_eq!(figures(&c), [4, 3, 1, 0]);
    assert_eq!(c.errors.load(Ordering::SeqCst), 1);
    assert!(!c.retrying.load(Ordering::SeqCst));
    assert_eq!(
        c.last_error.lock().unwrap().as_deref(),
        Some("alarm 2: refused")
    );
}

/// A receiver that takes every alarm, each after `takes`.
struct Slow {
    takes: Duration,
}

impl Channel for Slow {
    fn send(&mut self, _alarm: &AlarmRecord) -> Result<(), Failure> {
        std::thread::sleep(self.takes);
        Ok(())
    }
}

#[test]
fn the_final_drain_to_a_slow_receiver_ends_at_its_deadline_and_counts_the_rest_dropped() {
    // 1,000 alarms at 2 s each would hold the probe's exit for over half an hour.
    let mut sink = ReceiverSink::start(
        "t",
        Slow {
            takes: Duration::from_secs(2),
        },
        1000,
        (Duration::from_millis(10), Duration::from_millis(10)),
    )
    .unwrap();
    for id in 1..=1000 {
        sink.offer(&alarm(id));
    }
    let c = sink.counters();
    let started = std::time::Instant::now();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        sink.stop();
        let _ = tx.send(sink);
    });
    let sink = rx
        .recv_timeout(FINAL_DRAIN + Duration::from_secs(3))
        .expect("stop returned within FINAL_DRAIN");
    let took = started.elapsed();
    assert!(took >= FINAL_DRAIN, "{took:?}");
    // Sends began at 0, 2 and 4 s; the third was under way at 5 s: counted dropped.
    assert_eq!(figures(&c), [1000, 2, 998, 0]);
    // It arrives at 6 s after all: written, not dropped.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(figures(&c), [1000, 3, 997, 0]);
    drop(sink);
}

#[test]
fn a_snapshot_of_the_figures_always_adds_up() {
    // Alarms offered and sent as fast as they go, on two threads, while a third reads.
    let (tx, rx) = channel();
    let sink = ReceiverSink::start(
        "t",
        Switch {
            up: Arc::new(AtomicBool::new(true)),
            arrived: tx,
        },
        8,
        (Duration::from_millis(1), Duration::from_millis(1)),
    )
    .unwrap();
    let c = sink.counters();
    let offering = std::thread::spawn(move || {
        for id in 0..200_000 {
            sink.offer(&alarm(id));
        }
        sink
    });
    let mut reads = 0u64;
    while !offering.is_finished() {
        let [received, written, dropped, queued] = figures(&c);
        assert_eq!(
            received,
            written + dropped + queued,
            "a snapshot: {received} received, {written} written, {dropped} dropped, {queued} queued"
        );
        reads += 1;
    }
    drop(offering.join().unwrap());
    drop(rx);
    assert!(reads > 100, "{reads}");
}

use super::*;
use crate::probe::WorkerReport;
use analysis::event::FlowEvent;
use analysis::interval::{FlowName, SCHEMA};
use analysis::kind::FlowKind;
use std::sync::mpsc::{channel, Sender};

/// An interval at `end_ns` with `records` event records.
fn batch(end_ns: i64, records: usize) -> IntervalBatch {
    let name = FlowName {
        src: "10.0.0.1:5000".parse().unwrap(),
        dst: "239.1.1.1:5000".parse().unwrap(),
        ssrc: Some(1),
        kind: FlowKind::Rtp,
    };
    IntervalBatch {
        alarms: Vec::new(),
        end_ns,
        records: (0..records)
            .map(|_| {
                Record::Event(Box::new(EventRecord {
                    schema: SCHEMA,
                    kind_of_record: "event",
                    time: end_ns,
                    event: FlowEvent::Appeared,
                    name,
                    silent_s: None,
                    new_ssrc: None,
                    violations: None,
                }))
            })
            .collect(),
        published: None,
        probe: ProbeRecord::from_reports(&[WorkerReport {
            end_ns,
            length_ns: 1_000_000_000,
            ..WorkerReport::default()
        }]),
    }
}

/// Sends each interval's end to a channel.
struct Collect(Sender<i64>);

impl Sink for Collect {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        self.0
            .send(batch.end_ns)
            .map_err(|e| SinkError::Fatal(e.to_string()))
    }
}

/// Blocks on its first interval until told to go on.
struct Stuck(std::sync::mpsc::Receiver<()>, Sender<i64>);

impl Sink for Stuck {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        let _ = self.0.recv();
        self.1
            .send(batch.end_ns)
            .map_err(|e| SinkError::Fatal(e.to_string()))
    }
}

#[test]
fn a_stuck_sink_drops_what_its_queue_cannot_hold_and_the_others_get_everything() {
    let mut bus = Bus::new();
    let (fast_tx, fast_rx) = channel();
    let (go_tx, go_rx) = channel();
    let (slow_tx, slow_rx) = channel();
    bus.attach("fast", 1000, false, Collect(fast_tx)).unwrap();
    bus.attach("slow", 4, false, Stuck(go_rx, slow_tx)).unwrap();
    // The slow sink takes the first interval and blocks in it: wait until it holds it.
    bus.publish(batch(0, 3)).unwrap();
    while bus.statuses()[1].queued_intervals > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = std::time::Instant::now();
    for end in 1..100 {
        bus.publish(batch(end, 3)).unwrap();
    }
    // Publishing never waits for the stuck sink.
    assert!(started.elapsed() < Duration::from_secs(1));
    let slow = bus.statuses()[1].clone();
    // One interval in its hands, 4 queued, 95 dropped.
    assert_eq!(slow.queued_intervals, 4);
    assert_eq!(slow.dropped_intervals, 95);
    assert_eq!(slow.dropped_records, 95 * 3);
    assert_eq!(slow.received_records, 100 * 3);
    for _ in 0..5 {
        go_tx.send(()).unwrap();
    }
    let statuses = bus.close().unwrap();
    assert_eq!(
        fast_rx.try_iter().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(slow_rx.try_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    assert_eq!(statuses[0].written_records, 300);
    assert_eq!(statuses[0].dropped_records, 0);
    assert_eq!(statuses[1].written_records, 15);
    assert_eq!(statuses[1].dropped_records, 285);
    // Every record and interval published is written or dropped.
    for s in &statuses {
        assert_eq!(s.written_records + s.dropped_records, s.received_records);
        assert_eq!(
            s.written_intervals + s.dropped_intervals,
            s.received_intervals
        );
    }
    assert_eq!(statuses[1].written_intervals, 5);
}

/// Fails its first `failures` writes, then takes intervals.
struct Flaky {
    failures: u32,
    got: Sender<i64>,
}

impl Sink for Flaky {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(SinkError::Retry(format!("away ({} more)", self.failures)));
        }
        self.got
            .send(batch.end_ns)
            .map_err(|e| SinkError::Fatal(e.to_string()))
    }
}

#[test]
fn a_failing_sink_is_retried_with_backoff_and_gets_the_same_interval_again() {
    let mut bus = Bus::with_backoff(Duration::from_millis(20), Duration::from_millis(80));
    let (tx, rx) = channel();
    bus.attach(
        "flaky",
        8,
        false,
        Flaky {
            failures: 4,
            got: tx,
        },
    )
    .unwrap();
    let started = std::time::Instant::now();
    bus.publish(batch(7, 2)).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(7));
    // Back-offs of 20, 40, 80 and 80 ms.
    assert!(started.elapsed() >= Duration::from_millis(220));
    let s = bus.close().unwrap().remove(0);
    assert_eq!(s.errors, 4);
    assert_eq!(s.state, SinkState::Ok);
    assert_eq!(s.written_records, 2);
    assert_eq!(s.last_error.as_deref(), Some("away (0 more)"));
}

#[test]
fn a_sink_still_retrying_when_the_bus_closes_counts_what_it_held_as_dropped() {
    let mut bus = Bus::with_backoff(Duration::from_secs(30), Duration::from_secs(60));
    let (tx, _rx) = channel();
    bus.attach(
        "away",
        8,
        false,
        Flaky {
            failures: u32::MAX,
            got: tx,
        },
    )
    .unwrap();
    bus.publish(batch(1, 5)).unwrap();
    bus.publish(batch(2, 5)).unwrap();
    let started = std::time::Instant::now();
    let s = bus.close().unwrap().remove(0);
    // Closing does not wait out the back-off.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(s.written_records, 0);
    assert_eq!(s.dropped_records, 10);
    assert_eq!(s.dropped_intervals, 2);
    assert_eq!(s.state, SinkState::Retrying);
}

/// Fails for good at its first interval.
struct Closed;

impl Sink for Closed {
    fn write(&mut self, _: &IntervalBatch) -> Result<(), SinkError> {
        Err(SinkError::Fatal("broken pipe".into()))
    }
}

#[test]
fn an_essential_sink_that_fails_is_reported_to_the_publisher() {
    let mut bus = Bus::new();
    bus.attach("stdout", 8, true, Closed).unwrap();
    bus.publish(batch(1, 1)).unwrap_or(());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let failure = loop {
        match bus.publish(batch(2, 1)) {
            Err(e) => break e,
            Ok(()) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(()) => panic!("the failure never reached the publisher"),
        }
    };
    assert_eq!(failure.to_string(), "stdout: broken pipe");
    assert!(bus.close().is_err());
}

#[test]
fn a_sink_that_is_not_essential_fails_alone() {
    let mut bus = Bus::new();
    let (tx, rx) = channel();
    bus.attach("dead", 100, false, Closed).unwrap();
    bus.attach("alive", 100, false, Collect(tx)).unwrap();
    for end in 0..10 {
        bus.publish(batch(end, 1)).unwrap();
    }
    let statuses = bus.close().unwrap();
    assert_eq!(rx.try_iter().count(), 10);
    assert_eq!(statuses[0].state, SinkState::Failed);
    assert_eq!(statuses[0].written_records, 0);
    assert_eq!(statuses[0].dropped_records, 10);
}

#[test]
fn the_probe_record_carries_the_sinks_status_at_publication() {
    let mut bus = Bus::new();
    let (tx, rx) = channel::<IntervalBatch>();
    struct Keep(Sender<IntervalBatch>);
    impl Sink for Keep {
        fn write(&mut self, b: &IntervalBatch) -> Result<(), SinkError> {
            let copy = IntervalBatch {
                alarms: Vec::new(),
                end_ns: b.end_ns,
                records: Vec::new(),
                probe: b.probe.clone(),
                published: b.published,
            };
            self.0
                .send(copy)
                .map_err(|e| SinkError::Fatal(e.to_string()))
        }
    }
    bus.attach("keep", 8, false, Keep(tx)).unwrap();
    bus.publish(batch(1, 2)).unwrap();
    let first = rx.recv().unwrap();
    bus.close().unwrap();
    assert_eq!(first.probe.sinks.len(), 1);
    assert_eq!(first.probe.sinks[0].name, "keep");
    // Published before the interval itself was counted.
    assert_eq!(first.probe.sinks[0].received_records, 0);
}

#[test]
fn a_queue_is_bounded_in_records_too() {
    let mut bus = Bus::new().with_max_queued_records(10);
    let (go_tx, go_rx) = channel();
    let (tx, rx) = channel();
    bus.attach("slow", 1000, false, Stuck(go_rx, tx)).unwrap();
    // The first interval is taken at once; then 4 + 4 records fit in the queue, not a third 4.
    bus.publish(batch(0, 4)).unwrap();
    while bus.statuses()[0].queued_intervals > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for end in 1..4 {
        bus.publish(batch(end, 4)).unwrap();
    }
    let s = bus.statuses().remove(0);
    assert_eq!((s.queued_intervals, s.queued_records), (2, 8));
    assert_eq!((s.dropped_intervals, s.dropped_records), (1, 4));
    // Alone, an interval larger than the bound is still queued.
    for _ in 0..3 {
        go_tx.send(()).unwrap();
    }
    while bus.statuses()[0].queued_intervals > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    bus.publish(batch(9, 25)).unwrap();
    assert_eq!(bus.statuses()[0].dropped_intervals, 1);
    go_tx.send(()).unwrap();
    let s = bus.close().unwrap().remove(0);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![0, 1, 2, 9]);
    assert_eq!(
        s.written_intervals + s.dropped_intervals,
        s.received_intervals
    );
}

/// Panics at its second interval.
struct Panics(u32);

impl Sink for Panics {
    fn write(&mut self, _: &IntervalBatch) -> Result<(), SinkError> {
        self.0 += 1;
        if self.0 == 2 {
            panic!("bad sink");
        }
        Ok(())
    }
}

#[test]
fn a_sink_that_panics_fails_and_everything_it_held_is_counted() {
    let mut bus = Bus::new();
    bus.attach("stdout", 100, true, Panics(0)).unwrap();
    for end in 0..7 {
        let _ = bus.publish(batch(end, 2));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while bus.statuses()[0].state != SinkState::Failed {
        assert!(std::time::Instant::now() < deadline, "never failed");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Essential: the publisher is told.
    let failure = bus.publish(batch(7, 2)).unwrap_err();
    assert!(
        failure.message.contains("the sink panicked: bad sink"),
        "{}",
        failure.message
    );
    let s = match bus.close() {
        Err(_) => None,
        Ok(_) => Some(()),
    };
    assert!(s.is_none());
}

#[test]
fn a_panicked_sinks_intervals_are_all_accounted_for() {
    let mut bus = Bus::new();
    bus.attach("store", 100, false, Panics(0)).unwrap();
    for end in 0..7 {
        bus.publish(batch(end, 2)).unwrap();
    }
    let s = bus.close().unwrap().remove(0);
    assert_eq!(s.state, SinkState::Failed);
    assert_eq!(s.errors, 1);
    assert_eq!(
        (
            s.written_intervals,
            s.dropped_intervals,
            s.received_intervals
        ),
        (1, 6, 7)
    );
    assert_eq!(s.queued_intervals, 0);
}

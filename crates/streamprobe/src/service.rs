//! The probe's outputs, set up once for every source: the record bus with its sinks
//! (standard output; the store, the live view and the API when configured) and the records
//! thread that feeds it ([`crate::output::assemble`]).

use crate::output::{assemble, Line, Totals};
use crate::run::Settings;
use crate::stdout_sink::StdoutSink;
use outputs::{Bus, EssentialSinkFailed};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// Records waiting between the workers and the records thread before new ones are dropped.
pub const OUTPUT_QUEUE: usize = 65_536;
/// Intervals waiting for standard output before they are dropped: a terminal or pipe that
/// stalls for longer loses intervals, counted in the probe record's `sinks`.
pub const STDOUT_QUEUE: usize = 64;

/// The running outputs.
pub struct Service {
    /// The workers' channel to the records thread.
    pub tx: SyncSender<Line>,
    records: JoinHandle<Result<Totals, EssentialSinkFailed>>,
    started: std::time::Instant,
}

impl Service {
    /// Starts the sinks and the records thread for `workers` workers.
    pub fn start(settings: &Settings, workers: usize) -> Result<Service, String> {
        let mut bus = Bus::new();
        bus.attach("stdout", STDOUT_QUEUE, true, StdoutSink::new(settings.json))
            .map_err(|e| format!("cannot start the standard output sink: {e}"))?;
        let (tx, rx) = sync_channel(OUTPUT_QUEUE);
        let records = std::thread::Builder::new()
            .name("records".into())
            .spawn(move || assemble(rx, workers, bus))
            .map_err(|e| format!("cannot start the records thread: {e}"))?;
        Ok(Service {
            tx,
            records,
            started: std::time::Instant::now(),
        })
    }

    /// Waits for the records thread and the sinks to write what they hold, once every
    /// worker has dropped its sender. `dropped`: records the workers could not hand over.
    /// Standard output that failed ended the probe: the error says so.
    pub fn finish(self, dropped: u64) -> Result<(), String> {
        drop(self.tx);
        let totals = self
            .records
            .join()
            .map_err(|_| "the records thread failed".to_string())?
            .map_err(|e| e.message)?;
        if dropped > 0 {
            eprintln!("warning: the output could not keep up: {dropped} records dropped");
        }
        let Totals {
            packets,
            kernel_drops,
            expired,
            evicted,
            refused,
        } = totals;
        let seconds = self.started.elapsed().as_secs_f64();
        eprintln!(
            "streamprobe: {packets} packets in {seconds:.1} s, {kernel_drops} dropped by the kernel, {expired} flows expired, {evicted} evicted, {refused} packets of flows over the cap"
        );
        Ok(())
    }
}

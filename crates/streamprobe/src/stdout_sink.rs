//! The standard-output sink of the record bus: newline-delimited JSON records
//! (`streamprobe.interval/1`, each interval's flow and event records, its alarm records
//! (`streamprobe.alarm/1`), then its probe record),
//! or a table per interval, redrawn in place on a terminal (worst flows first). It is the
//! bus's essential sink: when standard output fails, nothing measured can be seen, and the
//! probe stops.

use analysis::interval::Record;
use outputs::{IntervalBatch, ProbeRecord, Sink, SinkError};
use std::io::{IsTerminal, Stdout, Write};

/// Rows of the live view when the terminal's height is unknown.
const DEFAULT_ROWS: usize = 40;

fn terminal_rows() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize; zeroed is a valid one to start from.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl on stdout with a pointer to a live winsize.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_row > 0 {
        usize::from(size.ws_row)
    } else {
        DEFAULT_ROWS
    }
}

/// Writes each interval to standard output.
pub struct StdoutSink {
    json: bool,
    /// A terminal: the table is redrawn in place.
    live_view: bool,
    out: std::io::BufWriter<Stdout>,
}

impl StdoutSink {
    /// JSON records, or the table.
    pub fn new(json: bool) -> Self {
        let stdout = std::io::stdout();
        StdoutSink {
            json,
            live_view: !json && stdout.is_terminal(),
            out: std::io::BufWriter::with_capacity(1 << 16, stdout),
        }
    }

    fn write_json(&mut self, batch: &IntervalBatch) -> std::io::Result<()> {
        let out = &mut self.out;
        for r in &batch.records {
            match r {
                Record::Flow(f) => serde_json::to_writer(&mut *out, f)?,
                Record::Event(e) => serde_json::to_writer(&mut *out, e)?,
            }
            out.write_all(b"\n")?;
        }
        // Alarm records (`streamprobe.alarm/1`) after the interval's flows and events.
        for a in &batch.alarms {
            serde_json::to_writer(&mut *out, a)?;
            out.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut *out, &batch.probe)?;
        out.write_all(b"\n")
    }

    fn write_table(&mut self, batch: &IntervalBatch) -> std::io::Result<()> {
        let out = &mut self.out;
        let probe: &ProbeRecord = &batch.probe;
        let mut flows: Vec<_> = batch.flows().collect();
        let events: Vec<_> = batch.events().collect();
        let mut rows = usize::MAX;
        if self.live_view {
            // Home and clear: the view is redrawn each interval, like top, with as many
            // flows as the terminal shows below the events and the probe's lines.
            out.write_all(b"\x1b[H\x1b[2J")?;
            rows = terminal_rows().saturating_sub(6 + events.len()).max(5);
        }
        crate::table::write_interval(
            out,
            &probe.time,
            probe.interval_s,
            &mut flows,
            &events,
            rows,
        )?;
        writeln!(
            out,
            "probe: {} packets, {} of {} flows active, {} on probation, {} kernel drops, {} late, {} records dropped by the output{}",
            probe.packets,
            probe.active_flows,
            probe.flows,
            probe.probation,
            probe.kernel_drops,
            probe.late,
            probe.output_dropped,
            probe.pass.map(|p| format!(", pass {p}")).unwrap_or_default()
        )?;
        writeln!(
            out,
            "state: {:.1} of {} MiB, {} packets of new flows refused by it, {} by the flow cap",
            probe.state_bytes as f64 / 1048576.0,
            probe
                .state_budget_bytes
                .map_or("unlimited".to_string(), |b| format!(
                    "{:.0}",
                    b as f64 / 1048576.0
                )),
            probe.refused_state,
            probe.refused
        )?;
        let loads: Vec<String> = probe
            .workers
            .iter()
            .map(|w| format!("{}: {:.0} %", w.worker, w.load * 100.0))
            .collect();
        writeln!(out, "worker load: {}", loads.join(", "))?;
        // Sinks other than this one, when one of them lost records or is failing.
        let troubled: Vec<String> = probe
            .sinks
            .iter()
            .filter(|s| s.name != "stdout" && (s.dropped_records > 0 || s.last_error.is_some()))
            .map(|s| {
                format!(
                    "{} {:?}, {} records dropped{}",
                    s.name,
                    s.state,
                    s.dropped_records,
                    s.last_error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        if !troubled.is_empty() {
            writeln!(out, "sinks: {}", troubled.join("; "))?;
        }
        for a in &batch.alarms {
            writeln!(out, "alarm {} {}: {}", a.id, a.state.as_str(), a.text)?;
        }
        writeln!(out)
    }
}

/// The message that ends the probe when standard output fails.
fn stopped(e: &std::io::Error) -> SinkError {
    SinkError::Fatal(if e.kind() == std::io::ErrorKind::BrokenPipe {
        "standard output was closed (broken pipe): the probe stopped, since nothing it measured could be shown".to_string()
    } else {
        format!("writing records to standard output: {e}: the probe stopped")
    })
}

impl Sink for StdoutSink {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        let written = if self.json {
            self.write_json(batch)
        } else {
            self.write_table(batch)
        };
        written
            .and_then(|()| self.out.flush())
            .map_err(|e| stopped(&e))
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| stopped(&e))
    }
}

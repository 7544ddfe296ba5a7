//! `streamprobe run`: the live probe. This version's source is the replay of a capture at its
//! recorded pace (or N times faster), optionally looping; every interval each flow that sent
//! packets gets a `streamprobe.interval/1` record, flows get events, and the probe reports its
//! own health. Records go to the output thread over a bounded channel: a slow output loses
//! records (counted), it never holds the analysis up.

use analysis::analyzer::LANES;
use analysis::interval::{Record, Tick, SCHEMA};
use analysis::report::rfc3339_ns;
use analysis::{AnalysisConfig, Analyzer};
use capture::Record as CaptureRecord;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wire::link::Frame;

/// Options of `streamprobe run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Replay this pcap/pcapng capture at its recorded pace, as if its packets were arriving
    /// now (the only source in this version).
    #[arg(long, env = "STREAMPROBE_REPLAY", value_name = "FILE")]
    pub replay: PathBuf,
    /// Replay this many times faster than recorded. Figures are those of the capture at any
    /// speed: packet times keep their recorded spacing; only the wall clock runs faster.
    #[arg(long, env = "STREAMPROBE_SPEED", default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Start the capture over at its end (the next pass starts 100 ms after the last packet).
    #[arg(long = "loop", env = "STREAMPROBE_LOOP")]
    pub repeat: bool,
    /// Interval between records, in seconds (of packet time).
    #[arg(long, env = "STREAMPROBE_INTERVAL", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub interval: u32,
    /// Report a flow silent after this many seconds without a packet.
    #[arg(long, env = "STREAMPROBE_SILENT_AFTER", default_value_t = 2.0, value_parser = parse_seconds)]
    pub silent_after: f64,
    /// Stop after this many seconds (wall clock), flushing the interval in progress.
    #[arg(long, env = "STREAMPROBE_DURATION", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Write newline-delimited JSON records (`streamprobe.interval/1`) instead of the table.
    #[arg(long, env = "STREAMPROBE_JSON")]
    pub json: bool,
    /// TOML config file: monitor groups with media rates and SLA limits, discovery payload
    /// types, probation, clock rates.
    #[arg(long, env = "STREAMPROBE_CONFIG")]
    pub config: Option<PathBuf>,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.001..=1e6).contains(&x) => Ok(x),
        _ => Err(format!("{s}: a speed from 0.001 to 1000000")),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1e7 => Ok(x),
        _ => Err(format!("{s}: a number of seconds above 0")),
    }
}

/// The probe's own figures for one interval.
#[derive(Debug, Serialize)]
struct ProbeRecord {
    schema: &'static str,
    #[serde(rename = "type")]
    kind_of_record: &'static str,
    time: String,
    interval_s: f64,
    /// Packets read in the interval.
    packets: u64,
    /// Bytes read in the interval.
    bytes: u64,
    /// Media flows known.
    flows: usize,
    /// Flows that sent packets in the interval.
    active_flows: u64,
    /// Records the output could not take in time, since the start.
    output_dropped: u64,
    /// Replay passes started (1 without --loop).
    pass: u64,
}

/// What the output thread receives.
enum Line {
    Record(Record),
    Probe(ProbeRecord),
}

const NS: i64 = 1_000_000_000;
/// Pause between two passes of a looped replay, ns of packet time.
const LOOP_GAP_NS: i64 = 100_000_000;
/// Records waiting for the output before new ones are dropped.
const OUTPUT_QUEUE: usize = 65_536;

fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The analysis side: ticks, records, probe figures, and the channel to the output.
struct Probe {
    analyzer: Analyzer,
    out: SyncSender<Line>,
    interval_ns: i64,
    silent_after_ns: i64,
    /// End of the interval in progress (packet time).
    next_end: Option<i64>,
    dropped: u64,
    packets_before: u64,
    bytes_before: u64,
    pass: u64,
    /// Packet time of the first packet: the first interval is counted from there.
    started: i64,
}

impl Probe {
    fn send(&mut self, line: Line) {
        match self.out.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped += 1,
            // The output thread ended (its writer failed): nothing more to do with records.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Closes the interval ending at `end` (of length `length` ns); `source_ended` when the
    /// replay ran to its end.
    fn tick(&mut self, end: i64, length: i64, source_ended: bool) {
        let tick = Tick {
            end_ns: end,
            interval_ns: length,
            silent_after_ns: self.silent_after_ns,
            source_ended,
        };
        let mut records = Vec::new();
        self.analyzer.tick(&tick, &mut |r| records.push(r));
        let active = records
            .iter()
            .filter(|r| matches!(r, Record::Flow(_)))
            .count() as u64;
        for r in records {
            self.send(Line::Record(r));
        }
        let (packets, bytes, flows) = self.analyzer.totals();
        let probe = ProbeRecord {
            schema: SCHEMA,
            kind_of_record: "probe",
            time: rfc3339_ns(end),
            interval_s: length as f64 / 1e9,
            packets: packets - self.packets_before,
            bytes: bytes - self.bytes_before,
            flows,
            active_flows: active,
            output_dropped: self.dropped,
            pass: self.pass,
        };
        (self.packets_before, self.bytes_before) = (packets, bytes);
        self.send(Line::Probe(probe));
    }

    /// Closes every interval that ends at or before `now` (packet time).
    fn tick_until(&mut self, now: i64) {
        while let Some(end) = self.next_end.filter(|&end| end <= now) {
            self.tick(end, self.interval_ns.min(end - self.started), false);
            self.next_end = Some(end + self.interval_ns);
        }
    }
}

/// Runs the probe until the replay ends (without --loop), --duration passes, or SIGINT or
/// SIGTERM arrives; the interval in progress is flushed on the way out.
pub fn run(args: &RunArgs) -> Result<(), String> {
    let config = match &args.config {
        Some(path) => crate::config::load(path)?,
        None => AnalysisConfig::default(),
    };
    let source = match capture::InputFile::open(&args.replay).map_err(|e| e.to_string())? {
        capture::InputFile::Capture(source) => source,
        capture::InputFile::Ts(_) => {
            return Err(format!(
                "{}: an MPEG-TS recording has no arrival times to replay; give a pcap or pcapng capture (`streamprobe analyze` reads recordings)",
                args.replay.display()
            ))
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    let (tx, rx) = sync_channel(OUTPUT_QUEUE);
    let json = args.json;
    let writer = std::thread::spawn(move || write_output(rx, json));
    let mut probe = Probe {
        analyzer: Analyzer::new(config),
        out: tx,
        interval_ns: i64::from(args.interval) * NS,
        silent_after_ns: (args.silent_after * 1e9) as i64,
        next_end: None,
        dropped: 0,
        packets_before: 0,
        bytes_before: 0,
        pass: 0,
        started: 0,
    };
    let wall_start = wall_ns();
    let deadline = args.duration.map(|d| wall_start + (d * 1e9) as i64);
    let speed = args.speed;
    // Wall time at which packet time `t` is due: packet time starts at `wall_start`.
    let due = |t: i64| wall_start + ((t - wall_start) as f64 / speed) as i64;
    let mut shift = 0i64;
    let mut clock = wall_start;
    let mut last_t = wall_start;
    let mut stopped = false;
    'passes: loop {
        probe.pass += 1;
        let mut reader = source.reader();
        let mut batch: Vec<Frame<'_>> = Vec::with_capacity(4096);
        let mut group: Vec<Frame<'_>> = Vec::with_capacity(LANES);
        let mut first_of_pass = true;
        loop {
            batch.clear();
            let more = reader.read_batch(4096, |record| match record {
                CaptureRecord::Frame(f) => batch.push(f),
                CaptureRecord::Skipped(reason) => probe.analyzer.skip(reason),
            });
            for mut f in batch.drain(..) {
                if first_of_pass {
                    // Packet time starts now, or continues where the last pass ended, shifted
                    // by whole seconds: MDI's 1-s intervals then split the traffic where
                    // `analyze` splits the capture, and the figures are the same.
                    let earliest = if probe.pass == 1 {
                        wall_start
                    } else {
                        last_t + LOOP_GAP_NS
                    };
                    let whole = (earliest - f.arrival_ns).div_euclid(NS) + 1;
                    shift = whole * NS;
                    first_of_pass = false;
                }
                let t = f.arrival_ns + shift;
                // Packet times in a capture may step back a little; never the probe's clock.
                let t = t.max(last_t);
                f.arrival_ns = t;
                last_t = t;
                if probe.next_end.is_none() {
                    probe.next_end = Some(t - t.rem_euclid(probe.interval_ns) + probe.interval_ns);
                    probe.started = t;
                }
                if probe.next_end.is_some_and(|end| t >= end) {
                    probe.analyzer.on_frames(&group);
                    group.clear();
                    probe.tick_until(t);
                }
                // Wait for the packet's time, closing intervals that end meanwhile. The clock
                // is read again only when a packet looks early: packets already due (all of
                // them when replaying faster than the probe reads) cost no clock read.
                if due(t) > clock {
                    clock = wall_ns();
                }
                if due(t) > clock {
                    probe.analyzer.on_frames(&group);
                    group.clear();
                    if !wait_until(&mut probe, t, &due, &stop, deadline) {
                        stopped = true;
                        break;
                    }
                    clock = wall_ns();
                }
                group.push(f);
                if group.len() == LANES {
                    probe.analyzer.on_frames(&group);
                    group.clear();
                }
            }
            if stopped || !more {
                break;
            }
            if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| wall_ns() >= d) {
                stopped = true;
                break;
            }
        }
        probe.analyzer.on_frames(&group);
        group.clear();
        if stopped || !args.repeat || first_of_pass {
            break 'passes;
        }
    }
    // The interval in progress: whole when the replay ran to its end, else up to now.
    if let Some(end) = probe.next_end {
        let now = if stopped {
            let wall = wall_ns();
            (wall_start + ((wall - wall_start) as f64 * speed) as i64).clamp(last_t, end)
        } else {
            end
        };
        let length = (probe.interval_ns - (end - now)).min(now - probe.started);
        if length > 0 {
            probe.tick(now, length, !stopped);
        }
    }
    let dropped = probe.dropped;
    drop(probe);
    let written = writer
        .join()
        .map_err(|_| "the output thread failed".to_string())?;
    if dropped > 0 {
        eprintln!("warning: the output could not keep up: {dropped} records dropped");
    }
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| format!("writing records: {e}")),
    }
}

/// Sleeps until packet time `packet` is due, closing the intervals that end before it when
/// their time comes (every packet before `packet` has been analysed). False when told to stop
/// (signal or --duration).
fn wait_until(
    probe: &mut Probe,
    packet: i64,
    due: &impl Fn(i64) -> i64,
    stop: &AtomicBool,
    deadline: Option<i64>,
) -> bool {
    let until = due(packet);
    loop {
        let now = wall_ns();
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| now >= d) {
            return false;
        }
        // An interval ending after the packet is closed once the packet is in, whatever the
        // sleep overshot: closing it first would leave the packet out of its interval.
        if let Some(end) = probe
            .next_end
            .filter(|&end| end <= packet && due(end) <= now)
        {
            probe.tick_until(end);
            continue;
        }
        if now >= until {
            return true;
        }
        let next = probe.next_end.map_or(until, |end| due(end).min(until));
        let next = deadline.map_or(next, |d| d.min(next));
        // Short naps: a signal is seen within 50 ms.
        let nap = (next - now).clamp(0, 50_000_000);
        std::thread::sleep(Duration::from_nanos(nap as u64));
    }
}

/// The output thread: newline-delimited JSON, or a table per interval.
fn write_output(rx: Receiver<Line>, json: bool) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut flows: Vec<Box<analysis::interval::FlowRecord>> = Vec::new();
    let mut events: Vec<Box<analysis::interval::EventRecord>> = Vec::new();
    for line in rx {
        match (line, json) {
            (Line::Record(r), true) => {
                match r {
                    Record::Flow(f) => serde_json::to_writer(&mut out, &f)?,
                    Record::Event(e) => serde_json::to_writer(&mut out, &e)?,
                }
                out.write_all(b"\n")?;
            }
            (Line::Probe(p), true) => {
                serde_json::to_writer(&mut out, &p)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
            (Line::Record(Record::Flow(f)), false) => flows.push(f),
            (Line::Record(Record::Event(e)), false) => events.push(e),
            (Line::Probe(p), false) => {
                crate::table::write_interval(&mut out, &p.time, p.interval_s, &mut flows, &events)?;
                writeln!(
                    out,
                    "probe: {} packets, {} of {} flows active, {} records dropped by the output, pass {}\n",
                    p.packets, p.active_flows, p.flows, p.output_dropped, p.pass
                )?;
                out.flush()?;
                flows.clear();
                events.clear();
            }
        }
    }
    out.flush()
}

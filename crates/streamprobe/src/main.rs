//! streamprobe: finds every video stream in a capture and says how healthy it is.

mod alarm_config;
mod alarm_stage;
mod config;
mod history;
mod huge;
mod live;
mod manpage;
mod mirror;
mod output;
mod reload;
mod run;
mod service;
mod show;
mod stdout_sink;
mod table;

use analysis::ts_file::{PcrTimeline, TsFileAnalyzer};
use analysis::{AnalysisConfig, Analyzer};
use capture::{InputFile, PcapFileSource, Record, TsFileSource, TsUnit};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: huge::HugePageAllocator = huge::HugePageAllocator;

/// Watches video streams (RTP, MPEG-TS) and measures their transport health.
#[derive(Debug, Parser)]
#[command(name = "streamprobe", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of `run`'s options costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse a pcap/pcapng capture or a TS recording: every RTP and MPEG-TS stream found,
    /// with loss, duplicates, reordering, jitter (RFC 3550), frame rate, bitrate, MDI
    /// (RFC 4445), TR 101 290 events and the SLA of its monitor group.
    Analyze(AnalyzeArgs),
    /// Run as a probe: capture from an interface, join multicast groups, or replay a capture,
    /// and report every stream every interval (newline-delimited JSON
    /// `streamprobe.interval/1` or a live table), with events when a stream appears, goes
    /// silent, comes back, changes SSRC or is forgotten.
    Run(run::RunArgs),
    /// Show a running probe's flows through its API, Monitube's columns (Last, Max, Min and
    /// Average MDI as DF:MLR, Total Loss), or one flow's history with --flow.
    Show(show::ShowArgs),
    /// Zero the statistics `show` prints (every flow's, or one group's); the store's history
    /// and the /metrics counters stay.
    Clear(show::ClearArgs),
    /// Write the manual pages (streamprobe.1, one per subcommand) into a folder.
    #[command(hide = true)]
    Man(manpage::ManArgs),
}

#[derive(Debug, clap::Args)]
struct AnalyzeArgs {
    /// The capture file (pcap or pcapng), or a raw MPEG-TS recording (.ts, .m2ts).
    file: PathBuf,
    /// Write the JSON document `streamprobe.analyze/1` instead of the table.
    #[arg(long)]
    json: bool,
    /// Every column in the table (payload, sequence jumps, mean jitter, largest gap, MLR,
    /// group); the default ones fit 120 columns.
    #[arg(long)]
    wide: bool,
    /// TOML config file: monitor groups with media rates and SLA limits, discovery payload types, probation, clock rates.
    #[arg(long, env = "STREAMPROBE_CONFIG")]
    config: Option<PathBuf>,
    /// List non-media UDP flows too (kind `udp`).
    #[arg(long)]
    all_flows: bool,
    /// Consecutive sequence numbers that confirm a stream (overrides the config).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=16))]
    probation: Option<u8>,
    /// The analysis state's budget, MiB (default a quarter of physical memory; `[limits]
    /// max_state_mb`): past it new flows are refused and counted (`capture.refused_state`),
    /// the flows already found go on being measured.
    #[arg(long, env = "STREAMPROBE_MAX_STATE_MB", value_parser = clap::value_parser!(u32).range(config::MIN_STATE_MB as i64..))]
    max_state_mb: Option<u32>,
    /// Print to stderr how long reading and analysing took, in packets per second of wall
    /// time and per second of CPU time, and how long the report took.
    #[arg(long)]
    timing: bool,
    /// Show a progress bar: auto (on a terminal), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    progress: String,
}

/// Records read between two progress updates.
const BATCH: usize = 4096;

#[derive(Serialize)]
struct AnalyzeDocument<'a> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a analysis::AnalysisReport,
}

/// Pass over a pcap/pcapng capture.
fn analyze_capture(
    source: &PcapFileSource,
    config: AnalysisConfig,
    show_progress: bool,
    unsupported_link: &mut bool,
) -> analysis::AnalysisReport {
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(source.size());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template"),
        );
        bar
    });
    let mut analyzer = Analyzer::new(config);
    let mut reader = source.reader();
    // Frames borrow the mapped file, so they are handed to the analyzer in groups, which it
    // decodes and looks up together (see `Analyzer::on_frames`).
    let mut group = Vec::with_capacity(analysis::analyzer::LANES);
    while reader.read_batch(BATCH, |record| match record {
        Record::Frame(f) => {
            *unsupported_link |= matches!(f.link, wire::LinkType::Unknown(_));
            group.push(f);
            if group.len() == analysis::analyzer::LANES {
                analyzer.on_frames(&group);
                group.clear();
            }
        }
        Record::Skipped(reason) => analyzer.skip(reason),
    }) {
        if let Some(bar) = &bar {
            bar.set_position(reader.position());
        }
    }
    analyzer.on_frames(&group);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    analyzer.finish()
}

/// Two passes over a raw TS recording: its PCRs give the packet times, then the analysis.
fn analyze_recording(
    source: &TsFileSource,
    config: &AnalysisConfig,
    path: &std::path::Path,
) -> analysis::AnalysisReport {
    let mut timeline = PcrTimeline::default();
    source.read(|unit| {
        if let TsUnit::Packet(p) = unit {
            timeline.on_packet(p)
        }
    });
    let mut analyzer = TsFileAnalyzer::new(config, timeline.finish());
    if !analyzer.has_time() {
        eprintln!("warning: {}: fewer than two PCRs, so no packet times: repetition, PCR, PTS and PID_error checks are not judged", path.display());
    }
    source.read(|unit| match unit {
        TsUnit::Packet(p) => analyzer.on_packet(p),
        TsUnit::Resync(bytes) => analyzer.on_resync(bytes),
    });
    analyzer.finish(
        &path.display().to_string(),
        source.size(),
        source.leading_garbage(),
    )
}

fn analyze(args: &AnalyzeArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => config::load(path)?,
        None => AnalysisConfig::default(),
    };
    if let Some(p) = args.probation {
        config.probation = p;
    }
    config.max_state_bytes = run::state_budget(args.max_state_mb, config.max_state_bytes);
    let input = InputFile::open(&args.file).map_err(|e| e.to_string())?;
    let show_progress = match args.progress.as_str() {
        "always" => true,
        "never" => false,
        _ => std::io::stderr().is_terminal(),
    };
    let t0 = std::time::Instant::now();
    let cpu0 = process_cpu_s();
    let mut unsupported_link = false;
    let mut report = match &input {
        InputFile::Capture(source) => {
            analyze_capture(source, config, show_progress, &mut unsupported_link)
        }
        InputFile::Ts(source) => analyze_recording(source, &config, &args.file),
    };
    let t1 = std::time::Instant::now();
    let analysis_s = (t1 - t0).as_secs_f64();
    let analysis_cpu_s = process_cpu_s() - cpu0;
    report.capture.file = args.file.display().to_string();
    if !args.all_flows {
        report.flows.retain(|f| f.kind.is_media());
    }
    let skipped = &report.capture.skipped;
    run::warn_damaged_file(
        &args.file,
        skipped["record_truncated"],
        skipped["record_corrupt"],
    );
    if unsupported_link {
        eprintln!("warning: {}: some interfaces have a link type streamprobe does not decode (counted as unsupported_link_type)", args.file.display());
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = if args.json {
        let doc = AnalyzeDocument {
            schema: "streamprobe.analyze/1",
            report: &report,
        };
        serde_json::to_writer_pretty(&mut out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        table::write(&mut out, &report, args.wide)
    };
    let written = written.and_then(|()| out.flush());
    if args.timing {
        let packets = report.capture.packets;
        eprintln!(
            "timing: {packets} packets read and analysed in {analysis_s:.3} s = {:.0} packets/s; \
             {analysis_cpu_s:.3} s of CPU = {:.0} packets per CPU second; report in {:.3} s",
            packets as f64 / analysis_s.max(1e-9),
            packets as f64 / analysis_cpu_s.max(1e-9),
            t1.elapsed().as_secs_f64()
        );
    }
    match written {
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| format!("writing the report: {e}")),
    }
}

/// CPU time this process has used, in seconds (user and system, all threads): see
/// [`run::cpu_time_ns`] for why `--timing` gives it beside the wall clock.
fn process_cpu_s() -> f64 {
    run::cpu_time_ns(libc::CLOCK_PROCESS_CPUTIME_ID) as f64 * 1e-9
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Run(args) => run::run(args),
        Command::Show(args) => show::show(args),
        Command::Clear(args) => show::clear(args),
        Command::Man(args) => manpage::write(<Cli as clap::CommandFactory>::command(), &args.out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

//! `streamprobe run`: the live probe. Its settings (flags, environment, the config file's
//! `[run]` table), and its replay source: a capture at its recorded pace (or N times faster),
//! optionally looping, analysed by one worker. Live sources (interfaces, multicast joins)
//! and their workers are in `live.rs`. Every interval each flow that sent packets gets a
//! `streamprobe.interval/1` record, flows get events, and the probe reports its own health.
//! Records go to the output thread over a bounded channel: a slow output loses records
//! (counted), it never holds the analysis up.

use crate::output::{IntervalCloser, Line};
use crate::service::Service;
use analysis::analyzer::LANES;
use analysis::{AnalysisConfig, Analyzer};
use capture::Record as CaptureRecord;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wire::link::Frame;
use wire::SkipReason;

/// Options of `streamprobe run`. Every flag is also an environment variable, and a key of the
/// config file's `[run]` table (flags win).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Capture from this network interface (AF_PACKET ring; needs CAP_NET_RAW).
    #[arg(long, env = "STREAMPROBE_INTERFACE", value_name = "IFACE")]
    pub interface: Option<String>,
    /// Kernel filter for --interface, in tcpdump syntax, e.g. "udp and dst net 239.0.0.0/8".
    #[arg(long, env = "STREAMPROBE_FILTER", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Put --interface in promiscuous mode while capturing (a SPAN port or tap needs it
    /// unless the traffic is addressed to this host).
    #[arg(long, env = "STREAMPROBE_PROMISCUOUS")]
    pub promiscuous: bool,
    /// Capture ring of each worker, MiB (default 64).
    #[arg(long, env = "STREAMPROBE_RING_MB", value_parser = clap::value_parser!(u32).range(4..=65536))]
    pub ring_mb: Option<u32>,
    /// Join a multicast group: GROUP:PORT (any source) or SOURCE@GROUP:PORT (source-specific),
    /// IPv6 as [ff3e::1]:5000. Repeat, or separate with commas.
    #[arg(
        long,
        env = "STREAMPROBE_JOIN",
        value_name = "[SOURCE@]GROUP:PORT",
        value_delimiter = ','
    )]
    pub join: Vec<capture::multicast::Join>,
    /// Interface to join the groups on (default: the one the route to the group names).
    #[arg(long, env = "STREAMPROBE_JOIN_INTERFACE", value_name = "IFACE")]
    pub join_interface: Option<String>,
    /// Receive buffer of each joined group's socket, MiB (above net.core.rmem_max needs
    /// CAP_NET_ADMIN).
    #[arg(long, env = "STREAMPROBE_RCVBUF_MB", value_parser = clap::value_parser!(u32).range(1..=2047))]
    pub rcvbuf_mb: Option<u32>,
    /// Replay this pcap/pcapng capture at its recorded pace, as if its packets were arriving
    /// now (one worker; not combined with live sources).
    #[arg(long, env = "STREAMPROBE_REPLAY", value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Replay this many times faster than recorded (default 1). Figures are those of the
    /// capture at any speed: packet times keep their recorded spacing; only the wall clock
    /// runs faster.
    #[arg(long, env = "STREAMPROBE_SPEED", value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Start the capture over at its end (the next pass starts 100 ms after the last packet).
    #[arg(long = "loop", env = "STREAMPROBE_LOOP")]
    pub repeat: bool,
    /// Analysis workers, each with its own share of the flows (default: one per core).
    #[arg(long, env = "STREAMPROBE_WORKERS", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: Option<u32>,
    /// Interval between records, in seconds (default 1).
    #[arg(long, env = "STREAMPROBE_INTERVAL", value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub interval: Option<u32>,
    /// Report a flow silent after this many seconds without a packet (default 2).
    #[arg(long, env = "STREAMPROBE_SILENT_AFTER", value_parser = parse_seconds)]
    pub silent_after: Option<f64>,
    /// Forget a flow after this many seconds without a packet (default 300).
    #[arg(long, env = "STREAMPROBE_EXPIRE_AFTER", value_parser = parse_seconds)]
    pub expire_after: Option<f64>,
    /// Most flows (UDP 4-tuples) tracked at once, all workers together (default 1,000,000).
    /// Past it the longest-idle flows are evicted at each interval and new ones are not
    /// tracked until there is room; both are counted.
    #[arg(long, env = "STREAMPROBE_MAX_FLOWS", value_parser = clap::value_parser!(u32).range(16..))]
    pub max_flows: Option<u32>,
    /// The analysis state's budget, MiB, all workers together (default a quarter of physical
    /// memory; `[limits] max_state_mb`): past it new flows are refused and counted
    /// (`refused_state`), the flows already found go on being measured.
    #[arg(long, env = "STREAMPROBE_MAX_STATE_MB", value_parser = clap::value_parser!(u32).range(crate::config::MIN_STATE_MB as i64..))]
    pub max_state_mb: Option<u32>,
    /// Stop after this many seconds (wall clock), flushing the interval in progress.
    #[arg(long, env = "STREAMPROBE_DURATION", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Write newline-delimited JSON records (`streamprobe.interval/1`) instead of the table.
    #[arg(long, env = "STREAMPROBE_JSON")]
    pub json: bool,
    /// TOML config file: a `[run]` table with the keys of these flags (sources included),
    /// `[store]`, `[api]` and `[metrics]` tables (`[api] listen` = `--api-listen` =
    /// STREAMPROBE_API_LISTEN), monitor groups with media rates and SLA limits, discovery
    /// settings, clock rates. Re-read on SIGHUP and `POST /api/v1/config`.
    #[arg(long, env = "STREAMPROBE_CONFIG")]
    pub config: Option<PathBuf>,
    /// History store: a file path, `sqlite:PATH`, or `none` (default `streamprobe.db` in
    /// the working directory; `[store] url`, also STREAMPROBE_STORE_URL). One probe per
    /// store file.
    #[arg(
        long,
        visible_alias = "store-url",
        env = "STREAMPROBE_STORE",
        value_name = "PATH|none"
    )]
    pub store: Option<String>,
    /// The store's size cap, e.g. "10 GB" (the default), "500 MiB" or bytes; it wins over
    /// the tiers' ages, oldest per-second detail pruned first (`[store] max_size`).
    #[arg(long, env = "STREAMPROBE_STORE_MAX_SIZE", value_name = "SIZE", value_parser = crate::config::parse_size)]
    pub store_max_size: Option<u64>,
    /// Serve the REST API and /metrics on ADDR:PORT, or `none` (default 127.0.0.1:8080;
    /// port 0 picks a free one; `[api] listen`).
    #[arg(
        long = "api-listen",
        visible_alias = "api",
        env = "STREAMPROBE_API_LISTEN",
        value_name = "ADDR|none"
    )]
    pub api_listen: Option<String>,
    /// The API's bearer token file (default `streamprobe.token` beside the store, made at
    /// first start with mode 0600; `[api] token_file`).
    #[arg(long, env = "STREAMPROBE_API_TOKEN_FILE", value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Reading the API needs the token too (`[api] read_token`).
    #[arg(long, env = "STREAMPROBE_API_READ_TOKEN")]
    pub api_read_token: bool,
    /// Flows with per-flow series on /metrics at most (default 10,000; group and probe
    /// series are always there; `[metrics] max_flow_series`).
    #[arg(long, env = "STREAMPROBE_METRICS_MAX_FLOW_SERIES", value_name = "N")]
    pub metrics_max_flow_series: Option<u32>,
}

/// The default API address: loopback only, secure by default.
pub const DEFAULT_API: &str = "127.0.0.1:8080";
/// The default store file, in the working directory.
pub const DEFAULT_STORE: &str = "streamprobe.db";
/// The default store size cap, bytes.
pub const DEFAULT_STORE_MAX_SIZE: u64 = 10_000_000_000;
/// Per-flow series on /metrics by default.
pub const DEFAULT_MAX_FLOW_SERIES: usize = 10_000;

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

/// A capture file replayed.
#[derive(Clone, Debug)]
pub struct ReplaySource {
    /// The file.
    pub file: PathBuf,
    /// Times faster than recorded.
    pub speed: f64,
    /// Start over at the end.
    pub repeat: bool,
}

/// An interface captured.
#[derive(Clone, Debug)]
pub struct InterfaceSource {
    /// Its name.
    pub name: String,
    /// Kernel filter, tcpdump syntax.
    pub filter: Option<String>,
    /// Promiscuous mode.
    pub promiscuous: bool,
    /// Ring per worker, bytes.
    pub ring_bytes: usize,
}

/// Everything `run` needs, from the flags, the environment and the config file.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Analysis settings (groups, discovery, clock rates).
    pub analysis: AnalysisConfig,
    /// Interface to capture.
    pub interface: Option<InterfaceSource>,
    /// Groups to join.
    pub joins: Vec<capture::multicast::Join>,
    /// Interface of the joins.
    pub join_interface: Option<String>,
    /// Receive buffer of each joined socket, bytes.
    pub rcvbuf: Option<usize>,
    /// Capture to replay.
    pub replay: Option<ReplaySource>,
    /// Workers.
    pub workers: usize,
    /// Interval, ns.
    pub interval_ns: i64,
    /// Silence threshold, ns.
    pub silent_after_ns: i64,
    /// Idle time after which a flow is forgotten, ns.
    pub expire_after_ns: i64,
    /// Flow cap, all workers together.
    pub max_flows: usize,
    /// Stop after, seconds.
    pub duration: Option<f64>,
    /// NDJSON output.
    pub json: bool,
    /// The config file, for reloads, its text as read at start and its `[run]` and service
    /// tables (what a reload's need a restart to change).
    pub config_path: Option<PathBuf>,
    pub config_text: String,
    pub config_run: crate::config::RunConfig,
    /// The history store's file; None: no store.
    pub store: Option<PathBuf>,
    /// Its size cap, bytes.
    pub store_max_size: u64,
    /// The API's address; None: no API.
    pub api: Option<std::net::SocketAddr>,
    /// The token file.
    pub api_token_file: PathBuf,
    /// Reads need the token.
    pub api_read_token: bool,
    /// Per-flow series on /metrics at most.
    pub max_flow_series: usize,
    /// How alarms are judged (`[alarms]`).
    pub alarms: analysis::alarm::AlarmSettings,
}

/// `--store`'s value: a path, `sqlite:PATH`, or `none`.
pub fn store_path(url: &str) -> Result<Option<PathBuf>, String> {
    let url = url.trim();
    if url == "none" {
        return Ok(None);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(format!("--store {url}: PostgreSQL stores are not supported yet (they come with `streamprobe collect`); give a file path, sqlite:PATH or none"));
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() {
        return Err("--store: an empty path; give a file path, sqlite:PATH or none".into());
    }
    Ok(Some(PathBuf::from(path)))
}

/// `--api-listen`'s value: ADDR:PORT or `none`.
pub fn api_address(text: &str) -> Result<Option<std::net::SocketAddr>, String> {
    if text.trim() == "none" {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        format!("--api-listen {text}: an address and port such as 127.0.0.1:8080 or [::1]:8080, or none")
    })
}

/// The state budget in bytes: the flag (or its environment variable), else the config's
/// (`configured`, `usize::MAX` when it sets none), else a quarter of the memory there is
/// (physical memory, or the cgroup's limit when lower).
pub fn state_budget(flag_mb: Option<u32>, configured: usize) -> usize {
    match flag_mb {
        Some(mb) => mb as usize * (1 << 20),
        None if configured != usize::MAX => configured,
        None => {
            // SAFETY: sysconf reads a system constant.
            let (pages, size) = unsafe {
                (
                    libc::sysconf(libc::_SC_PHYS_PAGES),
                    libc::sysconf(libc::_SC_PAGESIZE),
                )
            };
            let physical = if pages > 0 && size > 0 {
                (pages as usize).saturating_mul(size as usize)
            } else {
                4 << 30
            };
            // In a container the cgroup's limit, not the host's memory, is what there is.
            let cgroup = [
                "/sys/fs/cgroup/memory.max",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            ]
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .filter_map(|s| s.trim().parse::<usize>().ok())
            .min()
            .unwrap_or(usize::MAX);
            physical.min(cgroup) / 4
        }
    }
}

/// Flags over config file over defaults; one error line naming what is wrong.
pub fn settings(args: &RunArgs) -> Result<Settings, String> {
    let (config_text, mut analysis, file) = match &args.config {
        Some(path) => crate::config::load_text_with_run(path)?,
        None => (
            String::new(),
            AnalysisConfig::default(),
            crate::config::RunConfig::default(),
        ),
    };
    let file_run = file.clone();
    let interface = args.interface.clone().or(file.interface);
    let filter = args.filter.clone().or(file.filter);
    let joins = if args.join.is_empty() {
        file.join
    } else {
        args.join.clone()
    };
    let join_interface = args.join_interface.clone().or(file.join_interface);
    let replay = args.replay.clone().or(file.replay);
    if filter.is_some() && interface.is_none() {
        return Err("--filter applies to --interface, which is not given".into());
    }
    if join_interface.is_some() && joins.is_empty() {
        return Err("--join-interface applies to --join, which is not given".into());
    }
    if replay.is_some() && (interface.is_some() || !joins.is_empty()) {
        return Err("--replay runs alone: its packet times are the capture's, not the network's; drop --interface/--join or --replay".into());
    }
    if replay.is_none() && interface.is_none() && joins.is_empty() {
        return Err("no source: give --interface IFACE, --join [SOURCE@]GROUP:PORT or --replay FILE (or a [run] table in --config)".into());
    }
    analysis.max_state_bytes = state_budget(args.max_state_mb, analysis.max_state_bytes);
    let service = file.service.clone();
    // `[store] url` = `--store-url` = STREAMPROBE_STORE_URL, as the settings layout has it;
    // `--store` and STREAMPROBE_STORE are the short forms.
    let env_url = std::env::var("STREAMPROBE_STORE_URL").ok();
    let store = store_path(
        args.store
            .as_deref()
            .or(env_url.as_deref())
            .or(service.store_url.as_deref())
            .unwrap_or(DEFAULT_STORE),
    )?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut workers = args.workers.or(file.workers).map_or(cores, |w| w as usize);
    if replay.is_some() {
        workers = 1;
    } else if interface.is_none() {
        // A joined group's socket is read by one worker: more workers than groups idle.
        workers = workers.min(joins.len());
    }
    Ok(Settings {
        analysis,
        interface: interface.map(|name| InterfaceSource {
            name,
            filter,
            promiscuous: args.promiscuous || file.promiscuous.unwrap_or(false),
            ring_bytes: args.ring_mb.or(file.ring_mb).unwrap_or(64) as usize * (1 << 20),
        }),
        joins,
        join_interface,
        rcvbuf: args
            .rcvbuf_mb
            .or(file.rcvbuf_mb)
            .map(|mb| mb as usize * (1 << 20)),
        replay: replay.map(|file_path| ReplaySource {
            file: file_path,
            speed: args.speed.or(file.speed).unwrap_or(1.0),
            repeat: args.repeat || file.repeat.unwrap_or(false),
        }),
        workers,
        interval_ns: i64::from(args.interval.or(file.interval).unwrap_or(1)) * NS,
        silent_after_ns: (args.silent_after.or(file.silent_after).unwrap_or(2.0) * 1e9) as i64,
        expire_after_ns: (args.expire_after.or(file.expire_after).unwrap_or(300.0) * 1e9) as i64,
        max_flows: args.max_flows.or(file.max_flows).unwrap_or(1_000_000) as usize,
        duration: args.duration.or(file.duration),
        json: args.json || file.json.unwrap_or(false),
        config_path: args.config.clone(),
        config_text,
        config_run: file_run,
        store: store.clone(),
        store_max_size: args
            .store_max_size
            .or(service.store_max_size)
            .unwrap_or(DEFAULT_STORE_MAX_SIZE),
        api: api_address(
            args.api_listen
                .as_deref()
                .or(service.api_listen.as_deref())
                .unwrap_or(DEFAULT_API),
        )?,
        // Beside the store by default, so the store's folder holds the probe's state.
        api_token_file: args
            .api_token_file
            .clone()
            .or(service.api_token_file.clone())
            .unwrap_or_else(|| {
                store
                    .as_deref()
                    .and_then(|s| s.parent())
                    .unwrap_or(std::path::Path::new(""))
                    .join(crate::show::TOKEN_FILE)
            }),
        api_read_token: args.api_read_token || service.api_read_token.unwrap_or(false),
        max_flow_series: args
            .metrics_max_flow_series
            .or(service.metrics_max_flow_series)
            .map_or(DEFAULT_MAX_FLOW_SERIES, |n| n as usize),
        alarms: service.alarms.settings,
    })
}

const NS: i64 = 1_000_000_000;
/// Pause between two passes of a looped replay, ns of packet time.
const LOOP_GAP_NS: i64 = 100_000_000;

/// CPU time used so far by this thread (`libc::CLOCK_THREAD_CPUTIME_ID`) or this process
/// (`libc::CLOCK_PROCESS_CPUTIME_ID`), ns; 0 if the clock cannot be read.
///
/// A worker's load and `analyze --timing` use it rather than the wall clock: on a shared
/// virtual machine the wall clock also runs while the hypervisor gives the core to other
/// guests (steal), which the kernel's paravirtual time accounting leaves out of CPU time, and
/// while the thread waits (for the output, for the kernel). On a dedicated core the two agree.
pub fn cpu_time_ns(clock: libc::clockid_t) -> i64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to write; both clock ids are constants
    // the kernel has supported since Linux 2.6.12.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    if rc != 0 {
        return 0;
    }
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// This thread's CPU time since `*last` (a reading of [`cpu_time_ns`] for this thread),
/// which becomes now: a worker's load over an interval.
pub fn thread_cpu_since(last: &mut i64) -> i64 {
    let now = cpu_time_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    now - std::mem::replace(last, now)
}

/// Now, ns since the Unix epoch.
pub fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Stops on SIGINT or SIGTERM: the flag they set.
fn stop_flag() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}

/// Runs the probe until its sources end (a replay without --loop), --duration passes, or
/// SIGINT or SIGTERM arrives; the interval in progress is flushed on the way out.
pub fn run(args: &RunArgs) -> Result<(), String> {
    crate::reload::catch_sighup()?;
    let settings = settings(args)?;
    match &settings.replay {
        Some(replay) => run_replay(&settings, replay),
        None => crate::live::run(&settings, stop_flag()?),
    }
}

/// The warnings a damaged capture file gets, from `analyze` and `run --replay` alike.
pub fn warn_damaged_file(file: &std::path::Path, truncated: u64, corrupt: u64) {
    if truncated > 0 {
        eprintln!("warning: {}: the file ends inside a record (truncated capture); figures cover the records before it", file.display());
    }
    if corrupt > 0 {
        eprintln!("warning: {}: {corrupt} corrupt record(s) skipped (a block naming an undescribed interface is skipped; an impossible record header stops reading there)", file.display());
    }
}

/// The analysis side of a replay: ticks, records, interval reports, and the channel to the
/// output.
struct Probe {
    analyzer: Analyzer,
    /// The mirrors' side of this worker (crates/tap): offered each batch first.
    tap: tap::WorkerTap,
    closer: IntervalCloser,
    interval_ns: i64,
    /// End of the interval in progress (packet time).
    next_end: Option<i64>,
    pass: u64,
    /// Packet time of the first packet: the first interval is counted from there.
    started: i64,
    /// This thread's CPU time at the last tick: what it used since is its load.
    last_cpu_ns: i64,
}

impl Probe {
    /// Analyses a batch of frames, after the taps have copied the mirrored ones.
    fn on_frames(&mut self, frames: &[Frame<'_>]) {
        self.tap.on_frames(frames);
        self.analyzer.on_frames(frames);
    }

    /// Closes the interval ending at `end` (of length `length` ns); `source_ended` when the
    /// replay ran to its end.
    fn tick(&mut self, end: i64, length: i64, source_ended: bool) {
        let mut report = self
            .closer
            .close(&mut self.analyzer, end, length, source_ended);
        report.pass = Some(self.pass);
        report.busy_ns = thread_cpu_since(&mut self.last_cpu_ns);
        // The replay paces itself: waiting for the output here holds up packet time only.
        if self
            .closer
            .out
            .send(Line::Report(Box::new(report)))
            .is_err()
        {
            self.closer.output_closed = true;
        }
    }

    /// Closes every interval that ends at or before `now` (packet time).
    fn tick_until(&mut self, now: i64) {
        while let Some(end) = self.next_end.filter(|&end| end <= now) {
            self.tick(end, self.interval_ns.min(end - self.started), false);
            self.next_end = Some(end + self.interval_ns);
        }
    }
}

/// Replays a capture until it ends (without --loop), --duration passes, or SIGINT or
/// SIGTERM arrives; the interval in progress is flushed on the way out.
fn run_replay(settings: &Settings, replay: &ReplaySource) -> Result<(), String> {
    let source = match capture::InputFile::open(&replay.file).map_err(|e| e.to_string())? {
        capture::InputFile::Capture(source) => source,
        capture::InputFile::Ts(_) => {
            return Err(format!(
                "{}: an MPEG-TS recording has no arrival times to replay; give a pcap or pcapng capture (`streamprobe analyze` reads recordings)",
                replay.file.display()
            ))
        }
    };
    let stop = stop_flag()?;
    let service = Service::start(settings, 1)?;
    let mut analysis = settings.analysis.clone();
    analysis.max_flows = settings.max_flows;
    let mut probe = Probe {
        analyzer: Analyzer::new(analysis),
        tap: service.taps.worker(0),
        closer: IntervalCloser::new(
            0,
            service.tx.clone(),
            settings.silent_after_ns,
            settings.expire_after_ns,
        )
        .follow(Arc::clone(&service.config)),
        interval_ns: settings.interval_ns,
        next_end: None,
        pass: 0,
        started: 0,
        last_cpu_ns: cpu_time_ns(libc::CLOCK_THREAD_CPUTIME_ID),
    };
    let wall_start = wall_ns();
    let deadline = settings.duration.map(|d| wall_start + (d * 1e9) as i64);
    let speed = replay.speed;
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
                    probe.on_frames(&group);
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
                    probe.on_frames(&group);
                    group.clear();
                    if !wait_until(&mut probe, t, &due, &stop, deadline) {
                        stopped = true;
                        break;
                    }
                    clock = wall_ns();
                }
                group.push(f);
                if group.len() == LANES {
                    probe.on_frames(&group);
                    group.clear();
                }
            }
            if stopped || !more {
                break;
            }
            if stop.load(Ordering::Relaxed)
                || deadline.is_some_and(|d| wall_ns() >= d)
                || probe.closer.output_closed
            {
                stopped = true;
                break;
            }
        }
        probe.on_frames(&group);
        group.clear();
        if probe.pass == 1 {
            // Once, after the first pass, as `analyze` warns.
            let skipped = probe.analyzer.skipped();
            warn_damaged_file(
                &replay.file,
                skipped[SkipReason::RecordTruncated.index()],
                skipped[SkipReason::RecordCorrupt.index()],
            );
        }
        if stopped || !replay.repeat || first_of_pass {
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
    let dropped = probe.closer.dropped;
    drop(probe);
    service.finish(dropped)
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
        if stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || probe.closer.output_closed
        {
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

//! Config reload while the probe runs: on SIGHUP (the config file read again) and on
//! `POST /api/v1/config` (the TOML given, then written to the config file atomically, so a
//! later SIGHUP keeps it).
//!
//! A new config is parsed and checked whole before anything changes: a bad one is refused
//! with the same one-line error as at start-up (`FILE:LINE:COL: what`) and the running one
//! stays. A good one is published with a new generation number; each worker takes it when
//! it next closes an interval (never on the packet path), and the live view takes its
//! groups. What cannot change live (sources, ring sizes, workers, the API's address, the
//! store) is reported as needing a restart.

use crate::config::{parse_with_run, RunConfig};
use analysis::AnalysisConfig;
use api::routes::ConfigOutcome;
use outputs::live_view::GroupInfo;
use outputs::LiveView;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The config in force, shared by the workers, the API and the SIGHUP thread.
pub struct LiveConfig {
    path: Option<PathBuf>,
    generation: AtomicU64,
    analysis: RwLock<Arc<AnalysisConfig>>,
    /// The text in force.
    text: Mutex<String>,
    /// The `[run]` and service tables the probe started with: what a new config's differ
    /// from needs a restart (however many configs were applied since).
    running: RunConfig,
    /// Held across a reload (reading the file, checking, applying, writing back), so that a
    /// SIGHUP and a POST never interleave.
    reloading: Mutex<()>,
    view: Arc<LiveView>,
}

/// The groups as the live view lists them.
pub fn group_infos(config: &AnalysisConfig) -> Vec<GroupInfo> {
    config
        .groups
        .groups()
        .iter()
        .map(|g| GroupInfo {
            name: g.name.clone(),
            media_rate_bps: Some(g.media_rate_bps as f64),
            prefixes: g.prefixes.iter().map(|p| p.to_string()).collect(),
        })
        .collect()
}

impl LiveConfig {
    /// The config the probe started with: `text` and `run` as [`crate::run::settings`] read
    /// and parsed them (empty without a file), so that what it reports in force is what
    /// runs, even if the file changed since.
    pub fn new(
        path: Option<PathBuf>,
        text: String,
        run: RunConfig,
        analysis: AnalysisConfig,
        view: Arc<LiveView>,
    ) -> Result<Arc<Self>, String> {
        Ok(Arc::new(LiveConfig {
            path,
            generation: AtomicU64::new(0),
            analysis: RwLock::new(Arc::new(analysis)),
            text: Mutex::new(text),
            running: run,
            reloading: Mutex::new(()),
            view,
        }))
    }

    /// The analysis config, when it changed since generation `seen` (which becomes the
    /// current one).
    pub fn changed_since(&self, seen: &mut u64) -> Option<Arc<AnalysisConfig>> {
        let now = self.generation.load(Ordering::Acquire);
        if now == *seen {
            return None;
        }
        *seen = now;
        Some(Arc::clone(
            &self.analysis.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    /// Reads the config file again (SIGHUP).
    pub fn reload_file(&self) -> Result<ConfigOutcome, String> {
        let Some(path) = &self.path else {
            return Err(
                "SIGHUP: the probe was started without --config: nothing to read again".into(),
            );
        };
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        self.apply_now(&text, false)
    }

    /// Checks `text` and applies it; with `write_back`, also writes it to the config file
    /// (atomically: a temporary file, with the file's permissions, renamed over it).
    pub fn apply(&self, text: &str, write_back: bool) -> Result<ConfigOutcome, String> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        self.apply_now(text, write_back)
    }

    fn apply_now(&self, text: &str, write_back: bool) -> Result<ConfigOutcome, String> {
        let Some(path) = &self.path else {
            return Err("the probe was started without --config: a config posted could not be kept (start it with --config FILE)".into());
        };
        let folder = path.parent().unwrap_or(std::path::Path::new("."));
        let (mut analysis, run) =
            parse_with_run(text, folder).map_err(|(offset, msg)| match offset {
                Some(o) => {
                    let (line, col) = crate::config::line_col(text, o);
                    format!("{}:{line}:{col}: {msg}", path.display())
                }
                None => format!("{}: {msg}", path.display()),
            })?;
        let old = Arc::clone(&self.analysis.read().unwrap_or_else(|e| e.into_inner()));
        // The sizing stays as the probe started.
        analysis.max_state_bytes = old.max_state_bytes;
        analysis.max_flows = old.max_flows;
        let mut outcome = ConfigOutcome::default();
        if analysis.groups != old.groups {
            outcome.applied.push("group".into());
        }
        if analysis.probation != old.probation
            || analysis.rtp_payload_types != old.rtp_payload_types
        {
            outcome
                .applied
                .push("discovery (for flows found from now on)".into());
        }
        if analysis.clock_rates != old.clock_rates {
            outcome
                .applied
                .push("rtp.clock_rates (for flows found from now on)".into());
        }
        outcome.restart_needed = restart_needed(&self.running, &run);
        if write_back {
            write_atomically(path, text)
                .map_err(|e| format!("{}: cannot write the config: {e}", path.display()))?;
        }
        self.view.write().groups = group_infos(&analysis);
        *self.analysis.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(analysis);
        self.generation.fetch_add(1, Ordering::Release);
        *self.text.lock().unwrap_or_else(|e| e.into_inner()) = text.to_string();
        Ok(outcome)
    }

    /// The text in force.
    pub fn text(&self) -> String {
        let text = self.text.lock().unwrap_or_else(|e| e.into_inner());
        if text.is_empty() && self.path.is_none() {
            "# started without --config: every setting at its default or from flags\n".into()
        } else {
            text.clone()
        }
    }
}

/// Writes `text` to `path` through a temporary file beside it, with the file's permissions
/// (a config may hold what only its owner should read), flushed, then renamed over it: a
/// reader sees the old file or the new one, never a part.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_extension("toml.new");
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    // Made with the file's mode from the start: never readable by more than the file is.
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself on disk.
        if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
            std::fs::File::open(folder)?.sync_all()?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The keys of `[run]`, `[store]`, `[api]` and `[metrics]` that differ: they take effect at
/// the next start.
fn restart_needed(old: &RunConfig, new: &RunConfig) -> Vec<String> {
    let mut keys = Vec::new();
    let mut check = |key: &str, differs: bool| {
        if differs {
            keys.push(key.to_string());
        }
    };
    check("run.interface", old.interface != new.interface);
    check("run.filter", old.filter != new.filter);
    check("run.promiscuous", old.promiscuous != new.promiscuous);
    check("run.ring_mb", old.ring_mb != new.ring_mb);
    check("run.join", old.join != new.join);
    check(
        "run.join_interface",
        old.join_interface != new.join_interface,
    );
    check("run.rcvbuf_mb", old.rcvbuf_mb != new.rcvbuf_mb);
    check("run.replay", old.replay != new.replay);
    check("run.speed", old.speed != new.speed);
    check("run.loop", old.repeat != new.repeat);
    check("run.workers", old.workers != new.workers);
    check("run.interval", old.interval != new.interval);
    check("run.silent_after", old.silent_after != new.silent_after);
    check("run.expire_after", old.expire_after != new.expire_after);
    check("run.max_flows", old.max_flows != new.max_flows);
    check("run.duration", old.duration != new.duration);
    check("run.json", old.json != new.json);
    let (o, n) = (&old.service, &new.service);
    check("store.url", o.store_url != n.store_url);
    check("store.max_size", o.store_max_size != n.store_max_size);
    check("api.listen", o.api_listen != n.api_listen);
    check("api.token_file", o.api_token_file != n.api_token_file);
    check("api.read_token", o.api_read_token != n.api_read_token);
    check(
        "metrics.max_flow_series",
        o.metrics_max_flow_series != n.metrics_max_flow_series,
    );
    // `[[mirror]]` starts mirrors at start; at run time `/api/v1/mirror` adds and ends them.
    check("mirror", o.mirror != n.mirror);
    // `[alarms]`: the engine's rules and the receivers are built at start.
    check("alarms", o.alarms != n.alarms);
    keys
}

impl api::ConfigControl for LiveConfig {
    fn current(&self) -> String {
        self.text()
    }

    fn apply(&self, text: &str) -> Result<ConfigOutcome, String> {
        LiveConfig::apply(self, text, true)
    }
}

/// SIGHUP caught from the first instant of `run` (its default action ends the process: a
/// `systemctl reload` just after the start, while the store opens, must not), held until
/// [`on_sighup`] serves it.
static EARLY_SIGHUP: Mutex<Option<signal_hook::iterator::Signals>> = Mutex::new(None);

/// Catches SIGHUP now; one that comes before the probe is up is served once it is.
pub fn catch_sighup() -> Result<(), String> {
    let signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    *EARLY_SIGHUP.lock().unwrap_or_else(|e| e.into_inner()) = Some(signals);
    Ok(())
}

/// Reads the config again at each SIGHUP, on a thread of its own; says on standard error
/// what changed or why the new one was refused.
pub fn on_sighup(config: Arc<LiveConfig>) -> Result<(), String> {
    let early = EARLY_SIGHUP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut signals = match early {
        Some(s) => s,
        None => signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
            .map_err(|e| format!("cannot handle SIGHUP: {e}"))?,
    };
    std::thread::Builder::new()
        .name("sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                match config.reload_file() {
                    Ok(o) => eprintln!(
                        "config reloaded: {}{}",
                        if o.applied.is_empty() {
                            "nothing changed live".to_string()
                        } else {
                            format!("applied {}", o.applied.join(", "))
                        },
                        if o.restart_needed.is_empty() {
                            String::new()
                        } else {
                            format!("; needs a restart: {}", o.restart_needed.join(", "))
                        }
                    ),
                    Err(e) => eprintln!("config refused, the running one stays: {e}"),
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the SIGHUP thread: {e}"))
}

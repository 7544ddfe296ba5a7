//! The probe's outputs, set up once for every source: the record bus with its sinks
//! (standard output, the live view, the store), the API and `/metrics` over the live view
//! and the store, config reloads, and the records thread that feeds the bus
//! ([`crate::output::assemble`]).

use crate::output::{assemble, Line, Totals};
use crate::reload::{group_infos, LiveConfig};
use crate::run::Settings;
use crate::stdout_sink::StdoutSink;
use outputs::store_sink::{StoreSink, StoreStatus};
use outputs::{Bus, EssentialSinkFailed, LiveSink, LiveView};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Records waiting between the workers and the records thread before new ones are dropped.
pub const OUTPUT_QUEUE: usize = 65_536;
/// Intervals waiting for standard output before they are dropped: a terminal or pipe that
/// stalls for longer loses intervals, counted in the probe record's `sinks`.
pub const STDOUT_QUEUE: usize = 64;
/// Intervals waiting for the live view (it takes one in well under a second).
pub const LIVE_QUEUE: usize = 16;
/// Intervals waiting for the store: a store that stalls for longer loses intervals (counted).
pub const STORE_QUEUE: usize = 120;

/// The running outputs.
pub struct Service {
    /// The workers' channel to the records thread.
    pub tx: SyncSender<Line>,
    /// The config in force, for the workers to follow.
    pub config: Arc<LiveConfig>,
    /// The flows mirrored: each worker takes its side with `taps.worker(index)`.
    pub taps: Arc<tap::TapSet>,
    mirror: crate::mirror::Mirror,
    records: JoinHandle<Result<Totals, EssentialSinkFailed>>,
    started: std::time::Instant,
    _api: Option<api::Server>,
}

impl Service {
    /// Starts the sinks, the API and the records thread for `workers` workers. Every
    /// start-up failure (a port in use, a store locked by another probe) is one error line.
    pub fn start(settings: &Settings, workers: usize) -> Result<Service, String> {
        // Bound first: a port in use is an error before anything runs.
        let listener = match settings.api {
            Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|e| {
                format!("--api-listen {addr}: {e} (another probe or server on that port? give another with --api-listen ADDR:PORT, or --api-listen none)")
            })?),
            None => None,
        };
        let view = LiveView::new(group_infos(&settings.analysis));
        let config = LiveConfig::new(
            settings.config_path.clone(),
            settings.config_text.clone(),
            settings.config_run.clone(),
            settings.analysis.clone(),
            Arc::clone(&view),
        )?;
        // The store next: a store locked by another probe, or of a newer schema, is a
        // start-up error.
        let store = match &settings.store {
            Some(path) => {
                let store = store::Store::open(
                    path,
                    store::StoreSettings {
                        max_size_bytes: settings.store_max_size,
                        ..store::StoreSettings::default()
                    },
                )
                .map_err(|e| e.to_string())?;
                Some((path.clone(), store))
            }
            None => None,
        };
        // Alarm ids go on after the store's largest, or without a store after the start
        // time's seed: unique across restarts (docs/alarms.md "Ids").
        let store_max = match &store {
            Some((_, store)) => Some(store.max_alarm_id().map_err(|e| e.to_string())?),
            None => None,
        };
        let last_alarm_id = crate::alarm_stage::ids_after(
            store_max,
            (crate::run::wall_ns() / 1_000_000_000).max(0) as u64,
        );
        let desk = Arc::new(outputs::AlarmDesk::default());
        let alarms =
            crate::alarm_stage::AlarmStage::new(settings.alarms, last_alarm_id, Arc::clone(&desk));
        let mut bus = Bus::new();
        bus.attach("stdout", STDOUT_QUEUE, true, StdoutSink::new(settings.json))
            .map_err(|e| format!("cannot start the standard output sink: {e}"))?;
        bus.attach("live", LIVE_QUEUE, false, LiveSink(Arc::clone(&view)))
            .map_err(|e| format!("cannot start the live view: {e}"))?;
        let history: Option<Arc<dyn api::History>> = match store {
            Some((path, store)) => {
                let status = Arc::new(StoreStatus::default());
                bus.attach(
                    "store",
                    STORE_QUEUE,
                    false,
                    StoreSink::new(store, Arc::clone(&status)),
                )
                .map_err(|e| format!("cannot start the store sink: {e}"))?;
                Some(Arc::new(crate::history::StoreHistory::new(path, status)))
            }
            None => None,
        };
        // The alarm receivers (SNMP traps, syslog, webhooks): each behind its own queue of
        // alarms, never ending the probe.
        alarms::attach(&mut bus, &settings.config_run.service.alarms.receivers)?;
        // `[[mirror]]` before any packet is read: a mirror from the config sees the flow whole.
        let mirror = crate::mirror::Mirror::start(workers, &settings.config_run.service.mirror)?;
        let server = match listener {
            Some(listener) => {
                let token = api::auth::load_or_create(&settings.api_token_file)?;
                let state = api::AppState {
                    view: Arc::clone(&view),
                    history,
                    alarm_desk: desk,
                    config: config.clone(),
                    token: token.into(),
                    read_token: settings.api_read_token,
                    max_flow_series: settings.max_flow_series,
                    started_ns: crate::run::wall_ns(),
                    mirror: Arc::clone(&mirror.taps),
                };
                Some(api::Server::start(listener, state)?)
            }
            None => None,
        };
        // Where to find what the probe keeps and serves (nothing to say when it keeps and
        // serves nothing).
        if server.is_some() || settings.store.is_some() {
            eprintln!(
                "streamprobe: {}, store {}",
                server.as_ref().map_or("no API".to_string(), |s| format!(
                    "API on http://{}",
                    s.local_addr
                )),
                settings
                    .store
                    .as_ref()
                    .map_or("none".to_string(), |p| p.display().to_string())
            );
        }
        // Always handled: a SIGHUP without --config is said to do nothing, it never ends the
        // probe.
        crate::reload::on_sighup(Arc::clone(&config))?;
        let (tx, rx) = sync_channel(OUTPUT_QUEUE);
        let records = std::thread::Builder::new()
            .name("records".into())
            .spawn(move || assemble(rx, workers, bus, alarms))
            .map_err(|e| format!("cannot start the records thread: {e}"))?;
        Ok(Service {
            tx,
            config,
            taps: Arc::clone(&mirror.taps),
            mirror,
            records,
            started: std::time::Instant::now(),
            _api: server,
        })
    }

    /// Waits for the records thread and the sinks to write what they hold, once every
    /// worker has dropped its sender. `dropped`: records the workers could not hand over.
    /// Standard output that failed ended the probe: the error says so.
    pub fn finish(self, dropped: u64) -> Result<(), String> {
        drop(self.tx);
        // The workers have stopped: what they copied is sent, then each mirror's figures.
        self.mirror.finish();
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
            unpublished,
            sinks,
        } = totals;
        // A sink that lost records says so once more on the way out: its history has holes.
        for s in sinks.iter().filter(|s| s.dropped_records > 0) {
            eprintln!(
                "warning: {}: {} of {} records dropped ({} of {} intervals){}",
                s.name,
                s.dropped_records,
                s.received_records,
                s.dropped_intervals,
                s.received_intervals,
                s.last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            );
        }
        if unpublished > 0 {
            eprintln!(
                "warning: {unpublished} records of intervals no worker closed were not published"
            );
        }
        let seconds = self.started.elapsed().as_secs_f64();
        eprintln!(
            "streamprobe: {packets} packets in {seconds:.1} s, {kernel_drops} dropped by the kernel, {expired} flows expired, {evicted} evicted, {refused} packets of flows over the cap"
        );
        Ok(())
    }
}

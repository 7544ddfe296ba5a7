//! The live view: every flow the probe knows now, with its last interval's figures, its
//! totals since the last `clear` (what `show` prints, Monitube's columns) and since the
//! start (what `/metrics` exports as counters), the last events and the last probe record.
//! The API and `/metrics` read it; the [`LiveSink`] updates it once per interval.
//!
//! Invariants: a flow leaves the view when the probe forgets it (`expired`, `evicted`),
//! never otherwise; `clear` zeroes only the since-clear totals, never the lifetime ones (so
//! Prometheus counters stay monotonic).

use crate::bus::{IntervalBatch, Sink, SinkError};
use crate::probe::ProbeRecord;
use crate::wall::{HealthWall, MAX_GONE_ROWS};
use analysis::alarm::{AlarmRecord, AlarmState};
use analysis::event::FlowEvent;
use analysis::interval::{EventRecord, FlowName, FlowRecord};
use analysis::ts::Indicator;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};

/// Events kept in memory for `GET /api/v1/events` without a store.
pub const EVENTS_KEPT: usize = 10_000;

/// Alarm records kept in memory for `GET /api/v1/alarms` without a store.
pub const ALARMS_KEPT: usize = 10_000;

/// Counters summed over intervals.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowTotals {
    /// Intervals with a record.
    pub intervals: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Gaps found (the records' `lost`).
    pub lost: u64,
    /// Late packets that filled gaps (the records' `recovered`).
    pub recovered: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// TR 101 290 occurrences per indicator (`Indicator::ALL` order).
    #[serde(serialize_with = "indicators")]
    pub tr101290: [u64; Indicator::ALL.len()],
    /// MDI (RFC 4445) over the intervals that had one.
    pub mdi: MdiSummary,
}

fn indicators<S: serde::Serializer>(
    counts: &[u64; Indicator::ALL.len()],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(counts.len()))?;
    for (i, n) in Indicator::ALL.iter().zip(counts) {
        map.serialize_entry(i.as_str(), n)?;
    }
    map.end()
}

/// Last, largest, smallest and mean Delay Factor and Media Loss Rate of a flow's intervals
/// (each interval's figure is the largest of its 1-s MDI intervals). Monitube writes an MDI
/// as `DF:MLR`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MdiSummary {
    /// Intervals with a DF.
    pub intervals: u64,
    pub last_df_ms: Option<f64>,
    pub last_mlr: Option<f64>,
    pub max_df_ms: Option<f64>,
    pub max_mlr: Option<f64>,
    pub min_df_ms: Option<f64>,
    pub min_mlr: Option<f64>,
    pub mean_df_ms: Option<f64>,
    pub mean_mlr: Option<f64>,
    #[serde(skip)]
    sum_df_ms: f64,
    #[serde(skip)]
    sum_mlr: f64,
}

impl MdiSummary {
    fn add(&mut self, df_ms: f64, mlr: f64) {
        self.intervals += 1;
        self.last_df_ms = Some(df_ms);
        self.last_mlr = Some(mlr);
        self.max_df_ms = Some(self.max_df_ms.map_or(df_ms, |m| m.max(df_ms)));
        self.max_mlr = Some(self.max_mlr.map_or(mlr, |m| m.max(mlr)));
        self.min_df_ms = Some(self.min_df_ms.map_or(df_ms, |m| m.min(df_ms)));
        self.min_mlr = Some(self.min_mlr.map_or(mlr, |m| m.min(mlr)));
        self.sum_df_ms += df_ms;
        self.sum_mlr += mlr;
        let n = self.intervals as f64;
        self.mean_df_ms = Some(round6(self.sum_df_ms / n));
        self.mean_mlr = Some(round6(self.sum_mlr / n));
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl FlowTotals {
    fn add(&mut self, r: &FlowRecord) {
        self.intervals += 1;
        self.packets += r.packets;
        self.bytes += r.bytes;
        self.lost += r.lost;
        self.recovered += r.recovered.unwrap_or(0);
        self.duplicates += r.duplicates;
        self.reordered += r.reordered.unwrap_or(0);
        if let Some(c) = &r.tr101290 {
            for (t, n) in self.tr101290.iter_mut().zip(c.0) {
                *t += n;
            }
        }
        if let Some(df) = r.df_ms {
            self.mdi.add(df, r.mlr.unwrap_or(0.0));
        }
    }

    /// Loss net of recoveries: packets still missing (RTP sequence numbers, or TS packets
    /// missing by continuity for MPEG-TS over UDP).
    pub fn net_lost(&self) -> u64 {
        self.lost.saturating_sub(self.recovered)
    }
}

/// Whether a flow sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Packets within the silence limit.
    Active,
    /// No packet for the silence limit (a `silent` event), not forgotten yet.
    Silent,
}

impl FlowState {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Active => "active",
            FlowState::Silent => "silent",
        }
    }
}

/// A flow's health, the same colour everywhere (dashboard, wall, API): red = an alarm is
/// active on it, grey = silent, amber = an SLA limit broken in its last interval, green = ok.
/// Codes are the health wall's bytes (`0` = no flow that second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Health {
    Green = 1,
    Amber = 2,
    Grey = 3,
    Red = 4,
}

impl Health {
    /// Its name in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Health::Green => "green",
            Health::Amber => "amber",
            Health::Grey => "grey",
            Health::Red => "red",
        }
    }

    /// The health of a wall byte.
    pub fn of_code(code: u8) -> Option<Health> {
        match code {
            1 => Some(Health::Green),
            2 => Some(Health::Amber),
            3 => Some(Health::Grey),
            4 => Some(Health::Red),
            _ => None,
        }
    }
}

/// One flow as the view holds it.
#[derive(Clone, Debug)]
pub struct LiveFlow {
    /// Who it is.
    pub name: FlowName,
    /// Its id (`FlowName::id`), kept: every query matches on it.
    pub id: String,
    pub payload: &'static str,
    pub group: Option<String>,
    pub state: FlowState,
    /// The first and the last interval it had a record in, ns since the epoch.
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// Its last interval's record.
    pub last: Option<Box<FlowRecord>>,
    /// Since the last `clear` (or its first record), and when that was.
    pub since_clear: FlowTotals,
    pub cleared_ns: i64,
    /// Since the probe found it: `/metrics` counters, never cleared.
    pub lifetime: FlowTotals,
    /// Alarms active on it (raised, not cleared).
    pub active_alarms: u32,
    /// Its row on the health wall.
    pub wall_row: u32,
    /// The last programs its records carried (TS flows; records carry them only when they
    /// change).
    pub programs: Option<Box<[analysis::report::ProgramReport]>>,
}

impl LiveFlow {
    /// Its health now: an active alarm first, then silence, then the last interval's SLA.
    pub fn health(&self) -> Health {
        if self.active_alarms > 0 {
            Health::Red
        } else if self.state == FlowState::Silent {
            Health::Grey
        } else if self
            .last
            .as_ref()
            .and_then(|r| r.sla.as_ref())
            .is_some_and(|s| !s.violations.is_empty())
        {
            Health::Amber
        } else {
            Health::Green
        }
    }
}

/// A monitor group as configured (for `/api/v1/groups`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupInfo {
    pub name: String,
    /// Its media rate, bit/s, when configured.
    pub media_rate_bps: Option<f64>,
    /// Its prefixes, as written.
    pub prefixes: Vec<String>,
}

/// Everything the view holds.
#[derive(Debug, Default)]
pub struct View {
    /// Flows by id.
    pub flows: BTreeMap<String, LiveFlow>,
    /// The last events, oldest first.
    pub events: VecDeque<EventRecord>,
    /// The last interval's probe record.
    pub probe: Option<ProbeRecord>,
    /// The last interval's end, ns since the epoch.
    pub time_ns: Option<i64>,
    /// Flows forgotten since the start.
    pub forgotten: u64,
    /// The groups configured.
    pub groups: Vec<GroupInfo>,
    /// Each group's totals since the start, its forgotten flows included (the group's
    /// `/metrics` counters: they never go down).
    pub group_totals: BTreeMap<String, FlowTotals>,
    /// The probe records' counts summed since the start.
    pub probe_totals: ProbeTotals,
    /// Active alarms by id: the last record of each episode raised and not cleared.
    pub active_alarms: BTreeMap<u64, AlarmRecord>,
    /// The last alarm records, oldest first (for the API without a store).
    pub alarm_log: VecDeque<AlarmRecord>,
    /// Every flow's health second by second (`GET /api/v1/wall`).
    pub wall: HealthWall,
    /// Flows forgotten less than the wall's window ago, by id: their rows stay on the wall.
    pub wall_gone: BTreeMap<String, GoneFlow>,
    /// The same, oldest first (a row found again leaves a stale entry here, skipped).
    wall_gone_order: VecDeque<(i64, String)>,
}

/// A forgotten flow still on the wall.
#[derive(Clone, Debug)]
pub struct GoneFlow {
    pub name: FlowName,
    pub group: Option<String>,
    pub vlan: Option<u16>,
    pub wall_row: u32,
    /// When it was forgotten, ns since the epoch.
    pub gone_ns: i64,
    /// Its alarms still active (a `silent` episode outlives its flow, docs/alarms.md): the
    /// flow's count again when it is found again within the window.
    pub active_alarms: u32,
}

/// The probe's own counts since the start.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProbeTotals {
    pub intervals: u64,
    pub packets: u64,
    pub bytes: u64,
    pub kernel_drops: u64,
    pub late: u64,
    pub output_dropped: u64,
    pub expired: u64,
    pub evicted: u64,
    pub refused: u64,
    pub refused_state: u64,
}

impl View {
    fn flow_mut(&mut self, name: &FlowName, time: i64) -> &mut LiveFlow {
        let id = name.id();
        let wall = &mut self.wall;
        let gone = &mut self.wall_gone;
        self.flows.entry(id.clone()).or_insert_with(|| {
            let gone = gone.remove(&name.id());
            LiveFlow {
                name: *name,
                id,
                payload: "unknown",
                group: None,
                state: FlowState::Active,
                first_seen_ns: time,
                last_seen_ns: time,
                last: None,
                since_clear: FlowTotals::default(),
                cleared_ns: time,
                lifetime: FlowTotals::default(),
                active_alarms: gone.as_ref().map_or(0, |g| g.active_alarms),
                // Found again within the wall's window: its row goes on.
                wall_row: gone.map_or_else(|| wall.open(), |g| g.wall_row),
                programs: None,
            }
        })
    }

    /// Takes one interval.
    pub fn apply(&mut self, batch: &IntervalBatch) {
        for r in batch.flows() {
            let flow = self.flow_mut(&r.name, r.time);
            flow.payload = r.payload.as_str();
            flow.group.clone_from(&r.group);
            if r.packets > 0 {
                flow.state = FlowState::Active;
                flow.last_seen_ns = r.time;
            }
            flow.since_clear.add(r);
            flow.lifetime.add(r);
            if r.programs.is_some() {
                flow.programs.clone_from(&r.programs);
            }
            flow.last = Some(Box::new(r.clone()));
            if let Some(g) = &r.group {
                match self.group_totals.get_mut(g) {
                    Some(t) => t.add(r),
                    None => {
                        let mut t = FlowTotals::default();
                        t.add(r);
                        self.group_totals.insert(g.clone(), t);
                    }
                }
            }
        }
        for e in batch.events() {
            match e.event {
                FlowEvent::Expired | FlowEvent::Evicted => {
                    if let Some(f) = self.flows.remove(&e.name.id()) {
                        self.forgotten += 1;
                        self.keep_on_wall(f, e.time);
                    }
                }
                FlowEvent::Silent => self.flow_mut(&e.name, e.time).state = FlowState::Silent,
                FlowEvent::Resumed => self.flow_mut(&e.name, e.time).state = FlowState::Active,
                _ => {}
            }
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(e.clone());
        }
        for a in &batch.alarms {
            self.apply_alarm(a);
        }
        let (p, t) = (&batch.probe, &mut self.probe_totals);
        t.intervals += 1;
        t.packets += p.packets;
        t.bytes += p.bytes;
        t.kernel_drops += p.kernel_drops;
        t.late += p.late;
        // The workers' count is since the start already.
        t.output_dropped = p.output_dropped;
        t.expired += p.expired;
        t.evicted += p.evicted;
        t.refused += p.refused;
        t.refused_state += p.refused_state;
        self.probe = Some(batch.probe.clone());
        self.time_ns = Some(batch.end_ns);
        self.mark_wall(batch);
    }

    /// Writes every flow's health now on the wall, for the seconds of the interval that
    /// ended (a cell is the second that begins at its Unix second); frees the rows of flows
    /// forgotten a window ago.
    fn mark_wall(&mut self, batch: &IntervalBatch) {
        let seconds = batch.probe.interval_s.round().clamp(1.0, 3600.0) as u32;
        let last = (batch.end_ns - 1).div_euclid(1_000_000_000);
        for f in self.flows.values() {
            self.wall.mark(f.wall_row, last, seconds, f.health());
        }
        let window = self.wall.window() as i64 * 1_000_000_000;
        while let Some((at, _)) = self.wall_gone_order.front() {
            if batch.end_ns - at < window && self.wall_gone_order.len() <= MAX_GONE_ROWS {
                break;
            }
            let Some((at, id)) = self.wall_gone_order.pop_front() else {
                break;
            };
            // A flow found again since (or forgotten again later) has moved on.
            if self.wall_gone.get(&id).is_some_and(|g| g.gone_ns == at) {
                if let Some(g) = self.wall_gone.remove(&id) {
                    self.wall.free(g.wall_row);
                }
            }
        }
    }

    /// A forgotten flow's row stays on the wall for a window (at most [`MAX_GONE_ROWS`] such
    /// rows, the oldest freed first).
    fn keep_on_wall(&mut self, f: LiveFlow, at: i64) {
        let vlan = f.last.as_ref().and_then(|r| r.vlan);
        self.wall_gone_order.push_back((at, f.id.clone()));
        let old = self.wall_gone.insert(
            f.id,
            GoneFlow {
                name: f.name,
                group: f.group,
                vlan,
                wall_row: f.wall_row,
                gone_ns: at,
                active_alarms: f.active_alarms,
            },
        );
        if let Some(old) = old {
            self.wall.free(old.wall_row);
        }
    }

    /// Keeps an alarm transition: the active set, the flow's count, the log.
    fn apply_alarm(&mut self, a: &AlarmRecord) {
        // A flood summary stands for alarms that are each active on their own flow.
        let on_flow = a.summary.is_none();
        match a.state {
            AlarmState::Raised => {
                if self.active_alarms.insert(a.id, a.clone()).is_none() && on_flow {
                    if let Some(f) = a.flow.as_ref().and_then(|n| self.flows.get_mut(&n.id())) {
                        f.active_alarms += 1;
                    }
                }
            }
            AlarmState::Acknowledged => {
                if let Some(active) = self.active_alarms.get_mut(&a.id) {
                    *active = a.clone();
                }
            }
            AlarmState::Cleared => {
                if self.active_alarms.remove(&a.id).is_some() && on_flow {
                    let id = a.flow.as_ref().map(FlowName::id);
                    if let Some(f) = id.as_ref().and_then(|id| self.flows.get_mut(id)) {
                        f.active_alarms = f.active_alarms.saturating_sub(1);
                    } else if let Some(g) = id.as_ref().and_then(|id| self.wall_gone.get_mut(id)) {
                        // A forgotten flow's episode (its `silent` kept, or cleared later).
                        g.active_alarms = g.active_alarms.saturating_sub(1);
                    }
                }
            }
        }
        if self.alarm_log.len() == ALARMS_KEPT {
            self.alarm_log.pop_front();
        }
        self.alarm_log.push_back(a.clone());
    }

    /// Zeroes the since-clear totals of every flow, or of `group`'s; the number of flows.
    pub fn clear(&mut self, group: Option<&str>, now_ns: i64) -> usize {
        let mut n = 0;
        for f in self.flows.values_mut() {
            if group.is_none_or(|g| f.group.as_deref() == Some(g)) {
                f.since_clear = FlowTotals::default();
                f.cleared_ns = now_ns;
                n += 1;
            }
        }
        n
    }
}

/// The view, shared between its sink and its readers.
#[derive(Debug, Default)]
pub struct LiveView {
    inner: RwLock<View>,
}

impl LiveView {
    /// An empty view of these groups.
    pub fn new(groups: Vec<GroupInfo>) -> Arc<Self> {
        Arc::new(LiveView {
            inner: RwLock::new(View {
                groups,
                ..View::default()
            }),
        })
    }

    /// Reads the view. A writer that panicked leaves the view as it was: still readable.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the view.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The bus sink that keeps a [`LiveView`].
pub struct LiveSink(pub Arc<LiveView>);

impl Sink for LiveSink {
    fn write(&mut self, batch: &IntervalBatch) -> Result<(), SinkError> {
        self.0.write().apply(batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! The alarm engine (docs/alarms.md): judges each interval's records and the probe's kernel
//! drops against the rules, and turns problems that last into episodes: one `raised` record
//! when a rule was broken `raise_after` intervals in a row, one `cleared` record when it was
//! kept `clear_after` intervals in a row (or the probe forgot the flow), the same id in both.
//!
//! Invariants (tested, and by a property test over random interval sequences):
//! - every episode has exactly one `raised` record, first, and at most one `cleared`, last;
//!   `acknowledged` records come between;
//! - an interval that neither breaks nor keeps a rule (no verdict: the flow sent nothing, a
//!   limit not judged) leaves its runs as they are;
//! - state is kept only for flows present (a flow that expires or is evicted leaves it, its
//!   active alarms cleared with it) and, per rule, only while a bad run or an episode lasts;
//!   but a forgotten flow's active `silent` episode stays active (a dead camera is no less
//!   dead for being forgotten) among at most [`LOST_KEPT`] lost flows, the oldest cleared
//!   `expired` past that, until the flow is back for `clear_after` intervals;
//! - pure: time is an argument; the same records give the same alarms and ids, whatever
//!   order the workers delivered them in (transitions are sorted by rule and flow).

mod ack;
mod records;

use super::shared::SharedBuilder;
use super::{Acknowledgement, AlarmRecord, AlarmRule, AlarmSettings, AlarmState, Shared};
use crate::event::FlowEvent;
use crate::interval::{FlowName, FlowRecord, Record};
use crate::ts::Indicator;
use records::{cleared_text, flood_record, flood_text, flow_record, probe_record, raised_text};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

/// `reason` of an episode cleared by `clear_after` good intervals.
pub const CLEARED_GOOD: &str = "good";
/// `reason` of an episode cleared because its flow expired (no packet for the flow timeout).
pub const CLEARED_EXPIRED: &str = "expired";
/// `reason` of an episode cleared because its flow was evicted under the flow cap.
pub const CLEARED_EVICTED: &str = "evicted";
/// `reason` of an episode cleared because its stream was replaced by one of another SSRC on
/// the same 4-tuple (an `ssrc_change` event: a camera that rebooted); the change itself is
/// an event, not an alarm.
pub const CLEARED_SSRC_CHANGE: &str = "ssrc_change";
/// `reason` of a flood summary cleared because every flow it stood for cleared.
pub const CLEARED_FLOWS: &str = "flows_cleared";

/// Forgotten flows whose `silent` episode stays active, at most: past this the oldest is
/// cleared (`expired`). 65,536: more cameras than one probe takes (docs/alarms.md).
pub const LOST_KEPT: usize = 65_536;

/// A flow, as the engine keys its state (the flow id's parts).
type FlowKey = (SocketAddr, SocketAddr, Option<u32>);

fn key_of(n: &FlowName) -> FlowKey {
    (n.src, n.dst, n.ssrc)
}

/// An operator's acknowledgement of alarm `id`, as the API queued it.
#[derive(Clone, Debug, PartialEq)]
pub struct AckRequest {
    pub id: u64,
    /// Who (`api` when the request did not say).
    pub by: String,
    /// When it was asked, wall clock, ns since the epoch.
    pub time_ns: i64,
    pub note: Option<String>,
}

/// Why an acknowledgement was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckRefused {
    /// No active episode has this id (never raised, or cleared already).
    NotActive,
    /// Acknowledged already (the first acknowledgement stands).
    AlreadyAcknowledged,
}

/// An episode in progress.
#[derive(Clone, Debug)]
struct Active {
    id: u64,
    raised_ns: i64,
    value: Option<f64>,
    threshold: Option<f64>,
    ack: Option<Acknowledgement>,
    summarised_in: Option<u64>,
}

/// One rule's runs on one flow (or the probe).
#[derive(Clone, Debug, Default)]
struct RuleState {
    /// Bad intervals in a row while no episode is active.
    bad: u32,
    /// Good intervals in a row while an episode is active.
    good: u32,
    active: Option<Active>,
}

impl RuleState {
    /// Nothing to remember.
    fn idle(&self) -> bool {
        self.bad == 0 && self.active.is_none()
    }
}

/// An interval's judgement of one rule.
#[derive(Clone, Copy, Debug)]
enum Verdict {
    /// Broken: the figure and the limit.
    Bad(Option<f64>, Option<f64>),
    /// Kept.
    Good,
}

/// What the engine keeps of a flow present.
#[derive(Clone, Debug)]
struct FlowAlarms {
    name: FlowName,
    group: Option<String>,
    vlan: Option<u16>,
    /// Its last packet's time, from the `silent` event that told it; none while it sends.
    silent_since_ns: Option<i64>,
    /// Rules with a bad run or an episode (few: a vector).
    rules: Vec<(AlarmRule, RuleState)>,
}

impl FlowAlarms {
    fn rule_mut(&mut self, rule: AlarmRule) -> &mut RuleState {
        match self.rules.iter().position(|(r, _)| *r == rule) {
            Some(i) => &mut self.rules[i].1,
            None => {
                self.rules.push((rule, RuleState::default()));
                &mut self.rules.last_mut().expect("just pushed").1
            }
        }
    }
}

/// A flood summary in progress: it clears when its flows have all cleared.
#[derive(Clone, Debug)]
struct Flood {
    rule: AlarmRule,
    raised_ns: i64,
    shared: Shared,
    count: u64,
    /// Its flows still active.
    members: u64,
    ack: Option<Acknowledgement>,
}

/// Where an active episode's state is.
#[derive(Clone, Copy, Debug)]
enum Place {
    Flow(FlowKey, AlarmRule),
    Probe,
    Flood,
}

/// A transition found while judging, written once ids are given.
struct Raise {
    rule: AlarmRule,
    key: FlowKey,
    value: Option<f64>,
    threshold: Option<f64>,
}

/// Judges intervals into alarm records (module docs).
#[derive(Debug)]
pub struct AlarmEngine {
    settings: AlarmSettings,
    next_id: u64,
    flows: BTreeMap<FlowKey, FlowAlarms>,
    /// Flows known silent (their `silent_since_ns` set).
    silent: BTreeSet<FlowKey>,
    /// Kernel drops, probe-wide.
    probe: RuleState,
    floods: BTreeMap<u64, Flood>,
    active: BTreeMap<u64, Place>,
    /// The SSRC now current on a 4-tuple whose stream changed SSRC (`ssrc_change`): the
    /// analyzer keeps a replaced stream while the 4-tuple lives and may tell it silent,
    /// which is no alarm. Held until the current stream is forgotten (at most one per flow
    /// present).
    current_ssrc: BTreeMap<(SocketAddr, SocketAddr), u32>,
    /// Forgotten flows whose `silent` episode stays active (only that rule's state kept),
    /// with the order they were lost in (`lost_order`, by a sequence number) for the cap.
    lost: BTreeMap<FlowKey, (u64, FlowAlarms)>,
    lost_order: BTreeMap<u64, FlowKey>,
    lost_seq: u64,
    /// [`LOST_KEPT`] (smaller in tests).
    lost_cap: usize,
}

impl AlarmEngine {
    /// An engine whose first alarm id is 1.
    pub fn new(settings: AlarmSettings) -> Self {
        AlarmEngine {
            settings,
            next_id: 1,
            flows: BTreeMap::new(),
            silent: BTreeSet::new(),
            probe: RuleState::default(),
            floods: BTreeMap::new(),
            active: BTreeMap::new(),
            current_ssrc: BTreeMap::new(),
            lost: BTreeMap::new(),
            lost_order: BTreeMap::new(),
            lost_seq: 0,
            lost_cap: LOST_KEPT,
        }
    }

    /// Ids continue after `last_id` (the store's largest), so that they stay unique across
    /// restarts of the probe.
    pub fn continue_after(mut self, last_id: u64) -> Self {
        self.next_id = self.next_id.max(last_id.saturating_add(1));
        self
    }

    /// New settings (a reload): runs and episodes in progress carry on under them.
    pub fn set_settings(&mut self, settings: AlarmSettings) {
        self.settings = settings;
    }

    /// Episodes active now.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    /// Flows the engine holds state for (those present that sent a record).
    pub fn flows_held(&self) -> usize {
        self.flows.len()
    }

    /// Forgotten flows whose `silent` episode is kept active.
    pub fn lost_held(&self) -> usize {
        self.lost.len()
    }

    /// A lost flow heard of again: its kept state is present again.
    fn found_again(&mut self, key: FlowKey) {
        if let Some((seq, flow)) = self.lost.remove(&key) {
            self.lost_order.remove(&seq);
            self.flows.insert(key, flow);
        }
    }

    /// A flow's state, present or lost.
    fn flow_alarms_mut(&mut self, key: &FlowKey) -> Option<&mut FlowAlarms> {
        match self.flows.get_mut(key) {
            Some(f) => Some(f),
            None => self.lost.get_mut(key).map(|(_, f)| f),
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    /// Judges the interval ending `end_ns`: its flow and event records, and the packets the
    /// kernel dropped in it (the probe record's `kernel_drops`). Gives the alarm records of
    /// the transitions, clears first (flows', then flood summaries'), then raises (flows',
    /// then flood summaries'), each sorted by rule and flow.
    pub fn judge(
        &mut self,
        end_ns: i64,
        records: &[Record],
        kernel_drops: u64,
    ) -> Vec<AlarmRecord> {
        let settings = self.settings;
        let mut raises: Vec<Raise> = Vec::new();
        let mut clears: Vec<(FlowKey, AlarmRule, &'static str)> = Vec::new();
        let mut gone: Vec<(FlowKey, &'static str)> = Vec::new();
        for r in records {
            match r {
                Record::Flow(f) => {
                    let key = key_of(&f.name);
                    self.found_again(key);
                    if f.packets > 0 && f.name.ssrc.is_some() && !self.lost.is_empty() {
                        // A lost stream's 4-tuple sends another SSRC (a camera that
                        // rebooted after it expired): that stream was replaced.
                        let (src, dst) = (f.name.src, f.name.dst);
                        for (k, _) in self
                            .lost
                            .range((src, dst, None)..=(src, dst, Some(u32::MAX)))
                        {
                            if *k != key {
                                gone.push((*k, CLEARED_SSRC_CHANGE));
                            }
                        }
                    }
                    let flow = self.flows.entry(key).or_insert_with(|| FlowAlarms {
                        name: f.name,
                        group: None,
                        vlan: None,
                        silent_since_ns: None,
                        rules: Vec::new(),
                    });
                    if flow.group != f.group {
                        flow.group.clone_from(&f.group);
                    }
                    flow.vlan = f.vlan.or(flow.vlan);
                    let mut verdicts: [(AlarmRule, Option<Verdict>); 9] =
                        std::array::from_fn(|i| (AlarmRule::ALL[i], None));
                    judge_flow(f, &mut verdicts);
                    if f.packets > 0 {
                        // Packets: a good interval for silence.
                        verdicts[8].1 = Some(Verdict::Good);
                    }
                    if f.packets > 0 && flow.silent_since_ns.take().is_some() {
                        self.silent.remove(&key);
                    }
                    for (rule, verdict) in verdicts {
                        let Some(verdict) = verdict else { continue };
                        // Good needs no state where there is none.
                        if matches!(verdict, Verdict::Good)
                            && !flow.rules.iter().any(|(r, _)| *r == rule)
                        {
                            continue;
                        }
                        let state = flow.rule_mut(rule);
                        match step(state, verdict, settings.raise_after, settings.clear_after) {
                            Step::Raise(value, threshold) => raises.push(Raise {
                                rule,
                                key,
                                value,
                                threshold,
                            }),
                            Step::Clear => clears.push((key, rule, CLEARED_GOOD)),
                            Step::None => {}
                        }
                    }
                    flow.rules.retain(|(_, s)| !s.idle());
                }
                Record::Event(e) => {
                    let key = key_of(&e.name);
                    match e.event {
                        FlowEvent::Silent
                            if e.name.ssrc.is_some_and(|s| {
                                self.current_ssrc
                                    .get(&(e.name.src, e.name.dst))
                                    .is_some_and(|c| *c != s)
                            }) =>
                        {
                            // A replaced stream's silence: its 4-tuple sends another SSRC.
                        }
                        FlowEvent::Silent => {
                            let since = e.time - (e.silent_s.unwrap_or(0.0) * 1e9).round() as i64;
                            self.found_again(key);
                            let flow = self.flows.entry(key).or_insert_with(|| FlowAlarms {
                                name: e.name,
                                group: None,
                                vlan: None,
                                silent_since_ns: None,
                                rules: Vec::new(),
                            });
                            flow.silent_since_ns = Some(since);
                            self.silent.insert(key);
                        }
                        FlowEvent::Resumed => {
                            if let Some(flow) = self.flows.get_mut(&key) {
                                flow.silent_since_ns = None;
                            }
                            self.silent.remove(&key);
                        }
                        FlowEvent::SsrcChange => {
                            if let Some(new) = e.new_ssrc {
                                self.current_ssrc.insert((e.name.src, e.name.dst), new);
                            }
                            gone.push((key, CLEARED_SSRC_CHANGE));
                        }
                        FlowEvent::Expired | FlowEvent::Evicted => {
                            let tuple = (e.name.src, e.name.dst);
                            if e.name.ssrc.is_some()
                                && self.current_ssrc.get(&tuple) == e.name.ssrc.as_ref()
                            {
                                self.current_ssrc.remove(&tuple);
                            }
                            let reason = if e.event == FlowEvent::Expired {
                                CLEARED_EXPIRED
                            } else {
                                CLEARED_EVICTED
                            };
                            gone.push((key, reason));
                        }
                        _ => {}
                    }
                }
            }
        }
        // Silence: its own persistence (`silent_s`), so it raises at the first interval end
        // that finds the flow silent that long; packets again are its good intervals.
        let silent: Vec<FlowKey> = self.silent.iter().copied().collect();
        for key in silent {
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            let Some(since) = flow.silent_since_ns else {
                continue;
            };
            let for_ns = end_ns - since;
            if for_ns < settings.silent_ns {
                continue;
            }
            let state = flow.rule_mut(AlarmRule::Silent);
            let verdict = Verdict::Bad(
                Some(round3(for_ns as f64 / 1e9)),
                Some(round3(settings.silent_ns as f64 / 1e9)),
            );
            if let Step::Raise(value, threshold) = step(state, verdict, 1, settings.clear_after) {
                raises.push(Raise {
                    rule: AlarmRule::Silent,
                    key,
                    value,
                    threshold,
                });
            }
        }
        // Forgotten flows: their episodes clear with them, their state goes.
        let mut out = Vec::new();
        let mut gone_records = Vec::new();
        for (key, reason) in gone {
            self.silent.remove(&key);
            let lost = self.lost.remove(&key).map(|(seq, flow)| {
                self.lost_order.remove(&seq);
                flow
            });
            let Some(mut flow) = self.flows.remove(&key).or(lost) else {
                continue;
            };
            // A raise of this interval is dropped with the flow: nothing was told of it.
            raises.retain(|r| r.key != key);
            flow.rules.sort_by_key(|(r, _)| *r);
            let forgotten = reason == CLEARED_EXPIRED || reason == CLEARED_EVICTED;
            let mut keep_silent = None;
            for (rule, state) in &flow.rules {
                if let Some(active) = &state.active {
                    if active.id == 0 {
                        continue;
                    }
                    if forgotten && *rule == AlarmRule::Silent {
                        // Still silent: the episode goes on, lost.
                        keep_silent = Some(RuleState {
                            bad: 0,
                            good: 0,
                            active: Some(active.clone()),
                        });
                        continue;
                    }
                    self.active.remove(&active.id);
                    gone_records.push(flow_record(
                        end_ns,
                        AlarmState::Cleared,
                        *rule,
                        &flow,
                        active,
                        cleared_text(*rule, Some(&flow), reason, settings.clear_after),
                        Some(reason),
                    ));
                    self.member_cleared(active.summarised_in);
                }
            }
            if let Some(state) = keep_silent {
                flow.silent_since_ns = None;
                flow.rules = vec![(AlarmRule::Silent, state)];
                self.lost_seq += 1;
                self.lost_order.insert(self.lost_seq, key);
                self.lost.insert(key, (self.lost_seq, flow));
                while self.lost.len() > self.lost_cap {
                    let Some((_, oldest)) = self.lost_order.pop_first() else {
                        break;
                    };
                    let Some((_, flow)) = self.lost.remove(&oldest) else {
                        continue;
                    };
                    for (rule, state) in &flow.rules {
                        let Some(active) = &state.active else {
                            continue;
                        };
                        self.active.remove(&active.id);
                        gone_records.push(flow_record(
                            end_ns,
                            AlarmState::Cleared,
                            *rule,
                            &flow,
                            active,
                            cleared_text(*rule, Some(&flow), CLEARED_EXPIRED, settings.clear_after),
                            Some(CLEARED_EXPIRED),
                        ));
                        self.member_cleared(active.summarised_in);
                    }
                }
            }
        }
        // Whatever order the workers told of the flows' end: by rule and flow.
        gone_records.sort_by_key(|a| (a.rule, a.flow.as_ref().map(key_of)));
        // The probe's own rule.
        let drops = if kernel_drops > 0 {
            Verdict::Bad(Some(kernel_drops as f64), None)
        } else {
            Verdict::Good
        };
        let probe_step = step(
            &mut self.probe,
            drops,
            settings.raise_after,
            settings.clear_after,
        );
        // Clears, sorted by rule and flow.
        clears.sort_by_key(|(k, r, _)| (*r, *k));
        for (key, rule, reason) in clears {
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            let state = flow.rule_mut(rule);
            let Some(active) = state.active.take() else {
                continue;
            };
            let idle = state.idle();
            self.active.remove(&active.id);
            out.push(flow_record(
                end_ns,
                AlarmState::Cleared,
                rule,
                flow,
                &active,
                cleared_text(rule, Some(flow), reason, settings.clear_after),
                Some(reason),
            ));
            if idle {
                flow.rules.retain(|(r, _)| *r != rule);
            }
            self.member_cleared(active.summarised_in);
        }
        out.append(&mut gone_records);
        if let Step::Clear = probe_step {
            if let Some(active) = self.probe.active.take() {
                self.active.remove(&active.id);
                out.push(probe_record(
                    end_ns,
                    AlarmState::Cleared,
                    &active,
                    cleared_text(
                        AlarmRule::KernelDrops,
                        None,
                        CLEARED_GOOD,
                        settings.clear_after,
                    ),
                    Some(CLEARED_GOOD),
                ));
            }
        }
        // Flood summaries whose flows have all cleared.
        let done: Vec<u64> = self
            .floods
            .iter()
            .filter(|(_, f)| f.members == 0)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            if let Some(flood) = self.floods.remove(&id) {
                self.active.remove(&id);
                let text = format!(
                    "{} flood cleared: all {} flows cleared",
                    flood.rule, flood.count
                );
                out.push(flood_record(
                    id,
                    end_ns,
                    AlarmState::Cleared,
                    &flood,
                    text,
                    Some(CLEARED_FLOWS),
                ));
            }
        }
        // Raises: ids in order of rule and flow; more than `flood_threshold` flows raising
        // one rule make a flood summary, whose id follows its flows'.
        raises.sort_by_key(|r| (r.rule, r.key));
        let mut i = 0;
        while i < raises.len() {
            let rule = raises[i].rule;
            let n = raises[i..].iter().take_while(|r| r.rule == rule).count();
            let batch = &raises[i..i + n];
            let flood = n as u64 > u64::from(settings.flood_threshold);
            let first_id = self.next_id;
            let summary_id = flood.then(|| first_id.saturating_add(n as u64));
            let mut shared = SharedBuilder::default();
            for r in batch {
                let id = self.take_id();
                let Some(flow) = self.flows.get_mut(&r.key) else {
                    continue;
                };
                let active = Active {
                    id,
                    raised_ns: end_ns,
                    value: r.value,
                    threshold: r.threshold,
                    ack: None,
                    summarised_in: summary_id,
                };
                flow.rule_mut(rule).active = Some(active.clone());
                self.active.insert(id, Place::Flow(r.key, rule));
                shared.add(
                    flow.name.src.ip(),
                    flow.name.dst.ip(),
                    flow.group.as_deref(),
                    flow.vlan,
                    flow.name.kind,
                );
                out.push(flow_record(
                    end_ns,
                    AlarmState::Raised,
                    rule,
                    flow,
                    &active,
                    raised_text(rule, flow, r.value, r.threshold, &settings),
                    None,
                ));
            }
            if let Some(summary_id) = summary_id {
                let id = self.take_id();
                debug_assert_eq!(id, summary_id);
                let shared = shared.finish();
                let text = flood_text(rule, n as u64, &shared);
                let flood = Flood {
                    rule,
                    raised_ns: end_ns,
                    count: n as u64,
                    members: n as u64,
                    shared,
                    ack: None,
                };
                out.push(flood_record(
                    id,
                    end_ns,
                    AlarmState::Raised,
                    &flood,
                    text,
                    None,
                ));
                self.floods.insert(id, flood);
                self.active.insert(id, Place::Flood);
            }
            i += n;
        }
        if let Step::Raise(value, threshold) = probe_step {
            let id = self.take_id();
            let active = Active {
                id,
                raised_ns: end_ns,
                value,
                threshold,
                ack: None,
                summarised_in: None,
            };
            let text = format!(
                "kernel_drops: the kernel dropped {} packets in the interval, {} intervals in a row with drops",
                value.unwrap_or(0.0),
                settings.raise_after
            );
            out.push(probe_record(
                end_ns,
                AlarmState::Raised,
                &active,
                text,
                None,
            ));
            self.probe.active = Some(active);
            self.active.insert(id, Place::Probe);
        }
        out
    }

    /// A flood's flow cleared: one fewer to wait for.
    fn member_cleared(&mut self, flood: Option<u64>) {
        if let Some(f) = flood.and_then(|id| self.floods.get_mut(&id)) {
            f.members = f.members.saturating_sub(1);
        }
    }
}

/// What a step of a rule's runs did.
enum Step {
    None,
    Raise(Option<f64>, Option<f64>),
    Clear,
}

/// One interval's verdict on a rule's runs. A raise leaves `active` set with id 0: the
/// caller gives the id (after sorting the interval's raises).
fn step(state: &mut RuleState, verdict: Verdict, raise_after: u32, clear_after: u32) -> Step {
    match (verdict, &state.active) {
        (Verdict::Bad(..), Some(_)) => {
            state.good = 0;
            Step::None
        }
        (Verdict::Bad(value, threshold), None) => {
            state.bad += 1;
            if state.bad >= raise_after {
                state.bad = 0;
                state.good = 0;
                state.active = Some(Active {
                    id: 0,
                    raised_ns: 0,
                    value,
                    threshold,
                    ack: None,
                    summarised_in: None,
                });
                Step::Raise(value, threshold)
            } else {
                Step::None
            }
        }
        (Verdict::Good, Some(_)) => {
            state.good += 1;
            if state.good >= clear_after {
                state.good = 0;
                Step::Clear
            } else {
                Step::None
            }
        }
        (Verdict::Good, None) => {
            state.bad = 0;
            Step::None
        }
    }
}

/// The SLA and TR 101 290 verdicts of a flow record.
fn judge_flow(f: &FlowRecord, verdicts: &mut [(AlarmRule, Option<Verdict>); 9]) {
    let set = |verdicts: &mut [(AlarmRule, Option<Verdict>); 9], rule: AlarmRule, v| {
        if let Some(slot) = verdicts.iter_mut().find(|(r, _)| *r == rule) {
            slot.1 = Some(v);
        }
    };
    match &f.sla {
        // Packets but no SLA judged: the group sets no limits (any more, after a reload) or
        // the flow left it: no limit is broken. A record of no packets judges nothing.
        None if f.packets > 0 => {
            for rule in &AlarmRule::ALL[..7] {
                set(verdicts, *rule, Verdict::Good);
            }
        }
        None => {}
        Some(sla) => {
            for rule in &AlarmRule::ALL[..7] {
                let name = rule.as_str();
                if let Some(v) = sla.violations.iter().find(|v| v.limit == name) {
                    set(
                        verdicts,
                        *rule,
                        Verdict::Bad(Some(v.value), Some(v.threshold)),
                    );
                } else if !sla.not_judged.contains(&name) {
                    // Kept, or not configured (any more, after a reload): either way not broken.
                    set(verdicts, *rule, Verdict::Good);
                }
            }
        }
    }
    if let Some(counts) = &f.tr101290 {
        let p1: u64 = Indicator::ALL
            .iter()
            .zip(counts.0)
            .filter(|(i, _)| i.priority() == 1)
            .map(|(_, n)| n)
            .sum();
        // A PAT, PMT or PID missing past its limit counts once, when its gap passes the
        // limit; every interval it is still missing at the end of is bad too.
        let open = f.tr101290_p1_open.unwrap_or(0);
        let v = if p1 + open > 0 {
            Verdict::Bad(Some((p1 + open) as f64), None)
        } else {
            Verdict::Good
        };
        set(verdicts, AlarmRule::Tr101290P1, v);
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests;

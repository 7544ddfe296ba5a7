//! The alarm engine's record and text builders: what each transition says, for people
//! (`text`) and for receivers (the record's fields, docs/alarms.md "The record").

use super::{Active, Flood, FlowAlarms, CLEARED_EVICTED, CLEARED_EXPIRED, CLEARED_SSRC_CHANGE};
use crate::alarm::{
    AlarmRecord, AlarmRule, AlarmSettings, AlarmState, FloodSummary, Shared, ALARM_SCHEMA,
};

pub(super) fn where_text(flow: &FlowAlarms) -> String {
    match &flow.group {
        Some(g) => format!("{} (group {g})", flow.name.id()),
        None => flow.name.id(),
    }
}

pub(super) fn raised_text(
    rule: AlarmRule,
    flow: &FlowAlarms,
    value: Option<f64>,
    threshold: Option<f64>,
    settings: &AlarmSettings,
) -> String {
    let at = where_text(flow);
    let v = value.unwrap_or(0.0);
    match rule {
        AlarmRule::Silent => format!("silent: no packet for {v} s on {at}"),
        AlarmRule::Tr101290P1 => format!(
            "tr101290_p1: {v} TR 101 290 priority 1 errors in the interval or absences open at its end on {at}, {} intervals in a row with errors",
            settings.raise_after
        ),
        _ => {
            let op = if rule.as_str().starts_with("min_") { "<" } else { ">" };
            format!(
                "{rule}: {v} {op} {} on {at}, {} intervals in a row",
                threshold.unwrap_or(0.0),
                settings.raise_after
            )
        }
    }
}

pub(super) fn cleared_text(
    rule: AlarmRule,
    flow: Option<&FlowAlarms>,
    reason: &str,
    clear_after: u32,
) -> String {
    let at = flow.map_or_else(|| "the probe".to_string(), where_text);
    match reason {
        CLEARED_EXPIRED => {
            format!("{rule} cleared on {at}: the flow expired (no packet for the flow timeout)")
        }
        CLEARED_EVICTED => {
            format!("{rule} cleared on {at}: the flow was evicted (flow cap reached)")
        }
        CLEARED_SSRC_CHANGE => {
            format!("{rule} cleared on {at}: its SSRC changed (a new stream replaced it)")
        }
        _ => format!("{rule} cleared on {at}: {clear_after} good intervals in a row"),
    }
}

pub(super) fn acknowledged_text(rule: AlarmRule, flow: Option<&FlowAlarms>, by: &str) -> String {
    let at = flow.map_or_else(|| "the probe".to_string(), where_text);
    format!("{rule} on {at} acknowledged by {by}")
}

pub(super) fn flood_text(rule: AlarmRule, count: u64, shared: &Shared) -> String {
    let mut common = Vec::new();
    if let Some(g) = &shared.group {
        common.push(format!("group {g}"));
    }
    if let Some(p) = &shared.src_prefix {
        common.push(format!("from {p}"));
    }
    if let Some(p) = &shared.dst_prefix {
        common.push(format!("to {p}"));
    }
    if let Some(v) = shared.vlan {
        common.push(format!("VLAN {v}"));
    }
    if let Some(k) = shared.kind {
        common.push(k.as_str().to_string());
    }
    if common.is_empty() {
        format!("{rule} raised on {count} flows at once")
    } else {
        format!(
            "{rule} raised on {count} flows at once: all {}",
            common.join(", ")
        )
    }
}

pub(super) fn flow_record(
    time: i64,
    state: AlarmState,
    rule: AlarmRule,
    flow: &FlowAlarms,
    active: &Active,
    text: String,
    reason: Option<&'static str>,
) -> AlarmRecord {
    AlarmRecord {
        rule,
        flow: Some(flow.name),
        group: flow.group.clone(),
        ..active_record(time, state, active, text, reason)
    }
}

/// What every record of an episode takes from it; the rule and the flow are the caller's.
fn active_record(
    time: i64,
    state: AlarmState,
    active: &Active,
    text: String,
    reason: Option<&'static str>,
) -> AlarmRecord {
    AlarmRecord {
        schema: ALARM_SCHEMA,
        kind_of_record: "alarm",
        id: active.id,
        time,
        state,
        rule: AlarmRule::KernelDrops,
        flow: None,
        group: None,
        raised: active.raised_ns,
        value: active.value,
        threshold: active.threshold,
        text,
        summary: None,
        summarised_in: active.summarised_in,
        reason,
        ack: active.ack.clone(),
    }
}

/// The probe-wide `kernel_drops` alarm's record: a flow's, without the flow.
pub(super) fn probe_record(
    time: i64,
    state: AlarmState,
    active: &Active,
    text: String,
    reason: Option<&'static str>,
) -> AlarmRecord {
    AlarmRecord {
        rule: AlarmRule::KernelDrops,
        flow: None,
        group: None,
        summarised_in: None,
        ..active_record(time, state, active, text, reason)
    }
}

pub(super) fn flood_record(
    id: u64,
    time: i64,
    state: AlarmState,
    flood: &Flood,
    text: String,
    reason: Option<&'static str>,
) -> AlarmRecord {
    AlarmRecord {
        schema: ALARM_SCHEMA,
        kind_of_record: "alarm",
        id,
        time,
        state,
        rule: flood.rule,
        flow: None,
        group: flood.shared.group.clone(),
        raised: flood.raised_ns,
        value: Some(flood.count as f64),
        threshold: None,
        text,
        summary: Some(FloodSummary {
            count: flood.count,
            shared: flood.shared.clone(),
        }),
        summarised_in: None,
        reason,
        ack: flood.ack.clone(),
    }
}

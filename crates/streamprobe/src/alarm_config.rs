//! `[alarms]` and `[[mirror]]` as written in the config file, and their checks.
// Read by the alarm engine, its receivers and the mirror, landing after these tables.
#![allow(dead_code)]

use analysis::alarm::AlarmSettings;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

type Located = (Option<usize>, String);

/// `[alarms]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsTable {
    /// Bad intervals in a row that raise an alarm (default 3).
    raise_after: Option<Spanned<u32>>,
    /// Good intervals in a row that clear it (default 10).
    clear_after: Option<Spanned<u32>>,
    /// Seconds without a packet that make a flow silent (default 5).
    silent_s: Option<Spanned<f64>>,
    /// More flows than this raising one rule in one interval: one summary (default 50).
    flood_threshold: Option<Spanned<u32>>,
    /// SNMPv2c trap receivers, `ADDR:PORT`.
    #[serde(default)]
    snmp_trap: Vec<Spanned<String>>,
    /// Their community (default `public`).
    snmp_community: Option<String>,
    /// The enterprise OID the MIB hangs under.
    snmp_enterprise_oid: Option<Spanned<String>>,
    /// syslog receivers, `udp://ADDR:PORT` or `tcp://ADDR:PORT`.
    #[serde(default)]
    syslog: Vec<Spanned<String>>,
    /// Webhook URLs, `http://HOST:PORT/PATH`.
    #[serde(default)]
    webhook: Vec<Spanned<String>>,
    /// A file holding the webhook HMAC-SHA256 key (relative to the config file's folder).
    webhook_secret_file: Option<PathBuf>,
    /// Alarms each receiver holds while it is away (default 1000).
    queue: Option<Spanned<u32>>,
}

/// `[alarms]` checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlarmsConfig {
    pub settings: AlarmSettings,
    pub snmp_trap: Vec<String>,
    pub snmp_community: Option<String>,
    pub snmp_enterprise_oid: Option<String>,
    pub syslog: Vec<String>,
    pub webhook: Vec<String>,
    pub webhook_secret_file: Option<PathBuf>,
    pub queue: Option<u32>,
}

fn in_range<T: PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: &Option<Spanned<T>>,
    low: T,
    high: T,
) -> Result<Option<T>, Located> {
    match value {
        Some(v) if !(low..=high).contains(v.get_ref()) => Err((
            Some(v.span().start),
            format!("alarms.{key} = {}: must be {low} to {high}", v.get_ref()),
        )),
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    }
}

impl AlarmsTable {
    /// Checks every key; the error names the key and where it is.
    pub fn check(self, folder: &Path) -> Result<AlarmsConfig, Located> {
        let d = AlarmSettings::default();
        let settings = AlarmSettings {
            raise_after: in_range("raise_after", &self.raise_after, 1, 3600)?
                .unwrap_or(d.raise_after),
            clear_after: in_range("clear_after", &self.clear_after, 1, 3600)?
                .unwrap_or(d.clear_after),
            silent_ns: in_range("silent_s", &self.silent_s, 0.001, 1e6)?
                .map_or(d.silent_ns, |s| (s * 1e9).round() as i64),
            flood_threshold: in_range("flood_threshold", &self.flood_threshold, 1, u32::MAX)?
                .unwrap_or(d.flood_threshold),
        };
        let strings = |v: Vec<Spanned<String>>| v.into_iter().map(Spanned::into_inner).collect();
        Ok(AlarmsConfig {
            settings,
            snmp_trap: strings(self.snmp_trap),
            snmp_community: self.snmp_community,
            snmp_enterprise_oid: self.snmp_enterprise_oid.map(Spanned::into_inner),
            syslog: strings(self.syslog),
            webhook: strings(self.webhook),
            webhook_secret_file: self.webhook_secret_file.map(|p| folder.join(p)),
            queue: in_range("queue", &self.queue, 1, 1_000_000)?,
        })
    }
}

/// `[[mirror]]`: a flow copied to a viewer from the start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorTable {
    /// The flow: its destination `ADDR` or `ADDR:PORT`, or its flow id.
    pub flow: Spanned<String>,
    /// Where its datagrams go: a unicast `ADDR:PORT`.
    pub to: Spanned<String>,
    /// Rate limit, e.g. `"20 Mbit/s"` or bit/s (default twice the flow's measured rate).
    pub rate: Option<Spanned<crate::config::Rate>>,
}

/// `[[mirror]]` checked: the forms `POST /api/v1/mirror` takes (docs/mirror.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorConfig {
    pub flow: String,
    pub to: String,
    pub rate_bps: Option<u64>,
}

/// Checks every `[[mirror]]`; the error names the key and where it is.
pub fn check_mirrors(tables: Vec<MirrorTable>) -> Result<Vec<MirrorConfig>, Located> {
    if tables.len() > tap::MAX_TAPS {
        return Err((
            tables.get(tap::MAX_TAPS).map(|t| t.flow.span().start),
            format!("mirror: {} tables, {} at most", tables.len(), tap::MAX_TAPS),
        ));
    }
    let mut checked = Vec::with_capacity(tables.len());
    for t in tables {
        let at = |s: std::ops::Range<usize>| Some(s.start);
        t.flow
            .get_ref()
            .parse::<tap::FlowSpec>()
            .map_err(|e| (at(t.flow.span()), format!("mirror.{e}")))?;
        tap::destination(t.to.get_ref()).map_err(|e| (at(t.to.span()), format!("mirror.{e}")))?;
        let rate_bps = match &t.rate {
            Some(r) => {
                let bps = crate::config::parse_rate(r.get_ref())
                    .map_err(|e| (at(r.span()), format!("mirror.rate: {e}")))?;
                if !tap::RATE_RANGE.contains(&bps) {
                    return Err((
                        at(r.span()),
                        format!(
                            "mirror.rate: {bps} bit/s is outside {} bit/s to {} bit/s",
                            tap::RATE_RANGE.start(),
                            tap::RATE_RANGE.end()
                        ),
                    ));
                }
                Some(bps)
            }
            None => None,
        };
        checked.push(MirrorConfig {
            flow: t.flow.into_inner(),
            to: t.to.into_inner(),
            rate_bps,
        });
    }
    Ok(checked)
}

//! `[alarms]` and `[[mirror]]` as written in the config file, and their checks.
// Read by the alarm engine, its receivers and the mirror, landing after these tables.
#![allow(dead_code)]

use analysis::alarm::AlarmSettings;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::config::Located;

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
    /// The syslog facility, a name or its code (default `local0`).
    syslog_facility: Option<Spanned<String>>,
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
    /// The receivers, checked (crates/alarms).
    pub receivers: alarms::Receivers,
}

fn in_range<T: PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: &Option<Spanned<T>>,
    low: T,
    high: T,
) -> Result<Option<T>, Located> {
    crate::config::in_table_range("alarms", key, value, low, high)
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
        let receivers = self.receivers(folder)?;
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
            receivers,
        })
    }

    /// The receiver keys checked by the alarms crate; an error names the key, the value
    /// and what is wrong with it.
    fn receivers(&self, folder: &Path) -> Result<alarms::Receivers, Located> {
        use alarms::config as check;
        fn one<T>(
            key: &str,
            value: &Spanned<String>,
            check: impl Fn(&str) -> Result<T, String>,
        ) -> Result<T, Located> {
            check(value.get_ref()).map_err(|e| {
                (
                    Some(value.span().start),
                    format!("alarms.{key} = {:?}: {e}", value.get_ref()),
                )
            })
        }
        fn each<T>(
            key: &str,
            values: &[Spanned<String>],
            check: impl Fn(&str) -> Result<T, String>,
        ) -> Result<Vec<T>, Located> {
            values.iter().map(|v| one(key, v, &check)).collect()
        }
        let d = alarms::Receivers::default();
        let community = self
            .snmp_community
            .clone()
            .unwrap_or(d.snmp_community.clone());
        if community.is_empty() {
            return Err((
                None,
                "alarms.snmp_community = \"\": give the receivers' community, such as \"public\""
                    .into(),
            ));
        }
        Ok(alarms::Receivers {
            snmp_trap: each("snmp_trap", &self.snmp_trap, check::snmp_target)?,
            snmp_community: community,
            enterprise: match &self.snmp_enterprise_oid {
                Some(v) => one("snmp_enterprise_oid", v, check::enterprise_oid)?,
                None => d.enterprise.clone(),
            },
            syslog: each("syslog", &self.syslog, check::syslog_target)?,
            syslog_facility: match &self.syslog_facility {
                Some(v) => one("syslog_facility", v, check::facility)?,
                None => d.syslog_facility,
            },
            webhook: each("webhook", &self.webhook, check::webhook_url)?,
            webhook_secret: match &self.webhook_secret_file {
                Some(p) => Some(check::read_secret(&folder.join(p)).map_err(|e| {
                    (
                        None,
                        format!(
                            "alarms.webhook_secret_file = {:?}: {e}",
                            p.display().to_string()
                        ),
                    )
                })?),
                None => None,
            },
            queue: self
                .queue
                .as_ref()
                .map_or(d.queue, |q| *q.get_ref() as usize),
            ..d
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

#[cfg(test)]
mod receiver_tests {
    use crate::config::parse_with_run;
    use std::path::Path;

    fn receivers(text: &str) -> Result<alarms::Receivers, String> {
        parse_with_run(text, Path::new("/nowhere"))
            .map(|(_, run)| run.service.alarms.receivers)
            .map_err(|(_, e)| e)
    }

    #[test]
    fn the_receivers_are_read_and_checked() {
        let r = receivers(
            r#"[alarms]
snmp_trap = ["127.0.0.1:1162"]
snmp_community = "probes"
snmp_enterprise_oid = "1.3.6.1.4.1.8072.9999"
syslog = ["udp://127.0.0.1:1514", "tcp://127.0.0.1"]
syslog_facility = "daemon"
webhook = ["http://127.0.0.1:9000/hook"]
queue = 20
"#,
        )
        .unwrap();
        assert_eq!(r.snmp_trap, ["127.0.0.1:1162".parse().unwrap()]);
        assert_eq!(r.snmp_community, "probes");
        assert_eq!(r.enterprise.number(), 8072);
        assert_eq!(r.syslog[1].to_string(), "tcp://127.0.0.1:514");
        assert_eq!(r.syslog_facility.name(), "daemon");
        assert_eq!((r.webhook.len(), r.queue), (1, 20));
        let d = receivers("").unwrap();
        assert_eq!((d.enterprise.number(), d.queue), (32473, 1000));
    }

    #[test]
    fn a_bad_value_is_one_error_naming_the_key_and_the_value() {
        let e = |text: &str| receivers(&format!("[alarms]\n{text}\n")).unwrap_err();
        assert_eq!(
            e(r#"syslog = ["udp://127.0.0.1:514", "ftp://x"]"#),
            r#"alarms.syslog = "ftp://x": give udp://ADDR:PORT or tcp://ADDR:PORT, such as udp://127.0.0.1:514"#
        );
        assert!(e(r#"snmp_trap = ["127.0.0.1:70000"]"#)
            .starts_with(r#"alarms.snmp_trap = "127.0.0.1:70000": "#));
        assert!(e(r#"snmp_enterprise_oid = "1.3.6.1.2.1""#).starts_with(
            r#"alarms.snmp_enterprise_oid = "1.3.6.1.2.1": the OID must be under enterprises"#
        ));
        assert!(e(r#"webhook = ["https://hooks.example/x"]"#).contains("TLS"));
        assert!(e(r#"syslog_facility = "local9""#)
            .starts_with(r#"alarms.syslog_facility = "local9": "#));
        assert!(e(r#"webhook_secret_file = "missing.key""#).starts_with(
            r#"alarms.webhook_secret_file = "missing.key": cannot read /nowhere/missing.key: "#
        ));
        assert_eq!(e("queue = 0"), "alarms.queue = 0: must be 1 to 1000000");
    }
}

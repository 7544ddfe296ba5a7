//! The TOML config file. Every key has a default; an unknown key or a bad value is an error
//! naming the file, line and key.

use analysis::group::{
    MonitorGroup, MonitorGroups, Prefix, SlaLimits, MAX_PREFIXES, MEDIA_RATE_RANGE,
};
use analysis::AnalysisConfig;
use capture::multicast::Join;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// RTP and TS discovery.
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    /// RTP settings.
    #[serde(default)]
    pub rtp: RtpConfig,
    /// Monitor groups, `[[group]]`.
    #[serde(default)]
    pub group: Vec<GroupConfig>,
    /// `streamprobe run` settings: the keys of its flags.
    #[serde(default)]
    pub run: RunTable,
    /// Resource limits of `analyze` and `run`.
    #[serde(default)]
    pub limits: LimitsTable,
    /// The history store of `run`.
    #[serde(default)]
    pub store: StoreTable,
    /// The REST API of `run`.
    #[serde(default)]
    pub api: ApiTable,
    /// Prometheus `/metrics`.
    #[serde(default)]
    pub metrics: MetricsTable,
    /// `[alarms]`
    #[serde(default)]
    pub alarms: crate::alarm_config::AlarmsTable,
    /// `[[mirror]]`
    #[serde(default)]
    pub mirror: Vec<crate::alarm_config::MirrorTable>,
}

/// `[store]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTable {
    /// `PATH`, `sqlite:PATH` or `none` (`--store`).
    url: Option<String>,
    /// Size cap, e.g. `"10 GB"`, `"500 MB"` or bytes (`--store-max-size`).
    max_size: Option<Spanned<ByteSize>>,
}

/// A size: bytes as a number, or text with a unit.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ByteSize {
    Number(u64),
    Text(String),
}

/// Reads a size: a plain number is bytes; kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB,
/// TiB (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let at = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (digits, unit) = t.split_at(at);
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "k" | "kB" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1048576.0,
        "GiB" => 1073741824.0,
        "TiB" => 1099511627776.0,
        _ => {
            return Err(format!(
                "\"{text}\" is not a size like \"10 GB\", \"500 MiB\" or bytes"
            ))
        }
    };
    match digits.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok((n * scale).round() as u64),
        _ => Err(format!(
            "\"{text}\" is not a size like \"10 GB\", \"500 MiB\" or bytes"
        )),
    }
}

/// `[api]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTable {
    /// `ADDR:PORT` or `none` (`--api-listen`, `--api`).
    listen: Option<String>,
    /// The bearer token's file (`--api-token-file`).
    token_file: Option<PathBuf>,
    /// Reads need the token too (`--api-read-token`).
    read_token: Option<bool>,
}

/// `[metrics]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsTable {
    /// Per-flow series exported at most (`--metrics-max-flow-series`).
    max_flow_series: Option<Spanned<u32>>,
}

/// `[store]`, `[api]` and `[metrics]` checked (flags win over them).
#[derive(Clone, Debug, Default)]
pub struct ServiceConfig {
    pub store_url: Option<String>,
    pub store_max_size: Option<u64>,
    pub api_listen: Option<String>,
    /// Relative to the config file's folder.
    pub api_token_file: Option<PathBuf>,
    pub api_read_token: Option<bool>,
    pub metrics_max_flow_series: Option<u32>,
    /// `[alarms]`.
    #[allow(dead_code)]
    pub alarms: crate::alarm_config::AlarmsConfig,
    /// `[[mirror]]`: flows mirrored from the start.
    pub mirror: Vec<crate::alarm_config::MirrorConfig>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsTable {
    /// The state budget, MiB (`--max-state-mb`).
    max_state_mb: Option<Spanned<u32>>,
}

/// The smallest state budget, MiB: the analyzer's own tables take a few.
pub const MIN_STATE_MB: u32 = 16;

/// `[run]` as written: the keys of `streamprobe run`'s flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunTable {
    interface: Option<String>,
    filter: Option<String>,
    promiscuous: Option<bool>,
    ring_mb: Option<Spanned<u32>>,
    #[serde(default)]
    join: Vec<Spanned<String>>,
    join_interface: Option<String>,
    rcvbuf_mb: Option<Spanned<u32>>,
    replay: Option<PathBuf>,
    speed: Option<Spanned<f64>>,
    #[serde(rename = "loop")]
    repeat: Option<bool>,
    workers: Option<Spanned<u32>>,
    interval: Option<Spanned<u32>>,
    silent_after: Option<Spanned<f64>>,
    expire_after: Option<Spanned<f64>>,
    max_flows: Option<Spanned<u32>>,
    duration: Option<Spanned<f64>>,
    json: Option<bool>,
}

/// `[run]` checked: what each key of the file says (flags win over it).
#[derive(Clone, Debug, Default)]
pub struct RunConfig {
    pub interface: Option<String>,
    pub filter: Option<String>,
    pub promiscuous: Option<bool>,
    pub ring_mb: Option<u32>,
    pub join: Vec<Join>,
    pub join_interface: Option<String>,
    pub rcvbuf_mb: Option<u32>,
    /// Relative to the config file's folder.
    pub replay: Option<PathBuf>,
    pub speed: Option<f64>,
    pub repeat: Option<bool>,
    pub workers: Option<u32>,
    pub interval: Option<u32>,
    pub silent_after: Option<f64>,
    pub expire_after: Option<f64>,
    pub max_flows: Option<u32>,
    pub duration: Option<f64>,
    pub json: Option<bool>,
    /// The service's tables.
    pub service: ServiceConfig,
}

pub type Located = (Option<usize>, String);

/// `[table] key` checked against its range: the error names both and where the value is.
pub fn in_table_range<T: PartialOrd + Copy + std::fmt::Display>(
    table: &str,
    key: &str,
    value: &Option<Spanned<T>>,
    low: T,
    high: T,
) -> Result<Option<T>, Located> {
    match value {
        Some(v) if !(low..=high).contains(v.get_ref()) => Err((
            Some(v.span().start),
            format!("{table}.{key} = {}: must be {low} to {high}", v.get_ref()),
        )),
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    }
}

fn in_range<T: PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: &Option<Spanned<T>>,
    low: T,
    high: T,
) -> Result<Option<T>, Located> {
    in_table_range("run", key, value, low, high)
}

impl RunTable {
    fn check(self, folder: &Path) -> Result<RunConfig, Located> {
        let mut join = Vec::new();
        for j in &self.join {
            join.push(
                j.get_ref()
                    .parse::<Join>()
                    .map_err(|e| (Some(j.span().start), format!("run.join: {e}")))?,
            );
        }
        Ok(RunConfig {
            ring_mb: in_range("ring_mb", &self.ring_mb, 4, 65536)?,
            rcvbuf_mb: in_range("rcvbuf_mb", &self.rcvbuf_mb, 1, 2047)?,
            speed: in_range("speed", &self.speed, 0.001, 1e6)?,
            workers: in_range("workers", &self.workers, 1, 256)?,
            interval: in_range("interval", &self.interval, 1, 3600)?,
            silent_after: in_range("silent_after", &self.silent_after, 0.001, 1e7)?,
            expire_after: in_range("expire_after", &self.expire_after, 0.001, 1e7)?,
            max_flows: in_range("max_flows", &self.max_flows, 16, u32::MAX)?,
            duration: in_range("duration", &self.duration, 0.001, 1e7)?,
            interface: self.interface,
            filter: self.filter,
            promiscuous: self.promiscuous,
            join,
            join_interface: self.join_interface,
            replay: self.replay.map(|p| folder.join(p)),
            repeat: self.repeat,
            json: self.json,
            service: ServiceConfig::default(),
        })
    }
}

/// `[[group]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group's name.
    pub name: Spanned<String>,
    /// Destination prefixes, e.g. `"239.1.0.0/16"`, `"ff3e::/96"` (1 to 100).
    pub prefixes: Spanned<Vec<Spanned<String>>>,
    /// The channels' media rate: bit/s as a number, or a string like `"3.75 Mbit/s"`.
    pub media_rate: Spanned<Rate>,
    /// SLA limits.
    #[serde(default)]
    pub sla: SlaConfig,
}

/// A bit rate: a number of bit/s or a string with a unit.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Rate {
    /// bit/s.
    Number(f64),
    /// `"3.75 Mbit/s"`, `"500k"`, `"10G"`, `"2500000"`.
    Text(String),
}

/// `[group.sla]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Lowest frame rate, frames/s.
    pub min_fps: Option<Spanned<f64>>,
    /// Lowest bitrate.
    pub min_bitrate: Option<Spanned<Rate>>,
    /// Highest bitrate.
    pub max_bitrate: Option<Spanned<Rate>>,
    /// Highest loss, %.
    pub max_loss_pct: Option<Spanned<f64>>,
    /// Highest jitter, ms.
    pub max_jitter_ms: Option<Spanned<f64>>,
    /// Highest MDI Delay Factor, ms.
    pub max_df_ms: Option<Spanned<f64>>,
    /// Highest MDI Media Loss Rate, packets/s.
    pub max_mlr: Option<Spanned<f64>>,
}

/// Reads a bit rate: a plain number is bit/s; a suffix k, M or G (optionally followed by
/// "bit/s", "bps" or "b/s") multiplies by 10^3, 10^6, 10^9.
pub fn parse_rate(rate: &Rate) -> Result<u64, String> {
    let (number, scale) = match rate {
        Rate::Number(n) => (*n, 1.0),
        Rate::Text(t) => {
            let text = t.trim();
            let unit_at = text
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(text.len());
            let (digits, unit) = text.split_at(unit_at);
            let unit = unit.trim();
            let bare = ["bit/s", "bps", "b/s"]
                .iter()
                .find_map(|suffix| unit.strip_suffix(suffix))
                .unwrap_or(unit)
                .trim();
            let scale = match bare {
                "" => 1.0,
                "k" | "K" => 1e3,
                "M" => 1e6,
                "G" => 1e9,
                _ => {
                    return Err(format!(
                        "\"{t}\" is not a bit rate like \"3.75 Mbit/s\", \"500k\" or 2500000"
                    ))
                }
            };
            let n: f64 = digits.parse().map_err(|_| {
                format!("\"{t}\" is not a bit rate like \"3.75 Mbit/s\", \"500k\" or 2500000")
            })?;
            (n, scale)
        }
    };
    let bps = number * scale;
    if !bps.is_finite() || bps < 0.0 {
        return Err(format!("{bps} is not a bit rate"));
    }
    Ok(bps.round() as u64)
}

/// `[discovery]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Consecutive sequence numbers that confirm a stream (1-16, default 3).
    pub probation: Option<u8>,
    /// Payload types that may start a stream: numbers and "from-to" ranges.
    pub payload_types: Option<Vec<PayloadTypes>>,
}

/// One entry of `payload_types`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PayloadTypes {
    /// A single payload type.
    One(u8),
    /// A range "96-127".
    Range(String),
}

/// `[rtp]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtpConfig {
    /// Clock rate (Hz) per payload type, e.g. `{ "97" = 48000 }`.
    #[serde(default)]
    pub clock_rates: BTreeMap<String, u32>,
}

/// Line and column (in characters, from 1) of a byte offset into `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, col)
}

/// Reads and checks a config file. The error is one line: `FILE:LINE:COL: what`.
pub fn load(path: &Path) -> Result<AnalysisConfig, String> {
    load_with_run(path).map(|(config, _)| config)
}

/// Reads and checks a config file, its `[run]` table included; a replayed file is found
/// relative to the config file's folder.
pub fn load_with_run(path: &Path) -> Result<(AnalysisConfig, RunConfig), String> {
    load_text_with_run(path).map(|(_, config, run)| (config, run))
}

/// [`load_with_run`] with the text it read: what a running probe says is in force, and
/// what its reloads compare with, is the file as it was read at start.
pub fn load_text_with_run(path: &Path) -> Result<(String, AnalysisConfig, RunConfig), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let (config, run) = parse_with_run(&text, folder).map_err(|(offset, msg)| match offset {
        Some(o) => {
            let (line, col) = line_col(&text, o);
            format!("{}:{line}:{col}: {msg}", path.display())
        }
        None => format!("{}: {msg}", path.display()),
    })?;
    Ok((text, config, run))
}

/// Parses config text; errors carry the byte offset where known.
#[cfg(test)]
pub fn parse(text: &str) -> Result<AnalysisConfig, Located> {
    parse_with_run(text, Path::new(".")).map(|(config, _)| config)
}

/// Parses config text with its `[run]` table.
pub fn parse_with_run(text: &str, folder: &Path) -> Result<(AnalysisConfig, RunConfig), Located> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        (e.span().map(|s| s.start), msg)
    })?;
    let find = |key: &str| text.find(key);
    let mut config = AnalysisConfig::default();
    if let Some(mb) = &file.limits.max_state_mb {
        let value = *mb.get_ref();
        if value < MIN_STATE_MB {
            return Err((
                Some(mb.span().start),
                format!("limits.max_state_mb = {value}: must be at least {MIN_STATE_MB}"),
            ));
        }
        config.max_state_bytes = value as usize * (1 << 20);
    }
    if let Some(p) = file.discovery.probation {
        if !(1..=analysis::config::MAX_PROBATION).contains(&p) {
            return Err((
                find("probation"),
                format!("discovery.probation = {p}: must be 1 to 16"),
            ));
        }
        config.probation = p;
    }
    if let Some(list) = &file.discovery.payload_types {
        let mut set = 0u128;
        for entry in list {
            let (from, to) = match entry {
                PayloadTypes::One(pt) => (*pt, *pt),
                PayloadTypes::Range(r) => {
                    let parsed = r
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
                    match parsed {
                        Some((a, b)) if a <= b => (a, b),
                        _ => {
                            return Err((
                                find(r.as_str()),
                                format!(
                                "discovery.payload_types: \"{r}\" is not a range like \"96-127\""
                            ),
                            ))
                        }
                    }
                }
            };
            if to > 127 {
                return Err((
                    find("payload_types"),
                    format!("discovery.payload_types: {to} is not a payload type (0-127)"),
                ));
            }
            for pt in from..=to {
                set |= 1u128 << pt;
            }
        }
        config.rtp_payload_types = set;
    }
    for (pt, &rate) in &file.rtp.clock_rates {
        let n: u8 = match pt.parse() {
            Ok(n) if n < 128 => n,
            _ => {
                return Err((
                    find(pt.as_str()),
                    format!("rtp.clock_rates: \"{pt}\" is not a payload type (0-127)"),
                ))
            }
        };
        if rate == 0 {
            return Err((
                find(pt.as_str()),
                format!("rtp.clock_rates.{pt}: clock rate must be above 0"),
            ));
        }
        config.clock_rates[usize::from(n)] = rate;
    }
    config.groups = groups(&file.group)?;
    let mut run = file.run.check(folder)?;
    let max_size = match &file.store.max_size {
        Some(v) => Some(match v.get_ref() {
            ByteSize::Number(n) => *n,
            ByteSize::Text(t) => {
                parse_size(t).map_err(|e| (Some(v.span().start), format!("store.max_size: {e}")))?
            }
        }),
        None => None,
    };
    run.service = ServiceConfig {
        // A store file named in the file is found relative to its folder, as a replay is.
        store_url: file.store.url.map(|u| match u.trim() {
            "none" => u,
            t if t.contains("://") => u,
            t => {
                let path = Path::new(t.strip_prefix("sqlite:").unwrap_or(t));
                folder.join(path).display().to_string()
            }
        }),
        store_max_size: max_size,
        api_listen: file.api.listen,
        api_token_file: file.api.token_file.map(|p| folder.join(p)),
        api_read_token: file.api.read_token,
        metrics_max_flow_series: in_table_range(
            "metrics",
            "max_flow_series",
            &file.metrics.max_flow_series,
            0,
            u32::MAX,
        )?,
        alarms: file.alarms.check(folder)?,
        mirror: crate::alarm_config::check_mirrors(file.mirror)?,
    };
    Ok((config, run))
}

fn groups(list: &[GroupConfig]) -> Result<MonitorGroups, (Option<usize>, String)> {
    let mut groups = Vec::new();
    for g in list {
        let name = g.name.get_ref().trim();
        let at = |span: std::ops::Range<usize>| Some(span.start);
        if name.is_empty() {
            return Err((at(g.name.span()), "group.name: must not be empty".into()));
        }
        if groups.iter().any(|other: &MonitorGroup| other.name == name) {
            return Err((
                at(g.name.span()),
                format!("group.name: \"{name}\" is used by two groups"),
            ));
        }
        let key = |k: &str| format!("group \"{name}\": {k}");
        let prefixes = g.prefixes.get_ref();
        if prefixes.is_empty() || prefixes.len() > MAX_PREFIXES {
            return Err((
                at(g.prefixes.span()),
                key(&format!(
                    "prefixes: {} given, 1 to {MAX_PREFIXES} allowed",
                    prefixes.len()
                )),
            ));
        }
        let mut parsed = Vec::with_capacity(prefixes.len());
        for p in prefixes {
            let prefix: Prefix = p
                .get_ref()
                .parse()
                .map_err(|e| (at(p.span()), key(&format!("prefixes: {e}"))))?;
            parsed.push(prefix);
        }
        let rate = |r: &Spanned<Rate>, what: &str| {
            parse_rate(r.get_ref()).map_err(|e| (at(r.span()), key(&format!("{what}: {e}"))))
        };
        let media_rate_bps = rate(&g.media_rate, "media_rate")?;
        if !MEDIA_RATE_RANGE.contains(&media_rate_bps) {
            return Err((
                at(g.media_rate.span()),
                key(&format!(
                    "media_rate: {media_rate_bps} bit/s is outside 10 kbit/s to 100 Gbit/s"
                )),
            ));
        }
        let limit = |v: &Option<Spanned<f64>>, what: &str| match v {
            Some(v) if !v.get_ref().is_finite() || *v.get_ref() < 0.0 => Err((
                at(v.span()),
                key(&format!("sla.{what}: must be a number of 0 or more")),
            )),
            Some(v) => Ok(Some(*v.get_ref())),
            None => Ok(None),
        };
        let sla = &g.sla;
        let limits = SlaLimits {
            min_fps: limit(&sla.min_fps, "min_fps")?,
            min_bitrate_bps: sla
                .min_bitrate
                .as_ref()
                .map(|r| rate(r, "sla.min_bitrate"))
                .transpose()?,
            max_bitrate_bps: sla
                .max_bitrate
                .as_ref()
                .map(|r| rate(r, "sla.max_bitrate"))
                .transpose()?,
            max_loss_pct: limit(&sla.max_loss_pct, "max_loss_pct")?,
            max_jitter_ms: limit(&sla.max_jitter_ms, "max_jitter_ms")?,
            max_df_ms: limit(&sla.max_df_ms, "max_df_ms")?,
            max_mlr: limit(&sla.max_mlr, "max_mlr")?,
        };
        if let (Some(lo), Some(hi), Some(span)) = (
            limits.min_bitrate_bps,
            limits.max_bitrate_bps,
            sla.max_bitrate.as_ref().map(Spanned::span),
        ) {
            if lo > hi {
                return Err((
                    at(span),
                    key(&format!(
                        "sla.max_bitrate ({hi}) is below sla.min_bitrate ({lo})"
                    )),
                ));
            }
        }
        groups.push(MonitorGroup {
            name: name.to_string(),
            prefixes: parsed,
            media_rate_bps,
            sla: limits,
        });
    }
    MonitorGroups::new(groups).map_err(|e| {
        let span = list[e.group].prefixes.get_ref()[e.index].span();
        (Some(span.start), format!("group.prefixes: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_config() {
        let c = parse("[discovery]\nprobation = 2\npayload_types = [\"96-100\", 33]\n[rtp]\nclock_rates = { \"97\" = 48000 }\n").unwrap();
        assert_eq!(c.probation, 2);
        assert!(
            c.accepts_payload_type(33)
                && c.accepts_payload_type(100)
                && !c.accepts_payload_type(101)
        );
        assert_eq!(c.clock_rate(97), 48000);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let text = "[discovery]\nprobation = 3\nprobaton = 4\n";
        let (offset, msg) = parse(text).unwrap_err();
        assert_eq!(line_col(text, offset.unwrap()).0, 3);
        assert!(msg.contains("probaton"), "{msg}");
        assert_eq!(
            parse("[limits]\nmax_state_mb = 512\n")
                .unwrap()
                .max_state_bytes,
            512 << 20
        );
        let (_, msg) = parse("[limits]\nmax_state_mb = 2\n").unwrap_err();
        assert_eq!(msg, "limits.max_state_mb = 2: must be at least 16");
        let (offset, msg) = parse("[discovery]\nprobation = 40\n").unwrap_err();
        assert!(offset.is_some() && msg.contains("1 to 16"), "{msg}");
        assert!(parse("[discovery]\npayload_types = [\"x-1\"]\n")
            .unwrap_err()
            .1
            .contains("x-1"));
        assert!(parse("[rtp]\nclock_rates = { \"300\" = 8000 }\n")
            .unwrap_err()
            .1
            .contains("300"));
    }

    const GROUPS: &str = r#"
[[group]]
name = "iptv-hd"
prefixes = ["239.1.0.0/16", "ff3e::/96"]
media_rate = "3.75 Mbit/s"
[group.sla]
max_loss_pct = 0.1
max_df_ms = 50
min_bitrate = "3M"
max_bitrate = 4500000

[[group]]
name = "one-channel"
prefixes = ["239.1.1.1"]
media_rate = 2000000
"#;

    #[test]
    fn groups_parse_with_rates_and_limits() {
        let c = parse(GROUPS).unwrap();
        let groups = c.groups.groups();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].media_rate_bps, 3_750_000);
        assert_eq!(groups[0].sla.max_df_ms, Some(50.0));
        assert_eq!(groups[0].sla.min_bitrate_bps, Some(3_000_000));
        assert_eq!(groups[0].sla.max_bitrate_bps, Some(4_500_000));
        assert!(groups[1].sla.is_empty());
        assert_eq!(c.groups.lookup("239.1.1.1".parse().unwrap()), Some(1));
        assert_eq!(c.groups.lookup("239.1.9.9".parse().unwrap()), Some(0));
        for (text, bps) in [
            ("500k", 500_000),
            ("10G", 10_000_000_000),
            ("2.5 Mbps", 2_500_000),
        ] {
            assert_eq!(parse_rate(&Rate::Text(text.into())), Ok(bps), "{text}");
        }
    }

    #[test]
    fn group_errors_name_the_line_and_key() {
        let line_of = |text: &str| {
            let (offset, msg) = parse(text).unwrap_err();
            (line_col(text, offset.expect("a position")).0, msg)
        };
        let bad = GROUPS.replace("\"239.1.1.1\"", "\"239.1.0.0/16\"");
        let (line, msg) = line_of(&bad);
        assert_eq!(line, 14, "{msg}");
        assert!(msg.contains("\"iptv-hd\" and \"one-channel\""), "{msg}");
        let (line, msg) = line_of(&GROUPS.replace("media_rate = 2000000", "media_rate = 5000"));
        assert_eq!(line, 15);
        assert!(msg.contains("outside 10 kbit/s to 100 Gbit/s"), "{msg}");
        let (line, msg) = line_of(&GROUPS.replace("\"ff3e::/96\"", "\"ff3e::1/96\""));
        assert_eq!(line, 4);
        assert!(
            msg.contains("host bits") && msg.contains("iptv-hd"),
            "{msg}"
        );
        let (line, msg) = line_of(&GROUPS.replace("\"3.75 Mbit/s\"", "\"fast\""));
        assert_eq!(line, 5);
        assert!(msg.contains("media_rate") && msg.contains("fast"), "{msg}");
        let (line, msg) = line_of(&GROUPS.replace("max_df_ms = 50", "max_df_ms = -1"));
        assert_eq!(line, 8);
        assert!(msg.contains("sla.max_df_ms"), "{msg}");
        let (line, msg) = line_of(&GROUPS.replace("max_loss_pct", "max_los_pct"));
        assert_eq!(line, 7);
        assert!(msg.contains("max_los_pct"), "{msg}");
        let (_, msg) = line_of(&GROUPS.replace("media_rate = 2000000\n", ""));
        assert!(msg.contains("media_rate"), "{msg}");
        let many: Vec<String> = (0..101).map(|i| format!("\"10.0.{i}.0/24\"")).collect();
        let text = format!(
            "[[group]]\nname = \"big\"\nprefixes = [{}]\nmedia_rate = 1000000\n",
            many.join(",")
        );
        assert!(line_of(&text).1.contains("101 given, 1 to 100"));
    }
}

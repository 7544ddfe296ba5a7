//! The TOML config file. Every key has a default; an unknown key or a bad value is an error
//! naming the file, line and key.

use analysis::AnalysisConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Reads and checks a config file. The error is one line: `FILE:LINE:COL: what`.
pub fn load(path: &Path) -> Result<AnalysisConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text).map_err(|(offset, msg)| match offset {
        Some(o) => {
            let (line, col) = line_col(&text, o);
            format!("{}:{line}:{col}: {msg}", path.display())
        }
        None => format!("{}: {msg}", path.display()),
    })
}

/// Parses config text; errors carry the byte offset where known.
pub fn parse(text: &str) -> Result<AnalysisConfig, (Option<usize>, String)> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        (e.span().map(|s| s.start), msg)
    })?;
    let find = |key: &str| text.find(key);
    let mut config = AnalysisConfig::default();
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
    Ok(config)
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
}

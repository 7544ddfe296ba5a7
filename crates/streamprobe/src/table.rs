//! The human-readable report.

use analysis::report::FlowReport;
use analysis::AnalysisReport;
use std::io::{self, Write};

fn mbps(bps: u64) -> String {
    format!("{:.3}", bps as f64 / 1e6)
}

/// A flow as the table names it: `src > dst`, or its id (a recording's file name).
fn name(f: &FlowReport) -> String {
    match (&f.src, &f.dst) {
        (Some(src), Some(dst)) => format!("{src} > {dst}"),
        _ => f.id.clone(),
    }
}

/// The width the tables keep to by default.
pub const WIDTH: usize = 120;

/// `head` and `items` joined by ", ", in lines of at most [`WIDTH`] columns (an item longer
/// than a line gets one of its own); lines after the first are indented.
fn wrapped(out: &mut impl Write, head: &str, items: &[String]) -> io::Result<()> {
    const INDENT: &str = "   ";
    let mut line = head.to_string();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if line.len() + 1 + piece.len() > WIDTH && line.len() > INDENT.len() {
            writeln!(out, "{line}")?;
            line = INDENT.to_string();
        }
        line.push(' ');
        line.push_str(&piece);
    }
    writeln!(out, "{line}")
}

/// One column of the flow table: its header, width, side and value.
struct Column {
    header: &'static str,
    width: usize,
    left: bool,
    /// Shown with `--wide` only.
    wide: bool,
    value: fn(&FlowReport) -> String,
}

fn dash() -> String {
    "-".to_string()
}

/// Jitter in ms; `*` marks a clock rate assumed, not known (definitions.md).
fn jitter(f: &FlowReport, ms: fn(&analysis::report::RtpReport) -> f64) -> String {
    f.rtp.as_ref().map_or_else(dash, |rtp| {
        let assumed = if rtp.clock_rate_source == "assumed" {
            "*"
        } else {
            ""
        };
        format!("{:.3} ms{assumed}", ms(rtp))
    })
}

/// The flow table's columns, in order. The default ones fit a 120-column terminal.
const COLUMNS: &[Column] = &[
    Column {
        header: "FLOW (src > dst)",
        width: 34,
        left: true,
        wide: false,
        value: name,
    },
    Column {
        header: "SSRC",
        width: 10,
        left: true,
        wide: false,
        value: |f| f.ssrc.map_or_else(dash, |s| format!("0x{s:08x}")),
    },
    Column {
        header: "KIND",
        width: 6,
        left: true,
        wide: false,
        value: |f| f.kind.to_string(),
    },
    Column {
        header: "PAYLOAD",
        width: 7,
        left: true,
        wide: true,
        value: |f| f.payload.to_string(),
    },
    Column {
        header: "PACKETS",
        width: 7,
        left: false,
        wide: false,
        value: |f| f.packets.to_string(),
    },
    Column {
        // RTP: sequence numbers never received; MPEG-TS over UDP: TS packets missing by
        // continuity, as `run` shows them.
        header: "LOST",
        width: 5,
        left: false,
        wide: false,
        value: |f| match (&f.rtp, &f.ts) {
            (Some(rtp), _) => rtp.lost.to_string(),
            (None, Some(ts)) => ts.missing_packets.to_string(),
            _ => dash(),
        },
    },
    Column {
        header: "DUP",
        width: 4,
        left: false,
        wide: false,
        value: |f| match (&f.rtp, &f.ts) {
            (Some(rtp), _) => rtp.duplicates.to_string(),
            (None, Some(ts)) => ts.duplicate_datagrams.to_string(),
            _ => dash(),
        },
    },
    Column {
        header: "REORD",
        width: 5,
        left: false,
        wide: false,
        value: |f| {
            f.rtp
                .as_ref()
                .map_or_else(dash, |r| r.reordered.to_string())
        },
    },
    Column {
        header: "JUMPS",
        width: 5,
        left: false,
        wide: true,
        value: |f| {
            f.rtp
                .as_ref()
                .map_or_else(dash, |r| r.seq_jumps.to_string())
        },
    },
    Column {
        header: "JIT MAX",
        width: 10,
        left: false,
        wide: false,
        value: |f| jitter(f, |r| r.jitter_ms_max),
    },
    Column {
        header: "JIT MEAN",
        width: 10,
        left: false,
        wide: true,
        value: |f| jitter(f, |r| r.jitter_ms_mean),
    },
    Column {
        header: "MAX GAP",
        width: 9,
        left: false,
        wide: true,
        value: |f| {
            f.rtp
                .as_ref()
                .map_or_else(dash, |r| format!("{:.1} ms", r.max_delta_ms))
        },
    },
    Column {
        // Frames by marker bit: RTP video only (TS in RTP has no frames to count).
        header: "FPS",
        width: 5,
        left: false,
        wide: false,
        value: |f| match &f.rtp {
            Some(rtp) => rtp.fps.map_or_else(dash, |fps| format!("{fps:.2}")),
            _ => dash(),
        },
    },
    Column {
        header: "MBIT/S",
        width: 6,
        left: false,
        wide: false,
        value: |f| mbps(f.bitrate_bps),
    },
    Column {
        header: "DF MAX",
        width: 9,
        left: false,
        wide: false,
        value: |f| {
            f.mdi
                .as_ref()
                .and_then(|m| m.df_ms_max)
                .map_or_else(dash, |df| format!("{df:.1} ms"))
        },
    },
    Column {
        header: "MLR MAX",
        width: 7,
        left: false,
        wide: true,
        value: |f| {
            f.mdi
                .as_ref()
                .map_or_else(dash, |m| format!("{:.1}", m.mlr_max))
        },
    },
    Column {
        // TR 101 290 events of priority 1, 2 and 3.
        header: "TR290",
        width: 8,
        left: false,
        wide: false,
        value: |f| {
            f.ts.as_ref().map_or_else(dash, |ts| {
                let count = |p: u8| -> u64 {
                    ts.tr101290
                        .0
                        .iter()
                        .filter(|(_, i)| i.priority == p)
                        .map(|(_, i)| i.count)
                        .sum()
                };
                format!("{}/{}/{}", count(1), count(2), count(3))
            })
        },
    },
    Column {
        header: "GROUP",
        width: 0,
        left: true,
        wide: true,
        value: |f| f.group.clone().unwrap_or_else(dash),
    },
];

/// One row of the columns shown, joined by spaces, without trailing blanks.
fn row(wide: bool, cell: impl Fn(&Column) -> String) -> String {
    let cells: Vec<String> = COLUMNS
        .iter()
        .filter(|c| wide || !c.wide)
        .map(|c| {
            let text = cell(c);
            if c.left {
                format!("{text:<width$}", width = c.width)
            } else {
                format!("{text:>width$}", width = c.width)
            }
        })
        .collect();
    cells.join(" ").trim_end().to_string()
}

/// Writes the report as a table, one row per flow, then capture-level counters. The
/// default columns fit 120 columns; `wide` adds payload, sequence jumps, mean jitter,
/// largest gap, MLR and group.
pub fn write(out: &mut impl Write, r: &AnalysisReport, wide: bool) -> io::Result<()> {
    let c = &r.capture;
    writeln!(
        out,
        "{}: {} packets, {} bytes, {:.3} s, start {}",
        c.file,
        c.packets,
        c.bytes,
        c.duration_s,
        c.start.as_deref().unwrap_or("-")
    )?;
    writeln!(out, "{}", row(wide, |c| c.header.to_string()))?;
    let flow_width = COLUMNS[0].width;
    for f in &r.flows {
        // A name longer than its column (long IPv4 endpoints, IPv6) gets a line of its own,
        // so the figures stay in their columns within 120.
        let long = name(f).len() > flow_width;
        if long {
            writeln!(out, "{}", name(f))?;
        }
        writeln!(
            out,
            "{}",
            row(wide, |c| if long && c.header == COLUMNS[0].header {
                String::new()
            } else {
                (c.value)(f)
            })
        )?;
    }
    if r.flows.iter().any(|f| {
        f.rtp
            .as_ref()
            .is_some_and(|r| r.clock_rate_source == "assumed")
    }) {
        writeln!(
            out,
            "* jitter with an assumed 90 kHz clock: set [rtp] clock_rates for its payload type"
        )?;
    }
    if r.flows.is_empty() {
        writeln!(out, "(no media flows found)")?;
    }
    for f in &r.flows {
        let events: Vec<String> =
            f.ts.iter()
                .flat_map(|ts| {
                    ts.tr101290
                        .0
                        .iter()
                        .filter(|(_, i)| i.count > 0)
                        .map(|(name, i)| {
                            format!(
                                "{name} {} ({:.3}-{:.3} s)",
                                i.count,
                                i.first_s.unwrap_or(0.0),
                                i.last_s.unwrap_or(0.0)
                            )
                        })
                })
                .collect();
        if !events.is_empty() {
            wrapped(out, &format!("TR 101 290 {}:", name(f)), &events)?;
        }
        if let Some(sla) = f.sla.as_ref().filter(|s| !s.violations.is_empty()) {
            let broken: Vec<String> = sla
                .violations
                .iter()
                .map(|v| format!("{} {:.3} (limit {})", v.limit, v.value, v.threshold))
                .collect();
            let head = format!(
                "SLA of group {} broken by {}:",
                f.group.as_deref().unwrap_or("-"),
                name(f)
            );
            wrapped(out, &head, &broken)?;
        }
    }
    let d = &c.discovery;
    writeln!(
        out,
        "discovery: {} candidates, {} confirmed, {} rejected, {} reprobed; other UDP: {} flows, {} packets",
        d.candidates,
        d.confirmed,
        d.rejected,
        d.reprobed,
        c.other_udp.flows,
        c.other_udp.packets,
    )?;
    writeln!(
        out,
        "RTCP: {} packets, {} matching no stream",
        c.rtcp_packets, c.rtcp_unmatched
    )?;
    let skipped: Vec<String> = c
        .skipped
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if skipped.is_empty() {
        writeln!(out, "skipped: none")?;
    } else {
        wrapped(out, "skipped:", &skipped)?;
    }
    if c.refused_state > 0 || c.refused > 0 {
        writeln!(
            out,
            "refused: {} datagrams of new flows past the state budget ({:.0} MiB, --max-state-mb), {} past the flow cap",
            c.refused_state,
            c.state_budget_bytes.unwrap_or(0) as f64 / 1048576.0,
            c.refused
        )?;
    }
    Ok(())
}

/// Writes one live interval: its events, then its active flows, the most troubled first
/// (loss, duplicates and reordering, then TR 101 290 events, then Delay Factor). At most
/// `max_rows` flows are listed (a terminal's height); a last line says how many were not.
pub fn write_interval(
    out: &mut impl Write,
    time: &str,
    interval_s: f64,
    flows: &mut [&analysis::interval::FlowRecord],
    events: &[&analysis::interval::EventRecord],
    max_rows: usize,
) -> io::Result<()> {
    writeln!(out, "{time} ({interval_s:.3} s)")?;
    for e in events {
        match (e.silent_s, e.new_ssrc, &e.violations) {
            (Some(s), _, _) => writeln!(
                out,
                "  {} {} ({s:.3} s without packets)",
                e.event,
                e.name.id()
            )?,
            (_, Some(ssrc), _) => {
                writeln!(out, "  {} {} (new SSRC 0x{ssrc:08x})", e.event, e.name.id())?
            }
            (_, _, Some(violations)) => {
                let broken: Vec<String> = violations
                    .iter()
                    .map(|v| format!("{} {} (limit {})", v.limit, v.value, v.threshold))
                    .collect();
                writeln!(out, "  {} {}: {}", e.event, e.name.id(), broken.join(", "))?
            }
            _ => writeln!(out, "  {} {}", e.event, e.name.id())?,
        }
    }
    let tr290 =
        |f: &analysis::interval::FlowRecord| f.tr101290.map_or(0, |c| c.0.iter().sum::<u64>());
    let trouble = |f: &analysis::interval::FlowRecord| {
        (
            f.lost + f.duplicates + f.reordered.unwrap_or(0),
            tr290(f),
            (f.df_ms.unwrap_or(0.0) * 1000.0) as u64,
        )
    };
    flows.sort_by_key(|f| std::cmp::Reverse(trouble(f)));
    // 120 columns: the flow id of an IPv4 RTP stream (43) fits whole.
    writeln!(
        out,
        "{:<43} {:<6} {:>6} {:>6} {:>5} {:>4} {:>5} {:>9} {:>5} {:>8} {:>4} {:>8}",
        "FLOW",
        "KIND",
        "PKTS",
        "MBIT/S",
        "LOST",
        "DUP",
        "REORD",
        "JITTER",
        "FPS",
        "DF",
        "MLR",
        "TR290"
    )?;
    let opt = |v: Option<f64>, decimals: usize, unit: &str| {
        v.map_or("-".to_string(), |v| format!("{v:.decimals$}{unit}"))
    };
    for f in flows.iter().take(max_rows) {
        // `*`: jitter converted with an assumed clock rate (definitions.md).
        let assumed = if f.clock_rate_source == Some("assumed") {
            "*"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<43} {:<6} {:>6} {:>6.3} {:>5} {:>4} {:>5} {:>9} {:>5} {:>8} {:>4} {:>8}",
            f.name.id(),
            f.name.kind,
            f.packets,
            f.bitrate_bps / 1e6,
            f.lost,
            f.duplicates,
            f.reordered.map_or("-".to_string(), |n| n.to_string()),
            opt(f.jitter_ms, 3, &format!(" ms{assumed}")),
            opt(f.fps, 2, ""),
            opt(f.df_ms, 1, " ms"),
            opt(f.mlr, 1, ""),
            // TR 101 290 events of priority 1, 2 and 3, as `analyze` shows them.
            f.tr101290.map_or("-".to_string(), |c| {
                let count = |p: u8| -> u64 {
                    analysis::ts::Indicator::ALL
                        .iter()
                        .zip(c.0)
                        .filter(|(i, _)| i.priority() == p)
                        .map(|(_, n)| n)
                        .sum()
                };
                format!("{}/{}/{}", count(1), count(2), count(3))
            }),
        )?;
    }
    if flows.len() > max_rows {
        writeln!(out, "... {} more active flows", flows.len() - max_rows)?;
    }
    Ok(())
}

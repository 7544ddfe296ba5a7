//! The human-readable report.

use analysis::AnalysisReport;
use std::io::{self, Write};

fn mbps(bps: u64) -> String {
    format!("{:.3}", bps as f64 / 1e6)
}

/// A flow as the table names it: `src > dst`, or its id (a recording's file name).
fn name(f: &analysis::report::FlowReport) -> String {
    match (&f.src, &f.dst) {
        (Some(src), Some(dst)) => format!("{src} > {dst}"),
        _ => f.id.clone(),
    }
}

/// Writes the report as a table, one row per flow, then capture-level counters.
pub fn write(out: &mut impl Write, r: &AnalysisReport) -> io::Result<()> {
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
    writeln!(
        out,
        "{:<46} {:<10} {:<6} {:<7} {:>8} {:>6} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>7} {:>11} GROUP",
        "FLOW (src > dst)",
        "SSRC",
        "KIND",
        "PAYLOAD",
        "PACKETS",
        "LOST",
        "DUP",
        "REORD",
        "JUMPS",
        "JIT MAX",
        "JIT MEAN",
        "MAX GAP",
        "FPS",
        "MBIT/S",
        "DF MAX",
        "MLR MAX",
        "TR290 P1/2/3"
    )?;
    for f in &r.flows {
        let flow = name(f);
        let ssrc = f.ssrc.map_or("-".to_string(), |s| format!("0x{s:08x}"));
        match &f.rtp {
            Some(rtp) => write!(
                out,
                "{:<46} {:<10} {:<6} {:<7} {:>8} {:>6} {:>5} {:>5} {:>5} {:>6.3} ms {:>6.3} ms {:>6.1} ms {:>7.2} {:>8}",
                flow, ssrc, f.kind, f.payload, f.packets, rtp.lost, rtp.duplicates, rtp.reordered, rtp.seq_jumps,
                rtp.jitter_ms_max, rtp.jitter_ms_mean, rtp.max_delta_ms, rtp.fps, mbps(f.bitrate_bps)
            )?,
            None => {
                // MPEG-TS over plain UDP: TS packets missing by continuity and duplicate
                // datagrams, as `run` shows them.
                let (lost, dup) = f.ts.as_ref().map_or(("-".to_string(), "-".to_string()), |ts| {
                    (ts.missing_packets.to_string(), ts.duplicate_datagrams.to_string())
                });
                write!(
                    out,
                    "{:<46} {:<10} {:<6} {:<7} {:>8} {:>6} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9} {:>7} {:>8}",
                    flow, ssrc, f.kind, f.payload, f.packets, lost, dup, "-", "-", "-", "-", "-", "-", mbps(f.bitrate_bps)
                )?
            }
        }
        let df = f
            .mdi
            .as_ref()
            .and_then(|m| m.df_ms_max)
            .map_or("-".to_string(), |df| format!("{df:.1} ms"));
        let mlr = f
            .mdi
            .as_ref()
            .map_or("-".to_string(), |m| format!("{:.1}", m.mlr_max));
        let tr290 = f.ts.as_ref().map_or("-".to_string(), |ts| {
            let count = |p: u8| -> u64 {
                ts.tr101290
                    .0
                    .iter()
                    .filter(|(_, i)| i.priority == p)
                    .map(|(_, i)| i.count)
                    .sum()
            };
            format!("{}/{}/{}", count(1), count(2), count(3))
        });
        writeln!(
            out,
            " {df:>9} {mlr:>7} {tr290:>11} {}",
            f.group.as_deref().unwrap_or("-")
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
            writeln!(out, "TR 101 290 {}: {}", name(f), events.join(", "))?;
        }
        if let Some(sla) = f.sla.as_ref().filter(|s| !s.violations.is_empty()) {
            let broken: Vec<String> = sla
                .violations
                .iter()
                .map(|v| format!("{} {:.3} (limit {})", v.limit, v.value, v.threshold))
                .collect();
            writeln!(
                out,
                "SLA of group {} broken by {}: {}",
                f.group.as_deref().unwrap_or("-"),
                name(f),
                broken.join(", ")
            )?;
        }
    }
    let d = &c.discovery;
    writeln!(
        out,
        "discovery: {} candidates, {} confirmed, {} rejected, {} reprobed; other UDP: {} flows, {} packets; RTCP: {} packets, {} unmatched",
        d.candidates,
        d.confirmed,
        d.rejected,
        d.reprobed,
        c.other_udp.flows,
        c.other_udp.packets,
        c.rtcp_packets,
        c.rtcp_unmatched
    )?;
    let skipped: Vec<String> = c
        .skipped
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(
        out,
        "skipped: {}",
        if skipped.is_empty() {
            "none".to_string()
        } else {
            skipped.join(", ")
        }
    )?;
    Ok(())
}

/// Writes one live interval: its events, then its active flows, the most troubled first
/// (loss, duplicates and reordering, then TR 101 290 events, then Delay Factor). At most
/// `max_rows` flows are listed (a terminal's height); a last line says how many were not.
pub fn write_interval(
    out: &mut impl Write,
    time: &str,
    interval_s: f64,
    flows: &mut [Box<analysis::interval::FlowRecord>],
    events: &[Box<analysis::interval::EventRecord>],
    max_rows: usize,
) -> io::Result<()> {
    writeln!(out, "{time} ({interval_s:.3} s)")?;
    for e in events {
        match (e.silent_s, e.new_ssrc, &e.violations) {
            (Some(s), _, _) => writeln!(
                out,
                "  {} {} ({s:.3} s without packets)",
                e.event, e.name.flow
            )?,
            (_, Some(ssrc), _) => {
                writeln!(out, "  {} {} (new SSRC 0x{ssrc:08x})", e.event, e.name.flow)?
            }
            (_, _, Some(violations)) => {
                let broken: Vec<String> = violations
                    .iter()
                    .map(|v| format!("{} {} (limit {})", v.limit, v.value, v.threshold))
                    .collect();
                writeln!(out, "  {} {}: {}", e.event, e.name.flow, broken.join(", "))?
            }
            _ => writeln!(out, "  {} {}", e.event, e.name.flow)?,
        }
    }
    let tr290 =
        |f: &analysis::interval::FlowRecord| f.tr101290.map_or(0, |c| c.0.iter().sum::<u64>());
    let trouble = |f: &analysis::interval::FlowRecord| {
        (
            f.lost + f.duplicates + f.reordered,
            tr290(f),
            (f.df_ms.unwrap_or(0.0) * 1000.0) as u64,
        )
    };
    flows.sort_by_key(|f| std::cmp::Reverse(trouble(f)));
    writeln!(
        out,
        "  {:<52} {:<6} {:>7} {:>8} {:>5} {:>5} {:>5} {:>9} {:>7} {:>9} {:>7} {:>6}",
        "FLOW",
        "KIND",
        "PACKETS",
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
    let opt =
        |v: Option<f64>, decimals: usize| v.map_or("-".to_string(), |v| format!("{v:.decimals$}"));
    for f in flows.iter().take(max_rows) {
        writeln!(
            out,
            "  {:<52} {:<6} {:>7} {:>8.3} {:>5} {:>5} {:>5} {:>6} ms {:>7} {:>6} ms {:>7} {:>6}",
            f.name.flow,
            f.name.kind,
            f.packets,
            f.bitrate_bps / 1e6,
            f.lost,
            f.duplicates,
            f.reordered,
            opt(f.jitter_ms, 3),
            opt(f.fps, 2),
            opt(f.df_ms, 1),
            opt(f.mlr, 1),
            f.tr101290.map_or("-".to_string(), |_| tr290(f).to_string()),
        )?;
    }
    if flows.len() > max_rows {
        writeln!(out, "  ... {} more active flows", flows.len() - max_rows)?;
    }
    Ok(())
}

//! The human-readable report.

use analysis::AnalysisReport;
use std::io::{self, Write};

fn mbps(bps: u64) -> String {
    format!("{:.3}", bps as f64 / 1e6)
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
        "{:<46} {:<10} {:<6} {:<7} {:>8} {:>6} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9} {:>7} {:>8}",
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
        "MBIT/S"
    )?;
    for f in &r.flows {
        let flow = format!("{} > {}", f.src, f.dst);
        let ssrc = f.ssrc.map_or("-".to_string(), |s| format!("0x{s:08x}"));
        match &f.rtp {
            Some(rtp) => writeln!(
                out,
                "{:<46} {:<10} {:<6} {:<7} {:>8} {:>6} {:>5} {:>5} {:>5} {:>6.3} ms {:>6.3} ms {:>6.1} ms {:>7.2} {:>8}",
                flow, ssrc, f.kind, f.payload, f.packets, rtp.lost, rtp.duplicates, rtp.reordered, rtp.seq_jumps,
                rtp.jitter_ms_max, rtp.jitter_ms_mean, rtp.max_delta_ms, rtp.fps, mbps(f.bitrate_bps)
            )?,
            None => writeln!(
                out,
                "{:<46} {:<10} {:<6} {:<7} {:>8} {:>6} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9} {:>7} {:>8}",
                flow, ssrc, f.kind, f.payload, f.packets, "-", "-", "-", "-", "-", "-", "-", "-", mbps(f.bitrate_bps)
            )?,
        }
    }
    if r.flows.is_empty() {
        writeln!(out, "(no media flows found)")?;
    }
    let d = &c.discovery;
    writeln!(
        out,
        "discovery: {} candidates, {} confirmed, {} rejected; other UDP: {} flows, {} packets; unmatched RTCP: {}",
        d.candidates, d.confirmed, d.rejected, c.other_udp.flows, c.other_udp.packets, c.rtcp_unmatched
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

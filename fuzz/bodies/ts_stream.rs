//! MPEG-TS packets, sections and tables: arbitrary bytes as a TS stream (the first two bytes
//! pick 188- or 204-byte packets, 1 to 348 packets a datagram, the time step and whether each
//! datagram comes twice) through the TR 101 290 analysis, one packet at a time and a datagram
//! at a time (the figures must agree) and as MPEG-TS over plain UDP (duplicate datagrams),
//! then each packet's payload as a section and as PAT, PMT and SDT bodies. Nothing may panic.
//!
//! The body of fuzz target `ts_stream` (fuzz/fuzz_targets), shared with the stable replay of
//! its corpus and past crashes (crates/streamprobe/tests/fuzz_replay.rs).

use analysis::ts::{TsAnalyzer, TsLimits};
use wire::ts::{pat_entries, pes_pts, sdt_services, Pmt, Section, TsPacket};

/// Runs one input.
pub fn run(data: &[u8]) {
    let [control, group, rest @ ..] = data else {
        return;
    };
    let control = *control;
    let size = if control & 1 == 0 { 188 } else { 204 };
    // 1 to 348 packets a datagram (65,424 bytes of 188: the most a UDP datagram holds).
    let per_datagram = 1 + ((usize::from(*group) << 2) | usize::from((control >> 1) & 3)) % 348;
    let step_ns = i64::from(control >> 4) * 7_000_000;
    // The same datagrams as MPEG-TS over plain UDP (the duplicate rule) must not panic.
    let mut udp = TsAnalyzer::new(TsLimits::default());
    // The same packets one by one and in datagrams of `per_datagram` (the saved packets of the
    // duplicate rule take another path there): the figures must be the same.
    let mut one_by_one = TsAnalyzer::new(TsLimits::default());
    let mut grouped = TsAnalyzer::new(TsLimits::default());
    // Packets are padded to full size so short inputs still reach the section code.
    let packets: Vec<Vec<u8>> = rest
        .chunks(size)
        .map(|chunk| {
            let mut packet = chunk.to_vec();
            packet.resize(size, 0xff);
            packet
        })
        .collect();
    let mut at = 0;
    for group in packets.chunks(per_datagram) {
        let datagram = group.concat();
        grouped.on_datagram(at, &datagram, size);
        udp.on_udp_datagram(at, &datagram, size);
        if control & 0x80 != 0 {
            // A network duplicate, as two paths deliver it.
            udp.on_udp_datagram(at, &datagram, size);
        }
        for packet in group {
            one_by_one.on_packet(at, packet);
            if let Ok(p) = TsPacket::new_checked(packet) {
                let _ = p.adaptation().and_then(|a| a.pcr());
                let _ = pes_pts(p.payload());
            }
        }
        at += step_ns;
    }
    one_by_one.finish(at);
    grouped.finish(at);
    udp.finish(at);
    assert_eq!(
        udp.packets,
        grouped.packets * if control & 0x80 != 0 { 2 } else { 1 }
    );
    assert_eq!(one_by_one.indicators, grouped.indicators);
    assert_eq!(one_by_one.missing_packets, grouped.missing_packets);
    let figures = |ts: &TsAnalyzer| {
        ts.pids()
            .iter()
            .map(|p| (p.pid, p.figures))
            .collect::<Vec<_>>()
    };
    assert_eq!(figures(&one_by_one), figures(&grouped));
    for offset in 0..rest.len().min(64) {
        if let Ok(section) = Section::new_checked(&rest[offset..]) {
            let _ = section.crc_ok();
            let body = section.body();
            let _ = pat_entries(body).count();
            if let Some(pmt) = Pmt::parse(body) {
                let _ = pmt.streams().count();
            }
            for service in sdt_services(body) {
                let _ = wire::ts::descriptors(service.descriptors).count();
            }
        }
    }
}

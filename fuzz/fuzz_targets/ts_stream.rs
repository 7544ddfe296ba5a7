//! MPEG-TS packets, sections and tables: arbitrary bytes as a TS stream (the first byte picks
//! 188- or 204-byte packets, packets per datagram and the time step) through the TR 101 290
//! analysis, one packet at a time and a datagram at a time (the figures must agree), then each
//! packet's payload as a section and as PAT, PMT and SDT bodies. Nothing may panic.
#![no_main]

use analysis::ts::{TsAnalyzer, TsLimits};
use libfuzzer_sys::fuzz_target;
use wire::ts::{pat_entries, pes_pts, sdt_services, Pmt, Section, TsPacket};

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let size = if control & 1 == 0 { 188 } else { 204 };
    let per_datagram = 1 + usize::from((control >> 1) & 7);
    let step_ns = i64::from(control >> 4) * 7_000_000;
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
        grouped.on_datagram(at, &group.concat(), size);
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
});

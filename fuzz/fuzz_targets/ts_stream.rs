//! MPEG-TS packets, sections and tables: arbitrary bytes as a TS stream (the first byte picks
//! 188- or 204-byte packets and the time step) through the TR 101 290 analysis, then each
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
    let step_ns = i64::from(control >> 1) * 7_000_000;
    let mut ts = TsAnalyzer::new(TsLimits::default());
    let mut at = 0;
    // Packets are padded to full size so short inputs still reach the section code.
    for chunk in rest.chunks(size) {
        let mut packet = chunk.to_vec();
        packet.resize(size, 0xff);
        ts.on_packet(at, &packet);
        at += step_ns;
        if let Ok(p) = TsPacket::new_checked(&packet) {
            let _ = p.adaptation().and_then(|a| a.pcr());
            let _ = pes_pts(p.payload());
        }
    }
    ts.finish(at);
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

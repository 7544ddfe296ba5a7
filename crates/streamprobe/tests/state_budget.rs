//! Memory is bounded in bytes (issue 18): a flood of 200,000 RTP streams of MPEG-TS (64
//! SSRCs of PT 33 on each of 3,125 4-tuples) stays within `--max-state-mb 256`, the flows
//! past the budget are refused and counted, and every frame is still accounted for. Alone
//! in its file: the peak resident memory of the children this process waited for is read.

mod common;

use serde_json::Value;
use std::io::BufWriter;
use std::process::Command;
use testbed::pcap_writer::{rtp_packet, udp_frame, PcapWriter};

const TUPLES: u32 = 3_125;
const SSRCS: u32 = 64;

/// The flood: per 4-tuple, 3 packets of one SSRC (it confirms the 4-tuple as RTP), then one
/// packet of each of 63 new SSRCs, each a new stream at once. Every payload is one TS packet.
fn write_flood(path: &std::path::Path) -> u64 {
    let mut out = PcapWriter::new(BufWriter::new(std::fs::File::create(path).unwrap())).unwrap();
    let mut ts = vec![0x47, 0x01, 0x00, 0x10];
    ts.resize(188, 0xaa);
    let mut frames = 0u64;
    let mut t = 1_700_000_000_000_000_000i64;
    for tuple in 0..TUPLES {
        let src = [10, 1, (tuple >> 8) as u8, tuple as u8];
        for k in 0..SSRCS + 2 {
            let (ssrc, seq) = if k < 3 { (0, k as u16) } else { (k - 2, 0) };
            let p = rtp_packet(33, false, seq, 0, ssrc, &ts);
            let f = udp_frame(src, 4000, [239, 9, 9, 9], 5000, &p);
            out.write_frame(t, &f, f.len()).unwrap();
            t += 10_000;
            frames += 1;
        }
    }
    drop(out);
    frames
}

/// Peak resident memory of the children waited for so far, bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills the struct passed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn a_flood_of_mp2t_ssrcs_stays_within_the_state_budget() {
    let dir = std::env::temp_dir().join(format!("streamprobe-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("flood.pcap");
    let frames = write_flood(&pcap);
    assert_eq!(frames, u64::from(TUPLES) * u64::from(SSRCS + 2));
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
        .args(["analyze", "--json", "--all-flows", "--max-state-mb", "256"])
        .arg(&pcap)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak = children_peak_rss();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &doc["capture"];
    let budget = 256u64 << 20;
    assert_eq!(c["state_budget_bytes"], budget);
    let held = c["state_bytes_peak"].as_u64().unwrap();
    // Between exact recounts new flows are charged the mean flow's bytes: the last ones
    // admitted may overshoot by what that mean missed (measured: 38 KB, 0.014 %).
    assert!(held <= budget + budget / 100, "state {held}");
    assert!(held > budget / 2, "the flood filled the budget: {held}");
    let refused = c["refused_state"].as_u64().unwrap();
    let flows = doc["flows"].as_array().unwrap();
    let streams = flows.iter().filter(|f| f["kind"] == "rtp-ts").count() as u64;
    // Every SSRC is a stream or refused (3 packets of the first, one of each other).
    assert!(
        refused > 0 && streams > 10_000,
        "{streams} streams, {refused} refused"
    );
    let packets: u64 = flows.iter().map(|f| f["packets"].as_u64().unwrap()).sum();
    let skipped: u64 = c["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        packets + skipped + c["rtcp_packets"].as_u64().unwrap() + refused,
        frames
    );
    // The process as a whole: the state, and beside it the binary, the file's pages read and
    // the report of the streams found (each stream's state is dropped as its report is made):
    // measured 320 MB in all, 52 MB past the state, for 67,539 TS streams (468 MB when the
    // report was built beside the whole state).
    eprintln!(
        "{streams} streams, {refused} refused, state peak {held} B, process peak RSS {peak} B"
    );
    assert!(peak < budget + (96 << 20), "peak RSS {peak}");
}

//! TR 101 290 on real transport streams: ffmpeg muxes two programs at a constant rate, the
//! test injects faults at known places, and `streamprobe analyze` of the recording must count
//! exactly the injected faults; on drops and continuity rewrites ffmpeg's own continuity
//! report must agree too. Needs ffmpeg (scripts/install-deps.sh installs it).

mod common;

use common::analyze;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use wire::ts::{TsPacket, NULL_PID, PACKET_LEN, PAT_PID};

/// 2 Mbit/s: a packet every 752 us.
const MUX_RATE: u64 = 2_000_000;
const PACKET_NS: f64 = PACKET_LEN as f64 * 8.0 / MUX_RATE as f64 * 1e9;
/// The first packet a fault may hit (2 s in).
const FAULTS_FROM: usize = (2e9 / PACKET_NS) as usize;

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("streamprobe-ts-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two programs (H.264 + AAC, and H.264), 8 s, constant 2 Mbit/s with null packets.
fn make_base(dir: &Path) -> Vec<u8> {
    let out = dir.join("base.ts");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-t", "8", "-map", "0:v", "-map", "1:a", "-map", "2:v"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-b:v",
            "400k",
        ])
        .args(["-c:a", "aac", "-b:a", "64k"])
        .args([
            "-program",
            "title=One:st=0:st=1",
            "-program",
            "title=Two:st=2",
        ])
        .args(["-muxrate", &MUX_RATE.to_string(), "-f", "mpegts"])
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed (scripts/install-deps.sh)");
    assert!(status.success(), "ffmpeg failed");
    std::fs::read(&out).unwrap()
}

fn packet(ts: &[u8], i: usize) -> TsPacket<'_> {
    TsPacket::new_checked(&ts[i * PACKET_LEN..(i + 1) * PACKET_LEN]).unwrap()
}

/// Indices of `count` packets of `pid`, at least `spacing` packets apart, that `ok` accepts.
fn pick(
    ts: &[u8],
    pid: u16,
    count: usize,
    spacing: usize,
    ok: impl Fn(&TsPacket) -> bool,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    // From 2 s on: ffmpeg's probing (limited to 0.5 s below) must not see the faults, or it
    // would report them twice.
    for i in FAULTS_FROM..ts.len() / PACKET_LEN - 200 {
        let p = packet(ts, i);
        if p.pid() == pid && ok(&p) && chosen.last().is_none_or(|&l| i - l >= spacing) {
            chosen.push(i);
            if chosen.len() == count {
                return chosen;
            }
        }
    }
    panic!("not {count} packets of PID {pid:#x} to pick");
}

/// A plain payload packet: no adaptation field, not a unit start.
fn plain(p: &TsPacket) -> bool {
    p.has_payload() && p.adaptation().is_none() && !p.payload_unit_start()
}

fn null_packet() -> Vec<u8> {
    let mut p = vec![0xff; PACKET_LEN];
    p[..4].copy_from_slice(&[0x47, 0x1f, 0xff, 0x10]);
    p
}

fn packets_of(ts: &[u8]) -> Vec<Vec<u8>> {
    ts.chunks(PACKET_LEN).map(<[u8]>::to_vec).collect()
}

fn indicators(doc: &Value) -> Vec<(String, u64)> {
    let flow = &doc["flows"][0];
    assert_eq!(flow["kind"], "file-ts");
    flow["ts"]["tr101290"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
        .collect()
}

/// Every indicator is 0 except those in `expected`, which are exactly as given.
fn assert_counts(doc: &Value, expected: &[(&str, u64)], what: &str) {
    for (name, count) in indicators(doc) {
        let want = expected.iter().find(|e| e.0 == name).map_or(0, |e| e.1);
        assert_eq!(count, want, "{what}: {name}");
    }
}

/// Continuity errors ffmpeg itself reports when it reads the file.
fn ffmpeg_cc_errors(file: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "repeat+debug"])
        .args(["-probesize", "100000", "-analyzeduration", "500000", "-i"])
        .arg(file)
        .args(["-map", "0", "-c", "copy", "-f", "null", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("Continuity check failed"))
        .count()
}

fn write(dir: &Path, name: &str, packets: &[Vec<u8>]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, packets.concat()).unwrap();
    path
}

#[test]
fn injected_faults_are_counted_exactly() {
    let dir = work_dir();
    let base = make_base(&dir);
    let n = base.len() / PACKET_LEN;

    // The clean stream: no event at all, two programs, the mux rate exactly.
    let doc = analyze(&dir.join("base.ts"));
    assert_counts(&doc, &[], "clean");
    let flow = &doc["flows"][0];
    assert_eq!(flow["ts"]["programs"].as_array().unwrap().len(), 2);
    let rate = flow["bitrate_bps"].as_u64().unwrap();
    assert!(rate.abs_diff(MUX_RATE) < MUX_RATE / 1000, "{rate}");
    let programs = &flow["ts"]["programs"];
    let video = programs[0]["streams"][0]["pid"].as_u64().unwrap() as u16;
    let pcr_pid = programs[0]["pcr_pid"].as_u64().unwrap() as u16;
    let pmt_two = programs[1]["pmt_pid"].as_u64().unwrap() as u16;
    assert_eq!(ffmpeg_cc_errors(&dir.join("base.ts")), 0);

    // Dropped packets: one continuity error each, one packet missing each.
    let drops = pick(&base, video, 5, 300, plain);
    let mut packets = packets_of(&base);
    for &i in drops.iter().rev() {
        packets.remove(i);
    }
    let file = write(&dir, "drops.ts", &packets);
    let doc = analyze(&file);
    assert_counts(&doc, &[("cc_error", 5)], "drops");
    let pids = doc["flows"][0]["ts"]["pids"].as_array().unwrap();
    let v = pids.iter().find(|p| p["pid"] == video).unwrap();
    assert_eq!(
        (v["cc_errors"].as_u64(), v["missing_packets"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(ffmpeg_cc_errors(&file), 5, "ffmpeg on drops");

    // Continuity counters rewritten: the packet and the one after it break the sequence.
    let rewrites = pick(&base, video, 4, 300, plain);
    let mut packets = packets_of(&base);
    for &i in &rewrites {
        packets[i][3] = (packets[i][3] & 0xf0) | ((packets[i][3] + 5) & 0x0f);
    }
    let file = write(&dir, "cc.ts", &packets);
    assert_counts(&analyze(&file), &[("cc_error", 8)], "cc rewrites");
    assert_eq!(ffmpeg_cc_errors(&file), 8, "ffmpeg on cc rewrites");

    // Duplicates: one repeat is legal (13818-1 2.4.3.3); a second repeat is an error.
    let twice = pick(&base, video, 6, 300, plain);
    let mut packets = packets_of(&base);
    for (k, &i) in twice.iter().enumerate().rev() {
        let copy = packets[i].clone();
        packets.insert(i + 1, copy.clone());
        if k % 2 == 0 {
            packets.insert(i + 1, copy);
        }
    }
    let file = write(&dir, "dups.ts", &packets);
    assert_counts(&analyze(&file), &[("cc_error", 3)], "duplicates");

    // Transport errors flagged by a demodulator.
    let flagged = pick(&base, video, 6, 300, plain);
    let mut packets = packets_of(&base);
    for &i in &flagged {
        packets[i][1] |= 0x80;
    }
    let file = write(&dir, "tei.ts", &packets);
    assert_counts(
        &analyze(&file),
        &[("transport_error", 6)],
        "transport errors",
    );

    // Sync bytes: three single ones broken (on null packets, so no PID loses a packet), and
    // two in a row, which loses framing: skipped, one TS_sync_loss.
    let nulls = pick(&base, NULL_PID, 4, 500, |_| true);
    let mut packets = packets_of(&base);
    for &i in &nulls[..3] {
        packets[i][0] = 0x46;
    }
    let pair = (nulls[3]..n - 1)
        .find(|&i| packet(&base, i).pid() == NULL_PID && packet(&base, i + 1).pid() == NULL_PID)
        .expect("two null packets in a row");
    packets[pair][0] = 0x00;
    packets[pair + 1][0] = 0x00;
    let file = write(&dir, "sync.ts", &packets);
    let doc = analyze(&file);
    assert_counts(&doc, &[("sync_byte_error", 3), ("sync_loss", 1)], "sync");
    assert_eq!(
        doc["flows"][0]["ts"]["skipped_bytes"],
        2 * PACKET_LEN as u64
    );

    // Tables and PCRs missing for a while: a PAT gap of 1.5 s, a gap of program two's PMT of
    // 1.2 s, and no PCR on program one for 300 ms: one event each. Packets are replaced by
    // null packets so the rate stays constant.
    let at = |seconds: f64| (seconds * 1e9 / PACKET_NS) as usize;
    let mut packets = packets_of(&base);
    let mut cleared = [0usize; 3];
    for (i, unit) in packets.iter_mut().enumerate() {
        let p = packet(&base, i);
        if p.pid() == PAT_PID && (at(2.0)..at(3.5)).contains(&i) {
            *unit = null_packet();
            cleared[0] += 1;
        } else if p.pid() == pmt_two && (at(4.0)..at(5.2)).contains(&i) {
            *unit = null_packet();
            cleared[1] += 1;
        } else if p.pid() == pcr_pid
            && p.adaptation().is_some_and(|a| a.pcr().is_some())
            && (at(6.0)..at(6.3)).contains(&i)
        {
            // PCR_flag off: the 6 PCR bytes become stuffing.
            unit[5] &= !0x10;
            cleared[2] += 1;
        }
    }
    assert!(cleared.iter().all(|&c| c > 0), "{cleared:?}");
    // The PAT and PMT PIDs' counters jump when their tables come back, unless a whole number
    // of counter cycles was removed.
    let cc_jumps = cleared[..2].iter().filter(|&&c| c % 16 != 0).count() as u64;
    let file = write(&dir, "gaps.ts", &packets);
    assert_counts(
        &analyze(&file),
        &[
            ("pat_error", 1),
            ("pmt_error", 1),
            ("pcr_repetition_error", 1),
            // The PCR difference over the gap exceeds 100 ms too (TR 101 290 1.3.2 table).
            ("pcr_discontinuity_error", 1),
            ("cc_error", cc_jumps),
        ],
        "table and PCR gaps",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

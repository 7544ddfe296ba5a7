//! Duplicate datagrams of MPEG-TS over plain UDP (definitions.md, MDI section): with no
//! sequence number, a datagram the network delivered twice (two paths, a PIM assert) would
//! otherwise read as a continuity jump of up to 15 packets per PID, phantom loss in MLR and
//! in every SLA verdict built on it.

use super::*;

/// Datagrams remembered per flow: a copy that trails its original by more is judged by
/// continuity like any other packet.
pub(super) const RECENT_DATAGRAMS: usize = 8;

/// The last [`RECENT_DATAGRAMS`] datagrams of a flow (duplicates included), each as its
/// length and a 64-bit [`fingerprint`]. Keeping the bytes themselves (up to 65,507 each)
/// would cost 10 KB per flow at 1,316 bytes.
#[derive(Clone, Debug, Default)]
pub(super) struct RecentDatagrams {
    /// (length, hash), in ring order; length 0 marks an empty entry.
    entries: [(u32, u64); RECENT_DATAGRAMS],
    next: u8,
}

/// Bytes of the first and of the last TS packet a [`fingerprint`] hashes.
const SAMPLE: usize = 64;

/// A datagram's fingerprint: XXH3 of the first 64 bytes of its first and of its last TS
/// packet (headers, adaptation fields with their PCRs, the start of the payload), folded with
/// the 4-byte header (PID, counter, flags) of every packet. Hashing every byte cost 940
/// instructions a 1,316-byte datagram, more than the rest of its analysis (callgrind); a
/// datagram that matches all of that but differs further in, its counters going back, is no
/// real stream's. A fast multiplicative
/// hash of the bytes will not do: FxHash's loses its state when a 16-byte block cancels it,
/// which TS stuffing does (a real CBR stream gave false matches).
fn fingerprint(payload: &[u8], size: usize) -> u64 {
    use xxhash_rust::xxh3::xxh3_64;
    let n = payload.len();
    let first = &payload[..SAMPLE.min(n)];
    let last = &payload[n.saturating_sub(size)..][..SAMPLE.min(size).min(n)];
    let mut h = xxh3_64(first) ^ xxh3_64(last).rotate_left(17);
    for packet in payload.chunks_exact(size) {
        let header = u32::from_be_bytes([packet[0], packet[1], packet[2], packet[3]]);
        h = (h ^ u64::from(header))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
    h
}

impl RecentDatagrams {
    /// Whether `payload` equals one of the last datagrams; it is remembered either way, so
    /// the entries are the flow's last [`RECENT_DATAGRAMS`] datagrams.
    pub(super) fn seen_before(&mut self, payload: &[u8], size: usize) -> bool {
        let key = (payload.len() as u32, fingerprint(payload, size));
        let seen = self.entries.contains(&key);
        self.entries[usize::from(self.next)] = key;
        self.next = (self.next + 1) % RECENT_DATAGRAMS as u8;
        seen
    }
}

impl TsAnalyzer {
    /// Accounts a datagram of MPEG-TS over plain UDP: a duplicate of one of the flow's last
    /// 8 datagrams counts in packets and gives one `cc_error` per PID it repeats, and nothing
    /// else (no missing packets: nothing was lost); any other datagram is read packet by
    /// packet ([`TsAnalyzer::on_datagram`]).
    pub fn on_udp_datagram(&mut self, arrival_ns: i64, payload: &[u8], size: usize) {
        if self.recent.seen_before(payload, size) && self.goes_back(payload, size) {
            self.on_duplicate_datagram(arrival_ns, payload, size);
        } else {
            self.on_datagram(arrival_ns, payload, size);
        }
    }

    /// Whether a datagram equal to a recent one repeats it: its first non-null packet with
    /// payload does not continue its PID's counter. All-null datagrams (stuffing) are alike
    /// by nature; and a still picture coded as skipped frames gives byte-identical datagrams
    /// whose counters have gone round by 16 and continue (a CBR ffmpeg stream of testsrc
    /// repeats a datagram 9 to 15 datagrams later): neither is a duplicate.
    fn goes_back(&self, payload: &[u8], size: usize) -> bool {
        let mut non_null = false;
        for bytes in payload.chunks_exact(size) {
            let Ok(packet) = TsPacket::new_checked(bytes) else {
                continue;
            };
            let pid = packet.pid();
            if pid == NULL_PID {
                continue;
            }
            non_null = true;
            if !packet.has_payload() {
                continue;
            }
            let slot = self.slot.get(pid);
            let last_cc = (slot > 0)
                .then(|| self.pids[usize::from(slot) - 1].last_cc)
                .flatten();
            return last_cc.is_some_and(|cc| packet.continuity_counter() != (cc + 1) & 0x0f);
        }
        // Non-null packets without payload only (adaptation fields, PCRs): their counters do
        // not move, so equal bytes are a repeat (definitions.md: holding a non-null packet).
        non_null
    }

    #[cold]
    fn on_duplicate_datagram(&mut self, at: i64, payload: &[u8], size: usize) {
        self.duplicate_datagrams += 1;
        self.last_ns = at;
        self.repeated_pids.clear();
        for packet in payload.chunks_exact(size) {
            self.packets += 1;
            let Ok(packet) = TsPacket::new_checked(packet) else {
                continue;
            };
            let pid = packet.pid();
            let slot = self.slot.get(pid);
            if slot == 0 {
                // Its first copy had a bad sync byte or header: nothing known to repeat.
                continue;
            }
            let state = &mut self.pids[usize::from(slot) - 1];
            state.figures.packets += 1;
            state.last_ns = at;
            // A receiver sees the PID's counter go back once: one continuity event, with
            // no packet missing (the counters continue from the original copy).
            if pid != NULL_PID && packet.has_payload() && !self.repeated_pids.contains(&pid) {
                self.repeated_pids.push(pid);
                state.figures.cc_errors += 1;
                self.indicators.add(Indicator::CcError, at);
            }
        }
    }
}

//! Continuity (ISO/IEC 13818-1 2.4.3.3) and Unreferenced_PID.

use super::*;

impl TsAnalyzer {
    /// The continuity rules of 13818-1 2.4.3.3. Returns false for a legal duplicate.
    pub(super) fn continuity(
        &mut self,
        index: usize,
        packet: &TsPacket<'_>,
        at: i64,
        within: Option<(&Datagram<'_>, u16)>,
    ) -> bool {
        let state = &mut self.pids[index];
        let cc = packet.continuity_counter();
        let discontinuity = packet.adaptation().is_some_and(|a| a.discontinuity());
        let mut fresh = true;
        let mut broken = false;
        if let (Some(last), false) = (state.last_cc, discontinuity) {
            let expected = if packet.has_payload() {
                (last + 1) & 0x0f
            } else {
                // The counter does not advance on packets without payload.
                last
            };
            if cc == expected {
                state.repeats = 0;
            } else if packet.has_payload() && cc == last {
                // One repeat of a packet, identical but for its PCR, is legal.
                let previous = match (state.previous_slot, within) {
                    (0, _) | (_, None) => &state.previous[..],
                    (slot, Some((datagram, _))) => {
                        &datagram.payload[usize::from(slot - 1) * datagram.size..][..PACKET_LEN]
                    }
                };
                if state.repeats == 0 && same_but_pcr(previous, packet.bytes()) {
                    state.repeats = 1;
                    fresh = false;
                } else {
                    state.repeats = state.repeats.saturating_add(1);
                    state.figures.cc_errors += 1;
                    self.indicators.add(Indicator::CcError, at);
                    fresh = false;
                }
            } else {
                state.figures.cc_errors += 1;
                state.repeats = 0;
                self.indicators.add(Indicator::CcError, at);
                if packet.has_payload() {
                    let missing = u64::from(cc.wrapping_sub(expected) & 0x0f);
                    state.figures.missing_packets += missing;
                    self.missing_packets += missing;
                }
                broken = true;
                if let Some(sections) = &mut state.sections {
                    sections.reset();
                }
            }
        } else {
            state.repeats = 0;
        }
        state.last_cc = Some(cc);
        if packet.has_payload() && fresh {
            match within {
                Some((_, slot)) => {
                    if state.previous_slot == 0 {
                        self.unsaved.push(index as u16);
                    }
                    state.previous_slot = slot;
                }
                None => {
                    state
                        .previous
                        .copy_from_slice(&packet.bytes()[..PACKET_LEN]);
                    state.previous_slot = 0;
                }
            }
        }
        if broken {
            // Packets lost (or a counter rewritten: continuity cannot tell) leave the byte
            // positions unknown; the (cc - expected) mod 16 estimate is not trusted for them.
            self.restart_pcr_accuracy();
        }
        fresh
    }

    pub(super) fn unreferenced_check(&mut self, index: usize, at: i64) {
        let state = &mut self.pids[index];
        if state.role == PidRole::Unreferenced
            && state.pid >= 0x20
            && !state.unreferenced_reported
            && at - state.first_ns > self.limits.unreferenced_ns
        {
            state.unreferenced_reported = true;
            self.indicators.add(Indicator::UnreferencedPid, at);
        }
    }
}

/// Two packets that are the same but for a PCR (the duplicate allowance of 2.4.3.3).
pub(super) fn same_but_pcr(previous: &[u8], packet: &[u8]) -> bool {
    let packet = &packet[..PACKET_LEN];
    let has_pcr = |p: &[u8]| p[3] & 0x20 != 0 && p[4] >= 7 && p[5] & 0x10 != 0;
    if has_pcr(previous) && has_pcr(packet) {
        previous[..6] == packet[..6] && previous[12..] == packet[12..]
    } else {
        previous == packet
    }
}

//! MPEG-TS health per flow: continuity (ISO/IEC 13818-1 2.4.3.3), PSI/SI tables and the
//! ETSI TR 101 290 V1.4.1 indicators of priority 1, 2 and the part of 3 a transport probe can
//! judge. Definitions: `docs/figures.md` (TS section).
//!
//! Every indicator counts *events*: one per continuity discontinuity, one per missed interval
//! (a 2.3 s PAT gap against a 0.5 s limit is one event, counted when the gap passes the limit:
//! `gaps.rs`), one per damaged packet. Gaps still open when the flow ends are closed by
//! [`TsAnalyzer::finish`].

mod continuity;
mod duplicates;
mod gaps;
mod indicators;
mod pcr;
mod pid;
mod psi;
#[cfg(test)]
mod tests;

pub use indicators::{Events, Indicator, Indicators};
pub use pcr::PcrMark;
pub use pid::{PidFigures, PidRole, PidState, Program};
pub use psi::SiPresence;

use std::collections::{HashMap, VecDeque};
use wire::ts::{
    descriptors, dvb_text, pat_entries, pes_pts, sdt_services, service_descriptor,
    stream_type_name, Pcr, Pmt, Section, TsPacket, CAT_PID, EIT_PID, NIT_PID, NULL_PID, PACKET_LEN,
    PAT_PID, SDT_PID, SYNC_BYTE, TABLE_CAT, TABLE_NIT_ACTUAL, TABLE_PAT, TABLE_PMT,
    TABLE_SDT_ACTUAL, TABLE_TDT, TDT_PID,
};

const MS: i64 = 1_000_000;

/// Limits of the TR 101 290 checks. `Default` gives V1.4.1's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsLimits {
    /// PAT_error_2 / PMT_error_2: longest gap between PAT (PMT) sections, ns (0.5 s).
    pub psi_interval_ns: i64,
    /// PCR_repetition_error: longest gap between PCRs of a PID, ns (100 ms; 40 ms in V1.2.1).
    pub pcr_repetition_ns: i64,
    /// PCR_discontinuity_indicator_error: largest PCR step without the indicator, ns (100 ms).
    pub pcr_discontinuity_ns: i64,
    /// PCR_accuracy_error: largest PCR inaccuracy, ns (500 ns).
    pub pcr_accuracy_ns: i64,
    /// PTS_error: longest gap between PTSs of a PID, ns (700 ms).
    pub pts_interval_ns: i64,
    /// PID_error: longest absence of a PID a PMT refers to, ns (user-defined; 5 s here).
    pub pid_interval_ns: i64,
    /// Unreferenced_PID: how long a PID may go unreferenced, ns (0.5 s).
    pub unreferenced_ns: i64,
    /// NIT_error: longest gap between NIT-actual sections, ns (10 s).
    pub nit_interval_ns: i64,
    /// SDT_error: longest gap between SDT-actual sections, ns (2 s).
    pub sdt_interval_ns: i64,
    /// EIT_error: longest gap between EIT present/following sections, ns (2 s).
    pub eit_interval_ns: i64,
    /// TDT_error: longest gap between TDT sections, ns (30 s).
    pub tdt_interval_ns: i64,
    /// SI_repetition_error: shortest gap between repeats of one SI section, ns (25 ms).
    pub si_min_interval_ns: i64,
}

impl Default for TsLimits {
    fn default() -> Self {
        TsLimits {
            psi_interval_ns: 500 * MS,
            pcr_repetition_ns: 100 * MS,
            pcr_discontinuity_ns: 100 * MS,
            pcr_accuracy_ns: 500,
            pts_interval_ns: 700 * MS,
            pid_interval_ns: 5_000 * MS,
            unreferenced_ns: 500 * MS,
            nit_interval_ns: 10_000 * MS,
            sdt_interval_ns: 2_000 * MS,
            eit_interval_ns: 2_000 * MS,
            tdt_interval_ns: 30_000 * MS,
            si_min_interval_ns: 25 * MS,
        }
    }
}

/// TS analysis of one flow.
#[derive(Clone, Debug)]
pub struct TsAnalyzer {
    limits: TsLimits,
    /// TS packets seen (sync byte good or not).
    pub packets: u64,
    /// Packets with a reserved adaptation_field_control or an overlong adaptation field.
    pub invalid_packets: u64,
    /// Sections whose length fields make no sense.
    pub invalid_sections: u64,
    /// RTP-carried TS: datagrams whose payload is not a whole number of TS packets starting
    /// with a sync byte (counted as RTP packets, left out of the TS analysis).
    pub unframed_datagrams: u64,
    /// Flow-wide events per indicator.
    pub indicators: Indicators,
    /// Packets estimated missing over every PID (the MDI media loss, RFC 4445).
    pub missing_packets: u64,
    /// Datagrams of MPEG-TS over plain UDP that repeat one of the flow's last 8
    /// (definitions.md); their packets count in `packets`, never in `missing_packets`.
    pub duplicate_datagrams: u64,
    /// The flow's last datagrams, to tell duplicates (plain UDP only).
    recent: duplicates::RecentDatagrams,
    /// The state budget this flow's new PIDs are charged to (None: unbounded).
    ledger: Option<std::sync::Arc<crate::budget::Ledger>>,
    /// Packets of PIDs not analysed because the state budget was full when they appeared.
    pub refused_pid_packets: u64,
    /// The PIDs a duplicate datagram repeats (scratch, kept for its allocation).
    repeated_pids: Vec<u16>,
    /// The latest PCR of the first PID that carried one, for the PCR-derived media rate.
    pub rate_mark: Option<PcrMark>,
    rate_pid: Option<u16>,
    /// Packets received (repeats left out): the byte positions PCR accuracy is judged on.
    position: u64,
    in_sync: bool,
    good_run: u8,
    bad_run: u8,
    first_ns: Option<i64>,
    last_ns: i64,
    slot: pid::PidSlots,
    pids: Vec<PidState>,
    /// PIDs whose last packet with payload is still only in the datagram being read: copied
    /// to their `previous` once, when the datagram is done, not packet by packet (the copy
    /// was 12 % of the TS benchmark).
    unsaved: Vec<u16>,
    /// Programs from the PAT, in PAT order.
    pub programs: Vec<Program>,
    /// transport_stream_id from the PAT.
    pub transport_stream_id: Option<u16>,
    /// Changes of `programs` so far: a new PAT version, a first or changed PMT, a changed
    /// SDT service name. Live records carry the programs when it moved (issue 20).
    pub psi_changes: u32,
    pat_version: Option<u8>,
    /// PAT_error's timer, from the flow's first packet.
    pat_timer: gaps::GapTimer,
    cat_seen: bool,
    cat_error_reported: bool,
    nit_pid: u16,
    /// NIT, SDT, EIT, TDT timers, from the table's first section.
    si_timers: [gaps::GapTimer; 4],
    /// No absence can pass its limit before this time ([`TsAnalyzer::check_gaps`]).
    next_gap_check_ns: i64,
    /// Last arrival of each SI section (pid, table_id, extension, section_number).
    si_sections: HashMap<(u16, u8, u16, u8), i64>,
    /// The map's size at which it is pruned next.
    si_prune_at: usize,
    /// Tables seen: NIT, SDT, EIT, TDT presence is reported.
    pub si_present: SiPresence,
}

/// The datagram whose packets are being read, with their size (188 or 204).
struct Datagram<'a> {
    payload: &'a [u8],
    size: usize,
}

impl TsAnalyzer {
    /// An analyzer with no packet yet.
    pub fn new(limits: TsLimits) -> Self {
        TsAnalyzer {
            limits,
            packets: 0,
            invalid_packets: 0,
            invalid_sections: 0,
            unframed_datagrams: 0,
            indicators: Indicators::default(),
            missing_packets: 0,
            duplicate_datagrams: 0,
            recent: Default::default(),
            repeated_pids: Vec::new(),
            ledger: None,
            refused_pid_packets: 0,
            rate_mark: None,
            rate_pid: None,
            position: 0,
            in_sync: true,
            good_run: 0,
            bad_run: 0,
            first_ns: None,
            last_ns: 0,
            slot: pid::PidSlots::default(),
            pids: Vec::new(),
            unsaved: Vec::new(),
            programs: Vec::new(),
            transport_stream_id: None,
            psi_changes: 0,
            pat_version: None,
            pat_timer: Default::default(),
            cat_seen: false,
            cat_error_reported: false,
            nit_pid: NIT_PID,
            si_timers: Default::default(),
            next_gap_check_ns: i64::MAX,
            si_sections: HashMap::new(),
            si_prune_at: psi::SI_SECTIONS_KEPT,
            si_present: SiPresence::default(),
        }
    }

    /// Bytes this analyzer holds on the heap (its own struct not included), as allocated:
    /// the state budget's measure (issue 18).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let pids: usize = self
            .pids
            .iter()
            .map(|p| {
                PACKET_LEN
                    + crate::ALLOCATION
                    + p.sections.as_ref().map_or(0, |s| s.heap_bytes())
                    + p.pcr
                        .as_ref()
                        .map_or(0, |c| c.window.capacity() * 16 + crate::ALLOCATION)
            })
            .sum();
        let programs: usize = self
            .programs
            .iter()
            .map(|p| {
                p.streams.capacity() * size_of::<(u16, u8, &str)>()
                    + p.service_name.as_ref().map_or(0, String::capacity)
                    + p.provider.as_ref().map_or(0, String::capacity)
            })
            .sum();
        self.slot.heap_bytes()
            + self.pids.capacity() * size_of::<PidState>()
            + pids
            + self.programs.capacity() * size_of::<Program>()
            + programs
            + self.si_sections.capacity() * (size_of::<((u16, u8, u16, u8), i64)>() + 1)
            + (self.unsaved.capacity() + self.repeated_pids.capacity()) * 2
            + 4 * crate::ALLOCATION
    }

    /// The PIDs seen, in order of first appearance.
    pub fn pids(&self) -> &[PidState] {
        &self.pids
    }

    /// Accounts a datagram's TS packets (`size` 188 or 204), all arriving at `arrival_ns`.
    pub fn on_datagram(&mut self, arrival_ns: i64, payload: &[u8], size: usize) {
        let datagram = Datagram { payload, size };
        for (slot, packet) in payload.chunks_exact(size).enumerate() {
            // Slots are 1-based in `previous_slot`. Beyond u16 (no UDP datagram is that
            // long) packets are saved one by one, after the slots still pending are.
            match u16::try_from(slot + 1) {
                Ok(slot) => self.on_packet_in(arrival_ns, packet, Some((&datagram, slot))),
                Err(_) => {
                    self.save_previous(&datagram);
                    self.on_packet_in(arrival_ns, packet, None);
                }
            }
        }
        self.save_previous(&datagram);
    }

    /// Accounts one TS packet (188 bytes, or 204 with parity).
    pub fn on_packet(&mut self, at: i64, bytes: &[u8]) {
        self.on_packet_in(at, bytes, None);
    }

    /// Copies the last packet with payload of every PID that had one in `datagram`.
    fn save_previous(&mut self, datagram: &Datagram<'_>) {
        for index in self.unsaved.drain(..) {
            let state = &mut self.pids[usize::from(index)];
            let slot = usize::from(state.previous_slot) - 1;
            state
                .previous
                .copy_from_slice(&datagram.payload[slot * datagram.size..][..PACKET_LEN]);
            state.previous_slot = 0;
        }
    }

    fn on_packet_in(&mut self, at: i64, bytes: &[u8], within: Option<(&Datagram<'_>, u16)>) {
        self.packets += 1;
        self.position += 1;
        if self.first_ns.is_none() {
            self.first_ns = Some(at);
            // A PAT is awaited from the flow's first packet.
            self.pat_timer = gaps::GapTimer::started(at);
            self.arrived(Indicator::PatError, at);
        }
        if at > self.next_gap_check_ns {
            self.check_gaps(at);
        }
        self.last_ns = at;
        // TS_sync_loss with TR 101 290's hysteresis: lost after 2 bad sync bytes in a row,
        // regained after 5 good ones.
        if bytes.first() != Some(&SYNC_BYTE) {
            self.indicators.add(Indicator::SyncByteError, at);
            self.good_run = 0;
            self.bad_run = self.bad_run.saturating_add(1);
            if self.in_sync && self.bad_run >= 2 {
                self.in_sync = false;
                self.indicators.add(Indicator::SyncLoss, at);
            }
            return;
        }
        self.bad_run = 0;
        self.good_run = self.good_run.saturating_add(1);
        if !self.in_sync && self.good_run >= 5 {
            self.in_sync = true;
        }
        let Ok(packet) = TsPacket::new_checked(bytes) else {
            self.invalid_packets += 1;
            return;
        };
        let pid = packet.pid();
        let Some(index) = self.pid_index(pid, at) else {
            self.refused_pid_packets += 1;
            return;
        };
        let state = &mut self.pids[index];
        // PID_error: an elementary stream a PMT refers to is awaited.
        if state.pid_timer.awaited() {
            let closed = state.pid_timer.arrive(at);
            self.closed(Indicator::PidError, closed);
            self.arrived(Indicator::PidError, at);
        }
        let state = &mut self.pids[index];
        state.figures.packets += 1;
        state.last_ns = at;
        if packet.transport_error() {
            self.pids[index].figures.transport_errors += 1;
            self.indicators.add(Indicator::TransportError, at);
        }
        if packet.scrambling() != 0 {
            self.pids[index].figures.scrambled += 1;
            if pid == PAT_PID {
                self.indicators.add(Indicator::PatError, at);
            } else if self.programs.iter().any(|p| p.pmt_pid == pid) {
                self.indicators.add(Indicator::PmtError, at);
            }
            if !self.cat_seen && !self.cat_error_reported {
                self.cat_error_reported = true;
                self.indicators.add(Indicator::CatError, at);
            }
        }
        if pid == NULL_PID {
            return;
        }
        let fresh = self.continuity(index, &packet, at, within);
        if !fresh {
            // A repeat (legal or not): its content was accounted with the first copy, and a
            // network duplicate takes no place in the stream's byte positions.
            self.position -= 1;
            return;
        }
        self.unreferenced_check(index, at);
        if let Some(adaptation) = packet.adaptation() {
            if let Some(pcr) = adaptation.pcr() {
                self.on_pcr(index, pcr, adaptation.discontinuity(), at);
            }
        }
        if packet.transport_error() || packet.scrambling() != 0 {
            // Neither damaged nor scrambled payload can be parsed.
            return;
        }
        let payload = packet.payload();
        if payload.is_empty() {
            return;
        }
        if let Some(mut assembler) = self.pids[index].sections.take() {
            // Taken out while its sections are handled, so they are read in place.
            assembler.feed(payload, packet.payload_unit_start(), |section| {
                self.on_section(index, section, at)
            });
            self.pids[index].sections = Some(assembler);
        } else if packet.payload_unit_start() && pes_pts(payload).is_some() {
            let closed = self.pids[index].pts_timer.arrive(at);
            self.closed(Indicator::PtsError, closed);
            self.arrived(Indicator::PtsError, at);
        }
    }
    /// Framing was lost (a recording's bytes between packets were skipped to find sync
    /// again): TS_sync_loss, unless already lost; sync returns after five good packets.
    pub fn on_sync_lost(&mut self, at: i64) {
        self.restart_pcr_accuracy();
        if self.in_sync {
            self.indicators.add(Indicator::SyncLoss, at);
        }
        self.in_sync = false;
        self.good_run = 0;
        self.bad_run = 0;
    }

    /// Charges this flow's growth to `ledger` (the analyzer's state budget).
    pub(crate) fn set_ledger(&mut self, ledger: std::sync::Arc<crate::budget::Ledger>) {
        self.ledger = Some(ledger);
    }

    /// The index of `pid`'s state, made if new; None when a new PID does not fit the state
    /// budget.
    #[inline]
    fn pid_index(&mut self, pid: u16, at: i64) -> Option<usize> {
        match self.slot.get(pid) {
            0 => self.new_pid(pid, at),
            slot => Some(usize::from(slot) - 1),
        }
    }

    #[cold]
    fn new_pid(&mut self, pid: u16, at: i64) -> Option<usize> {
        // What a PID costs: its copy of the last packet, its state when the vector of states
        // grows (it doubles), and past 16 PIDs, once, the full PID table.
        let grows = self.pids.len() == self.pids.capacity();
        let cost = PACKET_LEN
            + crate::ALLOCATION
            + if grows {
                self.pids.capacity().max(4) * std::mem::size_of::<PidState>()
            } else {
                0
            }
            + if self.pids.len() == 16 { 8192 * 2 } else { 0 };
        if self.ledger.as_ref().is_some_and(|l| !l.charge(cost)) {
            return None;
        }
        self.pids.push(PidState::new(pid, at));
        self.slot.insert(pid, self.pids.len() as u16);
        if pid == self.nit_pid {
            self.pids.last_mut().unwrap().role = PidRole::Table("nit");
        }
        Some(self.pids.len() - 1)
    }

    /// [`TsAnalyzer::finish_until`] the flow's own end.
    pub fn finish(&mut self, end_ns: i64) {
        self.finish_until(end_ns, end_ns);
    }

    /// Counts the absences that passed their limit by `now` (a live tick, the capture's
    /// end), whether or not a packet came since: a gap in a full outage counts in the
    /// interval it passes its limit, as one in a flow that goes on (definitions.md).
    pub fn judge_gaps(&mut self, now: i64) {
        if self.first_ns.is_some() && now > self.next_gap_check_ns {
            self.check_gaps(now);
        }
    }

    /// Closes the intervals still open when the flow ends at `end_ns`, the capture at
    /// `horizon_ns` (>= `end_ns`): a PAT, PMT, referred PID, PCR, PTS or (once seen) SI table
    /// absent for longer than its limit by the horizon is one more event, unless already
    /// counted, its gap as long as up to the horizon; an unreferenced PID seen for longer
    /// than its limit within the flow is reported.
    pub fn finish_until(&mut self, end_ns: i64, horizon_ns: i64) {
        if self.first_ns.is_none() {
            return;
        }
        self.close_gaps(horizon_ns.max(end_ns));
        let limits = self.limits;
        for state in &mut self.pids {
            if state.role == PidRole::Unreferenced
                && state.pid >= 0x20
                && state.pid != NULL_PID
                && !state.unreferenced_reported
                && state.figures.packets > 0
                && end_ns - state.first_ns > limits.unreferenced_ns
            {
                state.unreferenced_reported = true;
                self.indicators.add(Indicator::UnreferencedPid, end_ns);
            }
        }
    }
}

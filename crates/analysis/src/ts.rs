//! MPEG-TS health per flow: continuity (ISO/IEC 13818-1 2.4.3.3), PSI/SI tables and the
//! ETSI TR 101 290 V1.4.1 indicators of priority 1, 2 and the part of 3 a transport probe can
//! judge. Definitions: `docs/figures.md` (TS section).
//!
//! Every indicator counts *events*: one per continuity discontinuity, one per missed interval
//! (a 2.3 s PAT gap against a 0.5 s limit is one event when the gap closes, not four), one per
//! damaged packet. Intervals still open when the flow ends are closed by [`TsAnalyzer::finish`].

use serde::Serialize;
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

/// A TR 101 290 indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indicator {
    /// 1.1 TS_sync_loss: two or more consecutive corrupted sync bytes (re-sync after five good).
    SyncLoss,
    /// 1.2 Sync_byte_error: a packet whose sync byte is not 0x47.
    SyncByteError,
    /// 1.3 PAT_error_2: no PAT for 0.5 s, another table on PID 0, or a scrambled PID 0.
    PatError,
    /// 1.4 Continuity_count_error: lost, out of order, or more than twice repeated packets.
    CcError,
    /// 1.5 PMT_error_2: no PMT for 0.5 s on a PMT PID of the PAT, or a scrambled PMT PID.
    PmtError,
    /// 1.6 PID_error: a PID referred to by a PMT is absent longer than the limit.
    PidError,
    /// 2.1 Transport_error: transport_error_indicator set.
    TransportError,
    /// 2.2 CRC_error: a PSI/SI section whose CRC_32 is wrong.
    CrcError,
    /// 2.3 PCR_repetition_error: PCRs of a PID arrive more than 100 ms apart.
    PcrRepetitionError,
    /// 2.3 PCR_discontinuity_indicator_error: a PCR step outside 0..100 ms, not announced.
    PcrDiscontinuityError,
    /// 2.4 PCR_accuracy_error: a PCR more than 500 ns from where the constant rate puts it.
    PcrAccuracyError,
    /// 2.5 PTS_error: PTSs of a PID more than 700 ms apart.
    PtsError,
    /// 2.6 CAT_error: scrambled packets without a CAT, or another table on PID 1.
    CatError,
    /// 3.1 NIT_error: NIT-actual gap over 10 s, or a wrong table on the NIT PID.
    NitError,
    /// 3.2 SI_repetition_error: an SI section repeated within 25 ms.
    SiRepetitionError,
    /// 3.5 SDT_error: SDT-actual gap over 2 s, or a wrong table on PID 0x11.
    SdtError,
    /// 3.6 EIT_error: EIT present/following gap over 2 s, or a wrong table on PID 0x12.
    EitError,
    /// 3.8 TDT_error: TDT gap over 30 s, or a wrong table on PID 0x14.
    TdtError,
    /// 3.4 Unreferenced_PID: a PID no PMT or CAT refers to within 0.5 s.
    UnreferencedPid,
}

impl Indicator {
    /// Every indicator, in report order (priority 1, 2, 3).
    pub const ALL: [Indicator; 19] = [
        Indicator::SyncLoss,
        Indicator::SyncByteError,
        Indicator::PatError,
        Indicator::CcError,
        Indicator::PmtError,
        Indicator::PidError,
        Indicator::TransportError,
        Indicator::CrcError,
        Indicator::PcrRepetitionError,
        Indicator::PcrDiscontinuityError,
        Indicator::PcrAccuracyError,
        Indicator::PtsError,
        Indicator::CatError,
        Indicator::NitError,
        Indicator::SiRepetitionError,
        Indicator::SdtError,
        Indicator::EitError,
        Indicator::TdtError,
        Indicator::UnreferencedPid,
    ];

    /// The JSON name (part of the output contract).
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::SyncLoss => "sync_loss",
            Indicator::SyncByteError => "sync_byte_error",
            Indicator::PatError => "pat_error",
            Indicator::CcError => "cc_error",
            Indicator::PmtError => "pmt_error",
            Indicator::PidError => "pid_error",
            Indicator::TransportError => "transport_error",
            Indicator::CrcError => "crc_error",
            Indicator::PcrRepetitionError => "pcr_repetition_error",
            Indicator::PcrDiscontinuityError => "pcr_discontinuity_error",
            Indicator::PcrAccuracyError => "pcr_accuracy_error",
            Indicator::PtsError => "pts_error",
            Indicator::CatError => "cat_error",
            Indicator::NitError => "nit_error",
            Indicator::SiRepetitionError => "si_repetition_error",
            Indicator::SdtError => "sdt_error",
            Indicator::EitError => "eit_error",
            Indicator::TdtError => "tdt_error",
            Indicator::UnreferencedPid => "unreferenced_pid",
        }
    }

    /// TR 101 290 priority: 1, 2 or 3.
    pub fn priority(self) -> u8 {
        match self as usize {
            0..=5 => 1,
            6..=12 => 2,
            _ => 3,
        }
    }
}

/// How often an indicator fired, and when first and last (ns since the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// Occurrences.
    pub count: u64,
    /// Time of the first occurrence.
    pub first_ns: i64,
    /// Time of the last occurrence.
    pub last_ns: i64,
}

impl Events {
    fn add(&mut self, at_ns: i64) {
        if self.count == 0 {
            self.first_ns = at_ns;
        }
        self.count += 1;
        self.last_ns = at_ns;
    }
}

/// The events of every indicator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Indicators([Events; Indicator::ALL.len()]);

impl Indicators {
    /// The events of one indicator.
    pub fn get(&self, indicator: Indicator) -> Events {
        self.0[indicator as usize]
    }

    fn add(&mut self, indicator: Indicator, at_ns: i64) {
        self.0[indicator as usize].add(at_ns);
    }
}

/// Sections of one PID put together across packets (2.4.4.1-2: pointer_field, stuffing).
#[derive(Clone, Debug, Default)]
struct SectionAssembler {
    data: Vec<u8>,
    /// Whether `data` holds the start of a section still being collected.
    active: bool,
}

impl SectionAssembler {
    /// Feeds one packet's payload; hands every completed section to `on`.
    fn feed(&mut self, payload: &[u8], unit_start: bool, mut on: impl FnMut(&[u8])) {
        if unit_start {
            let Some((&pointer, rest)) = payload.split_first() else {
                return;
            };
            let pointer = usize::from(pointer).min(rest.len());
            if self.active {
                self.data.extend_from_slice(&rest[..pointer]);
                self.drain(&mut on);
            }
            // Whatever was unfinished is lost; a new section starts after the pointer.
            self.data.clear();
            self.data.extend_from_slice(&rest[pointer..]);
            self.active = true;
            self.drain(&mut on);
        } else if self.active {
            self.data.extend_from_slice(payload);
            self.drain(&mut on);
        }
    }

    /// Hands over the complete sections at the front of `data`; stops at stuffing (0xFF).
    fn drain(&mut self, on: &mut impl FnMut(&[u8])) {
        let mut start = 0;
        loop {
            let rest = &self.data[start..];
            if rest.first() == Some(&0xff) {
                self.active = false;
                start = self.data.len();
                break;
            }
            let Some(header) = rest.get(..3) else { break };
            let total = wire::ts::section_total_len([header[0], header[1], header[2]]);
            if rest.len() < total {
                break;
            }
            on(&rest[..total]);
            start += total;
        }
        self.data.drain(..start);
    }

    /// A continuity error: the section being collected cannot be trusted.
    fn reset(&mut self) {
        self.data.clear();
        self.active = false;
    }
}

/// What a PID carries, as far as the tables say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidRole {
    /// Not (yet) referred to by any table.
    Unreferenced,
    /// PAT, CAT, NIT, SDT/BAT, EIT, TDT/TOT, or a PMT.
    Table(&'static str),
    /// An elementary stream of a PMT: its stream_type.
    Stream(u8, &'static str),
    /// A PCR PID that is not also an elementary stream.
    Pcr,
    /// An ECM or EMM PID named by a CA descriptor.
    ConditionalAccess,
    /// The null PID.
    Null,
}

impl PidRole {
    /// The name reported as the PID's `type`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PidRole::Unreferenced => "unreferenced",
            PidRole::Table(name) => name,
            PidRole::Stream(_, name) => name,
            PidRole::Pcr => "pcr",
            PidRole::ConditionalAccess => "ca",
            PidRole::Null => "null",
        }
    }
}

/// The figures of one PID (reported as they are, in this order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PidFigures {
    /// Packets.
    pub packets: u64,
    /// Continuity events.
    pub cc_errors: u64,
    /// Packets estimated missing: (cc - expected) mod 16 per continuity event.
    pub missing_packets: u64,
    /// Packets with transport_error_indicator set.
    pub transport_errors: u64,
    /// Scrambled packets.
    pub scrambled: u64,
    /// PCRs carried.
    pub pcrs: u64,
    /// Largest PCR inaccuracy against the constant-rate estimate, ns (absolute).
    pub pcr_jitter_ns_max: f64,
    /// PCRs arriving more than the repetition limit after the previous one.
    pub pcr_repetition_errors: u64,
    /// PCR steps outside 0..100 ms without the indicator.
    pub pcr_discontinuity_errors: u64,
    /// PCRs off by more than the accuracy limit.
    pub pcr_accuracy_errors: u64,
    /// PTS gaps over the limit.
    pub pts_errors: u64,
    /// Sections with a wrong CRC.
    pub crc_errors: u64,
    /// Absences over the PID_error limit.
    pub pid_errors: u64,
}

/// State and figures of one PID.
#[derive(Clone, Debug)]
pub struct PidState {
    /// The PID.
    pub pid: u16,
    /// What it carries.
    pub role: PidRole,
    /// Its figures.
    pub figures: PidFigures,
    first_ns: i64,
    last_ns: i64,
    last_cc: Option<u8>,
    /// Repeats of the last packet so far (one is legal).
    repeats: u8,
    /// The last packet with payload, for the duplicate rule; while `previous_slot` is set it
    /// is stale and the packet is that slot of the datagram being read.
    previous: Box<[u8; PACKET_LEN]>,
    /// 1 + the slot, in the datagram being read, of the last packet with payload; 0 when
    /// `previous` holds it. A UDP datagram holds at most 348 TS packets (65,507 bytes), so
    /// every slot fits.
    previous_slot: u16,
    pcr: Option<PcrClock>,
    last_pts_ns: Option<i64>,
    /// Unreferenced_PID already reported.
    unreferenced_reported: bool,
    /// Since when a PMT refers to this PID (PID_error checks start there).
    referenced_since: Option<i64>,
    sections: Option<SectionAssembler>,
}

impl PidState {
    fn new(pid: u16, at_ns: i64) -> Self {
        PidState {
            pid,
            role: if pid == NULL_PID {
                PidRole::Null
            } else {
                fixed_table(pid).map_or(PidRole::Unreferenced, PidRole::Table)
            },
            figures: PidFigures::default(),
            first_ns: at_ns,
            last_ns: at_ns,
            last_cc: None,
            repeats: 0,
            previous: Box::new([0; PACKET_LEN]),
            previous_slot: 0,
            pcr: None,
            last_pts_ns: None,
            unreferenced_reported: false,
            referenced_since: None,
            sections: fixed_table(pid).map(|_| SectionAssembler::default()),
        }
    }
}

impl PidState {
    /// For a PID a PMT refers to: since when it has been absent (its last packet, or the
    /// reference when it came later or the PID has not been seen).
    fn absent_since(&self) -> Option<i64> {
        let since = self.referenced_since?;
        Some(if self.figures.packets > 0 {
            self.last_ns.max(since)
        } else {
            since
        })
    }
}

/// The tables at PIDs fixed by 13818-1 and EN 300 468.
fn fixed_table(pid: u16) -> Option<&'static str> {
    match pid {
        PAT_PID => Some("pat"),
        CAT_PID => Some("cat"),
        NIT_PID => Some("nit"),
        SDT_PID => Some("sdt"),
        EIT_PID => Some("eit"),
        TDT_PID => Some("tdt"),
        _ => None,
    }
}

/// PCRs remembered for the accuracy check.
const PCR_WINDOW: usize = 16;

/// The PCR history of one PID: the last PCR and a window for the constant-rate estimate.
#[derive(Clone, Debug)]
struct PcrClock {
    last: Pcr,
    last_arrival_ns: i64,
    /// (packet index, PCR) of the last PCRs, oldest first, at most [`PCR_WINDOW`].
    window: VecDeque<(u64, u64)>,
}

/// One program: its PMT PID and what the PMT and SDT say.
#[derive(Clone, Debug)]
pub struct Program {
    /// program_number.
    pub number: u16,
    /// PID of its PMT.
    pub pmt_pid: u16,
    /// PCR_PID from the PMT.
    pub pcr_pid: Option<u16>,
    /// Elementary streams (PID, stream_type, codec name), from the PMT.
    pub streams: Vec<(u16, u8, &'static str)>,
    /// Service name and provider from the SDT.
    pub service_name: Option<String>,
    /// Provider name from the SDT.
    pub provider: Option<String>,
    last_pmt_ns: Option<i64>,
    /// When the PAT first named this program (PMT gaps count from there).
    since_ns: i64,
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
    /// Flow-wide events per indicator.
    pub indicators: Indicators,
    /// Packets estimated missing over every PID (the MDI media loss, RFC 4445).
    pub missing_packets: u64,
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
    slot: Box<[u16; 8192]>,
    pids: Vec<PidState>,
    /// PIDs whose last packet with payload is still only in the datagram being read: copied
    /// to their `previous` once, when the datagram is done, not packet by packet (the copy
    /// was 12 % of the TS benchmark).
    unsaved: Vec<u16>,
    /// Programs from the PAT, in PAT order.
    pub programs: Vec<Program>,
    /// transport_stream_id from the PAT.
    pub transport_stream_id: Option<u16>,
    pat_version: Option<u8>,
    last_pat_ns: Option<i64>,
    cat_seen: bool,
    cat_error_reported: bool,
    nit_pid: u16,
    last_nit_ns: Option<i64>,
    last_sdt_ns: Option<i64>,
    last_eit_ns: Option<i64>,
    last_tdt_ns: Option<i64>,
    /// Last arrival of each SI section (pid, table_id, extension, section_number).
    si_sections: HashMap<(u16, u8, u16, u8), i64>,
    /// Tables seen: NIT, SDT, EIT, TDT presence is reported.
    pub si_present: SiPresence,
}

/// The datagram whose packets are being read, with their size (188 or 204).
struct Datagram<'a> {
    payload: &'a [u8],
    size: usize,
}

/// A PCR and the packet position it was read at, for the PCR-derived rate between two marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrMark {
    /// Packets (188 bytes each) before this PCR's packet, counting those estimated missing.
    pub position: u64,
    /// The PCR.
    pub pcr: Pcr,
    /// Bumped at every PCR discontinuity: marks of different epochs give no rate.
    pub epoch: u32,
}

impl PcrMark {
    /// The transport rate in bit/s between an earlier mark and this one (ISO/IEC 13818-1
    /// 2.4.2.2: bytes between PCRs over the PCR difference), if both are of one epoch.
    pub fn rate_bps_since(&self, earlier: &PcrMark) -> Option<f64> {
        let ticks = self.pcr.ticks_since(earlier.pcr);
        (self.epoch == earlier.epoch && self.position > earlier.position && ticks > 0).then(|| {
            (self.position - earlier.position) as f64 * (PACKET_LEN as f64 * 8.0) * 27e6
                / ticks as f64
        })
    }
}

/// Which DVB SI tables were seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiPresence {
    /// CAT.
    pub cat: bool,
    /// NIT actual.
    pub nit: bool,
    /// SDT actual.
    pub sdt: bool,
    /// EIT present/following actual.
    pub eit: bool,
    /// TDT.
    pub tdt: bool,
}

impl TsAnalyzer {
    /// An analyzer with no packet yet.
    pub fn new(limits: TsLimits) -> Self {
        TsAnalyzer {
            limits,
            packets: 0,
            invalid_packets: 0,
            invalid_sections: 0,
            indicators: Indicators::default(),
            missing_packets: 0,
            rate_mark: None,
            rate_pid: None,
            position: 0,
            in_sync: true,
            good_run: 0,
            bad_run: 0,
            first_ns: None,
            last_ns: 0,
            slot: Box::new([0; 8192]),
            pids: Vec::new(),
            unsaved: Vec::new(),
            programs: Vec::new(),
            transport_stream_id: None,
            pat_version: None,
            last_pat_ns: None,
            cat_seen: false,
            cat_error_reported: false,
            nit_pid: NIT_PID,
            last_nit_ns: None,
            last_sdt_ns: None,
            last_eit_ns: None,
            last_tdt_ns: None,
            si_sections: HashMap::new(),
            si_present: SiPresence::default(),
        }
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
        let index = self.pid_index(pid, at);
        let state = &mut self.pids[index];
        // PID_error: an elementary stream absent too long, counted when it comes back.
        if state
            .absent_since()
            .is_some_and(|from| at - from > self.limits.pid_interval_ns)
        {
            state.figures.pid_errors += 1;
            self.indicators.add(Indicator::PidError, at);
        }
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
            let state = &mut self.pids[index];
            if let Some(last) = state.last_pts_ns {
                if at - last > self.limits.pts_interval_ns {
                    state.figures.pts_errors += 1;
                    self.indicators.add(Indicator::PtsError, at);
                }
            }
            state.last_pts_ns = Some(at);
        }
    }

    /// Starts PCR accuracy over on every PCR PID: the byte positions between the PCRs kept
    /// so far and the next ones are no longer known.
    fn restart_pcr_accuracy(&mut self) {
        for pid in &mut self.pids {
            if let Some(clock) = &mut pid.pcr {
                clock.window.clear();
            }
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

    #[inline]
    fn pid_index(&mut self, pid: u16, at: i64) -> usize {
        match self.slot[usize::from(pid & 0x1fff)] {
            0 => self.new_pid(pid, at),
            slot => usize::from(slot) - 1,
        }
    }

    #[cold]
    fn new_pid(&mut self, pid: u16, at: i64) -> usize {
        self.pids.push(PidState::new(pid, at));
        self.slot[usize::from(pid & 0x1fff)] = self.pids.len() as u16;
        if pid == self.nit_pid {
            self.pids.last_mut().unwrap().role = PidRole::Table("nit");
        }
        self.pids.len() - 1
    }

    /// The continuity rules of 13818-1 2.4.3.3. Returns false for a legal duplicate.
    fn continuity(
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

    fn unreferenced_check(&mut self, index: usize, at: i64) {
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

    fn on_pcr(&mut self, index: usize, pcr: Pcr, discontinuity: bool, at: i64) {
        let position = self.position;
        let limits = self.limits;
        let state = &mut self.pids[index];
        let pid = state.pid;
        state.figures.pcrs += 1;
        let mut events = [None; 3];
        match &mut state.pcr {
            None => {
                state.pcr = Some(PcrClock {
                    last: pcr,
                    last_arrival_ns: at,
                    window: VecDeque::from([(position, pcr.0)]),
                });
            }
            Some(clock) => {
                if at - clock.last_arrival_ns > limits.pcr_repetition_ns {
                    state.figures.pcr_repetition_errors += 1;
                    events[0] = Some(Indicator::PcrRepetitionError);
                }
                if discontinuity {
                    clock.window.clear();
                } else {
                    // PCR(i+1) - PCR(i) outside 0..100 ms; a step backwards wraps to a huge
                    // forward one.
                    let step = pcr.ticks_since(clock.last);
                    if step as i64 > limits.pcr_discontinuity_ns * 27 / 1_000 {
                        state.figures.pcr_discontinuity_errors += 1;
                        events[1] = Some(Indicator::PcrDiscontinuityError);
                        clock.window.clear();
                    } else if let (Some(&(p0, c0)), Some(&(p1, c1))) =
                        (clock.window.front(), clock.window.back())
                    {
                        // Where the constant rate over the window puts this PCR.
                        if p1 > p0 && position > p1 {
                            let span = Pcr(c1).ticks_since(Pcr(c0)) as f64;
                            let per_packet = span / (p1 - p0) as f64;
                            let expected = c1 as f64 + per_packet * (position - p1) as f64;
                            let actual = c1 as f64 + Pcr(pcr.0).ticks_since(Pcr(c1)) as f64;
                            let error_ns = (actual - expected).abs() * 1_000.0 / 27.0;
                            state.figures.pcr_jitter_ns_max =
                                state.figures.pcr_jitter_ns_max.max(error_ns);
                            if error_ns > limits.pcr_accuracy_ns as f64 {
                                state.figures.pcr_accuracy_errors += 1;
                                events[2] = Some(Indicator::PcrAccuracyError);
                            }
                        }
                    }
                }
                if clock.window.len() == PCR_WINDOW {
                    clock.window.pop_front();
                }
                clock.window.push_back((position, pcr.0));
                clock.last = pcr;
                clock.last_arrival_ns = at;
            }
        }
        if *self.rate_pid.get_or_insert(pid) == pid {
            // A PCR discontinuity, flagged or not (events[1]), starts a new epoch of marks.
            let epoch = self.rate_mark.map_or(0, |m| m.epoch);
            self.rate_mark = Some(PcrMark {
                // The sender's rate: packets estimated missing took their place on the wire.
                position: position + self.missing_packets,
                pcr,
                epoch: epoch + u32::from(discontinuity || events[1].is_some()),
            });
        }
        for event in events.into_iter().flatten() {
            self.indicators.add(event, at);
        }
    }

    fn on_section(&mut self, index: usize, bytes: &[u8], at: i64) {
        let pid = self.pids[index].pid;
        let Ok(section) = Section::new_checked(bytes) else {
            self.invalid_sections += 1;
            return;
        };
        if !section.crc_ok() {
            self.pids[index].figures.crc_errors += 1;
            self.indicators.add(Indicator::CrcError, at);
            return;
        }
        let table = section.table_id();
        if pid == PAT_PID {
            if table == TABLE_PAT {
                self.on_pat(&section, at);
            } else {
                self.indicators.add(Indicator::PatError, at);
            }
            return;
        }
        if pid == CAT_PID {
            if table == TABLE_CAT {
                self.cat_seen = true;
                self.si_present.cat = true;
                self.refer_ca_pids(section.body(), at);
            } else {
                self.indicators.add(Indicator::CatError, at);
            }
            return;
        }
        if table == TABLE_PMT && self.programs.iter().any(|p| p.pmt_pid == pid) {
            self.on_pmt(pid, &section, at);
            return;
        }
        let (allowed, wanted, indicator): (&[u8], u8, Indicator) = match pid {
            _ if pid == self.nit_pid => {
                (&[0x40, 0x41, 0x72], TABLE_NIT_ACTUAL, Indicator::NitError)
            }
            SDT_PID => (
                &[0x42, 0x46, 0x4a, 0x72],
                TABLE_SDT_ACTUAL,
                Indicator::SdtError,
            ),
            EIT_PID => (&[], 0x4e, Indicator::EitError),
            TDT_PID => (&[0x70, 0x72, 0x73], TABLE_TDT, Indicator::TdtError),
            _ => return,
        };
        let ok = if pid == EIT_PID {
            (0x4e..=0x6f).contains(&table) || table == 0x72
        } else {
            allowed.contains(&table)
        };
        if !ok {
            self.indicators.add(indicator, at);
            return;
        }
        // SI_repetition_error: the same section again within 25 ms.
        let key = (
            pid,
            table,
            section.table_id_extension().unwrap_or(0),
            section
                .bytes()
                .get(6)
                .copied()
                .filter(|_| section.long_form())
                .unwrap_or(0),
        );
        if let Some(previous) = self.si_sections.insert(key, at) {
            if at - previous < self.limits.si_min_interval_ns {
                self.indicators.add(Indicator::SiRepetitionError, at);
            }
        }
        if table != wanted {
            return;
        }
        let (last, limit) = match indicator {
            Indicator::NitError => {
                self.si_present.nit = true;
                (&mut self.last_nit_ns, self.limits.nit_interval_ns)
            }
            Indicator::SdtError => {
                self.si_present.sdt = true;
                self.on_sdt(&section);
                (&mut self.last_sdt_ns, self.limits.sdt_interval_ns)
            }
            Indicator::EitError => {
                self.si_present.eit = true;
                (&mut self.last_eit_ns, self.limits.eit_interval_ns)
            }
            _ => {
                self.si_present.tdt = true;
                (&mut self.last_tdt_ns, self.limits.tdt_interval_ns)
            }
        };
        // DVB SI gaps count only once the table has been seen: IPTV streams often carry
        // none, and TR 101 290's SI checks apply to DVB networks.
        let late = last.is_some_and(|l| at - l > limit);
        *last = Some(at);
        if late {
            self.indicators.add(indicator, at);
        }
    }

    fn on_pat(&mut self, section: &Section<'_>, at: i64) {
        let first = self.first_ns.unwrap_or(at);
        let since = self.last_pat_ns.unwrap_or(first);
        if at - since > self.limits.psi_interval_ns {
            self.indicators.add(Indicator::PatError, at);
        }
        self.last_pat_ns = Some(at);
        if self.pat_version == section.version() && !self.programs.is_empty() {
            return;
        }
        self.pat_version = section.version();
        self.transport_stream_id = section.table_id_extension();
        let mut programs = Vec::new();
        for (number, pid) in pat_entries(section.body()) {
            if number == 0 {
                self.nit_pid = pid;
                self.carries_table(pid, "nit", at);
                continue;
            }
            let kept = self
                .programs
                .iter()
                .find(|p| p.number == number && p.pmt_pid == pid)
                .cloned();
            programs.push(kept.unwrap_or(Program {
                number,
                pmt_pid: pid,
                pcr_pid: None,
                streams: Vec::new(),
                service_name: None,
                provider: None,
                last_pmt_ns: None,
                since_ns: at,
            }));
            self.carries_table(pid, "pmt", at);
        }
        self.programs = programs;
    }

    /// A table says `pid` carries `table`: its sections are assembled from now on.
    fn carries_table(&mut self, pid: u16, table: &'static str, at: i64) {
        let index = self.pid_index(pid, at);
        self.pids[index].role = PidRole::Table(table);
        self.pids[index]
            .sections
            .get_or_insert_with(Default::default);
    }

    /// A table refers to `pid` as `role`, unless something already named it.
    fn refer(&mut self, pid: u16, role: PidRole, at: i64) {
        let index = self.pid_index(pid, at);
        if self.pids[index].role == PidRole::Unreferenced {
            self.pids[index].role = role;
        }
    }

    fn on_pmt(&mut self, pid: u16, section: &Section<'_>, at: i64) {
        let number = section.table_id_extension().unwrap_or(0);
        let Some(program) = self
            .programs
            .iter()
            .position(|p| p.pmt_pid == pid && p.number == number)
        else {
            return;
        };
        let program = &mut self.programs[program];
        let since = program.last_pmt_ns.unwrap_or(program.since_ns);
        program.last_pmt_ns = Some(at);
        if at - since > self.limits.psi_interval_ns {
            self.indicators.add(Indicator::PmtError, at);
        }
        let Some(pmt) = Pmt::parse(section.body()) else {
            self.invalid_sections += 1;
            return;
        };
        program.pcr_pid = (pmt.pcr_pid != NULL_PID).then_some(pmt.pcr_pid);
        program.streams = pmt
            .streams()
            .map(|s| {
                (
                    s.pid,
                    s.stream_type,
                    stream_type_name(s.stream_type, s.descriptors),
                )
            })
            .collect();
        let pcr_pid = program.pcr_pid;
        for (es_pid, stream_type, name) in program.streams.clone() {
            let index = self.pid_index(es_pid, at);
            let state = &mut self.pids[index];
            state.role = PidRole::Stream(stream_type, name);
            state.referenced_since.get_or_insert(at);
        }
        if let Some(pcr_pid) = pcr_pid {
            self.refer(pcr_pid, PidRole::Pcr, at);
        }
        // ECM PIDs: CA descriptors of the program and of each stream.
        self.refer_ca_pids(pmt.descriptors, at);
        for stream in pmt.streams() {
            self.refer_ca_pids(stream.descriptors, at);
        }
    }

    /// The CA_PIDs of a descriptor loop's CA descriptors (tag 0x09) are referenced.
    fn refer_ca_pids(&mut self, loop_bytes: &[u8], at: i64) {
        for (tag, data) in descriptors(loop_bytes) {
            if let (0x09, Some(pid)) = (tag, ca_pid(data)) {
                self.refer(pid, PidRole::ConditionalAccess, at);
            }
        }
    }

    fn on_sdt(&mut self, section: &Section<'_>) {
        for service in sdt_services(section.body()) {
            let Some(program) = self
                .programs
                .iter_mut()
                .find(|p| p.number == service.service_id)
            else {
                continue;
            };
            for (tag, data) in descriptors(service.descriptors) {
                if let (0x48, Some((_, provider, name))) = (tag, service_descriptor(data)) {
                    program.provider = Some(dvb_text(provider));
                    program.service_name = Some(dvb_text(name));
                }
            }
        }
    }

    /// Closes the intervals still open when the flow ends at `end_ns`: a PAT, PMT, referred
    /// PID or (once seen) SI table absent for longer than its limit up to the end is one more
    /// event.
    pub fn finish(&mut self, end_ns: i64) {
        let Some(first) = self.first_ns else { return };
        let limits = self.limits;
        if end_ns - self.last_pat_ns.unwrap_or(first) > limits.psi_interval_ns {
            self.indicators.add(Indicator::PatError, end_ns);
        }
        for program in &self.programs {
            if end_ns - program.last_pmt_ns.unwrap_or(program.since_ns) > limits.psi_interval_ns {
                self.indicators.add(Indicator::PmtError, end_ns);
            }
        }
        for state in &mut self.pids {
            if state
                .absent_since()
                .is_some_and(|from| end_ns - from > limits.pid_interval_ns)
            {
                state.figures.pid_errors += 1;
                self.indicators.add(Indicator::PidError, end_ns);
            }
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
        for (last, limit, indicator) in [
            (
                self.last_nit_ns,
                limits.nit_interval_ns,
                Indicator::NitError,
            ),
            (
                self.last_sdt_ns,
                limits.sdt_interval_ns,
                Indicator::SdtError,
            ),
            (
                self.last_eit_ns,
                limits.eit_interval_ns,
                Indicator::EitError,
            ),
            (
                self.last_tdt_ns,
                limits.tdt_interval_ns,
                Indicator::TdtError,
            ),
        ] {
            if last.is_some_and(|l| end_ns - l > limit) {
                self.indicators.add(indicator, end_ns);
            }
        }
    }
}

/// The CA_PID of a CA descriptor (tag 0x09: CA_system_ID, then the PID).
fn ca_pid(data: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(2)? & 0x1f, *data.get(3)?]))
}

/// Two packets that are the same but for a PCR (the duplicate allowance of 2.4.3.3).
fn same_but_pcr(previous: &[u8], packet: &[u8]) -> bool {
    let packet = &packet[..PACKET_LEN];
    let has_pcr = |p: &[u8]| p[3] & 0x20 != 0 && p[4] >= 7 && p[5] & 0x10 != 0;
    if has_pcr(previous) && has_pcr(packet) {
        previous[..6] == packet[..6] && previous[12..] == packet[12..]
    } else {
        previous == packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PMT_PID: u16 = 0x1000;
    const VIDEO: u16 = 0x100;

    /// A small muxer: one program, H.264 on 0x100 carrying the PCR.
    struct Mux {
        cc: HashMap<u16, u8>,
    }

    fn crc(bytes: &[u8]) -> [u8; 4] {
        wire::ts::crc32_mpeg2(bytes).to_be_bytes()
    }

    fn section(table: u8, ext: u16, body: &[u8]) -> Vec<u8> {
        let len = 5 + body.len() + 4;
        let mut s = vec![table, 0xb0 | (len >> 8) as u8, len as u8];
        s.extend_from_slice(&ext.to_be_bytes());
        s.extend_from_slice(&[0xc1, 0, 0]);
        s.extend_from_slice(body);
        let c = crc(&s);
        s.extend_from_slice(&c);
        s
    }

    impl Mux {
        fn new() -> Self {
            Mux { cc: HashMap::new() }
        }

        fn packet(&mut self, pid: u16, pusi: bool, af: Option<Vec<u8>>, payload: &[u8]) -> Vec<u8> {
            let cc = self.cc.entry(pid).or_insert(15);
            let has_payload = !payload.is_empty() || af.is_none();
            if has_payload {
                *cc = (*cc + 1) & 15;
            }
            let control = match (&af, has_payload) {
                (Some(_), true) => 0x30,
                (Some(_), false) => 0x20,
                _ => 0x10,
            };
            let mut p = vec![
                0x47,
                (pid >> 8) as u8 | if pusi { 0x40 } else { 0 },
                pid as u8,
                control | *cc,
            ];
            if let Some(af) = af {
                // Stuff the adaptation field so the payload fills the packet.
                let room = 188 - 4 - 1 - payload.len();
                let mut field = af;
                field.resize(room, 0xff);
                p.push(field.len() as u8);
                p.extend_from_slice(&field);
                p.extend_from_slice(payload);
            } else {
                p.extend_from_slice(payload);
                p.resize(188, 0xff);
            }
            p
        }

        fn pat(&mut self) -> Vec<u8> {
            let s = section(
                TABLE_PAT,
                1,
                &[0, 1, 0xe0 | (PMT_PID >> 8) as u8, PMT_PID as u8],
            );
            let mut payload = vec![0];
            payload.extend_from_slice(&s);
            self.packet(PAT_PID, true, None, &payload)
        }

        fn pmt(&mut self) -> Vec<u8> {
            let body = [
                0xe0 | (VIDEO >> 8) as u8,
                VIDEO as u8,
                0xf0,
                0,
                0x1b,
                0xe0 | (VIDEO >> 8) as u8,
                VIDEO as u8,
                0xf0,
                0,
            ];
            let s = section(TABLE_PMT, 1, &body);
            let mut payload = vec![0];
            payload.extend_from_slice(&s);
            self.packet(PMT_PID, true, None, &payload)
        }

        /// A video packet starting a PES with a PTS, with a PCR at `ms`.
        fn video(&mut self, ms: i64, pcr: bool) -> Vec<u8> {
            let base = (ms * 90) as u64;
            let af = pcr.then(|| {
                let mut field = vec![0x10];
                field.extend_from_slice(&Pcr(base * 300).to_bytes());
                field
            });
            let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5];
            pes.extend_from_slice(&wire::ts::pts_bytes(base + 9_000));
            pes.resize(100, 0x55);
            self.packet(VIDEO, true, af, &pes)
        }
    }

    /// 2 s of a clean stream: every 20 ms one video packet with a PCR every other; PAT and
    /// PMT every 100 ms. `edit` may change or drop (empty vec) the packet (index, ms).
    fn run(edit: impl Fn(usize, i64, Vec<u8>) -> Vec<Vec<u8>>) -> TsAnalyzer {
        let mut mux = Mux::new();
        let mut ts = TsAnalyzer::new(TsLimits::default());
        let mut index = 0;
        for step in 0..100i64 {
            let ms = step * 20;
            // 3 packets every 20 ms, the video one (with the PCR) always last: a constant
            // rate, so every PCR is exactly where the rate puts it.
            let mut packets = Vec::new();
            if step % 5 == 0 {
                packets.push(mux.pat());
                packets.push(mux.pmt());
            } else {
                ts.on_packet(ms * MS, &null());
                ts.on_packet(ms * MS, &null());
            }
            packets.push(mux.video(ms, step % 2 == 0));
            for p in packets {
                for q in edit(index, ms, p) {
                    ts.on_packet(ms * MS, &q);
                }
                index += 1;
            }
        }
        ts.finish(1_990 * MS);
        ts
    }

    fn counts(ts: &TsAnalyzer) -> Vec<(&'static str, u64)> {
        Indicator::ALL
            .iter()
            .map(|&i| (i.as_str(), ts.indicators.get(i).count))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    #[test]
    fn a_clean_stream_has_no_event_and_its_tables_are_read() {
        let ts = run(|_, _, p| vec![p]);
        assert_eq!(counts(&ts), vec![]);
        assert_eq!(ts.programs.len(), 1);
        assert_eq!(ts.programs[0].pcr_pid, Some(VIDEO));
        assert_eq!(ts.programs[0].streams, vec![(VIDEO, 0x1b, "h264")]);
        let video = ts.pids().iter().find(|p| p.pid == VIDEO).unwrap();
        assert_eq!((video.figures.packets, video.figures.pcrs), (100, 50));
        assert_eq!(video.role.as_str(), "h264");
        assert_eq!(video.figures.pcr_jitter_ns_max, 0.0);
    }

    #[test]
    fn drops_are_continuity_events_with_missing_packets() {
        // Drop video packets 30 and 31 (one event, 2 missing) and 60 (another, 1 missing).
        let ts = run(|i, _, p| {
            if [30, 31, 60].contains(&i) {
                vec![]
            } else {
                vec![p]
            }
        });
        assert_eq!(ts.indicators.get(Indicator::CcError).count, 2);
        let total_missing: u64 = ts.pids().iter().map(|p| p.figures.missing_packets).sum();
        assert_eq!(total_missing, 3);
    }

    #[test]
    fn one_duplicate_is_legal_a_third_copy_is_not() {
        let ts = run(|i, _, p| match i {
            10 => vec![p.clone(), p],
            50 => vec![p.clone(), p.clone(), p],
            _ => vec![p],
        });
        assert_eq!(counts(&ts), vec![("cc_error", 1)]);
        let ts = run(|i, _, p| {
            if i == 10 {
                // Same CC, different content: an error.
                let mut q = p.clone();
                q[150] ^= 1;
                vec![p, q]
            } else {
                vec![p]
            }
        });
        assert_eq!(counts(&ts), vec![("cc_error", 1)]);
    }

    #[test]
    fn duplicates_are_judged_the_same_within_and_across_datagrams() {
        // Each case: datagrams of video packets (by index into `packets`, `!` = one byte
        // changed), and the continuity errors expected.
        let mut mux = Mux::new();
        let packets: Vec<Vec<u8>> = (0..4).map(|i| mux.video(i * 20, i % 2 == 0)).collect();
        let cases: [(&[&[&str]], u64); 6] = [
            (&[&["0", "1", "1", "2"]], 0),         // a repeat in the same datagram
            (&[&["0", "1"], &["1", "2"]], 0),      // a repeat in the next datagram
            (&[&["0", "1"], &["1", "1", "2"]], 1), // a third copy
            (&[&["0", "1", "1!", "2"]], 1),        // same counter, other content
            (&[&["0", "1"], &["1!", "2"]], 1),     // the same across datagrams
            (&[&["0", "1", "2"], &["3", "2"]], 1), // a late packet is no repeat
        ];
        for (datagrams, expected) in cases {
            let mut ts = TsAnalyzer::new(TsLimits::default());
            for (n, datagram) in datagrams.iter().enumerate() {
                let mut bytes = Vec::new();
                for name in *datagram {
                    let mut p = packets[usize::from(name.as_bytes()[0] - b'0')].clone();
                    if name.ends_with('!') {
                        p[150] ^= 1;
                    }
                    bytes.extend_from_slice(&p);
                }
                ts.on_datagram(n as i64 * MS, &bytes, 188);
            }
            assert_eq!(
                ts.indicators.get(Indicator::CcError).count,
                expected,
                "{datagrams:?}"
            );
        }
    }

    #[test]
    fn datagrams_of_up_to_348_packets_are_judged_like_short_ones() {
        // 348 TS packets fill the largest UDP payload (65,507 bytes). A PID whose packets sit
        // at slots both below and beyond 254 panicked once (the deferred copy of its last
        // packet lost track of the slot), and a repeat beyond 254 was compared with a stale
        // copy.
        let mut mux = Mux::new();
        let video: Vec<Vec<u8>> = (0..3).map(|i| mux.video(i * 20, false)).collect();
        let datagram = |slots: &[(usize, &Vec<u8>)]| {
            let mut bytes = null().repeat(348);
            for &(slot, packet) in slots {
                bytes[slot * 188..][..188].copy_from_slice(packet);
            }
            bytes
        };
        let mut ts = TsAnalyzer::new(TsLimits::default());
        // Fresh at slot 0 and 300, a legal repeat at 301, then the next one.
        ts.on_datagram(
            0,
            &datagram(&[(0, &video[0]), (300, &video[1]), (301, &video[1])]),
            188,
        );
        // A fresh packet in the last slot.
        ts.on_datagram(MS, &datagram(&[(347, &video[2])]), 188);
        // Its legal repeat in the next datagram, then a third copy: an error.
        ts.on_datagram(
            2 * MS,
            &datagram(&[(280, &video[2]), (290, &video[2])]),
            188,
        );
        assert_eq!(ts.packets, 3 * 348);
        assert_eq!(ts.indicators.get(Indicator::CcError).count, 1);
        let pid = ts.pids().iter().find(|p| p.pid == VIDEO).unwrap();
        assert_eq!((pid.figures.packets, pid.figures.missing_packets), (6, 0));
    }

    #[test]
    fn a_missing_pat_is_one_event_per_gap() {
        // No PAT from 400 ms to 1.4 s: one gap of 1.1 s.
        let ts = run(|_, ms, p| {
            let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
            if pid == PAT_PID && (400..1_400).contains(&ms) {
                vec![null()]
            } else {
                vec![p]
            }
        });
        // The PAT's continuity counter shows the gap too. (The PCR accuracy check then
        // counts the 10 PAT packets the counter says are missing as lost bytes.)
        assert_eq!(ts.indicators.get(Indicator::PatError).count, 1);
        assert_eq!(ts.indicators.get(Indicator::CcError).count, 1);
        assert_eq!(ts.indicators.get(Indicator::PatError).first_ns, 1_400 * MS);
    }

    #[test]
    fn crc_sync_tei_and_pcr_faults() {
        // A PMT with a bad CRC (its PMT gap stays under 0.5 s).
        let ts = run(|i, _, mut p| {
            if i == 1 {
                p[10] ^= 0x20;
            }
            vec![p]
        });
        assert_eq!(counts(&ts), vec![("crc_error", 1)]);
        // One broken sync byte; then two in a row (a sync loss).
        let ts = run(|i, _, mut p| match i {
            20 => {
                p[0] = 0x46;
                vec![p]
            }
            40 => {
                let mut broken = null();
                broken[0] = 0x07;
                vec![broken.clone(), broken, p]
            }
            _ => vec![p],
        });
        let got = counts(&ts);
        assert_eq!(
            ts.indicators.get(Indicator::SyncByteError).count,
            3,
            "{got:?}"
        );
        assert_eq!(ts.indicators.get(Indicator::SyncLoss).count, 1, "{got:?}");
        // TEI on one packet.
        let ts = run(|i, _, mut p| {
            if i == 7 {
                p[1] |= 0x80;
            }
            vec![p]
        });
        assert_eq!(counts(&ts), vec![("transport_error", 1)]);
        // PCRs missing from 500 ms to 700 ms: one gap of 240 ms.
        let ts = run(|_, ms, mut p| {
            let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
            if pid == VIDEO && (500..700).contains(&ms) && p[3] & 0x20 != 0 {
                p[5] &= !0x10;
            }
            vec![p]
        });
        assert_eq!(
            counts(&ts),
            vec![("pcr_repetition_error", 1), ("pcr_discontinuity_error", 1)]
        );
    }

    #[test]
    fn unreferenced_and_absent_pids() {
        let ts = run(|i, _, p| {
            if i % 3 == 0 {
                vec![p, mux_packet(0x200, i / 3)]
            } else {
                vec![p]
            }
        });
        let got = counts(&ts);
        assert!(got.contains(&("unreferenced_pid", 1)), "{got:?}");
        assert!(!got.iter().any(|(name, _)| *name == "cc_error"), "{got:?}");
        // Video silent from 400 to 800 ms, against a PID_error limit of 300 ms.
        let mut mux = Mux::new();
        let mut ts = TsAnalyzer::new(TsLimits {
            pid_interval_ns: 300 * MS,
            ..TsLimits::default()
        });
        for step in 0..50i64 {
            let ms = step * 20;
            if step % 5 == 0 {
                ts.on_packet(ms * MS, &mux.pat());
                ts.on_packet(ms * MS, &mux.pmt());
            }
            if !(20..40).contains(&step) {
                ts.on_packet(ms * MS, &mux.video(ms, step % 2 == 0));
            }
        }
        ts.finish(990 * MS);
        let got = counts(&ts);
        assert!(got.contains(&("pid_error", 1)), "{got:?}");
    }

    fn null() -> Vec<u8> {
        let mut p = vec![0x47, 0x1f, 0xff, 0x10];
        p.resize(188, 0xff);
        p
    }

    fn mux_packet(pid: u16, n: usize) -> Vec<u8> {
        let mut p = vec![0x47, (pid >> 8) as u8, pid as u8, 0x10 | (n as u8 & 15)];
        p.resize(188, 0);
        p
    }

    #[test]
    fn sections_span_packets_and_share_them() {
        let mut a = SectionAssembler::default();
        let long = section(0x42, 7, &[0xaa; 300]);
        let mut got = Vec::new();
        let mut first = vec![0u8];
        first.extend_from_slice(&long[..183]);
        a.feed(&first, true, |s| got.push(s.to_vec()));
        assert!(got.is_empty());
        // The rest, then a short section in the same packet, then stuffing.
        let short = section(0x42, 8, &[1, 2, 3]);
        let mut second = long[183..].to_vec();
        second.extend_from_slice(&short);
        second.resize(184, 0xff);
        a.feed(&second, false, |s| got.push(s.to_vec()));
        assert_eq!(got, vec![long.clone(), short]);
        // A pointer field: the tail of an unfinished section is dropped when the next starts.
        let mut third = vec![0u8];
        third.extend_from_slice(&long[..100]);
        a.feed(&third, true, |s| got.push(s.to_vec()));
        let mut fourth = vec![5u8, 1, 2, 3, 4, 5];
        fourth.extend_from_slice(&long[..178]);
        a.feed(&fourth, true, |s| got.push(s.to_vec()));
        assert_eq!(got.len(), 2);
    }
}

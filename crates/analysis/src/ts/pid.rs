//! What the analysis keeps per PID and per program.

use super::gaps::GapTimer;
use super::pcr::PcrClock;
use super::psi::SectionAssembler;
use serde::Serialize;
use wire::ts::{CAT_PID, EIT_PID, NIT_PID, NULL_PID, PACKET_LEN, PAT_PID, SDT_PID, TDT_PID};

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
    pub(super) first_ns: i64,
    pub(super) last_ns: i64,
    pub(super) last_cc: Option<u8>,
    /// Repeats of the last packet so far (one is legal).
    pub(super) repeats: u8,
    /// The last packet with payload, for the duplicate rule; while `previous_slot` is set it
    /// is stale and the packet is that slot of the datagram being read.
    pub(super) previous: Box<[u8; PACKET_LEN]>,
    /// 1 + the slot, in the datagram being read, of the last packet with payload; 0 when
    /// `previous` holds it. A UDP datagram holds at most 348 TS packets (65,507 bytes), so
    /// every slot fits.
    pub(super) previous_slot: u16,
    pub(super) pcr: Option<PcrClock>,
    /// PTS_error's timer, from the PID's first PTS.
    pub(super) pts_timer: GapTimer,
    /// Unreferenced_PID already reported.
    pub(super) unreferenced_reported: bool,
    /// PID_error's timer, from when a PMT first refers to this PID.
    pub(super) pid_timer: GapTimer,
    pub(super) sections: Option<SectionAssembler>,
}

impl PidState {
    pub(super) fn new(pid: u16, at_ns: i64) -> Self {
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
            pts_timer: GapTimer::default(),
            unreferenced_reported: false,
            pid_timer: GapTimer::default(),
            sections: fixed_table(pid).map(|_| SectionAssembler::default()),
        }
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
    /// PMT_error's timer, from when the PAT first named this program.
    pub(super) pmt_timer: GapTimer,
    /// A valid PMT of it was read.
    pub(super) pmt_seen: bool,
}

/// PIDs a flow may hold in [`PidSlots::Few`] before the full table.
const FEW_PIDS: usize = 16;

/// PID -> 1 + its index in the analyzer's `pids` (0: not seen). A flow starts with a short
/// list of the PIDs in order of first appearance, 34 bytes, and gets the 16 KB table of
/// every PID only once it carries more than [`FEW_PIDS`]: a flood of RTP streams of PT 33
/// (each a TS analyzer) then costs hundreds of bytes a stream, not 16 KB (issue 18).
#[derive(Clone, Debug)]
pub(super) enum PidSlots {
    /// The first PIDs, in the order of `pids`.
    Few { pids: [u16; FEW_PIDS], len: u8 },
    /// Every PID.
    Table(Box<[u16; 8192]>),
}

impl Default for PidSlots {
    fn default() -> Self {
        PidSlots::Few {
            pids: [0; FEW_PIDS],
            len: 0,
        }
    }
}

impl PidSlots {
    /// 1 + the index of `pid` (13 bits), or 0.
    #[inline]
    pub(super) fn get(&self, pid: u16) -> u16 {
        let pid = pid & 0x1fff;
        match self {
            PidSlots::Table(table) => table[usize::from(pid)],
            PidSlots::Few { pids, len } => pids[..usize::from(*len)]
                .iter()
                .position(|&p| p == pid)
                .map_or(0, |i| i as u16 + 1),
        }
    }

    /// `pid` is the `count`-th PID seen (1-based).
    pub(super) fn insert(&mut self, pid: u16, count: u16) {
        let pid = pid & 0x1fff;
        match self {
            PidSlots::Table(table) => table[usize::from(pid)] = count,
            PidSlots::Few { pids, len } if usize::from(*len) < FEW_PIDS => {
                pids[usize::from(*len)] = pid;
                *len += 1;
            }
            PidSlots::Few { pids, .. } => {
                let mut table = Box::new([0u16; 8192]);
                for (i, &p) in pids.iter().enumerate() {
                    table[usize::from(p)] = i as u16 + 1;
                }
                table[usize::from(pid)] = count;
                *self = PidSlots::Table(table);
            }
        }
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            PidSlots::Table(_) => 8192 * 2,
            PidSlots::Few { .. } => 0,
        }
    }
}

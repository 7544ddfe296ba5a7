//! The TR 101 290 indicators and their event counts.

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
    /// The longest gap counted (absence indicators: PAT, PMT, PID, PCR repetition, PTS, NIT,
    /// SDT, EIT, TDT), ns, as long as it was when it closed or the flow ended; 0: none.
    pub longest_gap_ns: i64,
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

    pub(super) fn add(&mut self, indicator: Indicator, at_ns: i64) {
        self.0[indicator as usize].add(at_ns);
    }

    /// A counted gap of `indicator` closed (or the flow ended) after `length_ns`.
    pub(super) fn gap_closed(&mut self, indicator: Indicator, length_ns: i64) {
        let events = &mut self.0[indicator as usize];
        events.longest_gap_ns = events.longest_gap_ns.max(length_ns);
    }
}

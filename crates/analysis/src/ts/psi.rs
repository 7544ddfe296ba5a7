//! PSI and DVB SI tables: sections assembled across packets, PAT, CAT, PMT, SDT and the SI
//! gaps of TR 101 290.

use super::gaps::GapTimer;

/// SI sections remembered for SI_repetition_error before the ones older than its limit are
/// pruned.
pub(super) const SI_SECTIONS_KEPT: usize = 256;
/// SI sections remembered at most.
const SI_SECTIONS_MAX: usize = 4_096;
use super::*;

/// Sections of one PID put together across packets (2.4.4.1-2: pointer_field, stuffing).
#[derive(Clone, Debug, Default)]
pub(super) struct SectionAssembler {
    data: Vec<u8>,
    /// Whether `data` holds the start of a section still being collected.
    active: bool,
}

impl SectionAssembler {
    /// Feeds one packet's payload; hands every completed section to `on`.
    pub(super) fn feed(&mut self, payload: &[u8], unit_start: bool, mut on: impl FnMut(&[u8])) {
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

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.data.capacity() + crate::ALLOCATION
    }

    /// A continuity error: the section being collected cannot be trusted.
    pub(super) fn reset(&mut self) {
        self.data.clear();
        self.active = false;
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
    /// The PAT named programs and a PMT of each was read: what the PSI says is whole.
    pub fn psi_complete(&self) -> bool {
        !self.programs.is_empty() && self.programs.iter().all(|p| p.pmt_seen)
    }

    pub(super) fn on_section(&mut self, index: usize, bytes: &[u8], at: i64) {
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
        if self.si_sections.len() >= self.si_prune_at {
            // Only repeats within the limit matter: older arrivals are forgotten, so EIT
            // schedules of many services cannot grow the map without bound. Pruned when the
            // map has doubled since the last prune, so the cost stays linear in sections.
            let limit = self.limits.si_min_interval_ns;
            self.si_sections.retain(|_, last| at - *last < limit);
            self.si_prune_at = (2 * self.si_sections.len()).max(SI_SECTIONS_KEPT);
        }
        let known = self.si_sections.contains_key(&key);
        // Past the cap (sections of thousands of services within 25 ms: an attack, not DVB
        // SI) new sections are not remembered, and their repetition is not judged.
        if known || self.si_sections.len() < SI_SECTIONS_MAX {
            if let Some(previous) = self.si_sections.insert(key, at) {
                if at - previous < self.limits.si_min_interval_ns {
                    self.indicators.add(Indicator::SiRepetitionError, at);
                }
            }
        }
        if table != wanted {
            return;
        }
        let timer = match indicator {
            Indicator::NitError => {
                self.si_present.nit = true;
                0
            }
            Indicator::SdtError => {
                self.si_present.sdt = true;
                self.on_sdt(&section);
                1
            }
            Indicator::EitError => {
                self.si_present.eit = true;
                2
            }
            _ => {
                self.si_present.tdt = true;
                3
            }
        };
        // DVB SI gaps count only once the table has been seen (its timer starts with its
        // first section): IPTV streams often carry none, and TR 101 290's SI checks apply to
        // DVB networks.
        let closed = self.si_timers[timer].arrive(at);
        self.closed(indicator, closed);
        self.arrived(indicator, at);
    }

    fn on_pat(&mut self, section: &Section<'_>, at: i64) {
        let closed = self.pat_timer.arrive(at);
        self.closed(Indicator::PatError, closed);
        self.arrived(Indicator::PatError, at);
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
                pmt_timer: GapTimer::started(at),
                pmt_seen: false,
            }));
            self.carries_table(pid, "pmt", at);
        }
        self.programs = programs;
        self.psi_changes += 1;
    }

    /// A table says `pid` carries `table`: its sections are assembled from now on.
    fn carries_table(&mut self, pid: u16, table: &'static str, at: i64) {
        let Some(index) = self.pid_index(pid, at) else {
            return;
        };
        self.pids[index].role = PidRole::Table(table);
        self.pids[index]
            .sections
            .get_or_insert_with(Default::default);
    }

    /// A table refers to `pid` as `role`, unless something already named it.
    fn refer(&mut self, pid: u16, role: PidRole, at: i64) {
        let Some(index) = self.pid_index(pid, at) else {
            return;
        };
        if self.pids[index].role == PidRole::Unreferenced {
            self.pids[index].role = role;
        }
    }

    fn on_pmt(&mut self, pid: u16, section: &Section<'_>, at: i64) {
        let number = section.table_id_extension().unwrap_or(0);
        let Some(position) = self
            .programs
            .iter()
            .position(|p| p.pmt_pid == pid && p.number == number)
        else {
            return;
        };
        let closed = self.programs[position].pmt_timer.arrive(at);
        self.closed(Indicator::PmtError, closed);
        self.arrived(Indicator::PmtError, at);
        let program = &mut self.programs[position];
        let Some(pmt) = Pmt::parse(section.body()) else {
            self.invalid_sections += 1;
            return;
        };
        let pcr_pid = (pmt.pcr_pid != NULL_PID).then_some(pmt.pcr_pid);
        let streams: Vec<_> = pmt
            .streams()
            .map(|s| {
                (
                    s.pid,
                    s.stream_type,
                    stream_type_name(s.stream_type, s.descriptors),
                )
            })
            .collect();
        // The PMT repeats every few hundred ms: only a first one or a new content is a
        // change the live records tell.
        if !program.pmt_seen || program.pcr_pid != pcr_pid || program.streams != streams {
            program.pmt_seen = true;
            program.pcr_pid = pcr_pid;
            program.streams = streams;
            self.psi_changes += 1;
        }
        let program = &self.programs[position];
        let pcr_pid = program.pcr_pid;
        for (es_pid, stream_type, name) in program.streams.clone() {
            let Some(index) = self.pid_index(es_pid, at) else {
                continue;
            };
            let state = &mut self.pids[index];
            state.role = PidRole::Stream(stream_type, name);
            state.pid_timer.start_if_idle(at);
            self.arrived(Indicator::PidError, at);
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
                    let (provider, name) = (Some(dvb_text(provider)), Some(dvb_text(name)));
                    if program.provider != provider || program.service_name != name {
                        program.provider = provider;
                        program.service_name = name;
                        self.psi_changes += 1;
                    }
                }
            }
        }
    }
}

/// The CA_PID of a CA descriptor (tag 0x09: CA_system_ID, then the PID).
fn ca_pid(data: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(2)? & 0x1f, *data.get(3)?]))
}

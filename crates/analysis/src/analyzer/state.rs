//! The state budget (issue 18): what the analysis holds, in bytes, against
//! `AnalysisConfig::max_state_bytes`. The flow cap counts 4-tuples, but one 4-tuple may carry
//! 64 SSRCs and each stream of MPEG-TS its own TS analysis, so only bytes bound memory.
//!
//! Measuring walks every flow, so it is not done per packet: the count is exact after each
//! recount (every live tick, and every [`RECOUNT_EVERY`] new flows), and between recounts
//! each admitted flow adds the mean cost of a flow at the last recount (at least
//! [`MIN_FLOW_BYTES`]). A flow that would pass the budget by that estimate makes an exact
//! recount first; while the budget stays full, new flows are refused without one until
//! [`RECOUNT_EVERY`] more have asked (flows that expire live free room at ticks).

use super::{Analyzer, TupleState};
use std::mem::size_of;

/// New flows admitted or refused between two recounts.
pub(super) const RECOUNT_EVERY: u32 = 4_096;
/// The least a new flow is assumed to cost between recounts: an RTP stream and its 4-tuple.
const MIN_FLOW_BYTES: usize =
    size_of::<crate::stream::RtpStream>() + size_of::<super::flow_table::Tuple>() + 16;

/// The budget's bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StateBudget {
    /// Bytes at the last recount, plus the estimates of flows admitted since.
    pub(super) bytes: usize,
    /// The largest exact count.
    pub(super) peak: usize,
    /// Mean bytes a flow at the last recount.
    per_flow: usize,
    /// New flows asked for since the last recount.
    since: u32,
    /// The last recount found the budget full: refuse without recounting until
    /// [`RECOUNT_EVERY`] more flows have asked.
    full: bool,
    /// Datagrams refused by the budget, over the run, and since the last tick.
    pub(super) refused: u64,
    pub(super) refused_interval: u64,
}

impl Analyzer {
    /// What the analysis holds now, bytes: every table, flow and buffer, as allocated. The
    /// large vectors (tuples, streams, flows) count what they hold, not their capacity: a
    /// vector that doubled has its new half reserved, not touched (large blocks are mapped
    /// and grown by `mremap`: `streamprobe`'s allocator), so it is not resident.
    pub fn state_bytes(&self) -> usize {
        let a = crate::ALLOCATION;
        let table = self.table.slots.capacity() * 8
            + self.table.tuples.len() * size_of::<super::flow_table::Tuple>()
            + self
                .table
                .tuples
                .iter()
                .map(|t| match &t.state {
                    TupleState::Probation(p) => {
                        size_of::<super::discovery::Probation>()
                            + a
                            + p.held.capacity() * size_of::<crate::packet::MediaPacket>()
                            + p.held_ts.iter().map(|b| b.len() + a).sum::<usize>()
                    }
                    _ => 0,
                })
                .sum::<usize>();
        let sets = self.ssrc_sets.capacity() * size_of::<Vec<(u32, u32)>>()
            + self
                .ssrc_sets
                .iter()
                .map(|s| s.capacity() * 8 + a)
                .sum::<usize>();
        let streams = self.streams.len() * size_of::<crate::stream::RtpStream>()
            + self.streams.iter().map(|s| s.heap_bytes()).sum::<usize>();
        let udp = self.udp_flows.len() * size_of::<crate::stream::UdpFlow>()
            + self.udp_flows.iter().map(|f| f.heap_bytes()).sum::<usize>();
        let live = (self.live_streams.len() + self.live_udp.len())
            * size_of::<crate::interval::LiveState>();
        let rtcp = self.rtcp.capacity()
            * (size_of::<((std::net::IpAddr, std::net::IpAddr, u32), u64)>() + 1);
        size_of::<Analyzer>()
            + table
            + sets
            + streams
            + udp
            + live
            + rtcp
            + self.reassembler.heap_bytes()
    }

    /// An exact count now.
    pub(super) fn recount_state(&mut self) {
        let bytes = self.state_bytes();
        // Per stream or UDP flow: a new one is charged the mean, its 4-tuple's share
        // included (charging per 4-tuple and stream both would undercount: most 4-tuples of a
        // flood carry many streams).
        // On probation there are 4-tuples and no streams yet: then per 4-tuple.
        let flows = (self.streams.len() + self.udp_flows.len()).max(self.table.tuples.len());
        let b = &mut self.budget;
        b.bytes = bytes;
        b.peak = b.peak.max(bytes);
        b.per_flow = (bytes / flows.max(1)).max(MIN_FLOW_BYTES);
        b.since = 0;
        b.full = false;
    }

    /// Whether a new flow may be set up; when not, its datagram is counted as refused.
    pub(super) fn admit_flow(&mut self) -> bool {
        let budget = self.config.max_state_bytes;
        if budget == usize::MAX {
            return true;
        }
        self.budget.since += 1;
        let over = |b: &StateBudget| b.bytes + b.per_flow.max(MIN_FLOW_BYTES) > budget;
        if self.budget.since >= RECOUNT_EVERY || (over(&self.budget) && !self.budget.full) {
            self.recount_state();
            self.budget.full = over(&self.budget);
        }
        let b = &mut self.budget;
        if over(b) {
            b.refused += 1;
            b.refused_interval += 1;
            return false;
        }
        b.bytes += b.per_flow.max(MIN_FLOW_BYTES);
        true
    }

    /// Whether the state is at its budget (bounded maps stop taking new keys).
    pub(super) fn state_full(&self) -> bool {
        self.config.max_state_bytes != usize::MAX
            && self.budget.bytes + MIN_FLOW_BYTES > self.config.max_state_bytes
    }
}

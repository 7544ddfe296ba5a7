//! What happened to a flow, in the live records (docs/live.md): a typed value that code
//! (the table, a future alarm engine) matches on; its name is text only where a record is
//! written.

use serde::Serialize;

/// An event of one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowEvent {
    /// The flow's first record (an RTP stream once probation confirms it).
    Appeared,
    /// No packet for the silence limit.
    Silent,
    /// Packets again after `Silent`.
    Resumed,
    /// A new SSRC on the stream's addresses and ports.
    SsrcChange,
    /// The group's SLA broken in this interval, after an interval that kept it.
    SlaBroken,
    /// The group's SLA kept again after `SlaBroken`.
    SlaOk,
    /// Forgotten: silent past the flow timeout.
    Expired,
    /// Forgotten: among the longest idle when the flow cap was reached.
    Evicted,
}

impl FlowEvent {
    /// The name in records.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowEvent::Appeared => "appeared",
            FlowEvent::Silent => "silent",
            FlowEvent::Resumed => "resumed",
            FlowEvent::SsrcChange => "ssrc_change",
            FlowEvent::SlaBroken => "sla_broken",
            FlowEvent::SlaOk => "sla_ok",
            FlowEvent::Expired => "expired",
            FlowEvent::Evicted => "evicted",
        }
    }
}

impl std::fmt::Display for FlowEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: table columns set a width.
        f.pad(self.as_str())
    }
}

impl Serialize for FlowEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

//! What a flow is, as reported: a typed value that code compares; its name is text only
//! where a record is written (JSON, tables).

use crate::frames::PayloadFormat;
use serde::Serialize;

/// The kind of a flow (docs/figures.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowKind {
    /// An RTP stream of a video or audio codec.
    Rtp,
    /// An RTP stream of MPEG-TS (RFC 2250, payload type 33 or voted).
    RtpTs,
    /// MPEG-TS straight over UDP.
    UdpTs,
    /// UDP that carries neither RTP nor MPEG-TS.
    Udp,
    /// A raw TS recording (`analyze` of a `.ts` file).
    FileTs,
}

impl FlowKind {
    /// An RTP stream's kind, by its payload format.
    pub fn of_rtp(format: PayloadFormat) -> Self {
        if format == PayloadFormat::Mp2t {
            FlowKind::RtpTs
        } else {
            FlowKind::Rtp
        }
    }

    /// The name in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowKind::Rtp => "rtp",
            FlowKind::RtpTs => "rtp-ts",
            FlowKind::UdpTs => "udp-ts",
            FlowKind::Udp => "udp",
            FlowKind::FileTs => "file-ts",
        }
    }

    /// Whether the flow carries media (every kind but `udp`).
    pub fn is_media(self) -> bool {
        self != FlowKind::Udp
    }
}

impl std::fmt::Display for FlowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: table columns set a width.
        f.pad(self.as_str())
    }
}

impl Serialize for FlowKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables align columns by width: the name is padded like a `&str`.
    #[test]
    fn a_kind_is_padded_to_the_column_width() {
        assert_eq!(format!("{:<6}|", FlowKind::Rtp), "rtp   |");
        assert_eq!(format!("{:>8}|", PayloadFormat::H264), "    h264|");
        assert_eq!(
            format!("{:<12}|", crate::event::FlowEvent::Silent),
            "silent      |"
        );
    }
}

//! Kernel packet filters from tcpdump-style expressions.
//!
//! libpcap's compiler (through the `pcap` crate, on a "dead" handle that opens no device)
//! turns the expression into classic BPF, the language the kernel runs on a socket
//! (`SO_ATTACH_FILTER`, Documentation/networking/filter.rst): users get the exact filter
//! syntax they know from tcpdump, and packets we do not want never reach user space.

use std::fmt;
use wire::LinkType;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter` (and libpcap's
/// `struct bpf_insn`, which is the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BpfInstruction {
    /// Operation.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

/// A compiled filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfFilter {
    /// The expression it was compiled from.
    pub expression: String,
    /// The program.
    pub instructions: Vec<BpfInstruction>,
}

/// An expression libpcap could not compile.
#[derive(Debug, thiserror::Error)]
#[error("filter {expression:?}: {reason}")]
pub struct FilterError {
    /// The expression.
    pub expression: String,
    /// libpcap's message.
    pub reason: String,
}

impl BpfFilter {
    /// Compiles `expression` for frames of `link`: Ethernet (Ethernet and loopback
    /// interfaces) or raw IP (tunnels); a live interface has no other.
    pub fn compile(expression: &str, link: LinkType) -> Result<Self, FilterError> {
        let error = |reason: String| FilterError {
            expression: expression.to_string(),
            reason,
        };
        let linktype = match link {
            LinkType::Ethernet => pcap::Linktype::ETHERNET,
            LinkType::RawIp => pcap::Linktype(12),
            other => return Err(error(format!("no filter for link type {other:?}"))),
        };
        let dead = pcap::Capture::dead(linktype).map_err(|e| error(e.to_string()))?;
        let program = dead
            .compile(expression, true)
            .map_err(|e| error(e.to_string()))?;
        let instructions = program
            .get_instructions()
            .iter()
            .map(|i| {
                // `BpfInstruction` of the pcap crate wraps `bpf_insn` without public fields;
                // its Display prints "code jt jf k", the form `tcpdump -ddd` prints.
                let text = i.to_string();
                let mut n = text
                    .split_whitespace()
                    .map(|w| w.parse::<u64>().unwrap_or(0));
                let mut next = || n.next().unwrap_or(0);
                BpfInstruction {
                    code: next() as u16,
                    jt: next() as u8,
                    jf: next() as u8,
                    k: next() as u32,
                }
            })
            .collect();
        Ok(BpfFilter {
            expression: expression.to_string(),
            instructions,
        })
    }
}

impl fmt::Display for BpfFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expression)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_like_tcpdump() {
        // `tcpdump -dd -y EN10MB udp` on libpcap 1.10: ethertype IPv6 / IPv4 checks, then the
        // next header or protocol field against 17.
        let f = BpfFilter::compile("udp", LinkType::Ethernet).unwrap();
        assert_eq!(
            f.instructions[0],
            BpfInstruction {
                code: 0x28,
                jt: 0,
                jf: 0,
                k: 12
            }
        );
        assert!(f
            .instructions
            .iter()
            .any(|i| i.code == 0x15 && i.k == 0x86dd));
        assert!(f.instructions.iter().any(|i| i.code == 0x15 && i.k == 17));
        // Last instruction returns: accept (snap length) or drop (0).
        assert_eq!(f.instructions.last().unwrap().code, 0x06);
    }

    #[test]
    fn raw_ip_has_no_ethertype() {
        let f = BpfFilter::compile("udp and dst net 239.0.0.0/8", LinkType::RawIp).unwrap();
        assert!(!f
            .instructions
            .iter()
            .any(|i| i.k == 0x0800 && i.code == 0x15));
    }

    #[test]
    fn bad_expression_is_one_line() {
        let e = BpfFilter::compile("udp and dst nett 1.2.3.4", LinkType::Ethernet).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("filter \"udp and dst nett 1.2.3.4\": "),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }
}

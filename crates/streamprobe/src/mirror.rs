//! The probe's mirrors (docs/mirror.md): the tap set the workers and the API share, the
//! sender thread, the `[[mirror]]` tables started at start, and each mirror's figures said
//! on standard error on the way out.

use crate::alarm_config::MirrorConfig;
use std::sync::Arc;

/// The running mirrors.
pub struct Mirror {
    pub taps: Arc<tap::TapSet>,
    sender: tap::Sender,
}

impl Mirror {
    /// Taps for `workers` workers, the sender started, and the config's mirrors made.
    pub fn start(workers: usize, configured: &[MirrorConfig]) -> Result<Mirror, String> {
        let taps = tap::TapSet::new(workers, tap::RING_BYTES);
        for m in configured {
            taps.add(
                &m.flow,
                &m.to,
                m.rate_bps,
                tap::Origin::Config,
                crate::run::wall_ns(),
            )
            .map_err(|e| format!("[[mirror]] {}: {e}", m.flow))?;
        }
        let sender = tap::Sender::start(Arc::clone(&taps))?;
        Ok(Mirror { taps, sender })
    }

    /// Sends what the rings hold (the workers have stopped), then says what each mirror did.
    pub fn finish(self) {
        self.sender.finish();
        for m in self.taps.list() {
            eprintln!("{}", summary(&m));
        }
    }
}

/// One mirror's figures in a line.
pub fn summary(m: &tap::MirrorInfo) -> String {
    format!(
        "streamprobe: mirror {} {} -> {}: {} of {} datagrams sent ({} bytes), {} dropped at the ring, {} over the rate limit{}, {} cut by the capture, {} send errors",
        m.id,
        m.flow,
        m.to,
        m.packets_sent,
        m.matched,
        m.bytes_sent,
        m.dropped_ring,
        m.dropped_rate,
        m.limit_bps.map_or(String::new(), |l| format!(" ({l} bit/s)")),
        m.cut,
        m.send_errors
    )
}

//! streamprobe's alarm receivers (docs/alarms-receivers.md): every alarm transition a
//! receiver is sent ([`analysis::alarm::AlarmRecord::notify`]) goes out as an SNMPv2c trap
//! (docs/mib/STREAMPROBE-MIB.txt), a syslog message (RFC 5424, over UDP or TCP) or a webhook
//! (an HTTP POST of its JSON record, HMAC-signed).
//!
//! Each receiver is a sink of the record bus with a bounded queue of alarms of its own and
//! a thread that sends them in order, retrying with back-off while the receiver is away
//! ([`queue`]); its counters are the sink's status in the probe record, so the API and
//! `/metrics` show them under its name (`snmp:ADDR:PORT`, `syslog:udp://ADDR:PORT`,
//! `webhook:http://HOST:PORT`). Capture never waits for a receiver.

#![forbid(unsafe_code)]

pub mod config;
pub mod queue;
pub mod snmp;
pub mod syslog;
pub mod time;
mod udp;
pub mod webhook;

pub use config::Receivers;
pub use queue::{Channel, Failure, ReceiverSink};

use outputs::Bus;
use std::time::Instant;

/// Intervals waiting in the bus's queue in front of a receiver's sink: it takes each at
/// once (it only queues its alarms), so a few are plenty.
pub const INTERVAL_QUEUE: usize = 16;

/// Every receiver of `receivers`, named, started.
pub fn start(receivers: &Receivers) -> Result<Vec<(String, ReceiverSink)>, String> {
    let started = Instant::now();
    let mut sinks = Vec::new();
    let mut add = |name: String, channel: Result<Box<dyn Channel>, std::io::Error>| {
        let channel = channel.map_err(|e| format!("alarm receiver {name}: {e}"))?;
        let sink = ReceiverSink::start(&name, channel, receivers.queue, receivers.backoff)
            .map_err(|e| format!("alarm receiver {name}: cannot start its thread: {e}"))?;
        sinks.push((name, sink));
        Ok::<(), String>(())
    };
    for &target in &receivers.snmp_trap {
        add(
            format!("snmp:{target}"),
            snmp::SnmpChannel::new(
                target,
                receivers.enterprise.clone(),
                receivers.snmp_community.clone(),
                started,
            )
            .map(|c| Box::new(c) as Box<dyn Channel>),
        )?;
    }
    for target in &receivers.syslog {
        add(
            format!("syslog:{target}"),
            syslog::SyslogChannel::new(
                target.clone(),
                receivers.syslog_facility,
                receivers.enterprise.number(),
                receivers.timeout,
            )
            .map(|c| Box::new(c) as Box<dyn Channel>),
        )?;
    }
    let mut names: Vec<String> = Vec::new();
    for url in &receivers.webhook {
        // Its name leaves the path out: a webhook's path is often its secret (chat services
        // put the token there), and the name is shown by the API and /metrics.
        let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        let mut name = format!("webhook:{origin}");
        let same = names.iter().filter(|n| n.starts_with(&name)).count();
        if same > 0 {
            name = format!("{name}#{}", same + 1);
        }
        names.push(name.clone());
        add(
            name,
            Ok(Box::new(webhook::WebhookChannel::new(
                url.clone(),
                receivers.webhook_secret.clone(),
                receivers.timeout,
            ))),
        )?;
    }
    Ok(sinks)
}

impl Channel for Box<dyn Channel> {
    fn send(&mut self, alarm: &analysis::alarm::AlarmRecord) -> Result<(), Failure> {
        (**self).send(alarm)
    }
}

/// Starts every receiver and attaches it to `bus` (not essential: a receiver never ends
/// the probe). A sink's name lives as long as the probe (a handful, leaked once at start).
pub fn attach(bus: &mut Bus, receivers: &Receivers) -> Result<(), String> {
    for (name, sink) in start(receivers)? {
        let name: &'static str = Box::leak(name.into_boxed_str());
        bus.attach(name, INTERVAL_QUEUE, false, sink)
            .map_err(|e| format!("alarm receiver {name}: {e}"))?;
    }
    Ok(())
}

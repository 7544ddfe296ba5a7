//! `GET /metrics`: the live view in the Prometheus exposition format (prometheus-client's
//! OpenMetrics text), encoded at each scrape from the view, so a series exists exactly while
//! its flow does.
//!
//! Names follow Prometheus' naming practice: base units (seconds, bytes, bits per second),
//! `_total` on counters. Per-flow series carry `flow`, `group` and `kind` labels and are
//! capped at `[metrics] max_flow_series` flows (in flow id order); flows past the cap are
//! counted in `streamprobe_metrics_flows_not_exported`. Group and probe series are always
//! exported. Counters are the lifetime totals: `clear` does not touch them.

use crate::error::ApiError;
use crate::{check_read, AppState};
use analysis::ts::Indicator;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use outputs::live_view::{FlowState, FlowTotals, View};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// OpenMetrics text, as prometheus-client writes it, for a scraper that asks for it
/// (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text format 0.0.4, for every other client (curl, `promtool check metrics`).
const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text as the Prometheus text format 0.0.4: a counter family's HELP and TYPE
/// name its samples (`x_total`), not the family (`x`), and there is no `# EOF`.
pub fn to_text_004(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        match described {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A metric family being written: its samples' label sets and values.
enum Values<'a> {
    Counter(Vec<(Vec<(&'static str, &'a str)>, u64)>),
    Gauge(Vec<(Vec<(&'static str, &'a str)>, f64)>),
}

fn family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: Values<'_>,
) -> std::fmt::Result {
    match values {
        Values::Counter(samples) => {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (labels, v) in samples {
                ConstCounter::new(v).encode(metric.encode_family(&labels)?)?;
            }
        }
        Values::Gauge(samples) => {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (labels, v) in samples {
                ConstGauge::new(v).encode(metric.encode_family(&labels)?)?;
            }
        }
    }
    Ok(())
}

/// The counters every flow and group has, from its totals.
type Counted = (&'static str, &'static str, fn(&FlowTotals) -> u64);
const COUNTERS: [Counted; 6] = [
    ("packets", "Packets received", |t| t.packets),
    ("bytes", "UDP payload bytes received", |t| t.bytes),
    (
        "lost",
        "Gaps found: RTP sequence numbers missing, or TS packets missing by continuity (udp-ts)",
        |t| t.lost,
    ),
    (
        "recovered",
        "Late RTP packets that filled a gap counted in lost",
        |t| t.recovered,
    ),
    (
        "duplicates",
        "Duplicate RTP packets or duplicate TS datagrams",
        |t| t.duplicates,
    ),
    (
        "reordered",
        "RTP packets that arrived after a later one",
        |t| t.reordered,
    ),
];

/// Labels of one flow's series.
fn flow_labels(f: &outputs::live_view::LiveFlow) -> Vec<(&'static str, &str)> {
    vec![
        ("flow", f.id.as_str()),
        ("group", f.group.as_deref().unwrap_or("")),
        ("kind", f.name.kind.as_str()),
    ]
}

/// Writes every family of `view`.
fn write_view(
    encoder: &mut DescriptorEncoder<'_>,
    view: &View,
    max_flow_series: usize,
) -> std::fmt::Result {
    let flows: Vec<_> = view.flows.values().take(max_flow_series).collect();
    let now = view.time_ns;
    for (name, help, value) in COUNTERS {
        family(
            encoder,
            &format!("streamprobe_flow_{name}"),
            help,
            Values::Counter(
                flows
                    .iter()
                    .map(|f| (flow_labels(f), value(&f.lifetime)))
                    .collect(),
            ),
        )?;
    }
    // TR 101 290 occurrences of the TS flows, by indicator.
    let ts: Vec<_> = flows
        .iter()
        .filter(|f| f.name.kind.as_str().ends_with("ts"))
        .collect();
    let mut samples = Vec::new();
    for f in &ts {
        for (i, indicator) in Indicator::ALL.iter().enumerate() {
            let mut labels = flow_labels(f);
            labels.push(("indicator", indicator.as_str()));
            samples.push((labels, f.lifetime.tr101290[i]));
        }
    }
    family(
        encoder,
        "streamprobe_flow_tr101290_events",
        "ETSI TR 101 290 indicator occurrences (TS flows)",
        Values::Counter(samples),
    )?;
    // The last interval's figures, for the flows that had a record in it.
    fn current(
        f: &outputs::live_view::LiveFlow,
        now: Option<i64>,
    ) -> Option<&analysis::interval::FlowRecord> {
        f.last.as_deref().filter(|l| Some(l.time) == now)
    }
    type Figure = fn(&analysis::interval::FlowRecord) -> Option<f64>;
    let gauges: [(&str, &str, Figure); 5] = [
        (
            "jitter_seconds",
            "Largest RFC 3550 interarrival jitter in the last interval",
            |r| r.jitter_ms.map(|j| j / 1e3),
        ),
        (
            "delay_factor_seconds",
            "Largest MDI Delay Factor (RFC 4445) in the last interval",
            |r| r.df_ms.map(|d| d / 1e3),
        ),
        (
            "media_loss_rate_packets_per_second",
            "Largest MDI Media Loss Rate (RFC 4445), packets per second, in the last interval",
            |r| r.mlr,
        ),
        (
            "frames_per_second",
            "Frames per second in the last interval (RTP video)",
            |r| r.fps,
        ),
        (
            "rate_bytes_per_second",
            "UDP payload bytes per second in the last interval (bitrate / 8)",
            |r| Some(r.bitrate_bps / 8.0),
        ),
    ];
    for (name, help, figure) in gauges {
        family(
            encoder,
            &format!("streamprobe_flow_{name}"),
            help,
            Values::Gauge(
                flows
                    .iter()
                    .filter_map(|f| {
                        current(f, now)
                            .and_then(figure)
                            .map(|v| (flow_labels(f), v))
                    })
                    .collect(),
            ),
        )?;
    }
    family(
        encoder,
        "streamprobe_flow_active",
        "1 while the flow sends, 0 once it is silent (until it is forgotten)",
        Values::Gauge(
            flows
                .iter()
                .map(|f| {
                    (
                        flow_labels(f),
                        f64::from(u8::from(f.state == FlowState::Active)),
                    )
                })
                .collect(),
        ),
    )?;
    write_groups(encoder, view)?;
    write_probe(encoder, view, view.flows.len() - flows.len())
}

fn write_groups(encoder: &mut DescriptorEncoder<'_>, view: &View) -> std::fmt::Result {
    let zero = FlowTotals::default();
    let groups: Vec<(&str, &FlowTotals)> = view
        .groups
        .iter()
        .map(|g| {
            (
                g.name.as_str(),
                view.group_totals.get(&g.name).unwrap_or(&zero),
            )
        })
        .collect();
    for (name, help, value) in COUNTERS {
        family(
            encoder,
            &format!("streamprobe_group_{name}"),
            help,
            Values::Counter(
                groups
                    .iter()
                    .map(|(g, t)| (vec![("group", *g)], value(t)))
                    .collect(),
            ),
        )?;
    }
    let mut flows = vec![0f64; groups.len()];
    let mut active = vec![0f64; groups.len()];
    let mut bitrate = vec![0f64; groups.len()];
    let mut df = vec![None::<f64>; groups.len()];
    for f in view.flows.values() {
        let Some(i) = groups
            .iter()
            .position(|(g, _)| Some(*g) == f.group.as_deref())
        else {
            continue;
        };
        flows[i] += 1.0;
        if f.state == FlowState::Active {
            active[i] += 1.0;
        }
        if let Some(last) = f.last.as_deref().filter(|l| Some(l.time) == view.time_ns) {
            bitrate[i] += last.bitrate_bps / 8.0;
            if let Some(d) = last.df_ms {
                df[i] = Some(df[i].map_or(d, |m: f64| m.max(d)));
            }
        }
    }
    let per_group = |v: &[f64]| -> Vec<_> {
        groups
            .iter()
            .zip(v)
            .map(|((g, _), x)| (vec![("group", *g)], *x))
            .collect()
    };
    family(
        encoder,
        "streamprobe_group_flows",
        "Flows the group holds now",
        Values::Gauge(per_group(&flows)),
    )?;
    family(
        encoder,
        "streamprobe_group_active_flows",
        "Flows of the group that send",
        Values::Gauge(per_group(&active)),
    )?;
    family(
        encoder,
        "streamprobe_group_rate_bytes_per_second",
        "UDP payload bytes per second of the group's flows in the last interval",
        Values::Gauge(per_group(&bitrate)),
    )?;
    family(
        encoder,
        "streamprobe_group_delay_factor_max_seconds",
        "Largest MDI Delay Factor among the group's flows in the last interval",
        Values::Gauge(
            groups
                .iter()
                .zip(&df)
                .filter_map(|((g, _), d)| d.map(|d| (vec![("group", *g)], d / 1e3)))
                .collect(),
        ),
    )
}

fn write_probe(
    encoder: &mut DescriptorEncoder<'_>,
    view: &View,
    not_exported: usize,
) -> std::fmt::Result {
    let t = &view.probe_totals;
    let counters: [(&str, &str, u64); 8] = [
        (
            "streamprobe_packets",
            "Packets the probe analysed",
            t.packets,
        ),
        (
            "streamprobe_bytes",
            "Bytes (on the wire) the probe analysed",
            t.bytes,
        ),
        (
            "streamprobe_kernel_drops",
            "Packets the kernel dropped before the probe could read them",
            t.kernel_drops,
        ),
        (
            "streamprobe_late_packets",
            "Packets read after their interval had closed",
            t.late,
        ),
        (
            "streamprobe_output_dropped_records",
            "Records the workers could not hand to the records thread",
            t.output_dropped,
        ),
        (
            "streamprobe_flows_forgotten",
            "Flows forgotten (expired or evicted)",
            t.expired + t.evicted,
        ),
        (
            "streamprobe_refused_packets",
            "Packets of new flows refused by the flow cap",
            t.refused,
        ),
        (
            "streamprobe_refused_state_packets",
            "Packets of new flows refused by the state budget",
            t.refused_state,
        ),
    ];
    for (name, help, v) in counters {
        family(encoder, name, help, Values::Counter(vec![(Vec::new(), v)]))?;
    }
    let probe = view.probe.as_ref();
    let sinks = probe.map(|p| p.sinks.as_slice()).unwrap_or_default();
    family(
        encoder,
        "streamprobe_sink_dropped_records",
        "Records a sink of the record bus lost (queue full, or the sink failed)",
        Values::Counter(
            sinks
                .iter()
                .map(|s| (vec![("sink", s.name)], s.dropped_records))
                .collect(),
        ),
    )?;
    family(
        encoder,
        "streamprobe_sink_errors",
        "Writes of a sink that failed",
        Values::Counter(
            sinks
                .iter()
                .map(|s| (vec![("sink", s.name)], s.errors))
                .collect(),
        ),
    )?;
    family(
        encoder,
        "streamprobe_sink_queued_intervals",
        "Intervals waiting in a sink's queue",
        Values::Gauge(
            sinks
                .iter()
                .map(|s| (vec![("sink", s.name)], s.queued_intervals as f64))
                .collect(),
        ),
    )?;
    // Every rule, 0 when none: ten series at most; flood summaries are not counted (their
    // flows' alarms are).
    let mut active = [0u64; analysis::alarm::AlarmRule::ALL.len()];
    for a in view.active_alarms.values().filter(|a| a.summary.is_none()) {
        active[usize::from(a.rule.code()) - 1] += 1;
    }
    family(
        encoder,
        "streamprobe_alarms_active",
        "Alarms active now (raised, not cleared), by rule",
        Values::Gauge(
            analysis::alarm::AlarmRule::ALL
                .iter()
                .zip(active)
                .map(|(r, n)| (vec![("rule", r.as_str())], n as f64))
                .collect(),
        ),
    )?;
    let gauges: [(&str, &str, f64); 4] = [
        (
            "streamprobe_flows",
            "Flows the probe holds now",
            view.flows.len() as f64,
        ),
        (
            "streamprobe_state_bytes",
            "Analysis state held, bytes",
            probe.map_or(0.0, |p| p.state_bytes as f64),
        ),
        (
            "streamprobe_probation_flows",
            "4-tuples on probation",
            probe.map_or(0.0, |p| p.probation as f64),
        ),
        (
            "streamprobe_metrics_flows_not_exported",
            "Flows over [metrics] max_flow_series, without per-flow series",
            not_exported as f64,
        ),
    ];
    for (name, help, v) in gauges {
        family(encoder, name, help, Values::Gauge(vec![(Vec::new(), v)]))?;
    }
    Ok(())
}

/// The collector registered once: it reads the view at each scrape.
#[derive(Debug)]
pub struct ViewCollector {
    pub view: std::sync::Arc<outputs::LiveView>,
    pub max_flow_series: usize,
}

impl prometheus_client::collector::Collector for ViewCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let view = self.view.read();
        write_view(&mut encoder, &view, self.max_flow_series)
    }
}

/// The view as OpenMetrics text.
pub fn encode(
    view: std::sync::Arc<outputs::LiveView>,
    max_flow_series: usize,
) -> Result<String, std::fmt::Error> {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(ViewCollector {
        view,
        max_flow_series,
    }));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// `GET /metrics`.
pub async fn metrics(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (view, max) = (app.view.clone(), app.max_flow_series);
    let _turn = crate::whole_view_turn().await?;
    let text = tokio::task::spawn_blocking(move || encode(view, max))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(if openmetrics {
        ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response()
    } else {
        ([(header::CONTENT_TYPE, TEXT_004)], to_text_004(&text)).into_response()
    })
}

//! `GET /api/v1/flows` (`streamprobe.flows/1`) and `GET /api/v1/flows/{id}`: every flow the
//! probe knows now, from the live view.

use crate::error::{rejected, ApiError};
use crate::{check_read, time_text, AppState};
use analysis::format::endpoint;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use outputs::live_view::{FlowTotals, Health, LiveFlow};
use serde::{Deserialize, Serialize};

/// The flow list's schema.
pub const FLOWS_SCHEMA: &str = "streamprobe.flows/1";
/// One flow's schema.
pub const FLOW_SCHEMA: &str = "streamprobe.flow/1";
/// The most flows one page may ask for (`limit=`): none, all of them.
const DEFAULT_LIMIT: usize = usize::MAX;

/// RFC 3339 texts of the times a document names, each written once: the 55,000 flows of a
/// list share a few interval ends, and formatting a time costs more than copying it.
#[derive(Default)]
pub struct Times(std::collections::HashMap<i64, Time>);

/// A time's RFC 3339 text, shared.
#[derive(Clone)]
pub struct Time(std::rc::Rc<str>);

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Times {
    /// The text of `ns`.
    pub fn of(&mut self, ns: i64) -> Time {
        self.0
            .entry(ns)
            .or_insert_with(|| Time(time_text(ns).into()))
            .clone()
    }
}

/// One flow, as the API writes it.
#[derive(Serialize)]
pub struct FlowDocument<'a> {
    pub flow: &'a str,
    pub src: String,
    pub dst: String,
    pub ssrc: Option<u32>,
    pub kind: &'static str,
    pub payload: &'static str,
    pub group: Option<&'a str>,
    /// `active` or `silent`.
    pub state: &'static str,
    /// `green`, `amber`, `grey` or `red` (`LiveFlow::health`: an active alarm, silent, an
    /// SLA limit broken in the last interval, ok).
    pub health: &'static str,
    /// Alarms active on it (raised, not cleared; flood summaries not counted).
    pub active_alarms: u32,
    pub first_seen: Time,
    pub last_seen: Time,
    /// The figures of the flow's last interval record (`streamprobe.interval/1`), without
    /// the identity the document already gives.
    pub last: Option<LastDocument<'a>>,
    /// Since the last `clear`, from `since`.
    pub totals: TotalsDocument<'a>,
}

/// A flow's last interval: the record's figures. Written field by field: 55,000 of these
/// are one `GET /api/v1/flows`, and what is not repeated is not encoded.
#[derive(Serialize)]
pub struct LastDocument<'a> {
    pub time: Time,
    pub interval_s: f64,
    pub packets: u64,
    pub bytes: u64,
    pub bitrate_bps: f64,
    pub lost: u64,
    pub recovered: Option<u64>,
    pub duplicates: u64,
    pub reordered: Option<u64>,
    pub jitter_ms: Option<f64>,
    pub clock_rate_source: Option<&'static str>,
    pub fps: Option<f64>,
    pub df_ms: Option<f64>,
    pub mlr: Option<f64>,
    pub tr101290: Option<&'a analysis::interval::IndicatorCounts>,
    pub sla: Option<&'a analysis::report::SlaReport>,
}

impl<'a> LastDocument<'a> {
    fn of(r: &'a analysis::interval::FlowRecord, times: &mut Times) -> Self {
        LastDocument {
            time: times.of(r.time),
            interval_s: r.interval_s,
            packets: r.packets,
            bytes: r.bytes,
            bitrate_bps: r.bitrate_bps,
            lost: r.lost,
            recovered: r.recovered,
            duplicates: r.duplicates,
            reordered: r.reordered,
            jitter_ms: r.jitter_ms,
            clock_rate_source: r.clock_rate_source,
            fps: r.fps,
            df_ms: r.df_ms,
            mlr: r.mlr,
            tr101290: r.tr101290.as_ref(),
            sla: r.sla.as_ref(),
        }
    }
}

/// A flow's totals since the last clear.
#[derive(Serialize)]
pub struct TotalsDocument<'a> {
    pub since: Time,
    pub intervals: u64,
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub recovered: u64,
    /// Gaps found less late packets that filled them: what is still missing.
    pub net_lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// TR 101 290 occurrences per indicator (TS flows; null for the others).
    pub tr101290: Option<analysis::interval::IndicatorCounts>,
    pub mdi: &'a outputs::live_view::MdiSummary,
}

impl<'a> FlowDocument<'a> {
    /// The document of `f`.
    pub fn of(f: &'a LiveFlow, times: &mut Times) -> Self {
        let t: &FlowTotals = &f.since_clear;
        let ts = matches!(
            f.name.kind,
            analysis::kind::FlowKind::RtpTs | analysis::kind::FlowKind::UdpTs
        );
        FlowDocument {
            flow: &f.id,
            src: endpoint(f.name.src),
            dst: endpoint(f.name.dst),
            ssrc: f.name.ssrc,
            kind: f.name.kind.as_str(),
            payload: f.payload,
            group: f.group.as_deref(),
            state: f.state.as_str(),
            health: f.health().as_str(),
            active_alarms: f.active_alarms,
            first_seen: times.of(f.first_seen_ns),
            last_seen: times.of(f.last_seen_ns),
            last: f.last.as_deref().map(|r| LastDocument::of(r, times)),
            totals: TotalsDocument {
                since: times.of(f.cleared_ns),
                intervals: t.intervals,
                packets: t.packets,
                bytes: t.bytes,
                lost: t.lost,
                recovered: t.recovered,
                net_lost: t.net_lost(),
                duplicates: t.duplicates,
                reordered: t.reordered,
                tr101290: ts.then_some(analysis::interval::IndicatorCounts(t.tr101290)),
                mdi: &t.mdi,
            },
        }
    }
}

/// The query of `GET /api/v1/flows`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowsQuery {
    /// Only this monitor group's flows.
    pub group: Option<String>,
    /// `active` or `silent`.
    pub state: Option<String>,
    /// `green`, `amber`, `grey`, `red`, or a comma list of them (`amber,red`): flows whose
    /// health ([`LiveFlow::health`]) is one of them.
    pub health: Option<String>,
    /// Text found in the flow id, group, kind or payload.
    pub q: Option<String>,
    /// `flow` (default), `group`, `kind`, `state`, `last_seen`, `loss`, `df`, `mlr`,
    /// `bitrate`, `jitter`; a leading `-` sorts in descending order.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

#[derive(Serialize)]
struct FlowsDocument<'a> {
    schema: &'static str,
    /// The last interval's end.
    time: Option<String>,
    /// Flows that match the filters (before `offset` and `limit`).
    total: usize,
    offset: usize,
    flows: Vec<FlowDocument<'a>>,
}

/// A sort key of the flow list.
type SortKey = fn(&LiveFlow, &LiveFlow) -> std::cmp::Ordering;

fn sort_key(name: &str) -> Option<SortKey> {
    fn last(f: &LiveFlow, figure: fn(&analysis::interval::FlowRecord) -> Option<f64>) -> f64 {
        f.last
            .as_deref()
            .and_then(figure)
            .unwrap_or(f64::NEG_INFINITY)
    }
    Some(match name {
        "flow" => |a, b| a.id.cmp(&b.id),
        "group" => |a, b| a.group.cmp(&b.group).then(a.id.cmp(&b.id)),
        "kind" => |a, b| {
            a.name
                .kind
                .as_str()
                .cmp(b.name.kind.as_str())
                .then(a.id.cmp(&b.id))
        },
        "state" => |a, b| a.state.as_str().cmp(b.state.as_str()).then(a.id.cmp(&b.id)),
        "last_seen" => |a, b| a.last_seen_ns.cmp(&b.last_seen_ns).then(a.id.cmp(&b.id)),
        "loss" => |a, b| {
            a.since_clear
                .net_lost()
                .cmp(&b.since_clear.net_lost())
                .then(a.id.cmp(&b.id))
        },
        "df" => |a, b| {
            last(a, |r| r.df_ms)
                .total_cmp(&last(b, |r| r.df_ms))
                .then(a.id.cmp(&b.id))
        },
        "mlr" => |a, b| {
            last(a, |r| r.mlr)
                .total_cmp(&last(b, |r| r.mlr))
                .then(a.id.cmp(&b.id))
        },
        "bitrate" => |a, b| {
            last(a, |r| Some(r.bitrate_bps))
                .total_cmp(&last(b, |r| Some(r.bitrate_bps)))
                .then(a.id.cmp(&b.id))
        },
        "jitter" => |a, b| {
            last(a, |r| r.jitter_ms)
                .total_cmp(&last(b, |r| r.jitter_ms))
                .then(a.id.cmp(&b.id))
        },
        _ => return None,
    })
}

/// The healths `health=` names, as a set of [`Health`] codes (bit `1 << code`); all when
/// not given.
fn health_set(text: Option<&str>) -> Result<u8, ApiError> {
    let Some(text) = text else {
        return Ok(u8::MAX);
    };
    let mut set = 0u8;
    for name in text.split(',') {
        let h = [Health::Green, Health::Amber, Health::Grey, Health::Red]
            .into_iter()
            .find(|h| h.as_str() == name.trim())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "health={text}: green, amber, grey, red or a comma list of them"
                ))
            })?;
        set |= 1 << h as u8;
    }
    Ok(set)
}

/// Whether `f` passes the query's filters (`healths`: [`health_set`]).
fn matches(f: &LiveFlow, q: &FlowsQuery, healths: u8) -> bool {
    healths & (1 << f.health() as u8) != 0
        && q.group
            .as_deref()
            .is_none_or(|g| f.group.as_deref() == Some(g))
        && q.state.as_deref().is_none_or(|s| f.state.as_str() == s)
        && q.q.as_deref().is_none_or(|text| {
            f.id.contains(text)
                || f.group.as_deref().is_some_and(|g| g.contains(text))
                || f.name.kind.as_str().contains(text)
                || f.payload.contains(text)
        })
}

/// `GET /api/v1/flows`.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FlowsQuery>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    check_read(&app, &headers)?;
    let Query(q) = query.map_err(rejected)?;
    if let Some(s) = q.state.as_deref() {
        if s != "active" && s != "silent" {
            return Err(ApiError::bad_request(format!(
                "state={s}: must be active or silent"
            )));
        }
    }
    let healths = health_set(q.health.as_deref())?;
    let sort = q.sort.clone().unwrap_or_else(|| "flow".into());
    let (descending, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k.to_string()),
        None => (false, sort.clone()),
    };
    let order = sort_key(&key).ok_or_else(|| {
        ApiError::bad_request(format!(
            "sort={key}: one of flow, group, kind, state, last_seen, loss, df, mlr, bitrate, jitter (a leading - for descending)"
        ))
    })?;
    // Off the async threads: the document is written while the view is read (a copy of
    // 55,000 flows would cost more than the encoding itself).
    let view = app.view.clone();
    let _turn = crate::whole_view_turn().await?;
    tokio::task::spawn_blocking(move || {
        list_document(&view.read(), &q, healths, order, &key, descending)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

fn list_document(
    view: &outputs::live_view::View,
    q: &FlowsQuery,
    healths: u8,
    order: SortKey,
    key: &str,
    descending: bool,
) -> Result<axum::response::Response, ApiError> {
    let mut flows: Vec<&LiveFlow> = view
        .flows
        .values()
        .filter(|f| matches(f, q, healths))
        .collect();
    if key != "flow" || descending {
        flows.sort_by(|a, b| order(a, b));
        if descending {
            flows.reverse();
        }
    }
    let total = flows.len();
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let mut times = Times::default();
    let doc = FlowsDocument {
        schema: FLOWS_SCHEMA,
        time: view.time_ns.map(time_text),
        total,
        offset,
        flows: flows
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|f| FlowDocument::of(f, &mut times))
            .collect(),
    };
    // About 0.9 KB a flow: one allocation rather than a doubling series.
    let mut body = Vec::with_capacity(1024 + doc.flows.len() * 1024);
    serde_json::to_writer(&mut body, &doc).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(crate::json_response(body))
}

#[derive(Serialize)]
struct OneFlowDocument<'a> {
    schema: &'static str,
    #[serde(flatten)]
    flow: FlowDocument<'a>,
    /// The TS flow's programs as last seen (PAT, PMT, SDT; `analyze`'s `programs`); null
    /// for other flows and until a complete PAT + PMT. Only in this document: the flow
    /// list does not repeat them.
    programs: Option<&'a [analysis::report::ProgramReport]>,
}

/// `GET /api/v1/flows/{id}`: the flow now (it must be known to the live view; a forgotten
/// flow's history is still in the store, under `/history`).
pub async fn one(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<axum::response::Response, ApiError> {
    check_read(&app, &headers)?;
    let Path(id) = id.map_err(rejected)?;
    let view = app.view.read();
    let flow = view.flows.get(&id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no flow {id} now (flow ids are percent-encoded in paths: > is %3E, / is %2F)"
        ))
    })?;
    let body = serde_json::to_vec(&OneFlowDocument {
        schema: FLOW_SCHEMA,
        flow: FlowDocument::of(flow, &mut Times::default()),
        programs: flow.programs.as_deref(),
    })
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(crate::json_response(body))
}

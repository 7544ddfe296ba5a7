//! The routes other than the flow list: history, groups, events, health, config, clear.

use crate::error::{rejected, ApiError};
use crate::{check_read, check_write, json_response, time_text, AppState};
use axum::extract::rejection::{PathRejection, QueryRejection, StringRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn encoded(doc: &impl Serialize) -> Result<Response, ApiError> {
    serde_json::to_vec(doc)
        .map(json_response)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The times a query may name: 1970 to 2262 (ns since the epoch in an i64), so that any
/// difference of two of them, or a time less a duration, stays in range.
const TIMES: std::ops::RangeInclusive<i64> = 0..=9_200_000_000_000_000_000;

/// A time in a query: RFC 3339 (`2026-12-07T03:12:00Z`) or Unix seconds (`1796613120`,
/// fractions allowed), 1970 to 2262; ns since the epoch.
pub fn parse_time(key: &str, text: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{key}={text}: a time from 1970 to 2262 in RFC 3339 (2026-12-07T03:12:00Z) or Unix seconds"
        ))
    };
    if let Ok(s) = text.parse::<f64>() {
        if s.is_finite() && (0.0..=9.2e9).contains(&s) {
            return Ok((s * 1e9).round() as i64);
        }
        return Err(bad());
    }
    crate::time::parse_rfc3339_ns(text)
        .filter(|t| TIMES.contains(t))
        .ok_or_else(bad)
}

/// `t` less `seconds`, never before the epoch (so never out of range).
fn before(t: i64, seconds: i64) -> i64 {
    t.saturating_sub(seconds.saturating_mul(1_000_000_000))
        .max(0)
}

/// A duration in a query: `1s`, `10m`, `1h`, `2d` or seconds; seconds.
pub fn parse_duration_s(key: &str, text: &str) -> Result<i64, ApiError> {
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if n > 0 && scale > 0 && n <= 100 * 365 * 86400 / scale => Ok(n * scale),
        _ => Err(ApiError::bad_request(format!(
            "{key}={text}: a duration such as 1s, 10m, 1h, 2d or a number of seconds above 0"
        ))),
    }
}

/// The query of `/history`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Or the last so long (`since=10m`).
    pub since: Option<String>,
    pub step: Option<String>,
}

fn history_error(e: crate::HistoryError) -> ApiError {
    match e {
        crate::HistoryError::BadRequest(m) => ApiError::bad_request(m),
        crate::HistoryError::Failed(m) => ApiError::internal(m),
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// `GET /api/v1/flows/{id}/history?from=&to=&since=&step=`: from the store.
pub async fn history(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let Path(id) = id.map_err(rejected)?;
    let Query(q) = query.map_err(rejected)?;
    // By default up to now, or past the last interval when the probe's packet time runs
    // ahead of the wall clock (a replay faster than recorded).
    let latest = app
        .view
        .read()
        .time_ns
        .map_or(i64::MIN, |t| t.saturating_add(1));
    let to = match &q.to {
        Some(t) => parse_time("to", t)?,
        None => now_ns().max(latest),
    };
    let from = match (&q.from, &q.since) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give from= or since=, not both"));
        }
        (Some(f), None) => parse_time("from", f)?,
        (None, Some(s)) => before(to, parse_duration_s("since", s)?),
        (None, None) => before(to, 3600),
    };
    if from >= to {
        return Err(ApiError::bad_request(format!(
            "from ({}) must be before to ({})",
            time_text(from),
            time_text(to)
        )));
    }
    let step = q
        .step
        .as_deref()
        .map(|s| parse_duration_s("step", s))
        .transpose()?;
    let store = app
        .history
        .clone()
        .ok_or_else(|| ApiError::not_found("this probe keeps no history (--store none)"))?;
    let doc =
        tokio::task::spawn_blocking(move || store.history(&id, from, to, step).map(|d| (id, d)))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(history_error)?;
    match doc {
        (_, Some(doc)) => encoded(&doc),
        (id, None) => Err(ApiError::not_found(format!("the store has no flow {id}"))),
    }
}

#[derive(Serialize)]
struct GroupDocument<'a> {
    name: &'a str,
    media_rate_bps: Option<f64>,
    prefixes: &'a [String],
    flows: usize,
    active: usize,
    /// Sum of the active flows' last-interval bitrates.
    bitrate_bps: f64,
    /// Largest last-interval DF and MLR among its flows, and their mean.
    max_df_ms: Option<f64>,
    max_mlr: Option<f64>,
    mean_df_ms: Option<f64>,
    /// Loss since the last clear, all its flows.
    net_lost: u64,
    flow_ids: Vec<&'a str>,
}

/// `GET /api/v1/groups`: each monitor group, its flows, media rate and MDI summary
/// (`streamprobe.groups/1`): the configured groups, and how many flows are in none.
pub async fn groups(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    // Off the async threads: the document is written while the view is read.
    let view = app.view.clone();
    let _turn = crate::whole_view_turn().await?;
    tokio::task::spawn_blocking(move || groups_document(&view.read()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

fn groups_document(view: &outputs::live_view::View) -> Result<Response, ApiError> {
    let mut docs: Vec<GroupDocument<'_>> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for g in &view.groups {
        index.insert(&g.name, docs.len());
        docs.push(GroupDocument {
            name: &g.name,
            media_rate_bps: g.media_rate_bps,
            prefixes: &g.prefixes,
            flows: 0,
            active: 0,
            bitrate_bps: 0.0,
            max_df_ms: None,
            max_mlr: None,
            mean_df_ms: None,
            net_lost: 0,
            flow_ids: Vec::new(),
        });
    }
    let mut df_sums: Vec<(f64, u64)> = vec![(0.0, 0); docs.len()];
    let mut ungrouped = 0usize;
    for f in view.flows.values() {
        let Some(&i) = f.group.as_deref().and_then(|g| index.get(g)) else {
            ungrouped += 1;
            continue;
        };
        let d = &mut docs[i];
        d.flows += 1;
        d.flow_ids.push(&f.id);
        d.net_lost += f.since_clear.net_lost();
        if f.state == outputs::live_view::FlowState::Active {
            d.active += 1;
        }
        if let Some(last) = f.last.as_deref().filter(|l| Some(l.time) == view.time_ns) {
            d.bitrate_bps += last.bitrate_bps;
            if let Some(df) = last.df_ms {
                d.max_df_ms = Some(d.max_df_ms.map_or(df, |m| m.max(df)));
                df_sums[i].0 += df;
                df_sums[i].1 += 1;
            }
            if let Some(mlr) = last.mlr {
                d.max_mlr = Some(d.max_mlr.map_or(mlr, |m| m.max(mlr)));
            }
        }
    }
    for (d, (sum, n)) in docs.iter_mut().zip(df_sums) {
        d.mean_df_ms = (n > 0).then(|| (sum / n as f64 * 1e6).round() / 1e6);
        d.bitrate_bps = (d.bitrate_bps * 1e6).round() / 1e6;
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: &'static str,
        time: Option<String>,
        groups: Vec<GroupDocument<'a>>,
        /// Flows in no configured group.
        ungrouped_flows: usize,
    }
    encoded(&Doc {
        schema: "streamprobe.groups/1",
        time: view.time_ns.map(time_text),
        groups: docs,
        ungrouped_flows: ungrouped,
    })
}

/// The query of `/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub since: Option<String>,
    pub flow: Option<String>,
    pub limit: Option<usize>,
    /// Past the first so many (the last page's `next_offset`).
    pub offset: Option<usize>,
}

/// One event as `/events` writes it, from the store or the live view alike.
pub fn event_document(
    time_ns: i64,
    flow: &str,
    event: &str,
    silent_s: Option<f64>,
    new_ssrc: Option<u32>,
    violations: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "time": time_text(time_ns),
        "time_ns": time_ns,
        "flow": flow,
        "event": event,
        "silent_s": silent_s,
        "new_ssrc": new_ssrc,
        "violations": violations,
    })
}

/// `GET /api/v1/events?since=&flow=&limit=&offset=` (`streamprobe.events/1`): events from
/// `since` (a time, or a duration back from now; default the last hour), oldest first, past
/// the first `offset`, at most `limit` (default 10,000, at most 100,000); `truncated` when
/// more follow, and `next_offset` to ask for them with the same `since` (a time: give the
/// document's `since` back, not a duration, which moves with the clock). From the store
/// when there is one, else the last events the live view keeps; the same shape either way.
pub async fn events(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let Query(q) = query.map_err(rejected)?;
    let since = match &q.since {
        Some(s) if s.chars().any(|c| c.is_ascii_alphabetic()) && !s.contains('T') => {
            before(now_ns(), parse_duration_s("since", s)?)
        }
        Some(s) => parse_time("since", s)?,
        None => before(now_ns(), 3600),
    };
    let limit = q.limit.unwrap_or(10_000).clamp(1, 100_000);
    let offset = q.offset.unwrap_or(0);
    // One more than asked: whether more follow.
    let mut events: Vec<serde_json::Value> = match app.history.clone() {
        Some(store) => {
            let flow = q.flow.clone();
            tokio::task::spawn_blocking(move || {
                store.events(since, flow.as_deref(), limit + 1, offset)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(history_error)?
        }
        None => {
            let view = app.view.read();
            view.events
                .iter()
                .filter(|e| e.time >= since)
                .filter(|e| q.flow.as_deref().is_none_or(|f| e.name.id() == f))
                .skip(offset)
                .take(limit + 1)
                .map(|e| {
                    event_document(
                        e.time,
                        &e.name.id(),
                        e.event.as_str(),
                        e.silent_s,
                        e.new_ssrc,
                        serde_json::to_value(&e.violations).unwrap_or_default(),
                    )
                })
                .collect()
        }
    };
    let truncated = events.len() > limit;
    events.truncate(limit);
    #[derive(Serialize)]
    struct Doc {
        schema: &'static str,
        since: String,
        offset: usize,
        truncated: bool,
        next_offset: Option<usize>,
        events: Vec<serde_json::Value>,
    }
    encoded(&Doc {
        schema: "streamprobe.events/1",
        since: time_text(since),
        offset,
        truncated,
        next_offset: truncated.then_some(offset + events.len()),
        events,
    })
}

/// `GET /api/v1/health` (`streamprobe.health/1`): the last probe record (packets, kernel
/// drops, worker load, state bytes, each sink's queue and drops) and the store's size.
pub async fn health(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let (size, location, writer) = app
        .history
        .as_ref()
        .map(|h| (Some(h.size_bytes()), Some(h.location()), Some(h.status())))
        .unwrap_or_default();
    let view = app.view.read();
    #[derive(Serialize)]
    struct Store {
        location: Option<String>,
        size_bytes: Option<u64>,
        #[serde(flatten)]
        writer: Option<serde_json::Value>,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: &'static str,
        started: String,
        flows: usize,
        forgotten_flows: u64,
        /// Acknowledgements queued (202) that the engine then refused: their alarm cleared
        /// (or was acknowledged) before the interval's end took them.
        alarm_acks_refused: u64,
        probe: Option<&'a outputs::ProbeRecord>,
        store: Store,
        wall: Wall,
    }
    #[derive(Serialize)]
    struct Wall {
        minutes: usize,
        rows: usize,
        bytes: usize,
    }
    encoded(&Doc {
        schema: "streamprobe.health/1",
        started: time_text(app.started_ns),
        flows: view.flows.len(),
        forgotten_flows: view.forgotten,
        alarm_acks_refused: app.alarm_desk.refused(),
        probe: view.probe.as_ref(),
        store: Store {
            location,
            size_bytes: size,
            writer,
        },
        wall: Wall {
            minutes: view.wall.window() / 60,
            rows: view.wall.bytes() / view.wall.window(),
            bytes: view.wall.bytes(),
        },
    })
}

/// What applying a config did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConfigOutcome {
    /// Settings changed live.
    pub applied: Vec<String>,
    /// Settings that changed in the file but take effect only after a restart.
    pub restart_needed: Vec<String>,
}

/// `GET /api/v1/config`: the config in force, TOML.
pub async fn config(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/toml")],
        app.config.current(),
    )
        .into_response())
}

/// `POST /api/v1/config` (TOML text): checked, applied, written back to the config file.
pub async fn set_config(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Response, ApiError> {
    check_write(&app, &headers)?;
    let text = body.map_err(rejected)?;
    let control = app.config.clone();
    let outcome = tokio::task::spawn_blocking(move || control.apply(&text))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e))?;
    #[derive(Serialize)]
    struct Doc {
        schema: &'static str,
        #[serde(flatten)]
        outcome: ConfigOutcome,
    }
    encoded(&Doc {
        schema: "streamprobe.config/1",
        outcome,
    })
}

/// The body of `POST /api/v1/clear`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearRequest {
    pub group: Option<String>,
}

/// `POST /api/v1/clear` (optionally `{"group": NAME}`): zeroes the since-clear totals that
/// `show` prints; the store's history and the `/metrics` counters stay.
pub async fn clear(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    check_write(&app, &headers)?;
    let body = body.map_err(rejected)?;
    let request: ClearRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ClearRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body: {e} (expected {{\"group\": NAME}} or nothing)"
            ))
        })?
    };
    let mut view = app.view.write();
    if let Some(g) = &request.group {
        if !view.groups.iter().any(|x| &x.name == g) {
            return Err(ApiError::not_found(format!("no monitor group {g}")));
        }
    }
    // Totals start again after the last interval they held: `since` is that interval's end
    // (the records' time, which a replay runs at its own pace), not the wall clock.
    let after = view.time_ns.unwrap_or_else(now_ns);
    let cleared = view.clear(request.group.as_deref(), after);
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: &'static str,
        group: Option<&'a str>,
        cleared_flows: usize,
        /// The last interval in the totals cleared: totals from now on start after it.
        after: Option<String>,
    }
    encoded(&Doc {
        schema: "streamprobe.clear/1",
        group: request.group.as_deref(),
        cleared_flows: cleared,
        after: Some(time_text(after)),
    })
}

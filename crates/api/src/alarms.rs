//! `GET /api/v1/alarms` (`streamprobe.alarms/1`) and `POST /api/v1/alarms/{id}/ack`
//! (docs/alarms.md). Active alarms come from the live view (what the engine holds, as of the
//! last interval the view took); the history of every alarm record from the store when there
//! is one, else from the last records the view keeps. An acknowledgement is queued on the
//! alarm desk and recorded by the engine at the next interval's end (`202 Accepted`).

use crate::error::{rejected, ApiError};
use crate::routes::parse_time;
use crate::{check_read, check_write, json_response, time_text, AppState, HistoryError};
use analysis::alarm::{AckRequest, AlarmRecord, AlarmState};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The list's schema.
pub const ALARMS_SCHEMA: &str = "streamprobe.alarms/1";
/// An acknowledgement's answer.
pub const ACK_SCHEMA: &str = "streamprobe.alarm_ack/1";
/// `limit=` when not given, and at most.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 100_000;

/// Which alarm records the store is asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    /// Records whose time is in [from, to), ns.
    pub from_ns: i64,
    pub to_ns: i64,
    pub flow: Option<String>,
    pub group: Option<String>,
    pub rule: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// The query of `GET /api/v1/alarms`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsQuery {
    /// `active` (default): the episodes active now, each its latest record; `all`: every
    /// record (raised, acknowledged, cleared) in [from, to).
    pub state: Option<String>,
    pub flow: Option<String>,
    pub group: Option<String>,
    pub rule: Option<String>,
    /// RFC 3339 or Unix seconds; `active` filters on the time raised, `all` on the record's.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

#[derive(Serialize)]
struct AlarmsDocument {
    schema: &'static str,
    /// `active` or `all`.
    state: &'static str,
    /// The last interval's end the live view took.
    time: Option<String>,
    /// `live` (the live view) or `store`.
    source: &'static str,
    /// Episodes active now, all of them (before filters and paging).
    active: usize,
    from: Option<String>,
    to: Option<String>,
    offset: usize,
    truncated: bool,
    next_offset: Option<usize>,
    alarms: Vec<serde_json::Value>,
}

fn history_error(e: HistoryError) -> ApiError {
    match e {
        HistoryError::BadRequest(m) => ApiError::bad_request(m),
        HistoryError::Failed(m) => ApiError::internal(m),
    }
}

fn record_matches(a: &AlarmRecord, q: &AlarmsQuery, from: i64, to: i64, at: i64) -> bool {
    at >= from
        && at < to
        && q.rule.as_deref().is_none_or(|r| a.rule.as_str() == r)
        && q.group
            .as_deref()
            .is_none_or(|g| a.group.as_deref() == Some(g))
        && q.flow
            .as_deref()
            .is_none_or(|f| a.flow.is_some_and(|n| n.id() == f))
}

fn value(a: &AlarmRecord) -> serde_json::Value {
    serde_json::to_value(a).unwrap_or_default()
}

/// `GET /api/v1/alarms?state=active|all&flow=&group=&rule=&from=&to=&limit=&offset=`.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AlarmsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let Query(q) = query.map_err(rejected)?;
    let active_only = match q.state.as_deref().unwrap_or("active") {
        "active" => true,
        "all" => false,
        s => {
            return Err(ApiError::bad_request(format!(
                "state={s}: must be active or all"
            )))
        }
    };
    if let Some(r) = q.rule.as_deref() {
        if analysis::alarm::AlarmRule::parse(r).is_none() {
            let names: Vec<&str> = analysis::alarm::AlarmRule::ALL
                .iter()
                .map(|r| r.as_str())
                .collect();
            return Err(ApiError::bad_request(format!(
                "rule={r}: one of {}",
                names.join(", ")
            )));
        }
    }
    let from = q
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?;
    let to = q.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
    let (lo, hi) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    if lo >= hi {
        return Err(ApiError::bad_request("from must be before to"));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = q.offset.unwrap_or(0);
    let (time, active) = {
        let view = app.view.read();
        (view.time_ns, view.active_alarms.len())
    };
    // One more than asked: whether more follow.
    let (source, mut alarms): (&'static str, Vec<serde_json::Value>) =
        match (&app.history, active_only) {
            (Some(store), false) => {
                let filter = AlarmFilter {
                    from_ns: lo,
                    to_ns: hi,
                    flow: q.flow.clone(),
                    group: q.group.clone(),
                    rule: q.rule.clone(),
                    limit: limit + 1,
                    offset,
                };
                let store = store.clone();
                let got = tokio::task::spawn_blocking(move || store.alarms(&filter))
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?
                    .map_err(history_error)?;
                ("store", got)
            }
            _ => {
                let view = app.view.read();
                let got = if active_only {
                    view.active_alarms
                        .values()
                        .filter(|a| record_matches(a, &q, lo, hi, a.raised))
                        .skip(offset)
                        .take(limit + 1)
                        .map(value)
                        .collect()
                } else {
                    view.alarm_log
                        .iter()
                        .filter(|a| record_matches(a, &q, lo, hi, a.time))
                        .skip(offset)
                        .take(limit + 1)
                        .map(value)
                        .collect()
                };
                ("live", got)
            }
        };
    let truncated = alarms.len() > limit;
    alarms.truncate(limit);
    let doc = AlarmsDocument {
        schema: ALARMS_SCHEMA,
        state: if active_only { "active" } else { "all" },
        time: time.map(time_text),
        source,
        active,
        from: from.map(time_text),
        to: to.map(time_text),
        offset,
        truncated,
        next_offset: truncated.then_some(offset + alarms.len()),
        alarms,
    };
    serde_json::to_vec(&doc)
        .map(json_response)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The body of `POST /api/v1/alarms/{id}/ack` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Who acknowledges (default `api`).
    pub by: Option<String>,
    /// A note kept with the acknowledgement.
    pub note: Option<String>,
}

/// Longest `by` and `note` taken, characters.
const MAX_BY: usize = 100;
const MAX_NOTE: usize = 1000;

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// `POST /api/v1/alarms/{id}/ack` (`{"by": NAME, "note": TEXT}` or nothing): queues the
/// acknowledgement of an active alarm; the engine records it (an `acknowledged` record) at
/// the next interval's end, and the alarm stays active until it clears. 404: no such alarm;
/// 409: cleared, acknowledged already, or an acknowledgement of it queued already; 503: the
/// desk is full.
pub async fn ack(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_write(&app, &headers)?;
    let Path(id) = id.map_err(rejected)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("alarm id {id}: a whole number")))?;
    let body = body.map_err(rejected)?;
    let request: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body: {e} (expected {{\"by\": NAME, \"note\": TEXT}} or nothing)"
            ))
        })?
    };
    let by = request.by.unwrap_or_else(|| "api".into());
    if by.trim().is_empty() || by.chars().count() > MAX_BY || by.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "by: 1 to {MAX_BY} characters, no control characters"
        )));
    }
    if request
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE)
    {
        return Err(ApiError::bad_request(format!(
            "note: at most {MAX_NOTE} characters"
        )));
    }
    let known = {
        let view = app.view.read();
        match view.active_alarms.get(&id) {
            Some(a) => Some(Some(a.clone())),
            // Not active: cleared (in the log), or unknown to the view.
            None => view.alarm_log.iter().any(|a| a.id == id).then_some(None),
        }
    };
    let known = match (known, &app.history) {
        (Some(k), _) => Some(k),
        (None, Some(store)) => {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.alarm(id))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map_err(history_error)?
                .map(|_| None)
        }
        (None, None) => None,
    };
    let active = match known {
        None => return Err(ApiError::not_found(format!("no alarm {id}"))),
        Some(None) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("alarm {id} is not active (cleared): nothing to acknowledge"),
            ))
        }
        Some(Some(a)) => a,
    };
    if active.state == AlarmState::Acknowledged {
        let who = active.ack.as_ref().map_or("someone", |a| a.by.as_str());
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("alarm {id} is acknowledged already, by {who}"),
        ));
    }
    let requested = now_ns();
    app.alarm_desk
        .request(AckRequest {
            id,
            by: by.clone(),
            time_ns: requested,
            note: request.note.clone(),
        })
        .map_err(|e| match e {
            outputs::alarm_desk::DeskRefused::Queued => ApiError::new(
                StatusCode::CONFLICT,
                format!("alarm {id}: an acknowledgement is queued already, recorded at the next interval's end"),
            ),
            outputs::alarm_desk::DeskRefused::Full => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many acknowledgements waiting for the next interval; try again",
            ),
        })?;
    #[derive(Serialize)]
    struct Doc {
        schema: &'static str,
        id: u64,
        rule: &'static str,
        by: String,
        note: Option<String>,
        requested: String,
        /// `queued`: recorded at the next interval's end.
        status: &'static str,
    }
    let body = serde_json::to_vec(&Doc {
        schema: ACK_SCHEMA,
        id,
        rule: active.rule.as_str(),
        by,
        note: request.note,
        requested: time_text(requested),
        status: "queued",
    })
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

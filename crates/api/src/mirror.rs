//! `/api/v1/mirror`: the flows copied to a viewer (crates/tap, docs/mirror.md). Listing reads
//! like any read; starting (`POST`) and ending (`DELETE`) one need the token.

use crate::error::{rejected, ApiError};
use crate::{check_read, check_write, json_response, time_text, AppState};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

/// The body of `POST /api/v1/mirror`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorRequest {
    /// A destination `ADDR` or `ADDR:PORT`, or a flow id.
    pub flow: String,
    /// A unicast `ADDR:PORT`.
    pub to: String,
    /// The limit, bit/s (default twice the flow's measured rate).
    pub rate_bps: Option<u64>,
}

/// A mirror as the API writes it (`streamprobe.mirror/1`).
pub fn mirror_document(m: &tap::MirrorInfo) -> Value {
    json!({
        "schema": "streamprobe.mirror/1",
        "id": m.id,
        "flow": m.flow,
        "to": m.to,
        "rate_bps": m.rate_bps,
        "limit_bps": m.limit_bps,
        "measured_bps": m.measured_bps,
        "origin": m.origin,
        "created": time_text(m.created_ns),
        "state": m.state,
        "matched": m.matched,
        "packets_sent": m.packets_sent,
        "bytes_sent": m.bytes_sent,
        "dropped_ring": m.dropped_ring,
        "dropped_rate": m.dropped_rate,
        "cut": m.cut,
        "send_errors": m.send_errors,
        "discarded": m.discarded,
    })
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn encoded(status: StatusCode, doc: &Value) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(doc).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut response = json_response(body);
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /api/v1/mirror`: every mirror, oldest first.
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let mirrors: Vec<Value> = app.mirror.list().iter().map(mirror_document).collect();
    encoded(
        StatusCode::OK,
        &json!({"schema": "streamprobe.mirrors/1", "mirrors": mirrors}),
    )
}

/// `POST /api/v1/mirror` `{"flow": ..., "to": ..., "rate_bps": N}`: 201 with the mirror.
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_write(&app, &headers)?;
    let body = body.map_err(rejected)?;
    let request: MirrorRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body: {e}; give {{\"flow\": \"239.1.1.1:5000\" or a flow id, \"to\": \"127.0.0.1:6000\", \"rate_bps\": optional bit/s}}"
        ))
    })?;
    let made = app
        .mirror
        .add(
            &request.flow,
            &request.to,
            request.rate_bps,
            tap::Origin::Api,
            now_ns(),
        )
        .map_err(ApiError::bad_request)?;
    encoded(StatusCode::CREATED, &mirror_document(&made))
}

/// `DELETE /api/v1/mirror/{id}`: 200 with the mirror's final figures (state `ended`; what
/// its rings still held counted `discarded`), or 404 when there is no such mirror.
pub async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    check_write(&app, &headers)?;
    let Path(id) = id.map_err(rejected)?;
    let gone = id.parse::<u64>().ok().and_then(|n| app.mirror.remove(n));
    match gone {
        Some(ended) => encoded(StatusCode::OK, &mirror_document(&ended)),
        None => Err(ApiError::not_found(format!(
            "no mirror {id}: GET /api/v1/mirror lists them"
        ))),
    }
}

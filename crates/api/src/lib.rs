//! streamprobe's REST API (`/api/v1/...`, JSON, every document with its `"schema"`) and
//! Prometheus `/metrics`, served by axum on a tokio runtime of its own threads: the capture
//! and analysis threads never run a request.
//!
//! Reads come from the live view (crates/outputs) and the store; changing calls (`POST`)
//! need the bearer token (auth.rs). Every failure is a JSON error with a 4xx or 5xx status
//! (error.rs). The routes are documented in docs/openapi.yaml, which a test checks against
//! [`ROUTES`].

#![forbid(unsafe_code)]

pub mod alarms;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod flows;
pub mod metrics;
pub mod mirror;
pub mod routes;
pub mod time;
pub mod wall;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use error::ApiError;
use outputs::LiveView;
use std::sync::Arc;

/// The largest request body taken, bytes: a config is far smaller.
pub const MAX_BODY: usize = 1 << 20;

/// Every route, as (method, path): docs/openapi.yaml documents each (tests/openapi.rs, both
/// ways) and the router serves each (tests/routes.rs asks every one). Keep it and
/// [`router`] together.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/flows"),
    ("get", "/api/v1/flows/{id}"),
    ("get", "/api/v1/flows/{id}/history"),
    ("get", "/api/v1/groups"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/wall"),
    ("get", "/api/v1/wall/band"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/config"),
    ("post", "/api/v1/config"),
    ("post", "/api/v1/clear"),
    ("get", "/api/v1/mirror"),
    ("post", "/api/v1/mirror"),
    ("delete", "/api/v1/mirror/{id}"),
    ("get", "/api/v1/alarms"),
    ("post", "/api/v1/alarms/{id}/ack"),
    ("get", "/metrics"),
    ("get", "/"),
    ("get", "/assets/{file}"),
];

/// What the config routes do: the binary knows the config file and how to apply one.
pub trait ConfigControl: Send + Sync + 'static {
    /// The config in force, as TOML.
    fn current(&self) -> String;
    /// Checks `text` and applies it, and writes it to the config file; the one-line error
    /// (`FILE:LINE:COL: what`) when it is refused, the running config then unchanged.
    fn apply(&self, text: &str) -> Result<routes::ConfigOutcome, String>;
}

/// Why the store could not answer.
#[derive(Debug)]
pub enum HistoryError {
    /// The question cannot be answered as asked (too many points, a step too large): 400.
    BadRequest(String),
    /// The store failed: 500.
    Failed(String),
}

/// Where history and stored events come from (the binary opens the store).
pub trait History: Send + Sync + 'static {
    /// One flow's history document (`streamprobe.history/1`) over [from, to), in buckets of
    /// `step_s` seconds (None: the store chooses by range). `Ok(None)` when the store has
    /// never heard of the flow.
    fn history(
        &self,
        flow: &str,
        from_ns: i64,
        to_ns: i64,
        step_s: Option<i64>,
    ) -> Result<Option<serde_json::Value>, HistoryError>;
    /// Events since `since_ns`, oldest first, past the first `offset`, at most `limit`, as
    /// JSON objects of the shape [`routes::event_document`] gives.
    fn events(
        &self,
        since_ns: i64,
        flow: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<serde_json::Value>, HistoryError>;
    /// Stored alarm records as `filter` asks, oldest first, as JSON objects (the records as
    /// the bus carried them). None stored by default.
    fn alarms(&self, filter: &alarms::AlarmFilter) -> Result<Vec<serde_json::Value>, HistoryError> {
        let _ = filter;
        Ok(Vec::new())
    }
    /// The last stored record of alarm `id`, if any.
    fn alarm(&self, id: u64) -> Result<Option<serde_json::Value>, HistoryError> {
        let _ = id;
        Ok(None)
    }
    /// The store's size on disk, bytes.
    fn size_bytes(&self) -> u64;
    /// Where it is (as given: a path).
    fn location(&self) -> String;
    /// Its writer's figures (intervals written, the last write's time).
    fn status(&self) -> serde_json::Value;
}

/// Everything a request may read.
#[derive(Clone)]
pub struct AppState {
    pub view: Arc<LiveView>,
    pub history: Option<Arc<dyn History>>,
    /// Where acknowledgements wait for the alarm engine (the records thread).
    pub alarm_desk: Arc<outputs::AlarmDesk>,
    pub config: Arc<dyn ConfigControl>,
    /// The bearer token changing calls need.
    pub token: Arc<str>,
    /// Reads need the token too.
    pub read_token: bool,
    /// Per-flow series exported at most (`[metrics] max_flow_series`).
    pub max_flow_series: usize,
    /// When the probe started, ns since the epoch.
    pub started_ns: i64,
    /// The flows mirrored (`/api/v1/mirror`).
    pub mirror: Arc<tap::TapSet>,
}

/// A `200 OK` JSON response from encoded bytes.
pub fn json_response(body: Vec<u8>) -> axum::response::Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Documents of every flow (the list, groups, /metrics) written at once at most: each holds
/// the live view's read lock and a buffer of tens of MB at 55,000 flows while it is written,
/// and the blocking pool would otherwise run hundreds of them.
static WHOLE_VIEW: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Waits for a turn to write a document of the whole view.
pub async fn whole_view_turn() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    WHOLE_VIEW
        .acquire()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// RFC 3339 text of a time in ns since the epoch.
pub fn time_text(ns: i64) -> String {
    analysis::format::rfc3339_ns(ns)
}

/// Reads need the token only with `read_token`.
pub fn check_read(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if app.read_token {
        check_write(app, headers)
    } else {
        Ok(())
    }
}

/// Changing calls always need the token.
pub fn check_write(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth::authorised(given, &app.token) {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "this call needs Authorization: Bearer TOKEN (the token is in the probe's token file, streamprobe.token beside its store by default)",
        ))
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/flows", get(flows::list))
        .route("/api/v1/flows/{id}", get(flows::one))
        .route("/api/v1/flows/{id}/history", get(routes::history))
        .route("/api/v1/groups", get(routes::groups))
        .route("/api/v1/events", get(routes::events))
        .route("/api/v1/wall", get(wall::wall))
        .route("/api/v1/wall/band", get(wall::band))
        .route("/api/v1/health", get(routes::health))
        .route(
            "/api/v1/config",
            get(routes::config).post(routes::set_config),
        )
        .route("/api/v1/clear", post(routes::clear))
        .route("/api/v1/mirror", get(mirror::list).post(mirror::create))
        .route("/api/v1/mirror/{id}", delete(mirror::delete))
        .route("/api/v1/alarms", get(alarms::list))
        .route("/api/v1/alarms/{id}/ack", post(alarms::ack))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(dashboard::index))
        .route("/assets/{*file}", get(dashboard::asset))
        .fallback(|| async { ApiError::not_found("no such route: see docs/openapi.yaml") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The API's server, running on threads of its own.
pub struct Server {
    /// Where it listens.
    pub local_addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `state` on `listener` (bound by the caller, so a port in use is a start-up
    /// error) with two threads.
    pub fn start(listener: std::net::TcpListener, state: AppState) -> Result<Server, String> {
        let local_addr = listener
            .local_addr()
            .map_err(|e| format!("the API's socket: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("the API's socket: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("api")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the API's threads: {e}"))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state);
        let thread = std::thread::Builder::new()
            .name("api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .map_err(|e| format!("cannot start the API's thread: {e}"))?;
        Ok(Server {
            local_addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Not joined: graceful shutdown waits for open connections, and a client that keeps
        // one open must not hold the probe's exit up.
        drop(self.thread.take());
    }
}

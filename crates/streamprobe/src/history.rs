//! The API's history and stored events, read from the store file with read-only
//! connections (WAL: they never hold the store's writer up), one per request at a time from
//! a small pool.

use api::HistoryError;
use outputs::store_sink::StoreStatus;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use store::StoreReader;

/// Connections kept open between requests.
const POOL: usize = 4;

/// The store as the API reads it.
pub struct StoreHistory {
    path: PathBuf,
    pool: Mutex<Vec<StoreReader>>,
    status: Arc<StoreStatus>,
}

impl StoreHistory {
    /// Reads the store at `path`; `status` is its sink's.
    pub fn new(path: PathBuf, status: Arc<StoreStatus>) -> Self {
        StoreHistory {
            path,
            pool: Mutex::new(Vec::new()),
            status,
        }
    }

    /// Runs `f` with a reader from the pool (or a new one), and puts it back. A question
    /// the store refuses (too many points) is the asker's error, the rest the store's.
    fn with<T>(
        &self,
        f: impl FnOnce(&StoreReader) -> Result<T, store::StoreError>,
    ) -> Result<T, HistoryError> {
        let failed = |e: store::StoreError| match e {
            store::StoreError::Query { .. } => HistoryError::BadRequest(e.to_string()),
            e => HistoryError::Failed(e.to_string()),
        };
        let reader = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let reader = match reader {
            Some(r) => r,
            None => StoreReader::open(&self.path).map_err(failed)?,
        };
        let out = f(&reader).map_err(failed);
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL {
            pool.push(reader);
        }
        out
    }
}

impl api::History for StoreHistory {
    fn history(
        &self,
        flow: &str,
        from_ns: i64,
        to_ns: i64,
        step_s: Option<i64>,
    ) -> Result<Option<serde_json::Value>, HistoryError> {
        self.with(|r| {
            if r.flow(flow)?.is_none() {
                return Ok(None);
            }
            let h = r.history(flow, from_ns, to_ns, step_s)?;
            Ok(Some(history_document(&h)))
        })
    }

    fn events(
        &self,
        since_ns: i64,
        flow: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<serde_json::Value>, HistoryError> {
        self.with(|r| r.events_page(since_ns, flow, limit, offset))
            .map(|events| {
                events
                    .into_iter()
                    .map(|e| {
                        api::routes::event_document(
                            e.time_ns,
                            &e.flow,
                            &e.event,
                            e.silent_s,
                            e.new_ssrc,
                            serde_json::to_value(&e.violations).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
    }

    fn alarms(
        &self,
        filter: &api::alarms::AlarmFilter,
    ) -> Result<Vec<serde_json::Value>, HistoryError> {
        let q = store::AlarmQuery {
            from_ns: filter.from_ns,
            to_ns: filter.to_ns,
            flow: filter.flow.clone(),
            group: filter.group.clone(),
            rule: filter.rule.clone(),
            open_only: false,
            limit: filter.limit,
            offset: filter.offset,
        };
        let rows = self.with(|r| r.alarms(&q))?;
        rows.iter().map(|a| record_value(&a.record)).collect()
    }

    fn alarm(&self, id: u64) -> Result<Option<serde_json::Value>, HistoryError> {
        self.with(|r| r.alarm(id))?
            .map(|a| record_value(&a.record))
            .transpose()
    }

    fn size_bytes(&self) -> u64 {
        self.status.size_bytes.load(Ordering::Relaxed)
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn status(&self) -> serde_json::Value {
        let s = &self.status;
        serde_json::json!({
            "intervals_written": s.intervals.load(Ordering::Relaxed),
            "last_interval": analysis::format::rfc3339_ns(s.last_interval_ns.load(Ordering::Relaxed) as i64),
            "last_write_ms": s.last_write_ns.load(Ordering::Relaxed) as f64 / 1e6,
            "max_write_ms": s.max_write_ns.load(Ordering::Relaxed) as f64 / 1e6,
            "insert_lag_ms": s.last_lag_ns.load(Ordering::Relaxed) as f64 / 1e6,
            "max_insert_lag_ms": s.max_lag_ns.load(Ordering::Relaxed) as f64 / 1e6,
            "tier_errors": s.tier_errors.load(Ordering::Relaxed),
        })
    }
}

/// A stored alarm record's JSON as a value.
fn record_value(text: &str) -> Result<serde_json::Value, HistoryError> {
    serde_json::from_str(text)
        .map_err(|e| HistoryError::Failed(format!("a stored alarm record: {e}")))
}

/// `streamprobe.history/1`: the store's history with RFC 3339 times beside the ns.
fn history_document(h: &store::History) -> serde_json::Value {
    let mut doc = serde_json::to_value(h).unwrap_or_default();
    if let Some(o) = doc.as_object_mut() {
        o.insert("schema".into(), "streamprobe.history/1".into());
        o.insert("from".into(), analysis::format::rfc3339_ns(h.from).into());
        o.insert("to".into(), analysis::format::rfc3339_ns(h.to).into());
        if let Some(points) = o.get_mut("points").and_then(|p| p.as_array_mut()) {
            for (p, point) in points.iter_mut().zip(&h.points) {
                if let Some(p) = p.as_object_mut() {
                    p.insert(
                        "time".into(),
                        analysis::format::rfc3339_ns(point.time_ns).into(),
                    );
                }
            }
        }
    }
    doc
}

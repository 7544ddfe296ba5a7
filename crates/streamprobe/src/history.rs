//! The API's history and stored events, read from the store file with read-only
//! connections (WAL: they never hold the store's writer up), one per request at a time from
//! a small pool.

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

    /// Runs `f` with a reader from the pool (or a new one), and puts it back.
    fn with<T>(
        &self,
        f: impl FnOnce(&StoreReader) -> Result<T, store::StoreError>,
    ) -> Result<T, String> {
        let reader = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let reader = match reader {
            Some(r) => r,
            None => StoreReader::open(&self.path).map_err(|e| e.to_string())?,
        };
        let out = f(&reader).map_err(|e| e.to_string());
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
    ) -> Result<Option<serde_json::Value>, String> {
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
    ) -> Result<Vec<serde_json::Value>, String> {
        self.with(|r| r.events(since_ns, flow, limit))
            .map(|events| {
                events
                    .into_iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(&e).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            o.insert(
                                "time".into(),
                                analysis::format::rfc3339_ns(e.time_ns).into(),
                            );
                        }
                        v
                    })
                    .collect()
            })
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
            "tier_errors": s.tier_errors.load(Ordering::Relaxed),
        })
    }
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

//! Alarm records (`streamprobe.alarm/1`) in the `alarm` table: written in their interval's
//! transaction, read back as the JSON the bus carried, with the columns the API filters on.

use crate::error::{self, StoreError};
use crate::query::StoreReader;
use crate::write::Store;
use analysis::alarm::AlarmRecord;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// A stored alarm record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredAlarm {
    /// The episode's id.
    pub id: u64,
    /// The record's time, ns since the epoch.
    pub time_ns: i64,
    /// `raised`, `acknowledged`, `cleared`.
    pub state: String,
    /// The rule's name.
    pub rule: String,
    /// The flow's id (flow rules).
    pub flow: Option<String>,
    /// The monitor group.
    pub group: Option<String>,
    /// When the episode was raised, ns since the epoch.
    pub raised_ns: i64,
    /// The record, JSON.
    pub record: String,
}

/// Which alarm records to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlarmQuery {
    /// Records whose time is in [from, to), ns.
    pub from_ns: i64,
    pub to_ns: i64,
    pub flow: Option<String>,
    pub group: Option<String>,
    pub rule: Option<String>,
    /// Only the last record (before `to`) of each episode open at `to`: no `cleared` record
    /// before it.
    pub open_only: bool,
    /// At most so many, past the first `offset` (oldest first, then in the order written).
    pub limit: usize,
    pub offset: usize,
}

/// Inserts an interval's alarm records in the interval's transaction `tx`.
pub(crate) fn insert(
    tx: &Connection,
    file: &str,
    alarms: &[&AlarmRecord],
) -> Result<(), StoreError> {
    if alarms.is_empty() {
        return Ok(());
    }
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO alarm (id, time_ns, state, rule, flow, grp, raised_ns, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(|e| error::sql(file, "writing an alarm", e))?;
    for a in alarms {
        let id = i64::try_from(a.id).map_err(|_| StoreError::Query {
            file: file.to_string(),
            what: format!("alarm id {} is out of the store's range", a.id),
        })?;
        let record = serde_json::to_string(a).map_err(|e| StoreError::Query {
            file: file.to_string(),
            what: format!("alarm {}: {e}", a.id),
        })?;
        stmt.execute(params![
            id,
            a.time,
            a.state.as_str(),
            a.rule.as_str(),
            a.flow.map(|f| f.id()),
            a.group,
            a.raised,
            record
        ])
        .map_err(|e| error::sql(file, "writing an alarm", e))?;
    }
    Ok(())
}

impl Store {
    /// The largest alarm id written (0: none): a probe's ids continue after it, so they stay
    /// unique across restarts.
    pub fn max_alarm_id(&self) -> Result<u64, StoreError> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT max(id) FROM alarm", [], |r| r.get(0))
            .map_err(|e| error::sql(&self.file, "reading alarm ids", e))?;
        Ok(id.map_or(0, |i| u64::try_from(i).unwrap_or(0)))
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAlarm> {
    Ok(StoredAlarm {
        id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        time_ns: r.get(1)?,
        state: r.get(2)?,
        rule: r.get(3)?,
        flow: r.get(4)?,
        group: r.get(5)?,
        raised_ns: r.get(6)?,
        record: r.get(7)?,
    })
}

const COLUMNS: &str = "a.id, a.time_ns, a.state, a.rule, a.flow, a.grp, a.raised_ns, a.record";

impl StoreReader {
    /// Alarm records as `q` asks, oldest first (then in the order written): pages of one
    /// ordered list, so paging by `offset` loses and repeats nothing.
    pub fn alarms(&self, q: &AlarmQuery) -> Result<Vec<StoredAlarm>, StoreError> {
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let open = if q.open_only {
            "AND a.row = (SELECT max(b.row) FROM alarm b WHERE b.id = a.id AND b.time_ns < ?2)
             AND NOT EXISTS (SELECT 1 FROM alarm c
                             WHERE c.id = a.id AND c.state = 'cleared' AND c.time_ns < ?2)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM alarm a
             WHERE a.time_ns >= ?1 AND a.time_ns < ?2 AND (?3 IS NULL OR a.flow = ?3)
               AND (?4 IS NULL OR a.grp = ?4) AND (?5 IS NULL OR a.rule = ?5) {open}
             ORDER BY a.time_ns, a.row LIMIT ?6 OFFSET ?7"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(self.sql("reading alarms"))?;
        let rows = stmt
            .query_map(
                params![q.from_ns, q.to_ns, q.flow, q.group, q.rule, limit, offset],
                row,
            )
            .map_err(self.sql("reading alarms"))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(self.sql("reading alarms"))?);
        }
        Ok(out)
    }

    /// The last record of episode `id`, if the store has it.
    pub fn alarm(&self, id: u64) -> Result<Option<StoredAlarm>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alarm a WHERE a.id = ?1 ORDER BY a.row DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([id], row).optional())
            .map_err(self.sql("reading an alarm"))
    }
}

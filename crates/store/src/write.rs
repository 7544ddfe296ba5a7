//! The writer: one per store file, owned by the store thread.

use crate::error::{self, StoreError};
use crate::lock::StoreLock;
use crate::query::StoreReader;
use crate::sample::{self, Sample};
use crate::schema::{self, Meta, Mode};
use crate::{row_key, StoreSettings, WriteStats};
use analysis::alarm::AlarmRecord;
use analysis::format::endpoint;
use analysis::interval::{EventRecord, FlowName, FlowRecord};
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Flows per `recent` chunk: one interval of 55,000 flows is ~54 rows.
pub(crate) const CHUNK: u32 = 1024;

pub(crate) const NS_PER_MINUTE: i64 = 60_000_000_000;

/// What the writer remembers of a flow's identity, to write it only when it changes.
struct FlowEntry {
    id: u32,
    kind: String,
    payload: String,
    group: Option<String>,
    clock: Option<String>,
}

/// The writer of one store file. Holds the file's lock until dropped.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// The file's name in errors.
    pub(crate) file: String,
    pub(crate) settings: StoreSettings,
    /// Flow id text -> identity (every row of `flow`).
    flows: HashMap<String, FlowEntry>,
    /// The next flow id to give.
    pub(crate) next_id: u32,
    /// The watermarks, as committed.
    pub(crate) meta: Meta,
    /// Minutes that have rows in `recent`, with their chunks: those before the current one
    /// are due for packing.
    pub(crate) recent: BTreeMap<i64, BTreeSet<u32>>,
    /// The minute of the latest interval written (not packed while it may still grow).
    pub(crate) current_minute: Option<i64>,
    /// Pruning freed pages since the last vacuum: only those are given back (the current
    /// minute's rows, packed away each minute, leave free pages the next minute reuses).
    pub(crate) pruned_since_vacuum: bool,

    pub(crate) page_size: u64,
    // Last: dropped after the connection is closed.
    _lock: StoreLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens or creates the store at `path`, taking its exclusive lock for the life of the
    /// `Store`: a second `Store` on the same path, from this or another process, fails with
    /// [`StoreError::Locked`]. Sets WAL and synchronous=NORMAL (auto_vacuum=INCREMENTAL at
    /// creation), creates the schema or checks it, and refuses newer versions and databases
    /// that are not streamprobe's before writing anything.
    pub fn open(path: &Path, settings: StoreSettings) -> Result<Store, StoreError> {
        let file = error::name(path);
        let lock = StoreLock::take(path, &file)?;
        let conn = schema::open(path, &file, Mode::Write)?;
        let sql = |what| {
            let file = file.clone();
            move |e| error::sql(&file, what, e)
        };
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(sql("reading the page size"))?;
        let meta = Meta::load(&conn, &file)?;
        let (flows, next_id) = load_flows(&conn, &file)?;
        let mut recent: BTreeMap<i64, BTreeSet<u32>> = BTreeMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT DISTINCT t, chunk FROM recent")
                .map_err(sql("reading the current minute"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql("reading the current minute"))?;
            for row in rows {
                let (t, chunk) = row.map_err(sql("reading the current minute"))?;
                let chunk = u32::try_from(chunk)
                    .map_err(|_| error::corrupt(&file, format!("recent chunk {chunk}")))?;
                recent
                    .entry(t.div_euclid(NS_PER_MINUTE))
                    .or_default()
                    .insert(chunk);
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            current_minute: meta.data_to_ns.map(|t| t.div_euclid(NS_PER_MINUTE)),
            pruned_since_vacuum: true,
            file,
            settings,
            flows,
            next_id,
            meta,
            recent,
            page_size: u64::try_from(page_size).unwrap_or(4096),
            _lock: lock,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only connection for queries, for another thread.
    pub fn reader(&self) -> Result<StoreReader, StoreError> {
        StoreReader::open(&self.path)
    }

    /// Bytes the store uses: pages in use x page size, plus the WAL file.
    pub fn size_bytes(&self) -> u64 {
        let wal =
            std::fs::metadata(crate::lock::sidecar(&self.path, "-wal")).map_or(0, |m| m.len());
        self.used_bytes().unwrap_or(0).saturating_add(wal)
    }

    /// Pages in use (not on the free list) x page size: what pruning holds under the cap.
    pub(crate) fn used_bytes(&self) -> Result<u64, StoreError> {
        let count = |pragma: &str| -> Result<u64, StoreError> {
            let n: i64 = self
                .conn
                .query_row(pragma, [], |r| r.get(0))
                .map_err(|e| error::sql(&self.file, "reading the page count", e))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let pages = count("PRAGMA page_count")?;
        let free = count("PRAGMA freelist_count")?;
        Ok(pages.saturating_sub(free).saturating_mul(self.page_size))
    }

    /// Writes one interval's records in ONE transaction: the flows' identities (new flows,
    /// changed payload, group, kind or clock source), their figures into the current minute,
    /// and the events. `end_ns` is the interval's end (the records' `time`). Then does the
    /// tier work that is due (packing a finished minute, roll-ups, pruning, vacuum) in slices
    /// of their own transactions, for up to `tier_work_ms`.
    ///
    /// An `Err` means the interval was not written (nothing of it is in the file). A failure
    /// of the tier work after it is in [`WriteStats::tier_error`].
    pub fn write_interval(
        &mut self,
        end_ns: i64,
        flows: &[FlowRecord],
        events: &[EventRecord],
    ) -> Result<WriteStats, StoreError> {
        let flows: Vec<&FlowRecord> = flows.iter().collect();
        let events: Vec<&EventRecord> = events.iter().collect();
        self.write_interval_of(end_ns, &flows, &events)
    }

    /// [`Store::write_interval`] of records lent (the probe's sink lends the records the bus
    /// shares between its sinks; it never copies them).
    pub fn write_interval_of(
        &mut self,
        end_ns: i64,
        flows: &[&FlowRecord],
        events: &[&EventRecord],
    ) -> Result<WriteStats, StoreError> {
        self.write_interval_with_alarms(end_ns, flows, events, &[])
    }

    /// [`Store::write_interval_of`] with the interval's alarm records (the `alarm` table),
    /// in the same transaction.
    pub fn write_interval_with_alarms(
        &mut self,
        end_ns: i64,
        flows: &[&FlowRecord],
        events: &[&EventRecord],
        alarms: &[&AlarmRecord],
    ) -> Result<WriteStats, StoreError> {
        let start = Instant::now();
        let mut stats = WriteStats {
            flows: flows.len(),
            events: events.len(),
            ..WriteStats::default()
        };
        // Every time written must have a key in every tier (day << 32 fits; see row_key).
        for t in std::iter::once(end_ns)
            .chain(flows.iter().map(|r| r.time))
            .chain(events.iter().map(|e| e.time))
        {
            if row_key(t.div_euclid(NS_PER_MINUTE), u32::MAX).is_none() {
                return Err(StoreError::Query {
                    file: self.file.clone(),
                    what: format!("time {t} ns is out of the store's range"),
                });
            }
        }
        let rows = match self.insert_interval(end_ns, flows, events, alarms) {
            Ok(rows) => rows,
            Err(e) => {
                // The transaction rolled back: so must the identities it gave or changed.
                let (flows, next_id) = load_flows(&self.conn, &self.file)?;
                (self.flows, self.next_id) = (flows, next_id);
                return Err(e);
            }
        };
        for (t, chunk) in rows {
            self.recent
                .entry(t.div_euclid(NS_PER_MINUTE))
                .or_default()
                .insert(chunk);
        }
        // The minute still being written is the latest interval's (after the clock steps
        // back, the minutes ahead of it are finished and packed like any other).
        self.current_minute = Some(end_ns.div_euclid(NS_PER_MINUTE));
        stats.insert_ns = start.elapsed().as_nanos() as u64;
        let deadline = start + Duration::from_millis(self.settings.tier_work_ms);
        // The interval is committed whatever the tier work does: its failure is told in the
        // stats (and retried next call), not as an error that would make the caller write
        // the interval again.
        if let Err(e) = self.tier_work(deadline, &mut stats) {
            stats.tier_error = Some(e.to_string());
            stats.work_pending = true;
        }
        stats.took_ns = start.elapsed().as_nanos() as u64;
        Ok(stats)
    }

    /// The interval's transaction; gives the (time, chunk) of the `recent` rows it wrote.
    fn insert_interval(
        &mut self,
        end_ns: i64,
        flows: &[&FlowRecord],
        events: &[&EventRecord],
        alarms: &[&AlarmRecord],
    ) -> Result<Vec<(i64, u32)>, StoreError> {
        let before = self.meta;
        let mut meta = self.meta;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error::sql(&self.file, "starting an interval", e))?;
        // Records grouped by their time and chunk: one `recent` row each.
        let mut rows: BTreeMap<(i64, u32), Vec<(u32, Sample)>> = BTreeMap::new();
        for r in flows {
            let id = identity(
                &tx,
                &self.file,
                &mut self.flows,
                &mut self.next_id,
                &r.name,
                Some(r),
                r.time,
            )?;
            rows.entry((r.time, id / CHUNK))
                .or_default()
                .push((id, Sample::of(r)));
        }
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO recent (t, chunk, ids, blob) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| error::sql(&self.file, "writing an interval", e))?;
            for ((t, chunk), records) in &mut rows {
                records.sort_by_key(|(id, _)| *id);
                let ids: Vec<u32> = records.iter().map(|(id, _)| *id).collect();
                let samples: Vec<&Sample> = records.iter().map(|(_, s)| s).collect();
                insert
                    .execute(params![
                        t,
                        chunk,
                        sample::encode_ids(&ids),
                        sample::encode(&samples)
                    ])
                    .map_err(|e| error::sql(&self.file, "writing an interval", e))?;
            }
        }
        for e in events {
            let id = identity(
                &tx,
                &self.file,
                &mut self.flows,
                &mut self.next_id,
                &e.name,
                None,
                e.time,
            )?;
            let violations = match &e.violations {
                Some(v) => Some(serde_json::to_string(v).map_err(|err| StoreError::Query {
                    file: self.file.clone(),
                    what: format!("event violations: {err}"),
                })?),
                None => None,
            };
            tx.prepare_cached(
                "INSERT INTO event (time_ns, flow_id, event, silent_s, new_ssrc, violations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.time,
                    id,
                    e.event.as_str(),
                    e.silent_s,
                    e.new_ssrc,
                    violations
                ])
            })
            .and_then(|_| {
                tx.prepare_cached(
                    "UPDATE flow SET last_seen_ns = max(last_seen_ns, ?2) WHERE id = ?1",
                )?
                .execute(params![id, e.time])
            })
            .map_err(|err| error::sql(&self.file, "writing an event", err))?;
        }
        crate::alarms::insert(&tx, &self.file, alarms)?;
        let times = flows
            .iter()
            .map(|r| r.time)
            .chain(events.iter().map(|e| e.time))
            .chain(std::iter::once(end_ns));
        let (lo, hi) = times.fold((end_ns, end_ns), |(lo, hi), t| (lo.min(t), hi.max(t)));
        meta.data_from_ns = Some(meta.data_from_ns.map_or(lo, |f| f.min(lo)));
        meta.data_to_ns = Some(meta.data_to_ns.map_or(hi, |t| t.max(hi)));
        // Roll-ups start at the first data's hour and day.
        let first_minute = lo.div_euclid(NS_PER_MINUTE);
        meta.minutes_rolled_to
            .get_or_insert(first_minute.div_euclid(60));
        meta.hours_rolled_to
            .get_or_insert(first_minute.div_euclid(60 * 24));
        meta.store(&before, &tx, &self.file)?;
        tx.commit()
            .map_err(|e| error::sql(&self.file, "committing an interval", e))?;
        self.meta = meta;
        Ok(rows.into_keys().collect())
    }
}

/// Every flow of the `flow` table, and the next id to give.
fn load_flows(
    conn: &Connection,
    file: &str,
) -> Result<(HashMap<String, FlowEntry>, u32), StoreError> {
    let sql = |e| error::sql(file, "reading flows", e);
    let mut flows = HashMap::new();
    let mut next_id = 0u32;
    let mut stmt = conn
        .prepare("SELECT id, flow, kind, payload, grp, clock_rate_source FROM flow")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                FlowEntry {
                    id: 0,
                    kind: r.get(2)?,
                    payload: r.get(3)?,
                    group: r.get(4)?,
                    clock: r.get(5)?,
                },
            ))
        })
        .map_err(sql)?;
    for row in rows {
        let (id, name, mut entry) = row.map_err(sql)?;
        let id = u32::try_from(id)
            .map_err(|_| error::corrupt(file, format!("flow id {id} of {name}")))?;
        entry.id = id;
        next_id = next_id.max(id.saturating_add(1));
        flows.insert(name, entry);
    }
    Ok((flows, next_id))
}

/// The flow's id, inserting or updating its identity row when new or changed.
#[allow(clippy::too_many_arguments)]
fn identity(
    tx: &Connection,
    file: &str,
    flows: &mut HashMap<String, FlowEntry>,
    next_id: &mut u32,
    name: &FlowName,
    record: Option<&FlowRecord>,
    t: i64,
) -> Result<u32, StoreError> {
    let text = name.id();
    let kind = name.kind.as_str();
    let sql = |e| error::sql(file, "writing a flow", e);
    if let Some(entry) = flows.get_mut(&text) {
        let changed = entry.kind != kind
            || record.is_some_and(|r| {
                entry.payload != r.payload.as_str()
                    || entry.group != r.group
                    || entry.clock.as_deref() != r.clock_rate_source
            });
        if changed {
            entry.kind = kind.to_string();
            if let Some(r) = record {
                entry.payload = r.payload.as_str().to_string();
                entry.group = r.group.clone();
                entry.clock = r.clock_rate_source.map(str::to_string);
            }
            tx.prepare_cached(
                "UPDATE flow SET kind = ?2, payload = ?3, grp = ?4, clock_rate_source = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    entry.id,
                    entry.kind,
                    entry.payload,
                    entry.group,
                    entry.clock
                ])
            })
            .map_err(sql)?;
        }
        return Ok(entry.id);
    }
    let id = *next_id;
    *next_id = id.checked_add(1).ok_or_else(|| StoreError::Query {
        file: file.to_string(),
        what: "more than 2^32 flows".to_string(),
    })?;
    let entry = FlowEntry {
        id,
        kind: kind.to_string(),
        payload: record.map_or("unknown", |r| r.payload.as_str()).to_string(),
        group: record.and_then(|r| r.group.clone()),
        clock: record.and_then(|r| r.clock_rate_source.map(str::to_string)),
    };
    tx.prepare_cached(
        "INSERT INTO flow (id, flow, src, dst, ssrc, kind, payload, grp, clock_rate_source,
         first_seen_ns, last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            text,
            endpoint(name.src),
            endpoint(name.dst),
            name.ssrc,
            entry.kind,
            entry.payload,
            entry.group,
            entry.clock,
            t
        ])
    })
    .map_err(sql)?;
    flows.insert(text, entry);
    Ok(id)
}

//! The store's tables, made or checked when a file is opened.
//!
//! A store is recognised by two marks, both required: `PRAGMA user_version` = the schema
//! version, and a `meta` row `schema` = `streamprobe.store/VERSION`. Anything else is refused
//! before a byte is written: a SQLite file of another program, a store of a later version, a
//! file that is no database.
//!
//! Tables (keys of the tiers: `bucket << 32 | flow id`, so that one bucket of all flows is one
//! contiguous key range, written in key order and pruned as a range; flow ids are u32):
//! - `meta(key, value)`: schema name, and the tiers' watermarks ([`Meta`]).
//! - `flow(id, flow, src, dst, ssrc, kind, payload, grp, clock_rate_source, first_seen_ns,
//!   last_seen_ns)`: each flow's identity, `flow` being the record's id text.
//! - `recent(id, t, chunk, ids, blob)`: the current minute, one row per interval per chunk of
//!   1024 flow ids; `ids` the flows' ids, `blob` their samples (pack.rs).
//! - `seconds(key = minute << 32 | flow, blob)`: per flow per minute, its records (pack.rs).
//! - `minutes(key = hour << 32 | flow, blob)`: per flow per hour, its minute summaries.
//! - `hours(key = day << 32 | flow, blob)`: per flow per day, its hour summaries.
//! - `event(id, time_ns, flow_id, event, silent_s, new_ssrc, violations)`: events as rows.
//! - `alarm(row, id, time_ns, state, rule, flow, grp, raised_ns, record)` (version 2): alarm
//!   records (`streamprobe.alarm/1`) in the order written, `id` the episode's, `record` the
//!   record's JSON as the bus carried it.
//!
//! Versions: 1 (no `alarm` table) is upgraded to 2 by the writer when it opens the file (one
//! transaction: the table, the meta row, `user_version`); a reader refuses a version-1 file
//! until a probe has opened it once.

use crate::error::{self, StoreError};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::io::Read;
use std::path::Path;

/// The schema version this build reads and writes (`PRAGMA user_version`).
pub const VERSION: i64 = 2;

/// The schema's name in the `meta` table.
pub const SCHEMA: &str = "streamprobe.store/2";

/// Page size at creation: 4 KiB, SQLite's default. Tier tables are rowid tables because they
/// keep up to page size - 35 bytes of a row in its page (index b-trees, WITHOUT ROWID, spill
/// past ~1 KB into overflow pages, mostly empty): a packed minute (~600 B) never spills.
const PAGE_SIZE: u32 = 4096;

const CREATE: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE flow (
    id INTEGER PRIMARY KEY,
    flow TEXT NOT NULL UNIQUE,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    ssrc INTEGER,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    grp TEXT,
    clock_rate_source TEXT,
    first_seen_ns INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL
);
CREATE TABLE recent (id INTEGER PRIMARY KEY, t INTEGER NOT NULL, chunk INTEGER NOT NULL,
    ids BLOB NOT NULL, blob BLOB NOT NULL);
CREATE INDEX recent_chunk ON recent (chunk, t);
CREATE TABLE seconds (key INTEGER PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE minutes (key INTEGER PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE hours (key INTEGER PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE event (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    flow_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    silent_s REAL,
    new_ssrc INTEGER,
    violations TEXT
);
CREATE INDEX event_time ON event (time_ns);
CREATE INDEX event_flow ON event (flow_id, time_ns);
"#;

/// What version 2 added (made at creation, and by the upgrade from 1).
const CREATE_ALARM: &str = "
CREATE TABLE alarm (
    row INTEGER PRIMARY KEY,
    id INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    state TEXT NOT NULL,
    rule TEXT NOT NULL,
    flow TEXT,
    grp TEXT,
    raised_ns INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX alarm_id ON alarm (id);
CREATE INDEX alarm_time ON alarm (time_ns);
";

/// How a file is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The writer: creates the file and the schema if missing.
    Write,
    /// A reader: read-only, the file must be a store already.
    Read,
}

/// Opens `path` and makes sure it is a store of this version (creating it in `Mode::Write`).
pub(crate) fn open(path: &Path, file: &str, mode: Mode) -> Result<Connection, StoreError> {
    check_header(path, file, mode)?;
    let flags = match mode {
        Mode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Mode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| error::sql(file, "opening", e))?;
    // Readers wait for a writer's short transactions rather than fail.
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| error::sql(file, "setting the busy timeout", e))?;
    let marks = read_marks(&conn, file)?;
    match (marks, mode) {
        (Marks::Empty, Mode::Write) => create(&conn, file)?,
        (Marks::Empty, Mode::Read) => {
            return Err(StoreError::NotAStore {
                file: file.to_string(),
                why: "an empty database".to_string(),
            })
        }
        (Marks::Store, _) => {}
        (Marks::Version1, Mode::Write) => upgrade_from_1(&conn, file)?,
        (Marks::Version1, Mode::Read) => {
            return Err(StoreError::NotAStore {
                file: file.to_string(),
                why: "schema streamprobe.store/1, upgraded to 2 when the probe next opens it"
                    .to_string(),
            })
        }
    }
    if mode == Mode::Write {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -65536;",
        )
        .map_err(|e| error::sql(file, "setting the journal mode", e))?;
    }
    Ok(conn)
}

/// A file that exists must start with SQLite's header: checked before SQLite sees it, so that
/// a text file named `x.db` is told as such and never touched.
fn check_header(path: &Path, file: &str, mode: Mode) -> Result<(), StoreError> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match mode {
                Mode::Write => Ok(()),
                Mode::Read => Err(StoreError::Missing {
                    file: file.to_string(),
                }),
            }
        }
        Err(source) => {
            return Err(StoreError::Io {
                file: file.to_string(),
                what: "opening",
                source,
            })
        }
    };
    let mut header = [0u8; 16];
    let mut got = 0;
    while got < header.len() {
        match f.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(StoreError::Io {
                    file: file.to_string(),
                    what: "reading",
                    source,
                })
            }
        }
    }
    // An empty file is a database SQLite has not written yet (it creates it so).
    if got == 0 || (got == 16 && &header == b"SQLite format 3\0") {
        return Ok(());
    }
    Err(StoreError::NotADatabase {
        file: file.to_string(),
    })
}

enum Marks {
    /// No table at all: a new file.
    Empty,
    /// A store of this version.
    Store,
    /// A store of version 1 (before alarms).
    Version1,
}

fn read_marks(conn: &Connection, file: &str) -> Result<Marks, StoreError> {
    let sql = |what| move |e| error::sql(file, what, e);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql("reading the schema version"))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(sql("reading the schema"))?;
    if tables == 0 && version == 0 {
        return Ok(Marks::Empty);
    }
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(sql("reading the schema"))?
        > 0;
    let name: Option<String> = if has_meta {
        // A `meta` table of another program may have other columns: any failure to read our
        // row is "not a store", never a misreading.
        conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()
        .unwrap_or(None)
    } else {
        None
    };
    let Some(name) = name.filter(|n| n.starts_with("streamprobe.store/")) else {
        return Err(StoreError::NotAStore {
            file: file.to_string(),
            why: "no streamprobe schema".to_string(),
        });
    };
    if version > VERSION {
        return Err(StoreError::Newer {
            file: file.to_string(),
            found: version,
            supported: VERSION,
        });
    }
    if version == 1 && name == "streamprobe.store/1" {
        return Ok(Marks::Version1);
    }
    if version != VERSION || name != SCHEMA {
        return Err(StoreError::NotAStore {
            file: file.to_string(),
            why: format!("schema {name} with user_version {version}"),
        });
    }
    Ok(Marks::Store)
}

fn create(conn: &Connection, file: &str) -> Result<(), StoreError> {
    // Page size and auto_vacuum take effect only before the first table is made.
    conn.execute_batch(&format!(
        "PRAGMA page_size = {PAGE_SIZE}; PRAGMA auto_vacuum = INCREMENTAL;"
    ))
    .map_err(|e| error::sql(file, "setting page size", e))?;
    conn.execute_batch(&format!(
        "BEGIN; {CREATE} {CREATE_ALARM} INSERT INTO meta (key, value) VALUES ('schema', '{SCHEMA}');
         PRAGMA user_version = {VERSION}; COMMIT;"
    ))
    .map_err(|e| error::sql(file, "creating the schema", e))
}

/// Version 1 to 2: the `alarm` table, in one transaction (a crash leaves version 1 whole).
fn upgrade_from_1(conn: &Connection, file: &str) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {CREATE_ALARM}
         UPDATE meta SET value = '{SCHEMA}' WHERE key = 'schema';
         PRAGMA user_version = {VERSION}; COMMIT;"
    ))
    .map_err(|e| error::sql(file, "upgrading the schema from version 1", e))
}

/// The tiers' watermarks, kept in `meta` and changed in the transactions that move them, so
/// that a reader's snapshot and a restart after kill -9 see them agree with the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Earliest and latest interval end written, ns (None: nothing written yet).
    pub data_from_ns: Option<i64>,
    /// The latest interval end written, ns.
    pub data_to_ns: Option<i64>,
    /// Every hour before this one (hours since the epoch) is in `minutes`.
    pub minutes_rolled_to: Option<i64>,
    /// The next flow id the hour roll-up in progress starts at.
    pub minutes_roll_flow: i64,
    /// Every day before this one is in `hours`.
    pub hours_rolled_to: Option<i64>,
    /// The next flow id the day roll-up in progress starts at.
    pub hours_roll_flow: i64,
    /// `seconds` holds nothing before this minute (pruned).
    pub seconds_kept_from: Option<i64>,
    /// `minutes` holds nothing before this hour.
    pub minutes_kept_from: Option<i64>,
    /// `hours` holds nothing before this day.
    pub hours_kept_from: Option<i64>,
}

const META_KEYS: [&str; 9] = [
    "data_from_ns",
    "data_to_ns",
    "minutes_rolled_to",
    "minutes_roll_flow",
    "hours_rolled_to",
    "hours_roll_flow",
    "seconds_kept_from",
    "minutes_kept_from",
    "hours_kept_from",
];

impl Meta {
    fn slots(&mut self) -> [(&'static str, Slot<'_>); 9] {
        [
            (META_KEYS[0], Slot::Opt(&mut self.data_from_ns)),
            (META_KEYS[1], Slot::Opt(&mut self.data_to_ns)),
            (META_KEYS[2], Slot::Opt(&mut self.minutes_rolled_to)),
            (META_KEYS[3], Slot::Int(&mut self.minutes_roll_flow)),
            (META_KEYS[4], Slot::Opt(&mut self.hours_rolled_to)),
            (META_KEYS[5], Slot::Int(&mut self.hours_roll_flow)),
            (META_KEYS[6], Slot::Opt(&mut self.seconds_kept_from)),
            (META_KEYS[7], Slot::Opt(&mut self.minutes_kept_from)),
            (META_KEYS[8], Slot::Opt(&mut self.hours_kept_from)),
        ]
    }

    /// Reads the watermarks (absent keys: None / 0).
    pub(crate) fn load(conn: &Connection, file: &str) -> Result<Meta, StoreError> {
        let mut meta = Meta::default();
        let mut stmt = conn
            .prepare_cached("SELECT key, value FROM meta")
            .map_err(|e| error::sql(file, "reading meta", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| error::sql(file, "reading meta", e))?;
        let mut pairs = Vec::new();
        for row in rows {
            pairs.push(row.map_err(|e| error::sql(file, "reading meta", e))?);
        }
        for (key, slot) in meta.slots() {
            let Some((_, value)) = pairs.iter().find(|(k, _)| k == key) else {
                continue;
            };
            let v: i64 = value
                .parse()
                .map_err(|_| error::corrupt(file, format!("meta {key} = {value:?}")))?;
            match slot {
                Slot::Opt(o) => *o = Some(v),
                Slot::Int(i) => *i = v,
            }
        }
        Ok(meta)
    }

    /// Writes the watermarks that differ from `before`.
    pub(crate) fn store(
        &self,
        before: &Meta,
        conn: &Connection,
        file: &str,
    ) -> Result<(), StoreError> {
        let (mut now, mut was) = (*self, *before);
        let mut stmt = conn
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .map_err(|e| error::sql(file, "writing meta", e))?;
        for ((key, a), (_, b)) in now.slots().into_iter().zip(was.slots()) {
            let value = match (a, b) {
                (Slot::Opt(a), Slot::Opt(b)) if *a != *b => *a,
                (Slot::Int(a), Slot::Int(b)) if *a != *b => Some(*a),
                _ => continue,
            };
            match value {
                Some(v) => stmt.execute(rusqlite::params![key, v.to_string()]),
                None => conn.execute("DELETE FROM meta WHERE key = ?1", [key]),
            }
            .map_err(|e| error::sql(file, "writing meta", e))?;
        }
        Ok(())
    }
}

enum Slot<'a> {
    Opt(&'a mut Option<i64>),
    Int(&'a mut i64),
}

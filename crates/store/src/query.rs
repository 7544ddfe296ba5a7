//! The reader: history of a flow from the tiers, events, flows. Each query reads in one
//! transaction (a WAL snapshot): the watermarks and the rows it reads agree, and it never
//! blocks the writer.

use crate::error::{self, StoreError};
use crate::sample::{self, Sample};
use crate::schema::{self, Meta, Mode};
use crate::summary::{self, raw_point, Summary};
use crate::write::{CHUNK, NS_PER_MINUTE};
use crate::{row_key, History, StoredEvent, StoredFlow, StoredViolation, Tier};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;

/// The most points one history may give (a query past it is refused, not truncated).
pub const MAX_POINTS: i64 = 1_000_000;

/// A read-only connection to a store (Send: one per thread).
pub struct StoreReader {
    pub(crate) conn: Connection,
    pub(crate) file: String,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader")
            .field("file", &self.file)
            .finish()
    }
}

/// Rounds `t` up to a multiple of `unit` (saturating).
fn align_up(t: i64, unit: i64) -> i64 {
    let r = t.rem_euclid(unit);
    if r == 0 {
        t
    } else {
        t.saturating_add(unit - r)
    }
}

impl StoreReader {
    /// Opens `path` read-only; it must be a store of this version.
    pub fn open(path: &Path) -> Result<StoreReader, StoreError> {
        let file = error::name(path);
        let conn = schema::open(path, &file, Mode::Read)?;
        Ok(StoreReader { conn, file })
    }

    pub(crate) fn sql(&self, what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| error::sql(&self.file, what, e)
    }

    fn bad(&self, what: &'static str) -> impl Fn(crate::pack::Bad) -> StoreError + '_ {
        move |b| error::corrupt(&self.file, format!("{what}: {}", b.0))
    }

    fn flow_id(&self, flow: &str) -> Result<Option<u32>, StoreError> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM flow WHERE flow = ?1")
            .and_then(|mut s| s.query_row([flow], |r| r.get(0)).optional())
            .map_err(self.sql("reading a flow"))?;
        Ok(id.and_then(|i| u32::try_from(i).ok()))
    }

    /// One flow's history over [from_ns, to_ns), the flow's id as in records.
    ///
    /// `step_s` None: the tier by the range (up to 1 h: seconds, as raw records; up to 3
    /// days: minutes; else hours), and a coarser tier where the chosen one was pruned for
    /// the range and the coarser was not. `Some(s)`: the finest tier whose resolution is at
    /// most `s`, summed into buckets of `s` seconds aligned to multiples of `s` since the
    /// epoch. Points are whole buckets (of the tier or the step) that start in [from, to),
    /// records for raw seconds whose time is in it. A flow the store does not know has no
    /// points.
    pub fn history(
        &self,
        flow: &str,
        from_ns: i64,
        to_ns: i64,
        step_s: Option<i64>,
    ) -> Result<History, StoreError> {
        let query = |what: String| StoreError::Query {
            file: self.file.clone(),
            what,
        };
        let step_ns = match step_s {
            None => None,
            Some(s) if s > 0 => Some(
                s.checked_mul(1_000_000_000)
                    .ok_or_else(|| query(format!("step {s} s is too large")))?,
            ),
            Some(s) => return Err(query(format!("step {s} s: must be at least 1 s"))),
        };
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("starting a read"))?;
        let meta = Meta::load(&tx, &self.file)?;
        let kept_from = |t: Tier| {
            let k = match t {
                Tier::Seconds => meta.seconds_kept_from,
                Tier::Minutes => meta.minutes_kept_from,
                Tier::Hours => meta.hours_kept_from,
            };
            k.map_or(i64::MIN, |k| k.saturating_mul(t.row_ns()))
        };
        let tier = match step_ns {
            Some(s) if s < Tier::Minutes.bucket_ns() => Tier::Seconds,
            Some(s) if s < Tier::Hours.bucket_ns() => Tier::Minutes,
            Some(_) => Tier::Hours,
            None => {
                let span = to_ns.saturating_sub(from_ns);
                let base = if span <= 3_600_000_000_000 {
                    Tier::Seconds
                } else if span <= 3 * 86_400_000_000_000 {
                    Tier::Minutes
                } else {
                    Tier::Hours
                };
                let coarser = [Tier::Seconds, Tier::Minutes, Tier::Hours]
                    .into_iter()
                    .filter(|t| *t >= base);
                let earliest = meta.data_from_ns.unwrap_or(i64::MIN).max(from_ns);
                coarser
                    .clone()
                    .find(|t| kept_from(*t) <= earliest)
                    .or_else(|| coarser.min_by_key(|t| kept_from(*t)))
                    .unwrap_or(base)
            }
        };
        let mut history = History {
            flow: flow.to_string(),
            step_s: step_s.unwrap_or(tier.bucket_ns() / 1_000_000_000),
            tier: tier.name(),
            from: from_ns,
            to: to_ns,
            points: Vec::new(),
        };
        let (Some(id), Some(data_from), Some(data_to)) =
            (self.flow_id(flow)?, meta.data_from_ns, meta.data_to_ns)
        else {
            return Ok(history);
        };
        // Only where data can be: bounds the rows looked up whatever the range asked. The
        // bucket that holds the first data starts before it: the bound is that bucket's
        // start, so the first (partial) bucket is not lost.
        let unit = step_ns.unwrap_or(tier.bucket_ns());
        let lo = from_ns
            .max(data_from.div_euclid(unit).saturating_mul(unit))
            .max(kept_from(tier));
        let hi = to_ns.min(data_to.saturating_add(1));
        if lo >= hi {
            return Ok(history);
        }
        let points = hi.saturating_sub(lo) / unit;
        if points > MAX_POINTS {
            return Err(query(format!(
                "{points} points asked (at most {MAX_POINTS}): a larger step or a shorter range"
            )));
        }
        history.points = match (tier, step_ns) {
            (Tier::Seconds, None) => self
                .samples_in(&tx, id, lo, hi)?
                .iter()
                .map(raw_point)
                .collect(),
            (_, None) => self
                .summaries(&tx, &meta, tier, id, lo, hi)?
                .iter()
                .map(Summary::point)
                .collect(),
            (_, Some(step)) => {
                // Buckets of the step that start in [from, to).
                let (lo, hi) = (align_up(lo, step), align_up(hi, step));
                let sums = self.summaries(&tx, &meta, tier, id, lo, hi)?;
                summary::bucket(sums, step)
                    .iter()
                    .map(Summary::point)
                    .collect()
            }
        };
        Ok(history)
    }

    /// One flow's records in [from_ns, to_ns), every figure as written (the per-second tier;
    /// what was pruned from it is gone).
    pub fn samples(&self, flow: &str, from_ns: i64, to_ns: i64) -> Result<Vec<Sample>, StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("starting a read"))?;
        let meta = Meta::load(&tx, &self.file)?;
        let (Some(id), Some(data_from), Some(data_to)) =
            (self.flow_id(flow)?, meta.data_from_ns, meta.data_to_ns)
        else {
            return Ok(Vec::new());
        };
        let kept = meta
            .seconds_kept_from
            .map_or(i64::MIN, |k| k.saturating_mul(NS_PER_MINUTE));
        let (lo, hi) = (
            from_ns.max(data_from).max(kept),
            to_ns.min(data_to.saturating_add(1)),
        );
        if lo >= hi {
            return Ok(Vec::new());
        }
        if hi.saturating_sub(lo) / Tier::Seconds.bucket_ns() > MAX_POINTS * 60 {
            return Err(StoreError::Query {
                file: self.file.clone(),
                what: "range too large for per-second samples".to_string(),
            });
        }
        self.samples_in(&tx, id, lo, hi)
    }

    /// Records of flow `id` in [lo, hi), from `seconds` and `recent`, by time.
    fn samples_in(
        &self,
        conn: &Connection,
        id: u32,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Sample>, StoreError> {
        let mut out = Vec::new();
        let mut get = conn
            .prepare_cached("SELECT blob FROM seconds WHERE key = ?1")
            .map_err(self.sql("reading seconds"))?;
        for minute in lo.div_euclid(NS_PER_MINUTE)..=(hi - 1).div_euclid(NS_PER_MINUTE) {
            let Some(key) = row_key(minute, id) else {
                continue;
            };
            let blob: Option<Vec<u8>> = get
                .query_row([key], |r| r.get(0))
                .optional()
                .map_err(self.sql("reading seconds"))?;
            if let Some(blob) = blob {
                let samples = sample::decode(&blob).map_err(self.bad("seconds blob"))?;
                out.extend(
                    samples
                        .into_iter()
                        .filter(|s| s.time_ns >= lo && s.time_ns < hi),
                );
            }
        }
        let mut recent = conn
            .prepare_cached("SELECT ids, blob FROM recent WHERE chunk = ?1 AND t >= ?2 AND t < ?3")
            .map_err(self.sql("reading the current minute"))?;
        let mut rows = recent
            .query(params![id / CHUNK, lo, hi])
            .map_err(self.sql("reading the current minute"))?;
        while let Some(row) = rows
            .next()
            .map_err(self.sql("reading the current minute"))?
        {
            let ids = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(self.sql("reading the current minute"))?;
            let ids = sample::decode_ids(ids).map_err(self.bad("recent ids"))?;
            let Some(at) = ids.iter().position(|&i| i == id) else {
                continue;
            };
            let blob = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(self.sql("reading the current minute"))?;
            let samples = sample::decode(blob).map_err(self.bad("recent blob"))?;
            if samples.len() != ids.len() {
                return Err(error::corrupt(
                    &self.file,
                    "recent row: ids and samples differ",
                ));
            }
            // A flow appears once per row, but a caller may have given it twice.
            for (i, s) in samples.into_iter().enumerate() {
                if ids[i] == id && i >= at {
                    out.push(s);
                }
            }
        }
        out.sort_by_key(|s| s.time_ns);
        Ok(out)
    }

    /// Summaries of flow `id` at `tier`'s resolution whose bucket starts in [lo, hi), by
    /// time: from the tier's rows where rolled up, summed from the finer tier beyond.
    fn summaries(
        &self,
        conn: &Connection,
        meta: &Meta,
        tier: Tier,
        id: u32,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Summary>, StoreError> {
        let (finer, rolled, kept) = match tier {
            Tier::Seconds => {
                return Ok(self
                    .samples_in(conn, id, lo, hi)?
                    .iter()
                    .map(Summary::of)
                    .collect())
            }
            Tier::Minutes => (
                Tier::Seconds,
                meta.minutes_rolled_to,
                meta.minutes_kept_from,
            ),
            Tier::Hours => (Tier::Minutes, meta.hours_rolled_to, meta.hours_kept_from),
        };
        let res = tier.bucket_ns();
        let (lo, hi) = (align_up(lo, res), align_up(hi, res));
        let rolled_end = rolled.map_or(i64::MIN, |u| u.saturating_mul(tier.row_ns()));
        let mut out = Vec::new();
        if lo < rolled_end {
            let end = hi.min(rolled_end);
            let mut get = conn
                .prepare_cached(&format!("SELECT blob FROM {} WHERE key = ?1", tier.table()))
                .map_err(self.sql("reading summaries"))?;
            let first = lo.div_euclid(tier.row_ns()).max(kept.unwrap_or(i64::MIN));
            for unit in first..=(end - 1).div_euclid(tier.row_ns()) {
                let Some(key) = row_key(unit, id) else {
                    continue;
                };
                let blob: Option<Vec<u8>> = get
                    .query_row([key], |r| r.get(0))
                    .optional()
                    .map_err(self.sql("reading summaries"))?;
                if let Some(blob) = blob {
                    let sums = summary::decode(&blob).map_err(self.bad("summary blob"))?;
                    out.extend(
                        sums.into_iter()
                            .filter(|s| s.time_ns >= lo && s.time_ns < end),
                    );
                }
            }
        }
        let from = lo.max(rolled_end);
        if from < hi {
            let finer = self.summaries(conn, meta, finer, id, from, hi)?;
            out.extend(summary::bucket(finer, res));
        }
        out.sort_by_key(|s| s.time_ns);
        Ok(out)
    }

    /// Events since `since_ns` (oldest first), of one flow or all, at most `limit`.
    pub fn events(
        &self,
        since_ns: i64,
        flow: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_page(since_ns, flow, limit, 0)
    }

    /// [`StoreReader::events`] past the first `offset` of them: pages of one ordered list
    /// (by time, then by the order written), so paging loses and repeats nothing however
    /// many events share a time.
    pub fn events_page(
        &self,
        since_ns: i64,
        flow: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let sql = "SELECT e.time_ns, f.flow, e.event, e.silent_s, e.new_ssrc, e.violations
                   FROM event e JOIN flow f ON f.id = e.flow_id
                   WHERE e.time_ns >= ?1 AND (?2 IS NULL OR f.flow = ?2)
                   ORDER BY e.time_ns, e.id LIMIT ?3 OFFSET ?4";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(self.sql("reading events"))?;
        let rows = stmt
            .query_map(params![since_ns, flow, limit, offset], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(self.sql("reading events"))?;
        let mut out = Vec::new();
        for row in rows {
            let (time_ns, flow, event, silent_s, new_ssrc, violations) =
                row.map_err(self.sql("reading events"))?;
            let violations = match violations {
                None => None,
                Some(text) => Some(
                    serde_json::from_str::<Vec<StoredViolation>>(&text).map_err(|e| {
                        error::corrupt(&self.file, format!("event violations: {e}"))
                    })?,
                ),
            };
            out.push(StoredEvent {
                time_ns,
                flow,
                event,
                silent_s,
                new_ssrc: new_ssrc.and_then(|s| u32::try_from(s).ok()),
                violations,
            });
        }
        Ok(out)
    }

    /// One flow's identity, if the store knows it.
    pub fn flow(&self, flow: &str) -> Result<Option<StoredFlow>, StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("starting a read"))?;
        let mut flows = self.flow_rows(&tx, Some(flow))?;
        let Some((id, mut f)) = flows.pop() else {
            return Ok(None);
        };
        // Its latest record may still be in the current minute.
        let mut stmt = tx
            .prepare_cached("SELECT t, ids FROM recent WHERE chunk = ?1 ORDER BY t DESC")
            .map_err(self.sql("reading the current minute"))?;
        let mut rows = stmt
            .query([id / CHUNK])
            .map_err(self.sql("reading the current minute"))?;
        while let Some(row) = rows
            .next()
            .map_err(self.sql("reading the current minute"))?
        {
            let t: i64 = row.get(0).map_err(self.sql("reading the current minute"))?;
            let ids = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(self.sql("reading the current minute"))?;
            if sample::decode_ids(ids)
                .map_err(self.bad("recent ids"))?
                .contains(&id)
            {
                f.last_seen_ns = f.last_seen_ns.max(t);
                break;
            }
        }
        Ok(Some(f))
    }

    /// The identity of every flow the store knows, by id text.
    pub fn flows(&self) -> Result<Vec<StoredFlow>, StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("starting a read"))?;
        let flows = self.flow_rows(&tx, None)?;
        let mut latest: HashMap<u32, i64> = HashMap::new();
        let mut stmt = tx
            .prepare_cached("SELECT t, ids FROM recent")
            .map_err(self.sql("reading the current minute"))?;
        let mut rows = stmt
            .query([])
            .map_err(self.sql("reading the current minute"))?;
        while let Some(row) = rows
            .next()
            .map_err(self.sql("reading the current minute"))?
        {
            let t: i64 = row.get(0).map_err(self.sql("reading the current minute"))?;
            let ids = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(self.sql("reading the current minute"))?;
            for id in sample::decode_ids(ids).map_err(self.bad("recent ids"))? {
                let e = latest.entry(id).or_insert(t);
                *e = (*e).max(t);
            }
        }
        let mut out: Vec<StoredFlow> = flows
            .into_iter()
            .map(|(id, mut f)| {
                if let Some(t) = latest.get(&id) {
                    f.last_seen_ns = f.last_seen_ns.max(*t);
                }
                f
            })
            .collect();
        out.sort_by(|a, b| a.flow.cmp(&b.flow));
        Ok(out)
    }

    fn flow_rows(
        &self,
        conn: &Connection,
        flow: Option<&str>,
    ) -> Result<Vec<(u32, StoredFlow)>, StoreError> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, flow, src, dst, ssrc, kind, payload, grp, clock_rate_source,
                 first_seen_ns, last_seen_ns FROM flow WHERE ?1 IS NULL OR flow = ?1",
            )
            .map_err(self.sql("reading flows"))?;
        let rows = stmt
            .query_map([flow], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    StoredFlow {
                        flow: r.get(1)?,
                        src: r.get(2)?,
                        dst: r.get(3)?,
                        ssrc: r
                            .get::<_, Option<i64>>(4)?
                            .and_then(|s| u32::try_from(s).ok()),
                        kind: r.get(5)?,
                        payload: r.get(6)?,
                        group: r.get(7)?,
                        clock_rate_source: r.get(8)?,
                        first_seen_ns: r.get(9)?,
                        last_seen_ns: r.get(10)?,
                    },
                ))
            })
            .map_err(self.sql("reading flows"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, f) = row.map_err(self.sql("reading flows"))?;
            let id = u32::try_from(id)
                .map_err(|_| error::corrupt(&self.file, format!("flow id {id}")))?;
            out.push((id, f));
        }
        Ok(out)
    }
}

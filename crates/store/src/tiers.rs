//! The writer's tier work, in slices: each slice is one transaction that leaves the file
//! consistent, so kill -9 between or within slices loses nothing, and `write_interval` does
//! slices only until its time budget is spent.
//!
//! In order of priority:
//! 1. Pack: a minute before the current one still in `recent` is regrouped per flow into
//!    `seconds` rows, one chunk (1024 flows) a slice, the chunk's `recent` rows deleted in
//!    the same transaction.
//! 2. Roll up: an hour all of whose minutes are packed is summed into `minutes` rows (per
//!    flow, its 60 minute summaries), a range of flows a slice; a day all of whose hours are
//!    rolled into `hours` rows. The watermarks (`minutes_rolled_to`, the flow the slice in
//!    progress starts at) move in the slice's transaction. Until an hour is rolled, readers
//!    sum it from the seconds tier.
//! 3. Prune, by age and by size (size wins): oldest seconds first, then minutes, then hours;
//!    never data not yet rolled into the next tier. A `*_kept_from` watermark moves first
//!    (readers no longer choose that tier for the range), then the rows go in slices.
//! 4. Vacuum: after pruning, free pages given back to the file system in slices while the
//!    free list is over 1/8 of the file.
//!
//! Records older than a hour already rolled (the probe's clock stepped back) are packed into
//! `seconds` with the rest, and their minute's and hour's summaries are updated in the
//! same slice.

use crate::error::{self, StoreError};
use crate::sample::{self, Sample};
use crate::summary::{self, Summary};
use crate::write::{Store, NS_PER_MINUTE};
use crate::{key_flow, key_unit, row_key, Tier, WriteStats};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::BTreeMap;
use std::time::Instant;

/// Flows rolled up per slice (a slice reads 60 minutes of each).
const ROLL_FLOWS: u32 = 256;
/// Keys deleted per pruning slice (at most this many rows).
const PRUNE_KEYS: i64 = 8192;
/// Pages given back per vacuum slice.
const VACUUM_PAGES: u64 = 2048;

fn ns(unit: i64, unit_ns: i64) -> i64 {
    unit.saturating_mul(unit_ns)
}

impl Store {
    /// Does due tier work until `deadline` (at least one slice when any is due).
    pub(crate) fn tier_work(
        &mut self,
        deadline: Instant,
        stats: &mut WriteStats,
    ) -> Result<(), StoreError> {
        loop {
            let did = self.pack_slice(stats)?
                || self.roll_slice(Tier::Minutes, stats)?
                || self.roll_slice(Tier::Hours, stats)?
                || self.prune_slice(stats)?
                || self.vacuum_slice(stats)?;
            if !did {
                stats.work_pending = false;
                return Ok(());
            }
            if Instant::now() >= deadline {
                stats.work_pending = true;
                return Ok(());
            }
        }
    }

    fn begin(&mut self, what: &'static str) -> Result<Transaction<'_>, StoreError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error::sql(&self.file, what, e))
    }

    /// Packs one chunk of the oldest minute that is not the current one.
    fn pack_slice(&mut self, stats: &mut WriteStats) -> Result<bool, StoreError> {
        let current = self.current_minute;
        let Some((minute, chunk)) = self
            .recent
            .iter()
            .find(|(m, _)| Some(**m) != current)
            .and_then(|(m, chunks)| chunks.first().map(|c| (*m, *c)))
        else {
            return Ok(false);
        };
        let file = self.file.clone();
        let sql = |what| {
            let file = file.clone();
            move |e| error::sql(&file, what, e)
        };
        let bad =
            |what: &str, b: crate::pack::Bad| error::corrupt(&file, format!("{what}: {}", b.0));
        let (lo, hi) = (ns(minute, NS_PER_MINUTE), ns(minute + 1, NS_PER_MINUTE));
        let meta = self.meta;
        let tx = self.begin("packing a minute")?;
        let mut per_flow: BTreeMap<u32, Vec<Sample>> = BTreeMap::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT ids, blob FROM recent WHERE chunk = ?1 AND t >= ?2 AND t < ?3",
                )
                .map_err(sql("packing a minute"))?;
            let mut rows = stmt
                .query(params![chunk, lo, hi])
                .map_err(sql("packing a minute"))?;
            while let Some(row) = rows.next().map_err(sql("packing a minute"))? {
                let ids = sample::decode_ids(
                    row.get_ref(0)
                        .and_then(|v| Ok(v.as_blob()?))
                        .map_err(sql("packing a minute"))?,
                )
                .map_err(|b| bad("recent ids", b))?;
                let samples = sample::decode(
                    row.get_ref(1)
                        .and_then(|v| Ok(v.as_blob()?))
                        .map_err(sql("packing a minute"))?,
                )
                .map_err(|b| bad("recent blob", b))?;
                if ids.len() != samples.len() {
                    return Err(error::corrupt(
                        &file,
                        "recent row: ids and samples differ in count",
                    ));
                }
                for (id, s) in ids.into_iter().zip(samples) {
                    per_flow.entry(id).or_default().push(s);
                }
            }
        }
        let late_minutes = meta
            .minutes_rolled_to
            .is_some_and(|h| minute.div_euclid(60) < h);
        let late_hours = meta
            .hours_rolled_to
            .is_some_and(|d| minute.div_euclid(60 * 24) < d);
        for (id, samples) in &mut per_flow {
            let key =
                row_key(minute, *id).ok_or_else(|| error::corrupt(&file, "minute out of range"))?;
            let existing: Option<Vec<u8>> = tx
                .prepare_cached("SELECT blob FROM seconds WHERE key = ?1")
                .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
                .map_err(sql("packing a minute"))?;
            if let Some(blob) = existing {
                // Records of a minute already packed (time stepped back): merged.
                samples.extend(sample::decode(&blob).map_err(|b| bad("seconds blob", b))?);
            }
            samples.sort_by_key(|s| s.time_ns);
            let refs: Vec<&Sample> = samples.iter().collect();
            tx.prepare_cached("INSERT OR REPLACE INTO seconds (key, blob) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![key, sample::encode(&refs)]))
                .and_then(|_| {
                    tx.prepare_cached(
                        "UPDATE flow SET last_seen_ns = max(last_seen_ns, ?2) WHERE id = ?1",
                    )?
                    .execute(params![id, samples.last().map_or(lo, |s| s.time_ns)])
                })
                .map_err(sql("packing a minute"))?;
            if late_minutes {
                let mut sum = Summary::default();
                for s in samples.iter() {
                    sum.add(&Summary::of(s));
                }
                sum.time_ns = lo;
                upsert_summary(&tx, &file, Tier::Minutes, minute.div_euclid(60), *id, sum)?;
                if late_hours {
                    reroll_hour(&tx, &file, minute.div_euclid(60), *id)?;
                }
            }
        }
        tx.execute(
            "DELETE FROM recent WHERE chunk = ?1 AND t >= ?2 AND t < ?3",
            params![chunk, lo, hi],
        )
        .map_err(sql("packing a minute"))?;
        tx.commit().map_err(sql("packing a minute"))?;
        if let Some(chunks) = self.recent.get_mut(&minute) {
            chunks.remove(&chunk);
            if chunks.is_empty() {
                self.recent.remove(&minute);
            }
        }
        stats.packed_flows += per_flow.len() as u64;
        Ok(true)
    }

    /// Rolls one slice of the next complete hour (into `minutes`) or day (into `hours`).
    fn roll_slice(&mut self, tier: Tier, stats: &mut WriteStats) -> Result<bool, StoreError> {
        let (Some(current), mut meta) = (self.current_minute, self.meta) else {
            return Ok(false);
        };
        let source = if tier == Tier::Minutes {
            Tier::Seconds
        } else {
            Tier::Minutes
        };
        // Source rows per unit of this tier: 60 minutes an hour, 24 hours a day.
        let per = tier.row_ns() / source.row_ns();
        let (rolled, flow_from) = match tier {
            Tier::Minutes => (meta.minutes_rolled_to, meta.minutes_roll_flow),
            _ => (meta.hours_rolled_to, meta.hours_roll_flow),
        };
        let Some(unit) = rolled else { return Ok(false) };
        // Complete: the source has every row of the unit. For an hour: the current minute is
        // past it and none of its minutes waits in `recent`; for a day: all its hours rolled.
        let source_done = match tier {
            Tier::Minutes => {
                let end = (unit + 1).saturating_mul(60);
                current >= end && self.recent.range(..end).next().is_none()
            }
            _ => meta
                .minutes_rolled_to
                .is_some_and(|h| h >= (unit + 1).saturating_mul(24)),
        };
        if !source_done {
            return Ok(false);
        }
        let file = self.file.clone();
        let sql = |e| error::sql(&file, "rolling up", e);
        let first_key = row_key(unit.saturating_mul(per), 0)
            .ok_or_else(|| error::corrupt(&file, "roll-up out of range"))?;
        let end_key = row_key((unit + 1).saturating_mul(per), 0)
            .ok_or_else(|| error::corrupt(&file, "roll-up out of range"))?;
        let next_id = self.next_id;
        let tx = self.begin("rolling up")?;
        if flow_from == 0 {
            // A unit with no data (the probe was down) is skipped to the next that has some,
            // up to the last complete one.
            let next: Option<i64> = tx
                .query_row(
                    &format!("SELECT min(key) FROM {} WHERE key >= ?1", source.table()),
                    [first_key],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            let last_complete = match tier {
                Tier::Minutes => current.div_euclid(60),
                _ => meta.minutes_rolled_to.unwrap_or(unit).div_euclid(24),
            };
            let next_unit = next.map_or(last_complete, |k| {
                key_unit(k).div_euclid(per).min(last_complete)
            });
            if next.is_none_or(|k| k >= end_key) && next_unit > unit {
                let before = meta;
                match tier {
                    Tier::Minutes => meta.minutes_rolled_to = Some(next_unit),
                    _ => meta.hours_rolled_to = Some(next_unit),
                }
                meta.store(&before, &tx, &file)?;
                tx.commit().map_err(sql)?;
                self.meta = meta;
                return Ok(true);
            }
        }
        let flow_to = flow_from.saturating_add(i64::from(ROLL_FLOWS));
        let mut per_flow: BTreeMap<u32, Vec<Summary>> = BTreeMap::new();
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT key, blob FROM {} WHERE key >= ?1 AND key < ?2",
                    source.table()
                ))
                .map_err(sql)?;
            for su in unit.saturating_mul(per)..(unit + 1).saturating_mul(per) {
                let base =
                    row_key(su, 0).ok_or_else(|| error::corrupt(&file, "roll-up out of range"))?;
                let mut rows = stmt
                    .query(params![base + flow_from, base + flow_to.min(1 << 32)])
                    .map_err(sql)?;
                while let Some(row) = rows.next().map_err(sql)? {
                    let key: i64 = row.get(0).map_err(sql)?;
                    let blob = row.get_ref(1).and_then(|v| Ok(v.as_blob()?)).map_err(sql)?;
                    let mut sum = Summary::default();
                    let what = |b: crate::pack::Bad| {
                        error::corrupt(&file, format!("{} blob: {}", source.table(), b.0))
                    };
                    if source == Tier::Seconds {
                        for s in sample::decode(blob).map_err(what)? {
                            sum.add(&Summary::of(&s));
                        }
                    } else {
                        for s in summary::decode(blob).map_err(what)? {
                            sum.add(&s);
                        }
                    }
                    sum.time_ns = ns(su, source.row_ns());
                    per_flow.entry(key_flow(key)).or_default().push(sum);
                }
            }
        }
        for (id, sums) in &per_flow {
            let key =
                row_key(unit, *id).ok_or_else(|| error::corrupt(&file, "roll-up out of range"))?;
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO {} (key, blob) VALUES (?1, ?2)",
                tier.table()
            ))
            .and_then(|mut s| s.execute(params![key, summary::encode(sums)]))
            .map_err(sql)?;
        }
        let before = meta;
        let done = flow_to >= i64::from(next_id);
        let (to, flow) = if done { (unit + 1, 0) } else { (unit, flow_to) };
        match tier {
            Tier::Minutes => (meta.minutes_rolled_to, meta.minutes_roll_flow) = (Some(to), flow),
            _ => (meta.hours_rolled_to, meta.hours_roll_flow) = (Some(to), flow),
        }
        meta.store(&before, &tx, &file)?;
        tx.commit().map_err(sql)?;
        self.meta = meta;
        stats.rolled_flows += per_flow.len() as u64;
        Ok(true)
    }

    /// Prunes one slice: moves a `kept_from` watermark by age or size, or deletes rows under
    /// one.
    fn prune_slice(&mut self, stats: &mut WriteStats) -> Result<bool, StoreError> {
        let Some(now) = self.meta.data_to_ns else {
            return Ok(false);
        };
        let file = self.file.clone();
        let sql = |e| error::sql(&file, "pruning", e);
        let mut meta = self.meta;
        let before = meta;
        let age_unit = |keep_s: i64, unit_ns: i64| {
            now.saturating_sub(keep_s.saturating_mul(1_000_000_000))
                .div_euclid(unit_ns)
        };
        // Each tier may lose only what the next coarser one holds (the hours tier: all but
        // the current day).
        let limits = [
            meta.minutes_rolled_to
                .map_or(i64::MIN, |h| h.saturating_mul(60)),
            meta.hours_rolled_to
                .map_or(i64::MIN, |d| d.saturating_mul(24)),
            now.div_euclid(Tier::Hours.row_ns()),
        ];
        let ages = [
            age_unit(self.settings.keep_seconds_s, Tier::Seconds.row_ns()),
            age_unit(self.settings.keep_minutes_s, Tier::Minutes.row_ns()),
            age_unit(self.settings.keep_hours_s, Tier::Hours.row_ns()),
        ];
        let tiers = [Tier::Seconds, Tier::Minutes, Tier::Hours];
        let mut kept = [
            meta.seconds_kept_from,
            meta.minutes_kept_from,
            meta.hours_kept_from,
        ];
        for i in 0..3 {
            let target = ages[i].min(limits[i]);
            if target > i64::MIN && kept[i].is_none_or(|k| k < target) {
                kept[i] = Some(target);
            }
        }
        let over = self.used_bytes()? > self.settings.max_size_bytes;
        let keep_hours_s = self.settings.keep_hours_s;
        let tx = self.begin("pruning")?;
        let min_key = |t: Tier| -> Result<Option<i64>, StoreError> {
            tx.query_row(&format!("SELECT min(key) FROM {}", t.table()), [], |r| {
                r.get(0)
            })
            .map_err(sql)
        };
        if over {
            // The oldest unit of the finest tier that may lose one.
            for i in 0..3 {
                if let Some(k) = min_key(tiers[i])? {
                    let unit = key_unit(k);
                    if unit < limits[i] {
                        kept[i] = Some(kept[i].map_or(unit + 1, |kf| kf.max(unit + 1)));
                        break;
                    }
                }
            }
        }
        (
            meta.seconds_kept_from,
            meta.minutes_kept_from,
            meta.hours_kept_from,
        ) = (kept[0], kept[1], kept[2]);
        let mut deleted = 0u64;
        for i in 0..3 {
            let Some(limit) = kept[i].and_then(|k| row_key(k, 0)) else {
                continue;
            };
            if let Some(lo) = min_key(tiers[i])? {
                if lo < limit {
                    let hi = limit.min(lo.saturating_add(PRUNE_KEYS));
                    deleted += tx
                        .execute(
                            &format!(
                                "DELETE FROM {} WHERE key >= ?1 AND key < ?2",
                                tiers[i].table()
                            ),
                            params![lo, hi],
                        )
                        .map_err(sql)? as u64;
                    break;
                }
            }
        }
        if deleted == 0 {
            // Events and alarms go with the hours tier's age, a bounded batch at a time.
            let cutoff = now.saturating_sub(keep_hours_s.saturating_mul(1_000_000_000));
            deleted += tx
                .execute(
                    "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE time_ns < ?1 LIMIT 8192)",
                    [cutoff],
                )
                .map_err(sql)? as u64;
            // Alarm records likewise (ids go on from the largest kept).
            deleted += tx
                .execute(
                    "DELETE FROM alarm WHERE row IN (SELECT row FROM alarm WHERE time_ns < ?1 LIMIT 8192)",
                    [cutoff],
                )
                .map_err(sql)? as u64;
        }
        meta.store(&before, &tx, &file)?;
        tx.commit().map_err(sql)?;
        self.meta = meta;
        self.pruned_since_vacuum |= deleted > 0;
        stats.pruned_rows += deleted;
        Ok(deleted > 0 || meta != before)
    }

    /// Gives back free pages when pruning freed some and the free list is over 1/8 of the
    /// file.
    fn vacuum_slice(&mut self, stats: &mut WriteStats) -> Result<bool, StoreError> {
        if !self.pruned_since_vacuum {
            return Ok(false);
        }
        let sql = |e| error::sql(&self.file, "vacuuming", e);
        let pages: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(sql)?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .map_err(sql)?;
        if free < 256 || free < pages / 8 {
            self.pruned_since_vacuum = false;
            return Ok(false);
        }
        self.conn
            .execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            .map_err(sql)?;
        let after: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .map_err(sql)?;
        stats.vacuumed_pages += free.saturating_sub(after).max(0) as u64;
        Ok(after < free)
    }
}

/// Puts `sum` into a flow's row of `tier` (`unit` its hour or day), replacing the bucket of
/// the same time: the late-record path.
fn upsert_summary(
    tx: &Transaction<'_>,
    file: &str,
    tier: Tier,
    unit: i64,
    flow: u32,
    sum: Summary,
) -> Result<(), StoreError> {
    let sql = |e| error::sql(file, "updating a summary", e);
    let key = row_key(unit, flow).ok_or_else(|| error::corrupt(file, "summary out of range"))?;
    let existing: Option<Vec<u8>> = tx
        .prepare_cached(&format!("SELECT blob FROM {} WHERE key = ?1", tier.table()))
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(sql)?;
    let mut sums = match existing {
        Some(b) => summary::decode(&b)
            .map_err(|b| error::corrupt(file, format!("{} blob: {}", tier.table(), b.0)))?,
        None => Vec::new(),
    };
    sums.retain(|s| s.time_ns != sum.time_ns);
    sums.push(sum);
    sums.sort_by_key(|s| s.time_ns);
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {} (key, blob) VALUES (?1, ?2)",
        tier.table()
    ))
    .and_then(|mut s| s.execute(params![key, summary::encode(&sums)]))
    .map_err(sql)?;
    Ok(())
}

/// Recomputes a flow's hour summary from its minutes row into its hours row.
fn reroll_hour(tx: &Transaction<'_>, file: &str, hour: i64, flow: u32) -> Result<(), StoreError> {
    let key = row_key(hour, flow).ok_or_else(|| error::corrupt(file, "summary out of range"))?;
    let blob: Option<Vec<u8>> = tx
        .prepare_cached("SELECT blob FROM minutes WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(|e| error::sql(file, "updating a summary", e))?;
    let Some(blob) = blob else { return Ok(()) };
    let mut sum = Summary::default();
    for s in summary::decode(&blob)
        .map_err(|b| error::corrupt(file, format!("minutes blob: {}", b.0)))?
    {
        sum.add(&s);
    }
    sum.time_ns = ns(hour, Tier::Minutes.row_ns());
    upsert_summary(tx, file, Tier::Hours, hour.div_euclid(24), flow, sum)
}

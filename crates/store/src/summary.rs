//! A bucket's figures rolled up honestly (Netdata's tiers keep sum, count, min and max): sums
//! of counts, maxima of maxima, and the sums and weights a mean needs, all integers
//! (millionths) so that rolling up is exact and does not depend on order.

use crate::pack::{self, Bad, Reader};
use crate::sample::{round6, Sample, INDICATORS};
use crate::HistoryPoint;

/// One bucket (a minute, an hour, or a query's step) of one flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// The bucket's start, ns (a sample's own time for a single record).
    pub time_ns: i64,
    /// Records summed.
    pub records: u64,
    /// Sum of interval_s, µs.
    pub seconds_us: i64,
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    /// None when no record had it (MPEG-TS over UDP).
    pub recovered: Option<u64>,
    pub duplicates: u64,
    pub reordered: Option<u64>,
    /// Largest jitter maximum, millionths of a ms.
    pub jitter_max: Option<i64>,
    /// Sum of jitter maximum x interval, millionths of ms.s.
    pub jitter_sum: i64,
    /// Seconds of records that had a jitter, µs.
    pub jitter_us: i64,
    /// Frames (fps x interval_s summed), millionths; None when no record had fps.
    pub frames: Option<i64>,
    /// Seconds of records that had an fps, µs.
    pub fps_us: i64,
    pub df_max: Option<i64>,
    pub mlr_max: Option<i64>,
    pub tr101290: Option<[u64; INDICATORS]>,
    /// Seconds of records that broke their SLA, µs.
    pub sla_broken_us: i64,
}

/// Millionths, saturating (NaN: 0): summaries are of figures already rounded to 6 decimals.
fn micros(x: f64) -> i64 {
    (x * 1e6).round() as i64
}

/// a x b µs in a's unit (a x b / 1e6), saturating.
fn times_us(a: i64, b_us: i64) -> i64 {
    let p = i128::from(a) * i128::from(b_us) / 1_000_000;
    p.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Summary {
    /// One record's summary.
    pub(crate) fn of(s: &Sample) -> Summary {
        let secs = micros(s.interval_s);
        Summary {
            time_ns: s.time_ns,
            records: 1,
            seconds_us: secs,
            packets: s.packets,
            bytes: s.bytes,
            lost: s.lost,
            recovered: s.recovered,
            duplicates: s.duplicates,
            reordered: s.reordered,
            jitter_max: s.jitter_ms.map(micros),
            jitter_sum: s.jitter_ms.map_or(0, |j| times_us(micros(j), secs)),
            jitter_us: if s.jitter_ms.is_some() { secs } else { 0 },
            frames: s.fps.map(|f| times_us(micros(f), secs)),
            fps_us: if s.fps.is_some() { secs } else { 0 },
            df_max: s.df_ms.map(micros),
            mlr_max: s.mlr.map(micros),
            tr101290: s.tr101290,
            sla_broken_us: if s.sla_broken == Some(true) { secs } else { 0 },
        }
    }

    /// Adds `o` into this bucket (the time stays this bucket's).
    pub(crate) fn add(&mut self, o: &Summary) {
        self.records = self.records.saturating_add(o.records);
        self.seconds_us = self.seconds_us.saturating_add(o.seconds_us);
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.lost = self.lost.saturating_add(o.lost);
        self.recovered = add_opt(self.recovered, o.recovered);
        self.duplicates = self.duplicates.saturating_add(o.duplicates);
        self.reordered = add_opt(self.reordered, o.reordered);
        self.jitter_max = max_opt(self.jitter_max, o.jitter_max);
        self.jitter_sum = self.jitter_sum.saturating_add(o.jitter_sum);
        self.jitter_us = self.jitter_us.saturating_add(o.jitter_us);
        self.frames = match (self.frames, o.frames) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        self.fps_us = self.fps_us.saturating_add(o.fps_us);
        self.df_max = max_opt(self.df_max, o.df_max);
        self.mlr_max = max_opt(self.mlr_max, o.mlr_max);
        self.tr101290 = match (self.tr101290, o.tr101290) {
            (Some(mut a), Some(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    *x = x.saturating_add(y);
                }
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self.sla_broken_us = self.sla_broken_us.saturating_add(o.sla_broken_us);
    }

    /// The bucket as a history point: rates and means from the sums.
    pub(crate) fn point(&self) -> HistoryPoint {
        let seconds = self.seconds_us as f64 / 1e6;
        let ratio = |num: i64, den: i64| (den > 0).then(|| round6(num as f64 / den as f64));
        HistoryPoint {
            time_ns: self.time_ns,
            records: self.records,
            seconds,
            packets: self.packets,
            bytes: self.bytes,
            bitrate_bps: if self.seconds_us > 0 {
                round6(self.bytes as f64 * 8.0 / seconds)
            } else {
                0.0
            },
            lost: self.lost,
            recovered: self.recovered,
            duplicates: self.duplicates,
            reordered: self.reordered,
            jitter_ms_max: self.jitter_max.map(|j| j as f64 / 1e6),
            jitter_ms_mean: self
                .jitter_max
                .and_then(|_| ratio(self.jitter_sum, self.jitter_us)),
            fps: self.frames.and_then(|f| ratio(f, self.fps_us)),
            df_ms_max: self.df_max.map(|v| v as f64 / 1e6),
            mlr_max: self.mlr_max.map(|v| v as f64 / 1e6),
            tr101290: self.tr101290,
            sla_broken_s: self.sla_broken_us as f64 / 1e6,
        }
    }
}

/// A record as a history point: its own figures, exactly.
pub(crate) fn raw_point(s: &Sample) -> HistoryPoint {
    HistoryPoint {
        time_ns: s.time_ns,
        records: 1,
        seconds: s.interval_s,
        packets: s.packets,
        bytes: s.bytes,
        bitrate_bps: s.bitrate_bps,
        lost: s.lost,
        recovered: s.recovered,
        duplicates: s.duplicates,
        reordered: s.reordered,
        jitter_ms_max: s.jitter_ms,
        jitter_ms_mean: s.jitter_ms,
        fps: s.fps,
        df_ms_max: s.df_ms,
        mlr_max: s.mlr,
        tr101290: s.tr101290,
        sla_broken_s: if s.sla_broken == Some(true) {
            s.interval_s
        } else {
            0.0
        },
    }
}

const FORMAT_SUMMARIES: u8 = 1;

fn int(v: u64) -> Option<i64> {
    Some(v as i64)
}

/// Packs summaries (a flow's minutes of one hour, or hours of one day).
pub(crate) fn encode(sums: &[Summary]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + sums.len() * 24);
    out.push(FORMAT_SUMMARIES);
    pack::put_varint(&mut out, sums.len() as u64);
    let col = |out: &mut Vec<u8>, f: &dyn Fn(&Summary) -> Option<i64>| {
        let c: Vec<Option<i64>> = sums.iter().map(f).collect();
        pack::put_ints(out, &c);
    };
    col(&mut out, &|s| Some(s.time_ns));
    col(&mut out, &|s| int(s.records));
    col(&mut out, &|s| Some(s.seconds_us));
    col(&mut out, &|s| int(s.packets));
    col(&mut out, &|s| int(s.bytes));
    col(&mut out, &|s| int(s.lost));
    col(&mut out, &|s| s.recovered.and_then(int));
    col(&mut out, &|s| int(s.duplicates));
    col(&mut out, &|s| s.reordered.and_then(int));
    col(&mut out, &|s| s.jitter_max);
    col(&mut out, &|s| Some(s.jitter_sum));
    col(&mut out, &|s| Some(s.jitter_us));
    col(&mut out, &|s| s.frames);
    col(&mut out, &|s| Some(s.fps_us));
    col(&mut out, &|s| s.df_max);
    col(&mut out, &|s| s.mlr_max);
    col(&mut out, &|s| Some(s.sla_broken_us));
    col(&mut out, &|s| s.tr101290.map(|_| 1));
    let ts: Vec<&[u64; INDICATORS]> = sums.iter().filter_map(|s| s.tr101290.as_ref()).collect();
    if !ts.is_empty() {
        for i in 0..INDICATORS {
            let c: Vec<Option<i64>> = ts.iter().map(|t| int(t[i])).collect();
            pack::put_ints(&mut out, &c);
        }
    }
    out
}

/// Unpacks summaries.
pub(crate) fn decode(blob: &[u8]) -> Result<Vec<Summary>, Bad> {
    let mut r = Reader::new(blob);
    if r.byte()? != FORMAT_SUMMARIES {
        return Err(Bad("unknown summary format"));
    }
    let n = r.count()?;
    let full = |r: &mut Reader<'_>| pack::get_full(r, n);
    let opt = |r: &mut Reader<'_>| pack::get_ints(r, n);
    let (time, records, seconds, packets, bytes, lost) = (
        full(&mut r)?,
        full(&mut r)?,
        full(&mut r)?,
        full(&mut r)?,
        full(&mut r)?,
        full(&mut r)?,
    );
    let (recovered, duplicates, reordered) = (opt(&mut r)?, full(&mut r)?, opt(&mut r)?);
    let (jitter_max, jitter_sum, jitter_us) = (opt(&mut r)?, full(&mut r)?, full(&mut r)?);
    let (frames, fps_us, df_max, mlr_max) =
        (opt(&mut r)?, full(&mut r)?, opt(&mut r)?, opt(&mut r)?);
    let sla = full(&mut r)?;
    let has_ts = opt(&mut r)?;
    let ts_count = has_ts.iter().flatten().count();
    let mut ts_cols = Vec::new();
    if ts_count > 0 {
        for _ in 0..INDICATORS {
            ts_cols.push(pack::get_full(&mut r, ts_count)?);
        }
    }
    if r.left() != 0 {
        return Err(Bad("bytes after the last column"));
    }
    let u = |v: i64| v as u64;
    let mut out = Vec::with_capacity(n);
    let mut ts_i = 0;
    for i in 0..n {
        let tr101290 = match has_ts[i] {
            None => None,
            Some(1) => {
                let mut c = [0u64; INDICATORS];
                for (k, col) in ts_cols.iter().enumerate() {
                    c[k] = u(col[ts_i]);
                }
                ts_i += 1;
                Some(c)
            }
            Some(_) => return Err(Bad("bad TR 101 290 mark")),
        };
        out.push(Summary {
            time_ns: time[i],
            records: u(records[i]),
            seconds_us: seconds[i],
            packets: u(packets[i]),
            bytes: u(bytes[i]),
            lost: u(lost[i]),
            recovered: recovered[i].map(u),
            duplicates: u(duplicates[i]),
            reordered: reordered[i].map(u),
            jitter_max: jitter_max[i],
            jitter_sum: jitter_sum[i],
            jitter_us: jitter_us[i],
            frames: frames[i],
            fps_us: fps_us[i],
            df_max: df_max[i],
            mlr_max: mlr_max[i],
            tr101290,
            sla_broken_us: sla[i],
        });
    }
    Ok(out)
}

/// Sums time-ordered summaries into buckets of `step_ns` aligned to multiples of it since
/// the epoch; each bucket's time is its start.
pub(crate) fn bucket(items: impl IntoIterator<Item = Summary>, step_ns: i64) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for s in items {
        let start = s.time_ns.div_euclid(step_ns).saturating_mul(step_ns);
        match out.last_mut() {
            Some(last) if last.time_ns == start => last.add(&s),
            _ => {
                let mut b = s;
                b.time_ns = start;
                out.push(b);
            }
        }
    }
    out
}

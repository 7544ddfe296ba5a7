//! One flow-second as stored: every figure of a [`FlowRecord`] the history gives back, and
//! the blobs samples are packed into (the current minute's chunks, a flow's minute).

use crate::pack::{self, Bad, Reader};
use analysis::interval::FlowRecord;
use analysis::ts::Indicator;
use serde::Serialize;

/// Indicators per TS sample.
pub const INDICATORS: usize = Indicator::ALL.len();

/// One flow record's figures, exactly as written (the per-second tier).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// The interval's end, ns since the Unix epoch (the record's `time`).
    pub time_ns: i64,
    /// The interval's length, s.
    pub interval_s: f64,
    /// Packets.
    pub packets: u64,
    /// UDP payload bytes.
    pub bytes: u64,
    /// bytes x 8 / interval_s, as the record gave it.
    pub bitrate_bps: f64,
    /// Gaps not filled in the interval.
    pub lost: u64,
    /// Late packets that filled an earlier interval's gap (RTP).
    pub recovered: Option<u64>,
    /// Duplicates.
    pub duplicates: u64,
    /// Reordered packets (RTP).
    pub reordered: Option<u64>,
    /// Largest RFC 3550 jitter in the interval, ms.
    pub jitter_ms: Option<f64>,
    /// Where the jitter's clock rate came from.
    pub clock_rate_source: Option<&'static str>,
    /// Frames / interval_s.
    pub fps: Option<f64>,
    /// Largest MDI Delay Factor, ms.
    pub df_ms: Option<f64>,
    /// Largest MDI Media Loss Rate.
    pub mlr: Option<f64>,
    /// TR 101 290 occurrences, in `Indicator::ALL` order.
    #[serde(serialize_with = "crate::ser_indicators")]
    pub tr101290: Option<[u64; INDICATORS]>,
    /// The record's SLA verdict broke a limit (None: no SLA judged).
    pub sla_broken: Option<bool>,
}

/// `clock_rate_source` names (analysis::clock::ClockSource::as_str) and their codes; a name
/// this list does not know is stored as `OTHER` and read back as `other`.
const CLOCKS: [&str; 5] = ["config", "rfc3551", "sdp", "estimated", "assumed"];
const OTHER: i64 = CLOCKS.len() as i64;

fn clock_code(name: &str) -> i64 {
    CLOCKS
        .iter()
        .position(|c| *c == name)
        .map_or(OTHER, |i| i as i64)
}

fn clock_name(code: i64) -> Result<&'static str, Bad> {
    match usize::try_from(code) {
        Ok(i) if i < CLOCKS.len() => Ok(CLOCKS[i]),
        Ok(i) if i == CLOCKS.len() => Ok("other"),
        _ => Err(Bad("unknown clock rate source")),
    }
}

/// Rounded as analysis rounds its figures (interval/mod.rs).
pub(crate) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The bitrate a record of these bytes and interval gives (analysis computes it so).
fn derived_bitrate(bytes: u64, interval_s: f64) -> f64 {
    round6(bytes as f64 * 8.0 / interval_s)
}

impl Sample {
    /// The figures of a record.
    pub fn of(r: &FlowRecord) -> Sample {
        Sample {
            time_ns: r.time,
            interval_s: r.interval_s,
            packets: r.packets,
            bytes: r.bytes,
            bitrate_bps: r.bitrate_bps,
            lost: r.lost,
            recovered: r.recovered,
            duplicates: r.duplicates,
            reordered: r.reordered,
            jitter_ms: r.jitter_ms,
            clock_rate_source: r.clock_rate_source,
            fps: r.fps,
            df_ms: r.df_ms,
            mlr: r.mlr,
            tr101290: r.tr101290.map(|c| c.0),
            sla_broken: r.sla.as_ref().map(|s| !s.violations.is_empty()),
        }
    }
}

fn int(v: u64) -> Option<i64> {
    Some(v as i64)
}

/// Blob format byte: columns, not compressed. No compressor is used: measured on the
/// bench's packed minutes of steady flows (650 B each), zstd -19 and deflate -9 on top of
/// the column encoding saved 0.1 %: what is left after delta coding is the noise of the
/// varying figures' last digits, which no general-purpose compressor shrinks. The byte leaves
/// room for a compressed format should real traffic show otherwise.
const FORMAT_COLUMNS: u8 = 1;

/// Packs the flow ids of a recent chunk (one per sample of its blob), kept apart from the
/// samples so that "which flows were seen when" reads a few bytes per chunk.
pub(crate) fn encode_ids(ids: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    out.push(FORMAT_COLUMNS);
    pack::put_varint(&mut out, ids.len() as u64);
    let ids: Vec<Option<i64>> = ids.iter().map(|&i| Some(i64::from(i))).collect();
    pack::put_ints(&mut out, &ids);
    out
}

/// Packs samples.
pub(crate) fn encode(samples: &[&Sample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + samples.len() * 12);
    out.push(FORMAT_COLUMNS);
    pack::put_varint(&mut out, samples.len() as u64);
    let ints = |out: &mut Vec<u8>, f: &dyn Fn(&Sample) -> Option<i64>| {
        let col: Vec<Option<i64>> = samples.iter().map(|s| f(s)).collect();
        pack::put_ints(out, &col);
    };
    let floats = |out: &mut Vec<u8>, f: &dyn Fn(&Sample) -> Option<f64>| {
        let col: Vec<Option<f64>> = samples.iter().map(|s| f(s)).collect();
        pack::put_floats(out, &col);
    };
    ints(&mut out, &|s| Some(s.time_ns));
    floats(&mut out, &|s| Some(s.interval_s));
    ints(&mut out, &|s| int(s.packets));
    ints(&mut out, &|s| int(s.bytes));
    // The bitrate is stored only where it is not what bytes and interval give (never, for
    // the probe's records): None here means "derived".
    floats(&mut out, &|s| {
        let derived = derived_bitrate(s.bytes, s.interval_s);
        (derived.to_bits() != s.bitrate_bps.to_bits()).then_some(s.bitrate_bps)
    });
    ints(&mut out, &|s| int(s.lost));
    ints(&mut out, &|s| s.recovered.and_then(int));
    ints(&mut out, &|s| int(s.duplicates));
    ints(&mut out, &|s| s.reordered.and_then(int));
    floats(&mut out, &|s| s.jitter_ms);
    ints(&mut out, &|s| s.clock_rate_source.map(clock_code));
    floats(&mut out, &|s| s.fps);
    floats(&mut out, &|s| s.df_ms);
    floats(&mut out, &|s| s.mlr);
    ints(&mut out, &|s| s.sla_broken.map(i64::from));
    ints(&mut out, &|s| s.tr101290.map(|_| 1));
    let ts: Vec<&[u64; INDICATORS]> = samples.iter().filter_map(|s| s.tr101290.as_ref()).collect();
    if !ts.is_empty() {
        for i in 0..INDICATORS {
            let col: Vec<Option<i64>> = ts.iter().map(|c| int(c[i])).collect();
            pack::put_ints(&mut out, &col);
        }
    }
    out
}

/// Unpacks the flow ids of a recent chunk.
pub(crate) fn decode_ids(blob: &[u8]) -> Result<Vec<u32>, Bad> {
    let mut r = Reader::new(blob);
    if r.byte()? != FORMAT_COLUMNS {
        return Err(Bad("unknown blob format"));
    }
    let n = r.count()?;
    let ids = pack::get_full(&mut r, n)?
        .into_iter()
        .map(|v| u32::try_from(v).map_err(|_| Bad("flow id out of range")))
        .collect();
    if r.left() != 0 {
        return Err(Bad("bytes after the last column"));
    }
    ids
}

fn unsigned(v: i64) -> u64 {
    v as u64
}

/// Unpacks samples.
pub(crate) fn decode(blob: &[u8]) -> Result<Vec<Sample>, Bad> {
    let mut r = Reader::new(blob);
    if r.byte()? != FORMAT_COLUMNS {
        return Err(Bad("unknown blob format"));
    }
    let n = r.count()?;
    let time = pack::get_full(&mut r, n)?;
    let interval = pack::get_full_floats(&mut r, n)?;
    let packets = pack::get_full(&mut r, n)?;
    let bytes = pack::get_full(&mut r, n)?;
    let bitrate = pack::get_floats(&mut r, n)?;
    let lost = pack::get_full(&mut r, n)?;
    let recovered = pack::get_ints(&mut r, n)?;
    let duplicates = pack::get_full(&mut r, n)?;
    let reordered = pack::get_ints(&mut r, n)?;
    let jitter = pack::get_floats(&mut r, n)?;
    let clock = pack::get_ints(&mut r, n)?;
    let fps = pack::get_floats(&mut r, n)?;
    let df = pack::get_floats(&mut r, n)?;
    let mlr = pack::get_floats(&mut r, n)?;
    let sla = pack::get_ints(&mut r, n)?;
    let has_ts = pack::get_ints(&mut r, n)?;
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
    let mut samples = Vec::with_capacity(n);
    let mut ts_i = 0;
    for i in 0..n {
        let tr101290 = match has_ts[i] {
            None => None,
            Some(1) => {
                let mut c = [0u64; INDICATORS];
                for (k, col) in ts_cols.iter().enumerate() {
                    c[k] = unsigned(col[ts_i]);
                }
                ts_i += 1;
                Some(c)
            }
            Some(_) => return Err(Bad("bad TR 101 290 mark")),
        };
        let sla_broken = match sla[i] {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(_) => return Err(Bad("bad SLA mark")),
        };
        let (b, secs) = (unsigned(bytes[i]), interval[i]);
        samples.push(Sample {
            time_ns: time[i],
            interval_s: secs,
            packets: unsigned(packets[i]),
            bytes: b,
            bitrate_bps: bitrate[i].unwrap_or_else(|| derived_bitrate(b, secs)),
            lost: unsigned(lost[i]),
            recovered: recovered[i].map(unsigned),
            duplicates: unsigned(duplicates[i]),
            reordered: reordered[i].map(unsigned),
            jitter_ms: jitter[i],
            clock_rate_source: clock[i].map(clock_name).transpose()?,
            fps: fps[i],
            df_ms: df[i],
            mlr: mlr[i],
            tr101290,
            sla_broken,
        });
    }
    Ok(samples)
}

//! Media Delivery Index (RFC 4445): Delay Factor and Media Loss Rate per interval of packet
//! time, aligned on whole seconds. Definitions: `docs/figures.md` (MDI section).
//!
//! The virtual buffer of RFC 4445 section 3.1 drains at the media rate MR:
//! `VB_pre(i) = B(i) - MR x (T(i) - T_start)` and `VB_post(i) = VB_pre(i) + S(i)`, where B(i)
//! is the media bytes received in the interval before packet i. DF = (max VB - min VB) / MR.
//! When MR is the interval's own measured rate it is known only when the interval closes, so
//! the meter keeps the two convex hulls on which the maximum of `B + S - MR x T` and the
//! minimum of `B - MR x T` must lie, whatever MR turns out to be: the upper hull of the
//! points (T, B + S) and the lower hull of (T, B). Both are built left to right as packets
//! arrive (Andrew's monotone chain), so DF is exact for any MR at a few comparisons per packet
//! and no per-packet storage. The hulls keep their capacity from one interval to the next.

use crate::ts::PcrMark;

/// Where an interval's media rate came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateSource {
    /// The flow's monitor group sets it.
    Group,
    /// Derived from the stream's PCRs in the interval (TS flows).
    Pcr,
    /// The flow's mean over its previous full interval (over the interval itself for the
    /// flow's first).
    #[default]
    Measured,
}

impl RateSource {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RateSource::Group => "group",
            RateSource::Pcr => "pcr",
            RateSource::Measured => "measured",
        }
    }
}

/// Last, smallest, largest and mean of a figure over intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Series {
    /// Intervals that gave the figure.
    pub count: u64,
    /// The latest interval's value.
    pub last: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Sum, for the mean.
    pub sum: f64,
}

impl Series {
    fn add(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        }
        self.count += 1;
        self.last = value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
    }

    /// The mean over intervals (0 when there was none).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// One closed interval's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MdiInterval {
    /// Interval start, ns since the epoch (a whole multiple of the interval length).
    pub start_ns: i64,
    /// Media rate used, bit/s (None: no rate could be measured, so no DF).
    pub rate_bps: Option<f64>,
    /// Where the rate came from.
    pub rate_source: RateSource,
    /// Delay Factor, ms.
    pub df_ms: Option<f64>,
    /// Media packets lost or out of order in the interval.
    pub lost: u64,
    /// Media Loss Rate: `lost` per second of the nominal interval.
    pub mlr: f64,
}

/// Points a hull keeps inline, in the flow's own (prefetched) state; more go to the heap.
/// Eight: on 55,000 VBR cameras (`synth-cameras ... mixed`) the final upper hull of an
/// interval had 3 to 24 points, most 4 to 9; with four inline, over half the points went to
/// the heap in the flow's cold state, one more cache miss per packet.
const HULL_INLINE: usize = 8;

/// The points of one convex hull chain that live inline, in the flow's per-packet state:
/// (x = ns since the interval start, y = bytes), x ascending. Inline because a heap block
/// per flow would be one more cache miss per packet across 55,000 flows (measured: 12 % of
/// the analysis time); the paced streams MDI is meant for keep two or three points. Inline
/// points keep y in 32 bits (4 GB in an interval, 34 Gbit/s over 1 s), which halves their
/// size. Points past the inline ones, and every point of a hull whose y outgrew 32 bits,
/// live in a vector of the flow's cold state ([`MdiSummary`]).
#[derive(Clone, Copy, Debug, Default)]
struct HullPoints {
    xs: [u32; HULL_INLINE],
    ys: [u32; HULL_INLINE],
}

/// How many of a hull's points are inline and where the others are: 3 bytes, so that the
/// per-packet state of a meter stays within its cache lines (see [`MdiMeter`]).
#[derive(Clone, Copy, Debug, Default)]
struct HullState {
    /// Points in [`HullPoints`] (0 when `wide`).
    inline: u8,
    /// More points follow in the cold state's vector (`inline` is then [`HULL_INLINE`]).
    spilled: bool,
    /// Some y outgrew 32 bits: every point lives in the cold state's vector, in full.
    wide: bool,
}

/// One hull chain: its inline points and state, and the cold vector it may spill to.
struct Hull<'a> {
    points: &'a mut HullPoints,
    state: &'a mut HullState,
}

impl Hull<'_> {
    /// Adds a point, first removing those it hides: with `keep_left` (lower hull) the chain
    /// keeps left turns only, else right turns only (upper hull). `more` is the cold vector,
    /// called for only when the inline points do not suffice: reading it for every packet
    /// was a cache miss per packet (25 % of the 55,000-camera benchmark).
    #[inline]
    fn push<'m>(
        &mut self,
        more: impl FnOnce() -> &'m mut Vec<(u32, u64)>,
        x: u32,
        y: u64,
        keep_left: bool,
    ) {
        if !self.state.spilled && !self.state.wide && self.push_inline(x, y, keep_left) {
            return;
        }
        self.push_spilled(more(), x, y, keep_left);
    }

    /// [`Hull::push`] while every point is inline. False, with nothing changed, when the
    /// point must go to the cold vector.
    #[inline]
    fn push_inline(&mut self, x: u32, y: u64, keep_left: bool) -> bool {
        let Ok(y32) = u32::try_from(y) else {
            return false;
        };
        let HullPoints { xs, ys } = &mut *self.points;
        let mut n = usize::from(self.state.inline);
        while n >= 2 {
            let (a, b) = ((xs[n - 2], ys[n - 2]), (xs[n - 1], ys[n - 1]));
            let t = turn_inline(a, b, (x, y32));
            if (keep_left && t.is_gt()) || (!keep_left && t.is_lt()) {
                break;
            }
            n -= 1;
        }
        if n == HULL_INLINE {
            return false;
        }
        xs[n] = x;
        ys[n] = y32;
        self.state.inline = n as u8 + 1;
        true
    }

    /// Points in the chain.
    fn len(&self, more: &[(u32, u64)]) -> usize {
        if self.state.wide {
            more.len()
        } else {
            usize::from(self.state.inline) + more.len()
        }
    }

    fn get(&self, more: &[(u32, u64)], i: usize) -> (i64, u64) {
        let (x, y) = if self.state.wide {
            more[i]
        } else if i < HULL_INLINE {
            (self.points.xs[i], u64::from(self.points.ys[i]))
        } else {
            more[i - HULL_INLINE]
        };
        (i64::from(x), y)
    }

    #[inline(never)]
    fn push_spilled(&mut self, more: &mut Vec<(u32, u64)>, x: u32, y: u64, keep_left: bool) {
        if !self.state.wide && u32::try_from(y).is_err() {
            let inline = usize::from(self.state.inline);
            let mut all: Vec<(u32, u64)> = (0..inline)
                .map(|i| (self.points.xs[i], u64::from(self.points.ys[i])))
                .collect();
            all.append(more);
            *more = all;
            self.state.inline = 0;
            self.state.wide = true;
        }
        let p = (i64::from(x), y);
        loop {
            let n = self.len(more);
            if n < 2 {
                break;
            }
            let t = turn(self.get(more, n - 2), self.get(more, n - 1), p);
            if (keep_left && t > 0) || (!keep_left && t < 0) {
                break;
            }
            if self.state.wide || n > HULL_INLINE {
                more.pop();
            } else {
                self.state.inline -= 1;
            }
        }
        let n = self.len(more);
        if !self.state.wide && n < HULL_INLINE {
            // Not wide: every y so far, this one included, fits 32 bits.
            self.points.xs[n] = x;
            self.points.ys[n] = y as u32;
            self.state.inline += 1;
        } else {
            more.push((x, y));
        }
        self.state.spilled = !self.state.wide && !more.is_empty();
    }

    /// The largest (or smallest) `y - per_ns x` over the points.
    fn extreme(&self, more: &[(u32, u64)], per_ns: f64, largest: bool) -> f64 {
        let values = (0..self.len(more)).map(|i| {
            let (x, y) = self.get(more, i);
            y as f64 - per_ns * x as f64
        });
        if largest {
            values.fold(f64::MIN, f64::max)
        } else {
            values.fold(f64::MAX, f64::min)
        }
    }
}

/// What a flow's MDI keeps across intervals (touched once per interval, so kept apart from
/// the per-packet state).
#[derive(Clone, Debug)]
pub struct MdiSummary {
    interval_ns: i64,
    /// The monitor group's media rate, bit/s.
    group_rate_bps: Option<u64>,
    first_ns: i64,
    /// Delay Factor per interval, ms.
    pub df_ms: Series,
    /// Media Loss Rate per interval.
    pub mlr: Series,
    /// Rates used, bit/s.
    pub rate_bps: Series,
    /// Source of the latest interval's rate.
    pub rate_source: RateSource,
    /// Media packets lost or out of order over the flow.
    pub lost_total: u64,
    /// The latest closed interval.
    pub last_interval: Option<MdiInterval>,
    /// Largest DF and MLR of the intervals closed since [`MdiMeter::take_window`] (live
    /// records; DF None when none had a rate).
    window_df_ms: Option<f64>,
    window_mlr: Option<f64>,
    /// Hull points past the inline ones.
    upper_more: Vec<(u32, u64)>,
    lower_more: Vec<(u32, u64)>,
    /// First and latest PCR marks of the interval (TS flows).
    pcr_first: Option<PcrMark>,
    pcr_last: Option<PcrMark>,
    /// The mean media rate of the flow's latest full interval, bit/s: the measured rate of
    /// the intervals after it (definitions.md, MDI), so an interval the flow leaves early is
    /// judged with the rate the flow had.
    full_rate_bps: Option<f64>,
    /// The mean rate of the latest closed interval and its end, when the flow sent before
    /// it: it is a full interval, and its rate becomes `full_rate_bps`, if the flow's next
    /// packet falls in the interval right after it. Decided by the next packet, not at the
    /// close, so a live tick (which cannot know whether the flow goes on) and the end of a
    /// file give the same figures.
    candidate_full: Option<(f64, i64)>,
}

/// Per-flow MDI state: what every packet reads and writes (176 bytes, under three cache
/// lines), and the summary kept apart.
#[derive(Clone, Debug)]
pub struct MdiMeter {
    /// End of the interval in progress; [`NOT_STARTED`] before the first packet.
    end_ns: i64,
    interval_ns: u32,
    last_x: u32,
    lost: u32,
    bytes: u64,
    /// Upper hull of (T - T_start, B + S).
    upper: HullPoints,
    upper_state: HullState,
    /// Lower hull of (T - T_start, B).
    lower: HullPoints,
    lower_state: HullState,
    summary: Box<MdiSummary>,
}

/// The sign of [`turn`] for inline points, in 64-bit integers: points come in with x and y
/// never decreasing (time, and bytes received so far), so both terms of the cross product
/// are products of two 32-bit non-negative differences, exact in u64, and comparing them
/// gives the sign, without the i128 product (docs/performance.md, "Choices in the code").
#[inline(always)]
fn turn_inline(a: (u32, u32), b: (u32, u32), c: (u32, u32)) -> std::cmp::Ordering {
    let d = |p: (u32, u32)| (u64::from(p.0 - a.0), u64::from(p.1 - a.1));
    let ((bx, by), (cx, cy)) = (d(b), d(c));
    (bx * cy).cmp(&(by * cx))
}

/// Cross product of (b - a) and (c - a): positive when a, b, c turn left.
fn turn(a: (i64, u64), b: (i64, u64), c: (i64, u64)) -> i128 {
    let (ax, ay) = (i128::from(a.0), i128::from(a.1));
    (i128::from(b.0) - ax) * (i128::from(c.1) - ay)
        - (i128::from(b.1) - ay) * (i128::from(c.0) - ax)
}

/// `end_ns` of a meter with no interval in progress.
const NOT_STARTED: i64 = i64::MIN;

/// Longest interval: offsets within one are kept in 32 bits of ns.
pub const MAX_INTERVAL_NS: i64 = u32::MAX as i64;

impl MdiMeter {
    /// A meter with intervals of `interval_ns` (at most [`MAX_INTERVAL_NS`]) and, when the
    /// flow's group sets one, a fixed media rate.
    pub fn new(interval_ns: i64, group_rate_bps: Option<u64>) -> Self {
        let interval_ns = interval_ns.clamp(1, MAX_INTERVAL_NS);
        MdiMeter {
            end_ns: NOT_STARTED,
            interval_ns: interval_ns as u32,
            last_x: 0,
            lost: 0,
            bytes: 0,
            upper: HullPoints::default(),
            upper_state: HullState::default(),
            lower: HullPoints::default(),
            lower_state: HullState::default(),
            summary: Box::new(MdiSummary {
                interval_ns,
                group_rate_bps,
                first_ns: 0,
                df_ms: Series::default(),
                mlr: Series::default(),
                rate_bps: Series::default(),
                rate_source: RateSource::default(),
                lost_total: 0,
                last_interval: None,
                window_df_ms: None,
                window_mlr: None,
                upper_more: Vec::new(),
                lower_more: Vec::new(),
                pcr_first: None,
                pcr_last: None,
                full_rate_bps: None,
                candidate_full: None,
            }),
        }
    }

    /// Heap bytes held (the summary and its spilled hull points).
    pub fn heap_bytes(&self) -> usize {
        let s = &self.summary;
        std::mem::size_of::<MdiSummary>()
            + (s.upper_more.capacity() + s.lower_more.capacity()) * 12
            + 3 * crate::ALLOCATION
    }

    /// Start of the interval in progress.
    fn start_ns(&self) -> i64 {
        self.end_ns - i64::from(self.interval_ns)
    }

    /// The figures over the intervals closed so far.
    /// Changes the group's media rate (a config reload): intervals closed from now on drain
    /// at it; those closed keep the rate they were judged with.
    pub fn set_group_rate(&mut self, group_rate_bps: Option<u64>) {
        self.summary.group_rate_bps = group_rate_bps;
    }

    /// The flow's summary.
    pub fn summary(&self) -> &MdiSummary {
        &self.summary
    }

    /// Accounts one packet carrying `media_bytes` of media at `at`; `lost` media packets were
    /// found missing or out of order on its arrival; `pcr` is the TS stream's latest PCR mark.
    ///
    /// Inlining is left to the compiler: forced, it cost instructions once the stream's
    /// update was itself inlined (docs/performance.md, "Choices in the code").
    pub fn on_packet(&mut self, at: i64, media_bytes: u32, lost: u64, pcr: Option<PcrMark>) {
        if at >= self.end_ns {
            if self.end_ns != NOT_STARTED {
                self.close();
            }
            let interval_ns = i64::from(self.interval_ns);
            let start_ns = at.div_euclid(interval_ns) * interval_ns;
            self.end_ns = start_ns + interval_ns;
            let summary = &mut *self.summary;
            if let Some((rate, end)) = summary.candidate_full.take() {
                if end == start_ns {
                    summary.full_rate_bps = Some(rate);
                }
            }
            summary.first_ns = at;
            summary.pcr_first = None;
            summary.upper_more.clear();
            summary.lower_more.clear();
            self.last_x = 0;
            self.bytes = 0;
            self.lost = 0;
            self.upper_state = HullState::default();
            self.lower_state = HullState::default();
        }
        // Capture timestamps may step back a little; the buffer's clock does not.
        let x = ((at - self.start_ns()).max(0) as u32).max(self.last_x);
        self.last_x = x;
        // The cold vectors are only read when a hull outgrows its inline points.
        let summary = &mut self.summary;
        Hull {
            points: &mut self.lower,
            state: &mut self.lower_state,
        }
        .push(|| &mut summary.lower_more, x, self.bytes, true);
        self.bytes += u64::from(media_bytes);
        Hull {
            points: &mut self.upper,
            state: &mut self.upper_state,
        }
        .push(|| &mut summary.upper_more, x, self.bytes, false);
        self.count_lost(lost);
        if let Some(mark) = pcr {
            let summary = &mut *self.summary;
            if summary
                .pcr_first
                .is_none_or(|first| first.epoch != mark.epoch)
            {
                summary.pcr_first = Some(mark);
            }
            summary.pcr_last = Some(mark);
        }
    }

    /// Counts `lost` media packets found missing without a packet arriving (TS datagrams held
    /// for a gap and released at a tick or at the end): in the interval in progress, if any,
    /// and in the flow's total.
    pub fn add_lost(&mut self, lost: u64) {
        if self.end_ns == NOT_STARTED {
            self.summary.lost_total += lost;
        } else {
            self.count_lost(lost);
        }
    }

    /// Counts `lost` in the interval in progress and the flow's total. The summary is cold:
    /// it is touched only when something was lost.
    #[inline(always)]
    fn count_lost(&mut self, lost: u64) {
        if lost > 0 {
            self.lost = self
                .lost
                .saturating_add(u32::try_from(lost).unwrap_or(u32::MAX));
            self.summary.lost_total += lost;
        }
    }

    /// Closes the interval in progress (the flow ended).
    pub fn finish(&mut self) {
        if self.end_ns != NOT_STARTED {
            self.close();
            self.end_ns = NOT_STARTED;
        }
    }

    /// Closes the interval in progress if it ends at or before `now_ns` (a live probe's
    /// interval tick: a flow that went quiet still gets its last second judged). No packet
    /// came after the interval's end, so it is judged as one the flow ended in, as `analyze`
    /// judges a flow's last interval: a live tick and the end of a file give the same DF.
    pub fn close_ended(&mut self, now_ns: i64) {
        if self.end_ns != NOT_STARTED && self.end_ns <= now_ns {
            self.close();
            self.end_ns = NOT_STARTED;
        }
    }

    /// The largest DF (ms) and MLR of the intervals closed since the last call.
    pub fn take_window(&mut self) -> (Option<f64>, Option<f64>) {
        let summary = &mut *self.summary;
        (summary.window_df_ms.take(), summary.window_mlr.take())
    }

    fn close(&mut self) {
        let (start_ns, end_ns) = (self.start_ns(), self.end_ns);
        let summary = &mut *self.summary;
        // The flow's first interval starts at its first packet.
        let first = summary.mlr.count == 0;
        let from = if first { summary.first_ns } else { start_ns };
        // Without a full interval before (the flow's first intervals): the mean over the
        // time the flow covered in this one, up to its last packet in it (whether the flow
        // goes on is not known yet).
        let own_rate = || {
            let span = start_ns + i64::from(self.last_x) - from;
            (span > 0 && self.bytes > 0).then(|| self.bytes as f64 * 8e9 / span as f64)
        };
        let measured = || {
            summary
                .full_rate_bps
                .or_else(own_rate)
                .map(|bps| (bps, RateSource::Measured))
        };
        let pcr = match (summary.pcr_first, summary.pcr_last) {
            (Some(a), Some(b)) => b.rate_bps_since(&a).map(|r| (r, RateSource::Pcr)),
            _ => None,
        };
        let rate = match summary.group_rate_bps {
            Some(r) => Some((r as f64, RateSource::Group)),
            None => pcr.or_else(measured),
        };
        let df_ms = rate.map(|(bps, _)| {
            let per_ns = bps / 8e9;
            let high = Hull {
                points: &mut self.upper,
                state: &mut self.upper_state,
            }
            .extreme(&summary.upper_more, per_ns, true);
            let low = Hull {
                points: &mut self.lower,
                state: &mut self.lower_state,
            }
            .extreme(&summary.lower_more, per_ns, false);
            (high - low) / per_ns / 1e6
        });
        let mlr = f64::from(self.lost) * 1e9 / summary.interval_ns as f64;
        if let Some((bps, source)) = rate {
            summary.rate_bps.add(bps);
            summary.rate_source = source;
        }
        if let Some(df) = df_ms {
            summary.df_ms.add(df);
            summary.window_df_ms = Some(summary.window_df_ms.map_or(df, |w| w.max(df)));
        }
        summary.mlr.add(mlr);
        summary.window_mlr = Some(summary.window_mlr.map_or(mlr, |w| w.max(mlr)));
        summary.last_interval = Some(MdiInterval {
            start_ns,
            rate_bps: rate.map(|r| r.0),
            rate_source: rate.map_or(RateSource::Measured, |r| r.1),
            df_ms,
            lost: u64::from(self.lost),
            mlr,
        });
        summary.candidate_full = (!first).then(|| {
            let rate = self.bytes as f64 * 8e9 / summary.interval_ns as f64;
            (rate, end_ns)
        });
    }
}

#[cfg(test)]
mod tests;

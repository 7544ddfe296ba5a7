use super::*;
use testbed::rng::SplitMix64;

const MS: i64 = 1_000_000;
const BASE: i64 = 1_700_000_000 * 1_000_000_000;

/// The virtual buffer of RFC 4445 computed by hand, sample by sample.
fn hand_df_ms(packets: &[(i64, u32)], start: i64, rate_bps: f64) -> f64 {
    let mut received = 0.0;
    let (mut high, mut low) = (f64::MIN, f64::MAX);
    for &(t, s) in packets {
        let pre = received - rate_bps / 8.0 * (t - start) as f64 / 1e9;
        let post = pre + f64::from(s);
        high = high.max(pre).max(post);
        low = low.min(pre).min(post);
        received += f64::from(s);
    }
    (high - low) / (rate_bps / 8.0) * 1e3
}

#[test]
fn paced_stream_has_one_packet_time_of_delay_factor() {
    // 1316-byte payloads at 4 Mbit/s: one every 2.632 ms; DF = 1316 x 8 / 4e6 = 2.632 ms.
    let mut m = MdiMeter::new(1_000 * MS, Some(4_000_000));
    let gap = 1316 * 8 * 1_000_000_000 / 4_000_000;
    let mut t = BASE;
    while t < BASE + 3_000 * MS {
        m.on_packet(t, 1316, 0, None);
        t += gap;
    }
    m.finish();
    assert_eq!(m.summary().df_ms.count, 3);
    assert!(
        (m.summary().df_ms.max - 2.632).abs() < 1e-3,
        "{:?}",
        m.summary().df_ms
    );
    assert!(
        (m.summary().df_ms.min - 2.632).abs() < 1e-3,
        "{:?}",
        m.summary().df_ms
    );
    assert_eq!(m.summary().rate_source, RateSource::Group);
}

#[test]
fn hulls_give_the_hand_computed_buffer_for_any_rate() {
    // A bursty, jittered stream: the hull result equals the sample-by-sample buffer for
    // the group's rate and for the measured mean.
    let mut rng = SplitMix64::new(0x2545_f491_4f6c_dd1d);
    let mut next = || rng.next_u64();
    let mut sizes = Vec::new();
    let mut t = BASE + 250 * MS;
    while t < BASE + 1_000 * MS {
        sizes.push((t, 200 + (next() % 1200) as u32));
        t += (next() % 3_000_000) as i64 + if next() % 50 == 0 { 40 * MS } else { 0 };
    }
    // Speeding up then slowing down: the arrival curve is convex then concave, so the
    // lower hull keeps the first half's points and the upper the second's, more than fit
    // inline. Then the same with sizes a million times larger: more than 4 GB in the
    // interval, so the hulls go wide (every point in full on the heap).
    let mut s_curve = Vec::new();
    let mut t = BASE + 100 * MS;
    for k in 0..80i64 {
        s_curve.push((t, 1_000u32));
        t += if k < 40 {
            (41 - k) * MS / 2
        } else {
            (k - 38) * MS / 2
        };
    }
    let huge: Vec<(i64, u32)> = s_curve.iter().map(|&(t, s)| (t, s * 1_000_000)).collect();
    for (packets, spills, wide) in [
        (&sizes, false, false),
        (&s_curve, true, false),
        (&huge, true, true),
    ] {
        for rate in [Some(3_000_000u64), None] {
            let mut m = MdiMeter::new(1_000 * MS, rate);
            for &(t, s) in packets {
                m.on_packet(t, s, 0, None);
            }
            // Both hulls hold more points than fit inline (or all of them on the heap).
            assert_eq!((m.upper_state.wide, m.lower_state.wide), (wide, wide));
            if spills {
                let (upper, lower) = (
                    usize::from(m.upper_state.inline) + m.summary.upper_more.len(),
                    usize::from(m.lower_state.inline) + m.summary.lower_more.len(),
                );
                assert!(
                    upper > HULL_INLINE && lower > HULL_INLINE,
                    "{upper} {lower}"
                );
            }
            m.finish();
            let last = m.summary().last_interval.unwrap();
            let bps = last.rate_bps.unwrap();
            if rate.is_none() {
                // The flow covered first packet to last packet of its only interval.
                let bytes: u64 = packets.iter().map(|p| u64::from(p.1)).sum();
                let span = packets.last().unwrap().0 - packets[0].0;
                let expected = bytes as f64 * 8e9 / span as f64;
                assert!((bps - expected).abs() < 1e-9 * expected);
                assert_eq!(last.rate_source, RateSource::Measured);
            }
            let hand = hand_df_ms(packets, BASE, bps);
            assert!(
                (last.df_ms.unwrap() - hand).abs() < 1e-9 * hand.max(1.0),
                "{rate:?}, wide {wide}: {} vs {hand}",
                last.df_ms.unwrap()
            );
        }
    }
}

proptest::proptest! {
    /// Any arrivals in one interval (bursts, pauses, sizes up to past 4 GB so that hulls
    /// spill, shrink back inline and go wide) give the hand-computed DF, for a group's
    /// rate and for the measured one.
    #[test]
    fn delay_factor_matches_the_virtual_buffer_by_hand(
        steps in proptest::collection::vec((0i64..40_000_000, 1u32..3_000, 0u8..40), 2..300),
        rate in proptest::option::of(100_000u64..50_000_000),
    ) {
        let mut packets = Vec::new();
        let mut t = BASE + 1;
        for &(gap, size, kind) in &steps {
            t += gap / (1 + i64::from(kind % 4) * 1000);
            let size = if kind == 0 { size * 1_000_000 } else { size };
            packets.push((t.min(BASE + 999 * MS), size));
        }
        let mut m = MdiMeter::new(1_000 * MS, rate);
        for &(t, s) in &packets {
            m.on_packet(t, s, 0, None);
        }
        m.finish();
        let last = m.summary().last_interval.unwrap();
        if let (Some(bps), Some(df)) = (last.rate_bps, last.df_ms) {
            let hand = hand_df_ms(&packets, BASE, bps);
            proptest::prop_assert!((df - hand).abs() <= 1e-6 * hand.max(1.0), "{} vs {}", df, hand);
        }
    }
}

/// definitions.md: a paced 1 Mbit/s flow that stops half way through its third second is
/// judged there with the rate of its second (full) second, so its DF stays one packet
/// time (8 ms) whether a live tick or the end of the file closes it. Before, the tick
/// judged the half-empty second with half the rate (DF 512 ms), the end of the file with
/// that half second's own mean (DF 11.9 ms).
#[test]
fn an_interval_left_early_is_judged_with_the_previous_full_intervals_rate() {
    let gap = 1_000 * 8 * 1_000_000_000 / 1_000_000; // 1000 bytes at 1 Mbit/s: 8 ms
    let packets: Vec<i64> = (0..)
        .map(|k| BASE + 500 * MS + k * gap)
        .take_while(|&t| t < BASE + 2_500 * MS)
        .collect();
    let last_df = |close_at_tick: bool| {
        let mut m = MdiMeter::new(1_000 * MS, None);
        for &t in &packets {
            m.on_packet(t, 1_000, 0, None);
        }
        if close_at_tick {
            m.close_ended(BASE + 3_000 * MS);
        } else {
            m.finish();
        }
        let last = m.summary().last_interval.unwrap();
        (
            last.rate_bps.unwrap(),
            last.df_ms.unwrap(),
            m.summary().df_ms.count,
        )
    };
    for close_at_tick in [true, false] {
        let (rate, df, intervals) = last_df(close_at_tick);
        assert_eq!(intervals, 3);
        assert!((rate - 1e6).abs() < 1.0, "{rate}");
        assert!((df - 8.0).abs() < 1e-6, "{close_at_tick}: {df}");
    }
}

#[test]
fn intervals_align_on_seconds_and_loss_is_per_second() {
    let mut m = MdiMeter::new(1_000 * MS, Some(1_000_000));
    m.on_packet(BASE + 900 * MS, 1000, 0, None);
    m.on_packet(BASE + 1_100 * MS, 1000, 3, None);
    m.on_packet(BASE + 1_200 * MS, 1000, 0, None);
    // Silence for two seconds: no interval for them.
    m.on_packet(BASE + 4_500 * MS, 1000, 1, None);
    m.finish();
    assert_eq!(
        (
            m.summary().mlr.count,
            m.summary().mlr.max,
            m.summary().mlr.last,
            m.summary().lost_total
        ),
        (3, 3.0, 1.0, 4)
    );
    assert_eq!(
        m.summary().last_interval.unwrap().start_ns,
        BASE + 4_000 * MS
    );
}

#[test]
fn closing_at_ticks_gives_the_same_intervals() {
    let mut rng = SplitMix64::new(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next_u64();
    let mut packets = Vec::new();
    let mut t = BASE + 300 * MS;
    while t < BASE + 5_500 * MS {
        packets.push((t, 200 + (next() % 1200) as u32));
        t += (next() % 20_000_000) as i64;
    }
    for rate in [Some(2_000_000u64), None] {
        let mut offline = MdiMeter::new(1_000 * MS, rate);
        let mut live = MdiMeter::new(1_000 * MS, rate);
        let mut tick = BASE + 1_000 * MS;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &(t, s) in &packets {
            offline.on_packet(t, s, 0, None);
            if offline.summary().df_ms.count as usize > a.len() {
                a.push(offline.summary().last_interval.unwrap().df_ms);
            }
            while t >= tick {
                live.close_ended(tick);
                if let (Some(_), _) = live.take_window() {
                    b.push(live.summary().last_interval.unwrap().df_ms);
                }
                tick += 1_000 * MS;
            }
            live.on_packet(t, s, 0, None);
        }
        assert_eq!(a.len(), 5);
        assert_eq!(a, b[..5].to_vec(), "{rate:?}");
    }
}

//! The taps and the sender together, on loopback: two workers' rings merged in arrival order,
//! only the tapped flow sent, and nothing after a mirror is removed.

use std::net::UdpSocket;
use std::time::Duration;
use tap::{Origin, Sender, TapSet};
use testbed::pcap_writer::udp_frame;
use wire::{Frame, LinkType};

fn frame(arrival_ns: i64, data: &[u8]) -> Frame<'_> {
    Frame {
        arrival_ns,
        link: LinkType::Ethernet,
        data,
        wire_len: data.len() as u32,
        vlan: None,
    }
}

#[test]
fn two_workers_datagrams_leave_in_arrival_order_and_stop_when_removed() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let to = receiver.local_addr().unwrap().to_string();
    let set = TapSet::new(2, 1 << 18);
    let made = set
        .add("239.1.1.1:5000", &to, None, Origin::Api, 0)
        .unwrap();
    assert_eq!(made.state, "waiting");
    let mut w0 = set.worker(0);
    let mut w1 = set.worker(1);
    // Datagram i from source 4000 + i % 2 (so worker i % 2), 1 ms apart; another flow between.
    let t0 = 1_700_000_000_000_000_000i64;
    let tapped: Vec<Vec<u8>> = (0..40u32)
        .map(|i| {
            udp_frame(
                [10, 0, 0, 1],
                4000 + (i % 2) as u16,
                [239, 1, 1, 1],
                5000,
                &i.to_be_bytes(),
            )
        })
        .collect();
    let other = udp_frame([10, 0, 0, 1], 4000, [239, 1, 1, 2], 5000, b"not this one");
    let even: Vec<Frame<'_>> = (0..40)
        .step_by(2)
        .flat_map(|i| {
            [
                frame(t0 + i * 1_000_000, &tapped[i as usize]),
                frame(t0, &other),
            ]
        })
        .collect();
    let odd: Vec<Frame<'_>> = (1..40)
        .step_by(2)
        .map(|i| frame(t0 + i * 1_000_000, &tapped[i as usize]))
        .collect();
    // Both workers copy before the sender looks: it must interleave them by arrival time.
    w0.on_frames(&even);
    w1.on_frames(&odd);
    let sender = Sender::start(std::sync::Arc::clone(&set)).unwrap();
    let mut buf = [0u8; 64];
    for i in 0..40u32 {
        let n = receiver.recv(&mut buf).expect("a datagram");
        assert_eq!(&buf[..n], &i.to_be_bytes(), "datagram {i}");
    }
    assert!(receiver.recv(&mut buf).is_err(), "only the tapped flow");
    let info = set.get(made.id).unwrap();
    assert_eq!(
        (info.matched, info.packets_sent, info.bytes_sent),
        (40, 40, 160)
    );
    assert_eq!(info.state, "mirroring");
    // Removed: what the workers copy from now on is not sent.
    let ended = set.remove(made.id).unwrap();
    assert_eq!(ended.state, "ended");
    assert_eq!(
        (ended.matched, ended.packets_sent, ended.discarded),
        (40, 40, 0)
    );
    assert!(set.remove(made.id).is_none());
    w0.on_frames(&even);
    assert!(receiver.recv(&mut buf).is_err(), "sent after removal");
    sender.finish();
}

#[test]
fn a_tap_fed_faster_than_it_sends_neither_starves_another_nor_holds_up_its_removal() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    // Tap A is fed by worker 0 as fast as it can copy (much faster than one sendto each), so
    // its ring is never empty; tap B gets one datagram from worker 1.
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let viewer = UdpSocket::bind("127.0.0.1:0").unwrap();
    viewer
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let set = TapSet::new(2, 16 << 20);
    let a = set
        .add(
            "239.1.1.1:5000",
            &sink.local_addr().unwrap().to_string(),
            Some(100_000_000_000),
            Origin::Api,
            0,
        )
        .unwrap();
    set.add(
        "239.1.1.2:5000",
        &viewer.local_addr().unwrap().to_string(),
        None,
        Origin::Api,
        0,
    )
    .unwrap();
    let feeding = Arc::new(AtomicBool::new(true));
    let feeder = {
        let feeding = Arc::clone(&feeding);
        let mut w0 = set.worker(0);
        std::thread::spawn(move || {
            let data = udp_frame([10, 0, 0, 1], 4000, [239, 1, 1, 1], 5000, &[0x47; 100]);
            let batch: Vec<Frame<'_>> = (0..64).map(|i| frame(i, &data)).collect();
            while feeding.load(Ordering::Relaxed) {
                w0.on_frames(&batch);
            }
        })
    };
    let sender = Sender::start(Arc::clone(&set)).unwrap();
    // Let the sender get into A's ring.
    std::thread::sleep(Duration::from_millis(300));
    let mut w1 = set.worker(1);
    let b = udp_frame([10, 0, 0, 1], 4000, [239, 1, 1, 2], 5000, b"tap B");
    w1.on_frames(&[frame(1, &b)]);
    let mut buf = [0u8; 64];
    let b_arrived = viewer.recv(&mut buf).map(|n| buf[..n].to_vec());
    let (done, removed) = mpsc::channel();
    {
        let set = Arc::clone(&set);
        std::thread::spawn(move || {
            let _ = done.send(set.remove(a.id));
        });
    }
    let removal = removed.recv_timeout(Duration::from_secs(3));
    // Stop the feeder before asserting, so a failure does not leave the sender stuck.
    feeding.store(false, Ordering::Relaxed);
    feeder.join().unwrap();
    assert_eq!(
        b_arrived.expect("tap B's datagram within 3 s while tap A is busy"),
        b"tap B"
    );
    let gone = removal.expect("DELETE of the busy tap A returned within 3 s");
    assert!(gone.is_some_and(|g| g.packets_sent > 0));
    sender.finish();
}

#[test]
fn a_removed_tap_counts_what_its_rings_held_discarded() {
    let set = TapSet::new(2, 1 << 18);
    let made = set
        .add("239.1.1.1:5000", "127.0.0.1:9", None, Origin::Api, 0)
        .unwrap();
    let data = udp_frame([10, 0, 0, 1], 4000, [239, 1, 1, 1], 5000, b"in the ring");
    let mut w0 = set.worker(0);
    let mut w1 = set.worker(1);
    // No sender: everything copied stays in the rings.
    w0.on_frames(&(0..5).map(|i| frame(i, &data)).collect::<Vec<_>>());
    w1.on_frames(&(0..3).map(|i| frame(i, &data)).collect::<Vec<_>>());
    assert_eq!(set.get(made.id).unwrap().discarded, 0, "running: none yet");
    let ended = set.remove(made.id).unwrap();
    assert_eq!(ended.state, "ended");
    assert_eq!(
        (ended.matched, ended.packets_sent, ended.discarded),
        (8, 0, 8)
    );
    assert_eq!(
        ended.matched,
        ended.packets_sent
            + ended.dropped_ring
            + ended.dropped_rate
            + ended.cut
            + ended.send_errors
            + ended.discarded
    );
}

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
    assert!(set.remove(made.id).is_some());
    assert!(set.remove(made.id).is_none());
    w0.on_frames(&even);
    assert!(receiver.recv(&mut buf).is_err(), "sent after removal");
    sender.finish();
}

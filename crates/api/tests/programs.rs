//! `GET /api/v1/flows/{id}`: a TS flow's programs, as its records last carried them (only
//! the interval they changed in carries them), over real HTTP; null for an RTP flow, and
//! never in the flow list.

mod common;

use analysis::frames::PayloadFormat;
use analysis::interval::Record;
use analysis::kind::FlowKind;
use analysis::report::{EsReport, ProgramReport};
use common::{batch, flow, get, name, serve, S, T0};
use outputs::LiveView;

/// Flow `i` made an MPEG-TS over UDP flow, carrying `programs`.
fn ts_flow(i: u16, end: i64, programs: Option<Box<[ProgramReport]>>) -> Record {
    let mut r = flow(i, end, false, 90, "cams", None);
    if let Record::Flow(f) = &mut r {
        f.name.ssrc = None;
        f.name.kind = FlowKind::UdpTs;
        f.payload = PayloadFormat::Mp2t;
        f.programs = programs;
    }
    r
}

fn percent(id: &str) -> String {
    id.replace('>', "%3E").replace('/', "%2F")
}

#[test]
fn the_flow_document_has_the_programs_last_seen() {
    let programs: Box<[ProgramReport]> = Box::new([ProgramReport {
        number: 1,
        pmt_pid: 4096,
        pcr_pid: Some(256),
        service_name: Some("Service01".into()),
        provider: Some("FFmpeg".into()),
        streams: vec![
            EsReport {
                pid: 256,
                stream_type: 0x1b,
                codec: "h264",
            },
            EsReport {
                pid: 257,
                stream_type: 0x0f,
                codec: "aac",
            },
        ],
    }]);
    let view = LiveView::new(vec![]);
    for k in 0..3i64 {
        let end = (T0 + k) * S;
        let carried = (k == 0).then(|| programs.clone());
        let records = vec![
            ts_flow(1, end, carried),
            flow(2, end, false, 90, "cams", None),
        ];
        view.write().apply(&batch(end, records, vec![]));
    }
    let server = serve(view);
    let mut ts = name(1);
    ts.ssrc = None;
    let (status, doc) = get(&server, &format!("/api/v1/flows/{}", percent(&ts.id())));
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["kind"], "udp-ts");
    assert_eq!(
        doc["programs"],
        serde_json::json!([{
            "number": 1, "pmt_pid": 4096, "pcr_pid": 256,
            "service_name": "Service01", "provider": "FFmpeg",
            "streams": [
                {"pid": 256, "stream_type": 27, "codec": "h264"},
                {"pid": 257, "stream_type": 15, "codec": "aac"}
            ]
        }])
    );
    let (status, doc) = get(
        &server,
        &format!("/api/v1/flows/{}", percent(&name(2).id())),
    );
    assert_eq!(status, 200, "{doc}");
    assert!(doc["programs"].is_null(), "{doc}");
    assert!(doc.as_object().unwrap().contains_key("programs"), "{doc}");
    let (_, list) = get(&server, "/api/v1/flows");
    for f in list["flows"].as_array().unwrap() {
        assert!(f.get("programs").is_none(), "{f}");
    }
}

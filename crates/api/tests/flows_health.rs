//! `GET /api/v1/flows?health=`: the flows of one health or a comma list of them, over real
//! HTTP, from a live view fed four flows whose health is known: green, amber (an SLA limit
//! broken in the last interval), grey (silent) and red (an active alarm).

mod common;

use analysis::alarm::AlarmState;
use analysis::event::FlowEvent;
use api::Server;
use common::{alarm, batch, event, flow, get, name, serve, S, T0};
use outputs::LiveView;

/// Four flows over 5 intervals: 0 green, 1 amber in the last, 2 silent, 3 with an alarm.
fn fed() -> Server {
    let view = LiveView::new(vec![]);
    for k in 0..5i64 {
        let end = (T0 + k) * S;
        let mut records: Vec<_> = (0..4u16)
            .map(|i| {
                let packets = if i == 2 && k >= 3 { 0 } else { 90 };
                flow(i, end, i == 1 && k == 4, packets, "cams", None)
            })
            .collect();
        if k == 3 {
            records.push(event(2, end, FlowEvent::Silent));
        }
        let alarms = if k == 2 {
            vec![alarm(3, end, AlarmState::Raised)]
        } else {
            vec![]
        };
        view.write().apply(&batch(end, records, alarms));
    }
    serve(view)
}

/// The flows (by their index) and healths of a list.
fn listed(server: &Server, query: &str) -> (u64, Vec<(String, String)>) {
    let (status, doc) = get(server, &format!("/api/v1/flows{query}"));
    assert_eq!(status, 200, "{query}: {doc}");
    let flows = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["flow"].as_str().unwrap().to_string(),
                f["health"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (doc["total"].as_u64().unwrap(), flows)
}

#[test]
fn health_filters_the_flow_list_by_one_colour_or_a_list() {
    let s = fed();
    let id = |i: u16| name(i).id();
    let (total, all) = listed(&s, "");
    assert_eq!(total, 4);
    assert_eq!(
        all,
        [
            (id(0), "green".to_string()),
            (id(1), "amber".to_string()),
            (id(2), "grey".to_string()),
            (id(3), "red".to_string()),
        ]
    );
    for (i, h) in ["green", "amber", "grey", "red"].into_iter().enumerate() {
        let (total, got) = listed(&s, &format!("?health={h}"));
        assert_eq!(total, 1, "health={h}");
        assert_eq!(got, [(id(i as u16), h.to_string())]);
    }
    let (total, got) = listed(&s, "?health=amber,red&sort=-flow");
    assert_eq!(total, 2);
    assert_eq!(
        got,
        [(id(3), "red".to_string()), (id(1), "amber".to_string())]
    );
    // With the other filters: the silent one is the only grey; none green is silent.
    assert_eq!(listed(&s, "?health=grey&state=silent").0, 1);
    assert_eq!(listed(&s, "?health=green&state=silent").0, 0);
    assert_eq!(listed(&s, "?health=green,%20red&limit=1").0, 2);
}

#[test]
fn an_unknown_health_is_a_bad_request_naming_it() {
    let s = fed();
    for q in ["purple", "red,", "", "RED"] {
        let (status, doc) = get(&s, &format!("/api/v1/flows?health={q}"));
        assert_eq!(status, 400, "health={q}: {doc}");
        let error = doc["error"].as_str().unwrap();
        assert!(error.contains(&format!("health={q}")), "{error}");
    }
}

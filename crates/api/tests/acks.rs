//! `POST /api/v1/alarms/{id}/ack` over real HTTP: a second acknowledgement of an alarm whose
//! first one waits on the desk is refused (409, "queued"), not accepted then dropped; the
//! acknowledgements the engine refused later are counted in `/api/v1/health`.

mod common;

use analysis::alarm::AlarmState;
use api::Server;
use common::{alarm, batch, call, serve_with_desk, S, T0};
use outputs::{AlarmDesk, LiveView};
use std::sync::Arc;

/// The API over a view with one active alarm, id 1, its acknowledgements queued on `desk`.
fn served(desk: Arc<AlarmDesk>) -> Server {
    let view = LiveView::new(vec![]);
    let end = T0 * S;
    view.write()
        .apply(&batch(end, vec![], vec![alarm(1, end, AlarmState::Raised)]));
    serve_with_desk(view, desk)
}

#[test]
fn a_second_ack_while_one_is_queued_is_refused_and_refusals_are_counted() {
    let desk = Arc::new(AlarmDesk::default());
    let s = served(Arc::clone(&desk));
    let (status, doc) = call(&s, "POST", "/api/v1/alarms/1/ack", r#"{"by":"ann"}"#);
    assert_eq!(
        (status, doc["status"].as_str()),
        (202, Some("queued")),
        "{doc}"
    );
    let (status, doc) = call(&s, "POST", "/api/v1/alarms/1/ack", r#"{"by":"bob"}"#);
    assert_eq!(status, 409, "{doc}");
    let error = doc.to_string();
    assert!(
        error.contains("alarm 1: an acknowledgement is queued already"),
        "{error}"
    );
    // Only the first waits.
    let waiting = desk.take();
    assert_eq!(
        waiting
            .iter()
            .map(|a| (a.id, a.by.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "ann")]
    );
    let (status, doc) = call(&s, "GET", "/api/v1/health", "");
    assert_eq!((status, doc["alarm_acks_refused"].as_u64()), (200, Some(0)));
    // The engine refused it (cleared meanwhile: the alarm stage counts it on the desk).
    desk.count_refused();
    let (_, doc) = call(&s, "GET", "/api/v1/health", "");
    assert_eq!(doc["alarm_acks_refused"].as_u64(), Some(1));
}

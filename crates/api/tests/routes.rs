//! The API served on a loopback port, asked over real HTTP: every route of `api::ROUTES`
//! answers (none falls through to "no such route"), changing calls need the token, and bad
//! requests get JSON errors with 4xx statuses.

use api::routes::ConfigOutcome;
use api::{AppState, ConfigControl, Server};
use outputs::LiveView;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// Keeps the text posted; refuses text with "bad" in it, as the binary refuses a bad file.
struct Config(Mutex<String>);

impl ConfigControl for Config {
    fn current(&self) -> String {
        self.0.lock().unwrap().clone()
    }
    fn apply(&self, text: &str) -> Result<ConfigOutcome, String> {
        if text.contains("bad") {
            return Err("probe.toml:1:1: bad".into());
        }
        *self.0.lock().unwrap() = text.to_string();
        Ok(ConfigOutcome {
            applied: vec!["group".into()],
            restart_needed: vec![],
        })
    }
}

fn server(read_token: bool) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Server::start(
        listener,
        AppState {
            view: LiveView::new(vec![]),
            history: None,
            alarm_desk: Arc::default(),
            config: Arc::new(Config(Mutex::new("[run]\n".into()))),
            token: TOKEN.into(),
            read_token,
            max_flow_series: 10,
            started_ns: 0,
            mirror: tap::TapSet::new(1, tap::RING_BYTES),
        },
    )
    .unwrap()
}

/// One HTTP/1.1 request; (status, body).
fn request(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(server.local_addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn every_route_answers_and_unknown_ones_are_json_404s() {
    let s = server(false);
    for (method, path) in api::ROUTES {
        let path = path.replace("{id}", "10.0.0.1:5000%3E239.1.1.1:5000%2F0x00000001");
        let (status, body) = request(&s, &method.to_uppercase(), &path, Some(TOKEN), b"");
        assert!(
            !body.contains("no such route"),
            "{method} {path}: {status} {body}"
        );
    }
    let (status, body) = request(&s, "GET", "/api/v2/nothing", None, b"");
    assert_eq!(status, 404);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["schema"], "streamprobe.error/1");
    assert_eq!(doc["status"], 404);
}

#[test]
fn changing_calls_need_the_token_and_reads_do_not_unless_configured() {
    let s = server(false);
    assert_eq!(request(&s, "POST", "/api/v1/clear", None, b"").0, 401);
    assert_eq!(
        request(
            &s,
            "POST",
            "/api/v1/clear",
            Some("wrong-token-wrong-token-wrong-to"),
            b""
        )
        .0,
        401
    );
    let (status, body) = request(&s, "POST", "/api/v1/clear", Some(TOKEN), b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(request(&s, "GET", "/api/v1/flows", None, b"").0, 200);
    let locked = server(true);
    assert_eq!(request(&locked, "GET", "/api/v1/flows", None, b"").0, 401);
    assert_eq!(request(&locked, "GET", "/metrics", None, b"").0, 401);
    assert_eq!(
        request(&locked, "GET", "/api/v1/flows", Some(TOKEN), b"").0,
        200
    );
}

#[test]
fn bad_requests_get_json_errors_naming_what_is_wrong() {
    let s = server(false);
    let cases: [(&str, &str, &[u8], u16, &str); 9] = [
        ("GET", "/api/v1/flows?sort=size", b"", 400, "sort=size"),
        (
            "GET",
            "/api/v1/flows?state=asleep",
            b"",
            400,
            "state=asleep",
        ),
        ("GET", "/api/v1/flows?limit=-1", b"", 400, "limit"),
        ("GET", "/api/v1/flows?colour=red", b"", 400, "colour"),
        ("GET", "/api/v1/flows/nope", b"", 404, "no flow nope"),
        (
            "GET",
            "/api/v1/events?since=yesterday",
            b"",
            400,
            "since=yesterday",
        ),
        ("POST", "/api/v1/clear", b"{\"group\": 3}", 400, "the body"),
        (
            "POST",
            "/api/v1/clear",
            b"{\"group\": \"none-such\"}",
            404,
            "no monitor group none-such",
        ),
        (
            "POST",
            "/api/v1/config",
            b"bad = 1",
            422,
            "probe.toml:1:1: bad",
        ),
    ];
    for (method, path, body, want, names) in cases {
        let (status, text) = request(&s, method, path, Some(TOKEN), body);
        assert_eq!(status, want, "{method} {path}: {text}");
        let doc: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"));
        assert_eq!(doc["status"], want);
        assert!(
            doc["error"].as_str().unwrap().contains(names),
            "{path}: {text}"
        );
    }
    // History needs a store; this server has none.
    let (status, text) = request(&s, "GET", "/api/v1/flows/x/history?since=10m", None, b"");
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("keeps no history"), "{text}");
    let (status, text) = request(
        &s,
        "GET",
        "/api/v1/flows/x/history?from=2026-12-07T03:00:00Z&to=2026-12-07T02:00:00Z",
        None,
        b"",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("must be before"), "{text}");
}

#[test]
fn a_body_over_one_megabyte_is_refused_with_413() {
    let s = server(false);
    let big = vec![b'#'; api::MAX_BODY + 1];
    let (status, text) = request(&s, "POST", "/api/v1/config", Some(TOKEN), &big);
    assert_eq!(status, 413, "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["status"], 413);
    let (status, text) = request(
        &s,
        "POST",
        "/api/v1/config",
        Some(TOKEN),
        b"[run]\nworkers = 2\n",
    );
    assert_eq!(status, 200, "{text}");
    let (_, now) = request(&s, "GET", "/api/v1/config", None, b"");
    assert_eq!(now, "[run]\nworkers = 2\n");
}

#[test]
fn mirrors_are_made_listed_and_ended_with_the_token_and_bad_ones_say_why() {
    let s = server(false);
    let body = br#"{"flow": "239.1.1.1:5000", "to": "127.0.0.1:6000"}"#;
    assert_eq!(request(&s, "POST", "/api/v1/mirror", None, body).0, 401);
    let (status, text) = request(&s, "POST", "/api/v1/mirror", Some(TOKEN), body);
    assert_eq!(status, 201, "{text}");
    let made: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(made["schema"], "streamprobe.mirror/1");
    assert_eq!(made["flow"], "239.1.1.1:5000");
    assert_eq!(made["to"], "127.0.0.1:6000");
    assert_eq!(made["state"], "waiting");
    assert_eq!(made["origin"], "api");
    assert_eq!(made["rate_bps"], serde_json::Value::Null);
    let id = made["id"].as_u64().unwrap();
    let (status, text) = request(&s, "GET", "/api/v1/mirror", None, b"");
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["mirrors"].as_array().unwrap().len(), 1);
    let path = format!("/api/v1/mirror/{id}");
    assert_eq!(request(&s, "DELETE", &path, None, b"").0, 401);
    let (status, text) = request(&s, "DELETE", &path, Some(TOKEN), b"");
    assert_eq!(status, 200, "{text}");
    let ended: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ended["schema"], "streamprobe.mirror/1");
    assert_eq!(ended["id"], id);
    assert_eq!(ended["state"], "ended");
    assert_eq!(
        (&ended["matched"], &ended["discarded"]),
        (&0.into(), &0.into())
    );
    let (status, text) = request(&s, "DELETE", &path, Some(TOKEN), b"");
    assert_eq!(status, 404);
    assert!(text.contains(&format!("no mirror {id}")), "{text}");
    let cases: [(&[u8], &str); 6] = [
        (b"", "the body"),
        (br#"{"flow": "239.1.1.1:5000"}"#, "missing field `to`"),
        (
            br#"{"flow": "239.1.1.1:5000", "to": "127.0.0.1:6000", "speed": 2}"#,
            "unknown field `speed`",
        ),
        (
            br#"{"flow": "nowhere", "to": "127.0.0.1:6000"}"#,
            "flow \"nowhere\"",
        ),
        (
            br#"{"flow": "239.1.1.1:5000", "to": "239.9.9.9:6000"}"#,
            "multicast",
        ),
        (
            br#"{"flow": "239.1.1.1:5000", "to": "127.0.0.1:6000", "rate_bps": 5}"#,
            "rate 5 bit/s",
        ),
    ];
    for (body, names) in cases {
        let (status, text) = request(&s, "POST", "/api/v1/mirror", Some(TOKEN), body);
        assert_eq!(status, 400, "{text}");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(doc["error"].as_str().unwrap().contains(names), "{text}");
    }
}

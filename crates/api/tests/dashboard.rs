//! The dashboard's files over real HTTP: the page at `/`, each file with its content type,
//! its ETag answered by 304, the Content Security Policy on every answer, no token needed
//! even when reads need one (the files hold no data), and a JSON 404 for a file not built in.

use api::routes::ConfigOutcome;
use api::{AppState, ConfigControl, Server};
use outputs::LiveView;
use std::io::{Read, Write};
use std::sync::Arc;

struct NoConfig;

impl ConfigControl for NoConfig {
    fn current(&self) -> String {
        String::new()
    }
    fn apply(&self, _: &str) -> Result<ConfigOutcome, String> {
        Err("no".into())
    }
}

fn server() -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Server::start(
        listener,
        AppState {
            view: LiveView::new(vec![]),
            history: None,
            config: Arc::new(NoConfig),
            token: "0123456789abcdef0123456789abcdef".into(),
            read_token: true,
            max_flow_series: 10,
            started_ns: 0,
            mirror: tap::TapSet::new(1, tap::RING_BYTES),
            alarm_desk: Arc::default(),
        },
    )
    .unwrap()
}

/// (status, lower-cased head, body)
fn get(server: &Server, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(server.local_addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, answer[split + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {head}"))
}

#[test]
fn the_page_and_its_files_are_served_with_types_tags_and_the_policy() {
    let s = server();
    let (status, head, body) = get(&s, "/", "");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    assert!(header(&head, "content-security-policy").starts_with("default-src 'self'"));
    let page = String::from_utf8(body).unwrap();
    for (file, kind) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        (
            "/assets/vendor/uplot/uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
        ),
        ("/assets/vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
        ("/assets/routes.json", "application/json"),
    ] {
        let (status, head, body) = get(&s, file, "");
        assert_eq!(status, 200, "{file}");
        assert_eq!(header(&head, "content-type"), kind, "{file}");
        assert!(!body.is_empty());
        assert_eq!(header(&head, "x-content-type-options"), "nosniff");
        // The same tag again: 304 and no body.
        let tag = header(&head, "etag").to_string();
        let (status, head, body) = get(&s, file, &format!("If-None-Match: {tag}\r\n"));
        assert_eq!(status, 304, "{file}");
        assert!(body.is_empty());
        assert!(head.contains("content-security-policy"));
    }
    // Every script and style the page names is one the probe serves: nothing from elsewhere.
    for part in page
        .split(['"', '\''])
        .filter(|p| p.starts_with("/assets/"))
    {
        assert_eq!(get(&s, part, "").0, 200, "{part}");
    }
    assert!(!page.contains("http://") && !page.contains("https://"));
    // The API still needs the token (read_token here); the files do not.
    assert_eq!(get(&s, "/api/v1/flows", "").0, 401);
    let (status, _, body) = get(&s, "/assets/nothing.js", "");
    assert_eq!(status, 404);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["schema"], "streamprobe.error/1");
    assert!(doc["error"]
        .as_str()
        .unwrap()
        .contains("no such dashboard asset"));
}

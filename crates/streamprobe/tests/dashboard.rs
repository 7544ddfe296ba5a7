//! The web dashboard end to end in a real browser: `streamprobe run` replays six cameras
//! (one of which starts losing a quarter of its packets half way, against its group's loss
//! limit, with `[alarms] raise_after = 2`) with its API and store, and headless Chromium,
//! driven through chromedriver's WebDriver HTTP interface, opens the page. Asserted: no
//! console error (nor page exception, nor CSP violation) on any page; the table shows exactly
//! the replay's six flows, a filter narrows it to exactly the two of one destination; a flow
//! page draws its six uPlot charts (canvases of non-zero size with pixels drawn); the faulty
//! flow's row turns red within three intervals of its alarm being listed by the API, and the
//! health filter (`health=red`) leaves exactly it; the alarms page lists the alarm, and
//! acknowledging it there (the token pasted in the token form) gives an `acknowledged` record;
//! the wall draws red cells among green ones, and dragging across them lists exactly the
//! faulty flow and what it shares. Screenshots of every page go to
//! target/test-artifacts/dashboard/.
//!
//! Chromium and chromedriver (Debian's `chromium` and `chromium-driver`, installed by
//! scripts/install-deps.sh --test) are required: the test fails when they are missing.

mod common;

use common::probe::{fresh_dir, Probe};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testbed::pcap_writer::{rtp_packet, udp_frame, PcapWriter};

/// Cameras in the replay, the first four to the studio group, the last two to news.
const CAMERAS: u32 = 6;
/// Packets a second per camera, and the capture's length.
const PPS: u64 = 50;
const SECONDS: u64 = 60;
/// From this second on, the last camera loses every fourth packet.
const FAULT_S: u64 = 30;
const FAULTY: u32 = CAMERAS - 1;

const CONFIG: &str = r#"
[[group]]
name = "studio"
prefixes = ["239.1.1.1/32"]
media_rate = "400 kbit/s"

[[group]]
name = "news"
prefixes = ["239.2.2.2/32"]
media_rate = "400 kbit/s"
[group.sla]
max_loss_pct = 1

# Two bad intervals raise; the alarm outlasts the test.
[alarms]
raise_after = 2
clear_after = 100
"#;

fn source(c: u32) -> [u8; 4] {
    [10, 1, 0, 1 + c as u8]
}

fn destination(c: u32) -> [u8; 4] {
    if c < 4 {
        [239, 1, 1, 1]
    } else {
        [239, 2, 2, 2]
    }
}

/// The capture: H.264-like RTP (payload type 96, a frame of two packets, 25 frames/s).
fn write_capture(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
    let start_ns: i64 = 1_767_225_600_000_000_000;
    let step_ns = 1_000_000_000 / PPS as i64;
    // FU-A fragments of a non-IDR slice (RFC 6184 section 5.8): start, then end.
    let mut payload = vec![0x5cu8; 1000];
    payload[0] = 0x7c;
    for n in 0..SECONDS * PPS {
        for c in 0..CAMERAS {
            let lost = c == FAULTY && n >= FAULT_S * PPS && n % 4 == 3;
            if lost {
                continue;
            }
            payload[1] = if n % 2 == 0 { 0x81 } else { 0x41 };
            let rtp = rtp_packet(
                96,
                n % 2 == 1,
                n as u16,
                (n / 2 * 3600) as u32,
                0x2000_0000 + c,
                &payload,
            );
            let frame = udp_frame(source(c), 5004, destination(c), 5004, &rtp);
            let ns = start_ns + n as i64 * step_ns + i64::from(c) * 1_000_000;
            w.write_frame(ns, &frame, frame.len()).unwrap();
        }
    }
    w.into_inner().unwrap();
}

/// A program on PATH, or a failure that says what to install.
fn required(program: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("{program} is needed for the dashboard test: apt-get install {package} (scripts/install-deps.sh --test)")
        })
}

/// A chromedriver and one headless Chromium session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    fn start(dir: &Path) -> Browser {
        required("chromium", "chromium");
        let chromedriver = required("chromedriver", "chromium-driver");
        let port = common::probe::free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
        };
        let profile = dir.join("chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                format!("--user-data-dir={}", profile.display()),
            ]},
        }}});
        let answer = b.call("POST", "/session", Some(caps));
        b.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        b
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// One WebDriver command: its `value`, or the error it answered.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let req = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match r {
            Ok(r) => Ok(r.into_json::<Value>().unwrap()["value"].clone()),
            Err(ureq::Error::Status(code, r)) => {
                Err(format!("{code} {}", r.into_string().unwrap()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Finds `css` and runs `command` on it; again when the page redrew the element between the
    /// two (it redraws every interval): "stale element reference", 5 tries.
    fn on_element(&self, css: &str, command: &str, body: Value) {
        for _ in 0..5 {
            let id = self.find(css);
            let path = format!("/session/{}/element/{id}/{command}", self.session);
            match self.try_call("POST", &path, Some(body.clone())) {
                Ok(_) => return,
                Err(e) if e.contains("stale element reference") => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("WebDriver POST {path}: {e}"),
            }
        }
        panic!("{css}: stale after 5 tries");
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page; its return value.
    fn eval(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Waits until `script` returns something truthy; that value.
    fn wait(&self, what: &str, within: Duration, script: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.eval(script);
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot("failed");
                let text = self.eval("return document.body.innerText");
                panic!(
                    "{what}: not within {within:?} (last {v}); the page ({}): {text}",
                    shot.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The WebDriver id of the element `css`.
    fn find(&self, css: &str) -> String {
        let found = self.session_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Types `text` into the element `css` as a user would.
    fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({ "text": text }));
    }

    /// Clicks the element `css` as a user would.
    fn click(&self, css: &str) {
        self.on_element(css, "click", json!({}));
    }

    /// Drags the mouse from `(x0, y0)` to `(x1, y1)` (viewport pixels), its button held.
    fn drag(&self, (x0, y0): (i64, i64), (x1, y1): (i64, i64)) {
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
        "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x0, "y": y0},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "duration": 300, "origin": "viewport", "x": x1, "y": y1},
            {"type": "pointerUp", "button": 0},
        ]}]});
        self.session_call("POST", "/actions", Some(actions));
        self.session_call("DELETE", "/actions", None);
    }

    /// The browser's log since the last call: (level, message).
    fn log(&self) -> Vec<(String, String)> {
        let v = self.session_call("POST", "/se/log", Some(json!({"type": "browser"})));
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or("").to_string(),
                    e["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Fails on any error in the console (a console.error, an exception, a failed load,
    /// a CSP violation): `during` says which step.
    fn no_console_error(&self, during: &str) {
        let errors: Vec<_> = self
            .log()
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .collect();
        assert!(errors.is_empty(), "console errors {during}: {errors:?}");
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.session_call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert_eq!(&png[1..4], b"PNG");
        let dir = artifacts();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// target/test-artifacts/dashboard/, made.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Standard base64 (RFC 4648 section 4), as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The faulty flow's health as the API gives it: its `health` field (with the alarm
/// engine), else the same rule on what the document gives (the page's fallback).
fn api_health(flow: &Value) -> &'static str {
    if let Some(h) = flow["health"].as_str() {
        return ["red", "amber", "grey"]
            .into_iter()
            .find(|c| *c == h)
            .unwrap_or("green");
    }
    if flow["active_alarms"].as_u64().unwrap_or(0) > 0 {
        "red"
    } else if flow["state"] == "silent" {
        "grey"
    } else if flow["last"]["sla"]["violations"]
        .as_array()
        .is_some_and(|v| !v.is_empty())
    {
        "amber"
    } else {
        "green"
    }
}

#[test]
fn the_dashboard_shows_the_replay_filters_draws_charts_and_colours_a_fault() {
    let dir = fresh_dir("dashboard");
    let capture = dir.join("cameras.pcap");
    write_capture(&capture);
    let config = dir.join("probe.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let browser = Browser::start(&dir);
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            capture.to_str().unwrap(),
            "--speed",
            "1",
            "--store",
            dir.join("store.db").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "90",
        ],
    );
    probe.wait_for(Duration::from_secs(20), |h| {
        h["flows"].as_u64() == Some(u64::from(CAMERAS))
    });
    let base = format!("http://{}", probe.api);
    let faulty = format!(
        "10.1.0.{}:5004>239.2.2.2:5004/0x{:08x}",
        1 + FAULTY,
        0x2000_0000 + FAULTY
    );
    let faulty_path = format!(
        "/api/v1/flows/{}",
        faulty.replace('>', "%3E").replace('/', "%2F")
    );
    assert_eq!(api_health(&probe.get(&faulty_path)), "green");
    // A broken limit held for `raise_after` (2) intervals is an alarm: the row turns red.
    let routes: Vec<String> =
        serde_json::from_str(&probe.http("GET", "/assets/routes.json", None, b"").1).unwrap();
    for r in [
        "GET /api/v1/alarms",
        "POST /api/v1/alarms/{id}/ack",
        "GET /api/v1/wall",
        "GET /api/v1/wall/band",
    ] {
        assert!(routes.iter().any(|x| x == r), "{r} not in {routes:?}");
    }
    let fault_colour = "red";

    // The flow table: exactly the replay's six flows, each row green before the fault.
    browser.open(&format!("{base}/#/flows"));
    browser.wait(
        "the table's first full render",
        Duration::from_secs(20),
        "return document.querySelector('#flow-table')?.dataset.ready === '1' && document.querySelector('#flow-table').dataset.shown",
    );
    let shown = browser.eval(
        "return [...document.querySelectorAll('#flow-table .rows .row:not([hidden])')].map(r => [r.dataset.flow, r.dataset.health])",
    );
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), CAMERAS as usize, "{shown:?}");
    assert_eq!(
        browser.eval("return document.querySelector('#flow-total').textContent"),
        "6 flows"
    );
    assert!(shown.iter().any(|r| r[0] == faulty.as_str()), "{shown:?}");
    assert!(shown.iter().all(|r| r[1] == "green"), "{shown:?}");
    browser.no_console_error("loading the flow table");
    browser.screenshot("flows");

    // A filter narrows it: the two flows to 239.2.2.2.
    browser.type_into("#flow-filter", "239.2.2.2");
    let narrowed = browser.wait(
        "the filter to narrow the table",
        Duration::from_secs(10),
        "const t = document.querySelector('#flow-table'); return t.dataset.total === '2' && [...t.querySelectorAll('.rows .row:not([hidden])')].map(r => r.dataset.flow)",
    );
    let narrowed = narrowed.as_array().unwrap();
    assert_eq!(narrowed.len(), 2, "{narrowed:?}");
    assert!(narrowed
        .iter()
        .all(|f| f.as_str().unwrap().contains(">239.2.2.2:5004")));
    browser.screenshot("flows-filtered");
    browser.no_console_error("filtering");

    // A flow page draws its charts from the store's history.
    browser.open(&format!(
        "{base}/#/flow/{}",
        faulty.replace('>', "%3E").replace('/', "%2F")
    ));
    let drawn = browser.wait(
        "the flow page's charts",
        Duration::from_secs(20),
        r#"const cs = [...document.querySelectorAll('#flow-charts .uplot canvas')];
           if (cs.length !== 6) return false;
           const points = [...document.querySelectorAll('#flow-charts .uplot')].map(u => Number(u.parentElement.dataset.points || 0));
           if (points.some(p => p < 2)) return false;
           return cs.map(c => {
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let drawn = 0, blue = 0;
             for (let i = 0; i < d.length; i += 4) {
               if (d[i + 3] > 0) drawn++;
               if (d[i + 2] > d[i] + 60 && d[i + 3] > 40) blue++;
             }
             return [c.width, c.height, drawn, blue];
           });"#,
    );
    eprintln!("charts (width, height, pixels drawn, pixels of the line): {drawn}");
    for c in drawn.as_array().unwrap() {
        let [w, h, drawn, blue] = [0, 1, 2, 3].map(|i| c[i].as_u64().unwrap());
        assert!(w > 100 && h > 50, "{c}");
        assert!(drawn > 0, "a blank chart: {c}");
        // The series' stroke (#1a73e8): each chart draws a line.
        assert!(blue > 10, "a chart without its line: {c}");
    }
    assert!(browser
        .eval("return document.querySelector('#flow-identity').textContent")
        .as_str()
        .unwrap()
        .contains("0x20000005"));
    browser.no_console_error("drawing the flow page");
    browser.screenshot("flow");

    // The other pages load without error, before the fault: no alarm yet.
    for page in ["wall", "alarms", "groups", "probe"] {
        browser.open(&format!("{base}/#/{page}"));
        browser.wait(
            page,
            Duration::from_secs(10),
            &format!("return document.body.dataset.page === '{page}' && document.querySelector('main').children.length > 1"),
        );
        std::thread::sleep(Duration::from_millis(500));
        let text = browser.eval("return document.querySelector('main').textContent");
        let text = text.as_str().unwrap();
        assert!(!text.contains("Not available"), "{page}: {text}");
        match page {
            "wall" => assert!(text.contains("6 flows in 6 rows"), "{text}"),
            "alarms" => assert!(text.contains("No alarm is active."), "{text}"),
            "groups" => assert!(text.contains("studio") && text.contains("news"), "{text}"),
            "probe" => assert!(text.contains("Workers") && text.contains("store"), "{text}"),
            _ => {}
        }
        browser.no_console_error(&format!("on the {page} page"));
        browser.screenshot(page);
    }

    // The fault: an alarm is raised on the faulty flow, and its row turns red (not amber)
    // within three intervals (1 s each here) of the API listing the alarm.
    browser.open(&format!("{base}/#/flows"));
    browser.wait(
        "the table again",
        Duration::from_secs(20),
        "return document.querySelector('#flow-table')?.dataset.ready === '1'",
    );
    let row_health = format!(
        "return document.querySelector('#flow-table .rows .row[data-flow=\"{faulty}\"]')?.dataset.health || ''"
    );
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut raised: Option<(Instant, Value)> = None;
    let lag = loop {
        let now = Instant::now();
        assert!(now < deadline, "no alarm was raised on the faulty flow");
        if raised.is_none() {
            let active = probe.get("/api/v1/alarms?state=active");
            if let Some(a) = active["alarms"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["flow"] == faulty.as_str())
            {
                assert_eq!(a["state"], "raised", "{a}");
                assert_eq!(a["rule"], "max_loss_pct", "{a}");
                assert_eq!(api_health(&probe.get(&faulty_path)), "red");
                raised = Some((now, a.clone()));
            }
        }
        let row = browser.eval(&row_health);
        // (A row red before the loop saw the alarm: the view changed between the two
        // questions; the next turn sees both.)
        if let (true, Some((since, _))) = (row == fault_colour, &raised) {
            break now - *since;
        }
        if let Some((since, _)) = &raised {
            assert!(
                now - *since <= Duration::from_secs(3),
                "the faulty flow's row is still {row} 3 intervals after its alarm was raised"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, alarm) = raised.unwrap();
    let alarm_id = alarm["id"].as_u64().unwrap();
    eprintln!(
        "the faulty row turned {fault_colour} {lag:?} after the API listed alarm {alarm_id}: {}",
        alarm["text"]
    );
    browser.no_console_error("while the fault came");
    browser.screenshot("flows-fault");
    // The table's health filter (health= of the API): red leaves exactly the faulty flow.
    browser.eval(
        "const s = document.querySelector('#flow-health'); s.value = 'red'; s.dispatchEvent(new Event('change')); return 1",
    );
    let reds = browser.wait(
        "the health filter",
        Duration::from_secs(10),
        "const t = document.querySelector('#flow-table'); return t.dataset.total === '1' && [...t.querySelectorAll('.rows .row:not([hidden])')].map(r => [r.dataset.flow, r.dataset.health])",
    );
    assert_eq!(reds, json!([[faulty, "red"]]));
    browser.no_console_error("filtering by health");

    // The alarms page lists it; acknowledged from the page with the token pasted in the
    // token form, the engine records it at the next interval's end.
    browser.open(&format!("{base}/#/alarms"));
    let button = format!("#alarms-active button.ack[data-alarm=\"{alarm_id}\"]");
    browser.wait(
        "the alarm on the alarms page",
        Duration::from_secs(10),
        &format!("return !!document.querySelector('{button}')"),
    );
    let listed = browser.eval("return document.querySelector('#alarms-active').textContent");
    assert!(
        listed.as_str().unwrap().contains(&faulty)
            && listed.as_str().unwrap().contains("max_loss_pct"),
        "{listed}"
    );
    browser.click("#token-button");
    browser.type_into("#token-input", &probe.token());
    browser.click("#token-form button[type=submit]");
    browser.wait(
        "the page again with the token",
        Duration::from_secs(10),
        &format!("return document.querySelector('#token-form').hidden && !!document.querySelector('{button}')"),
    );
    browser.click(&button);
    browser.wait(
        "the acknowledgement queued",
        Duration::from_secs(10),
        &format!("return !!document.querySelector('#alarms-active [data-queued=\"{alarm_id}\"]')"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let record = loop {
        let all = probe.get("/api/v1/alarms?state=all");
        let found = all["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == alarm_id && a["state"] == "acknowledged")
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no acknowledged record of alarm {alarm_id}: {all}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(record["ack"]["by"], "dashboard", "{record}");
    assert_eq!(record["flow"], faulty.as_str(), "{record}");
    let cell = browser.wait(
        "the page to show it acknowledged",
        Duration::from_secs(10),
        &format!("const c = document.querySelector('#alarms-active .ack-cell[data-alarm=\"{alarm_id}\"]'); return c && c.dataset.state === 'acknowledged' && c.textContent.startsWith('by dashboard at ') && c.textContent"),
    );
    eprintln!("alarm {alarm_id} on the page: {cell}");
    let history = browser.eval("return document.querySelector('#alarms-history').textContent");
    assert!(
        history.as_str().unwrap().contains("acknowledged")
            && history.as_str().unwrap().contains("raised"),
        "{history}"
    );
    browser.no_console_error("acknowledging on the alarms page");
    browser.screenshot("alarms-acknowledged");

    // The wall: cells drawn, red ones among them (the faulty flow's row since its alarm).
    browser.open(&format!("{base}/#/wall"));
    browser.wait(
        "the wall drawn",
        Duration::from_secs(10),
        "return document.querySelector('#wall-canvas')?.dataset.ready === '1'",
    );
    let drawn = browser.eval(
        r#"const c = document.querySelector('#wall-canvas');
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           const n = { red: 0, green: 0, other: 0, blank: 0 };
           let x0 = null, x1 = null, y0 = null;
           for (let i = 0; i < d.length; i += 4) {
             const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
             if (a === 0 || (r === 241 && g === 243 && b === 244)) n.blank++;
             else if (r === 217 && g === 48 && b === 37) {
               n.red++;
               const p = i / 4, x = p % c.width, y = Math.floor(p / c.width);
               if (x0 === null || x < x0) x0 = x;
               if (x1 === null || x > x1) x1 = x;
               if (y0 === null) y0 = y;
             } else if (r === 30 && g === 142 && b === 62) n.green++;
             else n.other++;
           }
           const rect = c.getBoundingClientRect();
           const k = rect.width / c.width;
           return { ...n, width: c.width, height: c.height, x0: rect.left + (x0 + 0.5) * k,
             x1: rect.left + (x1 + 0.5) * k, y: rect.top + (y0 + 2) * k };"#,
    );
    eprintln!("the wall's pixels: {drawn}");
    assert!(drawn["red"].as_u64().unwrap() > 0, "no red cell: {drawn}");
    assert!(
        drawn["green"].as_u64().unwrap() > drawn["red"].as_u64().unwrap(),
        "{drawn}"
    );
    browser.no_console_error("drawing the wall");
    browser.screenshot("wall-fault");
    // A drag across the red seconds asks for the band: exactly the faulty flow, and what it
    // shares (one flow: its group, its addresses as /32 prefixes, its kind).
    let at = |k: &str| drawn[k].as_f64().unwrap().round() as i64;
    let y = at("y");
    browser.drag((at("x0"), y), (at("x1").max(at("x0") + 1), y));
    let hit = browser.wait(
        "the band's flows",
        Duration::from_secs(10),
        "const b = document.querySelector('#wall-band'); return b.dataset.count && [...b.querySelectorAll('a[data-flow]')].map(a => a.dataset.flow)",
    );
    assert_eq!(hit, json!([faulty]));
    let shared = browser.eval("return document.querySelector('#wall-shared').textContent");
    let shared = shared.as_str().unwrap();
    for part in [
        "group news",
        "source 10.1.0.6/32",
        "destination 239.2.2.2/32",
        "kind rtp",
    ] {
        assert!(shared.contains(part), "{part} not in {shared}");
    }
    assert!(
        browser
            .eval("return location.hash")
            .as_str()
            .unwrap()
            .contains("from="),
        "the band is not in the hash"
    );
    browser.no_console_error("asking for a band");
    let shot = browser.screenshot("wall-band");
    eprintln!("screenshots in {}", shot.parent().unwrap().display());
    drop(browser);
    let _ = probe.stop();
}

//! The probe as a service, end to end on a real capture replayed through `run`: the API's
//! flows and totals against the records the probe printed, `clear`, `show`, /metrics through
//! promtool and a real Prometheus server, config reload on SIGHUP and POST, start-up errors.

mod common;

use common::probe::{free_port, fresh_dir, http, Probe};
use common::{parse_lines, root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn capture() -> String {
    root()
        .join("tests/fixtures/impaired/capture.pcap")
        .display()
        .to_string()
}

/// Per flow: the sums of its flow records' figures over the records that pass `keep`.
fn sums(records: &[Value], keep: impl Fn(&str) -> bool) -> BTreeMap<String, [u64; 6]> {
    let mut by_flow: BTreeMap<String, [u64; 6]> = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "flow") {
        if !keep(r["time"].as_str().unwrap()) {
            continue;
        }
        let s = by_flow
            .entry(r["flow"].as_str().unwrap().to_string())
            .or_default();
        s[0] += 1;
        s[1] += r["packets"].as_u64().unwrap();
        s[2] += r["bytes"].as_u64().unwrap();
        s[3] += r["lost"].as_u64().unwrap();
        s[4] += r["recovered"].as_u64().unwrap_or(0);
        s[5] += r["duplicates"].as_u64().unwrap();
    }
    by_flow
}

/// A flow document's totals in the order of [`sums`].
fn totals(flow: &Value) -> [u64; 6] {
    let t = &flow["totals"];
    [
        "intervals",
        "packets",
        "bytes",
        "lost",
        "recovered",
        "duplicates",
    ]
    .map(|k| t[k].as_u64().unwrap())
}

#[test]
fn the_api_totals_are_the_sums_of_the_records_and_clear_starts_them_again() {
    let dir = fresh_dir("service-totals");
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--loop",
            "--speed",
            "4",
            "--json",
            "--store",
            "none",
            "--duration",
            "60",
        ],
    );
    probe.wait_for(Duration::from_secs(20), |h| {
        h["probe"]["pass"].as_u64() >= Some(2)
    });
    let before = probe.get("/api/v1/flows");
    assert_eq!(before["schema"], "streamprobe.flows/1");
    let t1 = before["time"].as_str().unwrap().to_string();
    // Clear, with the token the probe made in its folder (mode 0600).
    let token = probe.token();
    let (status, body) = probe.http("POST", "/api/v1/clear", Some(&token), b"");
    assert_eq!(status, 200, "{body}");
    let cleared: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(cleared["cleared_flows"], 4);
    let after_clear = cleared["after"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(2500));
    let after = probe.get("/api/v1/flows");
    let t2 = after["time"].as_str().unwrap().to_string();
    assert!(t2 > after_clear, "{t2} {after_clear}");
    // `show` prints the same totals: Monitube's Total Loss is lost - recovered.
    let show = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args(["show", "--api", &format!("http://{}", probe.api)])
        .output()
        .unwrap();
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let table = String::from_utf8(show.stdout).unwrap();
    let (stdout, status) = probe.stop();
    assert!(status.success());
    let records = parse_lines(&stdout);
    let whole = sums(&records, |t| t <= t1.as_str());
    let since_clear = sums(&records, |t| t > after_clear.as_str() && t <= t2.as_str());
    assert_eq!(whole.len(), 4);
    for f in before["flows"].as_array().unwrap() {
        assert_eq!(
            totals(f),
            whole[f["flow"].as_str().unwrap()],
            "{}",
            f["flow"]
        );
    }
    let mut checked = 0;
    for f in after["flows"].as_array().unwrap() {
        let id = f["flow"].as_str().unwrap();
        let want = since_clear.get(id).copied().unwrap_or_default();
        assert_eq!(totals(f), want, "{id}");
        assert_eq!(f["totals"]["since"], after_clear.as_str());
        // The show row of this flow ends with its net loss.
        let dst = f["dst"].as_str().unwrap();
        let src = f["src"].as_str().unwrap();
        let row = table
            .lines()
            .find(|l| l.starts_with(dst) && l.contains(src))
            .unwrap_or_else(|| panic!("{table}"));
        assert_eq!(
            row.split_whitespace().last().unwrap(),
            (want[3] - want[4]).to_string(),
            "{row}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4);
    assert!(
        table.contains("Flow to") && table.contains("Average MDI") && table.contains("Total Loss"),
        "{table}"
    );
}

#[test]
fn metrics_pass_promtool_and_a_real_prometheus_scrapes_a_flows_loss() {
    let dir = fresh_dir("service-metrics");
    let config = dir.join("probe.toml");
    std::fs::write(&config, GROUP).unwrap();
    let config = config.display().to_string();
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--loop",
            "--speed",
            "2",
            "--json",
            "--store",
            "none",
            "--duration",
            "90",
            "--config",
            &config,
        ],
    );
    probe.wait_for(Duration::from_secs(20), |h| {
        h["probe"]["packets"].as_u64() > Some(0)
    });
    let (status, text) = probe.http("GET", "/metrics", None, b"");
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian prometheus; scripts/install-deps.sh --test installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(text.contains("streamprobe_flow_lost_total{flow=\"10.231.9.1:36564>10.231.9.2:5004/0xd07c5ed2\",group=\"cams\",kind=\"rtp\"}"), "{text}");
    // A real Prometheus on loopback scrapes the probe every second.
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: streamprobe\n    static_configs:\n      - targets: ['{}']\n", probe.api)).unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian prometheus)");
    let server: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let flow = "10.231.9.1:36564>10.231.9.2:5004/0xd07c5ed2";
    let query = |metric: &str, at: f64| -> Option<u64> {
        let q = format!("{metric}{{flow=\"{flow}\"}}");
        let encoded: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let (status, body) = std::net::TcpStream::connect(server).ok().map(|_| {
            http(
                server,
                "GET",
                &format!("/api/v1/query?query={encoded}&time={at}"),
                None,
                b"",
            )
        })?;
        let doc: Value = serde_json::from_str(&body).ok()?;
        (status == 200).then_some(())?;
        doc["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (packets, lost) = loop {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            - 0.5;
        if let (Some(p), Some(l)) = (
            query("streamprobe_flow_packets_total", at),
            query("streamprobe_flow_lost_total", at),
        ) {
            if p > 300 {
                break (p, l);
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had the flow's series"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // The Grafana dashboard's queries: every series they name is exported, and Prometheus
    // evaluates each one with data.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/grafana/streamprobe.json")).unwrap(),
    )
    .unwrap();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$group", ".*")
                .replace("$flow", ".*");
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("streamprobe_"))
            {
                assert!(
                    text.contains(&format!("\n{name}{{")),
                    "{name} (Grafana) is not in /metrics"
                );
            }
            let encoded: String = expr
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b == b'_' {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let (status, body) = http(
                server,
                "GET",
                &format!("/api/v1/query?query={encoded}"),
                None,
                b"",
            );
            assert_eq!(status, 200, "{expr}: {body}");
            let doc: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(doc["status"], "success", "{expr}: {body}");
            queries += 1;
        }
    }
    assert!(queries >= 12);
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let (stdout, _) = probe.stop();
    // The scraped pair is the flow's running sums after some interval k.
    let mut cumulative = (0u64, 0u64);
    let mut found = false;
    for r in parse_lines(&stdout)
        .iter()
        .filter(|r| r["type"] == "flow" && r["flow"] == flow)
    {
        cumulative.0 += r["packets"].as_u64().unwrap();
        cumulative.1 += r["lost"].as_u64().unwrap();
        found |= cumulative == (packets, lost);
    }
    assert!(
        found,
        "Prometheus' (packets, lost) = ({packets}, {lost}) is no interval's running sum"
    );
    assert!(lost > 0, "the impaired capture loses packets of this flow");
}

use std::io::Write;

const GROUP: &str =
    "[[group]]\nname = \"cams\"\nprefixes = [\"10.231.9.2/32\"]\nmedia_rate = \"2 Mbit/s\"\n";

#[test]
fn a_bad_config_is_refused_on_sighup_and_post_while_the_old_one_keeps_working() {
    let dir = fresh_dir("service-reload");
    let config = dir.join("probe.toml");
    std::fs::write(&config, GROUP).unwrap();
    let config_arg = config.display().to_string();
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--loop",
            "--speed",
            "4",
            "--json",
            "--store",
            "none",
            "--duration",
            "60",
            "--config",
            &config_arg,
        ],
    );
    let group_of = |p: &Probe| -> Value {
        p.get("/api/v1/flows/10.231.9.1:36564%3E10.231.9.2:5004%2F0xd07c5ed2")["group"].clone()
    };
    probe.wait_for(Duration::from_secs(20), |h| h["flows"].as_u64() == Some(4));
    assert_eq!(group_of(&probe), "cams");
    // A bad media rate on line 4: refused with the start-up error, the old config stays.
    std::fs::write(&config, GROUP.replace("\"2 Mbit/s\"", "\"fast\"")).unwrap();
    probe.signal(libc::SIGHUP);
    let refused = probe.stderr_line("config refused", Duration::from_secs(10));
    assert!(
        refused.contains(&format!(
            "{config_arg}:4:14: group \"cams\": media_rate: \"fast\" is not a bit rate"
        )),
        "{refused}"
    );
    let packets_before = probe.get("/api/v1/flows/10.231.9.1:36564%3E10.231.9.2:5004%2F0xd07c5ed2")
        ["totals"]["packets"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(group_of(&probe), "cams");
    // POST: bad text is refused likewise (422) and the file is left as it was.
    let token = probe.token();
    let (status, body) = probe.http(
        "POST",
        "/api/v1/config",
        Some(&token),
        b"[[group]]\nname = 3\n",
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(&format!("{config_arg}:2:8")), "{body}");
    assert!(std::fs::read_to_string(&config).unwrap().contains("fast"));
    // A good one, renaming the group and changing a run key and `[alarms]`: applied live, the
    // flow keeps its counters, the run key and the alarms wait for a restart, the file holds
    // the posted text.
    let renamed = format!(
        "{}[run]\nworkers = 3\n\n[alarms]\nqueue = 50\n",
        GROUP.replace("cams", "studio")
    );
    let (status, body) = probe.http("POST", "/api/v1/config", Some(&token), renamed.as_bytes());
    assert_eq!(status, 200, "{body}");
    let outcome: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(outcome["applied"], serde_json::json!(["group"]));
    assert_eq!(
        outcome["restart_needed"],
        serde_json::json!(["run.workers", "alarms"])
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), renamed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_of(&probe) != "studio" {
        assert!(
            Instant::now() < deadline,
            "the new group never reached the flow"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let flow = probe.get("/api/v1/flows/10.231.9.1:36564%3E10.231.9.2:5004%2F0xd07c5ed2");
    assert!(
        flow["totals"]["packets"].as_u64().unwrap() > packets_before,
        "{flow}"
    );
    assert_eq!(probe.get("/api/v1/groups")["groups"][0]["name"], "studio");
    // SIGHUP re-reads the file the POST wrote: nothing changes live.
    probe.signal(libc::SIGHUP);
    let reloaded = probe.stderr_line("config reloaded", Duration::from_secs(10));
    assert!(reloaded.contains("nothing changed live"), "{reloaded}");
    let (stdout, _) = probe.stop();
    let records = parse_lines(&stdout);
    let groups: Vec<&str> = records
        .iter()
        .filter(|r| {
            r["flow"] == "10.231.9.1:36564>10.231.9.2:5004/0xd07c5ed2" && r["type"] == "flow"
        })
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    // Every record has a group, first the old name, then the new one, never both mixed up.
    let switch = groups.iter().position(|g| *g == "studio").unwrap();
    assert!(
        switch > 0
            && groups[..switch].iter().all(|g| *g == "cams")
            && groups[switch..].iter().all(|g| *g == "studio"),
        "{groups:?}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .args([
            "run",
            "--replay",
            &capture(),
            "--store",
            "none",
            "--api-listen",
            &addr,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: --api-listen {addr}: Address already in use"
        )),
        "{err}"
    );
}

#[test]
fn the_api_address_comes_from_the_flag_the_environment_or_the_config_in_that_order() {
    let dir = fresh_dir("service-settings");
    let port = free_port();
    let config = dir.join("probe.toml");
    std::fs::write(
        &config,
        format!("[api]\nlisten = \"127.0.0.1:{port}\"\n[store]\nurl = \"none\"\n"),
    )
    .unwrap();
    let probe = Probe::start(
        &dir,
        &[
            "--replay",
            &capture(),
            "--json",
            "--config",
            &config.display().to_string(),
            "--api-listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert_eq!(probe.api.port(), port);
    drop(probe);
    // A replay with the config, the environment's API address set or not: its stderr.
    let run = |api_env: Option<String>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_streamprobe"));
        command
            .current_dir(&dir)
            .env_remove("STREAMPROBE_API_LISTEN");
        if let Some(addr) = api_env {
            command.env("STREAMPROBE_API_LISTEN", addr);
        }
        let config = config.display().to_string();
        let out = command
            .args([
                "run",
                "--replay",
                &capture(),
                "--speed",
                "100",
                "--json",
                "--config",
                &config,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let port2 = free_port();
    let err = run(Some(format!("127.0.0.1:{port2}")));
    assert!(
        err.contains(&format!("API on http://127.0.0.1:{port2}, store none")),
        "{err}"
    );
    let err = run(None);
    assert!(
        err.contains(&format!("API on http://127.0.0.1:{port}, store none")),
        "{err}"
    );
}

//! `streamprobe show` and `streamprobe clear`: a running probe's figures, asked through its
//! API the way a router answers `show ... statistics` (Juniper Monitube's columns: Flow to,
//! Last / Max / Min / Average MDI written DF:MLR, Total Loss), and zeroing them.

use serde_json::Value;
use std::path::PathBuf;

/// The token file's default name: beside the store (the probe) and in the working directory
/// (`clear`), so the default layout needs no flag.
pub const TOKEN_FILE: &str = "streamprobe.token";
/// The API's default URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Options of `streamprobe show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Only this monitor group's flows.
    pub group: Option<String>,
    /// The probe's API.
    #[arg(long, env = "STREAMPROBE_API_URL", default_value = DEFAULT_URL, value_name = "URL")]
    pub api: String,
    /// Print the API's JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// One flow's history instead (its id as `show` lists it, e.g.
    /// 10.0.0.1:5000>239.1.1.1:5000/0x1234abcd).
    #[arg(long, value_name = "ID")]
    pub flow: Option<String>,
    /// With --flow: how far back (10m, 1h, 2d or seconds; default 10m).
    #[arg(long, default_value = "10m", requires = "flow")]
    pub since: String,
    /// With --flow: seconds per point (1s, 1m, 1h; default chosen by the range).
    #[arg(long, requires = "flow")]
    pub step: Option<String>,
    /// The API token file, when the probe needs a token to read (`[api] read_token`).
    #[arg(long, env = "STREAMPROBE_API_TOKEN_FILE", default_value = TOKEN_FILE)]
    pub api_token_file: PathBuf,
}

/// Options of `streamprobe clear`.
#[derive(Debug, clap::Args)]
pub struct ClearArgs {
    /// Only this monitor group's flows (default: every flow).
    pub group: Option<String>,
    /// The probe's API.
    #[arg(long, env = "STREAMPROBE_API_URL", default_value = DEFAULT_URL, value_name = "URL")]
    pub api: String,
    /// The API token file (the probe writes `streamprobe.token` beside its store).
    #[arg(long, env = "STREAMPROBE_API_TOKEN_FILE", default_value = TOKEN_FILE)]
    pub api_token_file: PathBuf,
}

fn token(path: &std::path::Path, needed: bool) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(_) if !needed => Ok(None),
        Err(e) => Err(format!(
            "{}: cannot read the API token: {e} (give --api-token-file FILE: the probe writes streamprobe.token beside its store)",
            path.display()
        )),
    }
}

/// One request to the API; its JSON answer, or one error line naming the URL.
fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Value, String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(30))
        .build();
    let mut request = agent.request(method, url);
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    let response = match body {
        Some(b) => request.send_json(b.clone()),
        None => request.call(),
    };
    match response {
        Ok(r) => r
            .into_json::<Value>()
            .map_err(|e| format!("{url}: the answer is not JSON: {e}")),
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            Err(format!("{url}: {code}: {message}"))
        }
        Err(e) => Err(format!(
            "{url}: {e} (is a probe running with its API there? `streamprobe run` serves it on 127.0.0.1:8080 by default)"
        )),
    }
}

/// Percent-encodes a flow id for a path segment (`>` and `/` among others).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An MDI as Monitube writes it, DF (ms) : MLR (packets/s).
fn mdi(df: &Value, mlr: &Value) -> String {
    match (df.as_f64(), mlr.as_f64()) {
        // MLR is a whole number of packets a second in one interval; a mean may not be.
        (Some(d), Some(m)) if m.fract() == 0.0 => format!("{d:.2}:{m:.0}"),
        (Some(d), Some(m)) => format!("{d:.2}:{m:.2}"),
        _ => "-".into(),
    }
}

/// `streamprobe show`.
pub fn show(args: &ShowArgs) -> Result<(), String> {
    let base = args.api.trim_end_matches('/');
    let token = token(&args.api_token_file, false)?;
    if let Some(flow) = &args.flow {
        let mut url = format!(
            "{base}/api/v1/flows/{}/history?since={}",
            path_segment(flow),
            args.since
        );
        if let Some(step) = &args.step {
            url.push_str(&format!("&step={step}"));
        }
        let doc = call("GET", &url, token.as_deref(), None)?;
        if args.json {
            println!("{doc:#}");
            return Ok(());
        }
        return print_history(flow, &doc);
    }
    let mut url = format!("{base}/api/v1/flows");
    if let Some(g) = &args.group {
        url.push_str(&format!("?group={}", path_segment(g)));
    }
    let doc = call("GET", &url, token.as_deref(), None)?;
    if args.json {
        println!("{doc:#}");
        return Ok(());
    }
    let flows = doc["flows"].as_array().cloned().unwrap_or_default();
    println!(
        "{:<22} {:<22} {:<10} {:<12} {:<6} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "Flow to",
        "From",
        "SSRC",
        "Group",
        "State",
        "Last MDI",
        "Max MDI",
        "Min MDI",
        "Average MDI",
        "Total Loss"
    );
    for f in &flows {
        let m = &f["totals"]["mdi"];
        println!(
            "{:<22} {:<22} {:<10} {:<12} {:<6} {:>12} {:>12} {:>12} {:>12} {:>10}",
            f["dst"].as_str().unwrap_or("-"),
            f["src"].as_str().unwrap_or("-"),
            f["ssrc"]
                .as_u64()
                .map_or("-".into(), |s| format!("0x{s:08x}")),
            f["group"].as_str().unwrap_or("-"),
            f["state"].as_str().unwrap_or("-"),
            mdi(&m["last_df_ms"], &m["last_mlr"]),
            mdi(&m["max_df_ms"], &m["max_mlr"]),
            mdi(&m["min_df_ms"], &m["min_mlr"]),
            mdi(&m["mean_df_ms"], &m["mean_mlr"]),
            f["totals"]["net_lost"].as_u64().unwrap_or(0),
        );
    }
    // Flows cleared apart (a group's clear, flows found since) have totals from different
    // times: say the one time only when there is one.
    let since: std::collections::BTreeSet<&str> = flows
        .iter()
        .filter_map(|f| f["totals"]["since"].as_str())
        .collect();
    let since = match since.len() {
        1 => format!(
            "totals since {}",
            since.first().copied().unwrap_or_default()
        ),
        0 => "no totals yet".to_string(),
        _ => format!(
            "totals since each flow's last clear or first record ({} to {}; --json has each)",
            since.first().copied().unwrap_or_default(),
            since.last().copied().unwrap_or_default()
        ),
    };
    println!(
        "{} flows{}; MDI is DF (ms):MLR (packets/s); {since}",
        flows.len(),
        args.group
            .as_deref()
            .map(|g| format!(" in group {g}"))
            .unwrap_or_default(),
    );
    Ok(())
}

fn print_history(flow: &str, doc: &Value) -> Result<(), String> {
    let points = doc["points"].as_array().cloned().unwrap_or_default();
    println!(
        "{flow}: {} points of {} s ({} tier)",
        points.len(),
        doc["step_s"],
        doc["tier"].as_str().unwrap_or("?")
    );
    println!(
        "{:<30} {:>8} {:>8} {:>6} {:>6} {:>5} {:>6} {:>10} {:>7} {:>10} {:>6}",
        "TIME",
        "PACKETS",
        "MBIT/S",
        "LOST",
        "RECOV",
        "DUP",
        "REORD",
        "JITTER MAX",
        "FPS",
        "DF MAX",
        "MLR"
    );
    let opt = |v: &Value, unit: &str| {
        v.as_f64()
            .map_or("-".to_string(), |x| format!("{x:.3}{unit}"))
    };
    for p in &points {
        println!(
            "{:<30} {:>8} {:>8.3} {:>6} {:>6} {:>5} {:>6} {:>10} {:>7} {:>10} {:>6}",
            p["time"].as_str().unwrap_or("-"),
            p["packets"],
            p["bitrate_bps"].as_f64().unwrap_or(0.0) / 1e6,
            p["lost"],
            p["recovered"]
                .as_u64()
                .map_or("-".into(), |n| n.to_string()),
            p["duplicates"],
            p["reordered"]
                .as_u64()
                .map_or("-".into(), |n| n.to_string()),
            opt(&p["jitter_ms_max"], " ms"),
            p["fps"].as_f64().map_or("-".into(), |x| format!("{x:.2}")),
            opt(&p["df_ms_max"], " ms"),
            p["mlr_max"]
                .as_f64()
                .map_or("-".into(), |x| format!("{x:.0}")),
        );
    }
    Ok(())
}

/// `streamprobe clear`.
pub fn clear(args: &ClearArgs) -> Result<(), String> {
    let base = args.api.trim_end_matches('/');
    let token = token(&args.api_token_file, true)?;
    let body = match &args.group {
        Some(g) => serde_json::json!({ "group": g }),
        None => serde_json::json!({}),
    };
    let doc = call(
        "POST",
        &format!("{base}/api/v1/clear"),
        token.as_deref(),
        Some(&body),
    )?;
    println!(
        "cleared {} flows{}",
        doc["cleared_flows"],
        args.group
            .as_deref()
            .map(|g| format!(" of group {g}"))
            .unwrap_or_default()
    );
    Ok(())
}

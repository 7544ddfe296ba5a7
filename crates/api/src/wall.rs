//! `GET /api/v1/wall` (every flow's health second by second, from the live view's
//! [`outputs::wall::HealthWall`]) and `GET /api/v1/wall/band` (the flows a band of seconds hit,
//! and what they share).

use crate::error::{rejected, ApiError};
use crate::routes::parse_time;
use crate::{check_read, json_response, time_text, AppState};
use analysis::alarm::shared::SharedBuilder;
use analysis::alarm::Shared;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use outputs::live_view::{Health, LiveFlow, View};
use serde::{Deserialize, Serialize};

/// Rows a wall is drawn in at most by default: a screen's height of cells.
const DEFAULT_ROWS: usize = 300;
/// Rows asked for at most.
const MAX_ROWS: usize = 100_000;
/// Flows a band lists at most by default (all are counted).
const DEFAULT_BAND_LIMIT: usize = 1000;

/// The query of `/wall`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WallQuery {
    /// Minutes up to now (default: all the wall holds).
    pub minutes: Option<u32>,
    /// One group's flows only.
    pub group: Option<String>,
    /// Rows at most: many flows share a row, which shows the worst of them each second.
    pub rows: Option<usize>,
}

/// One row of the wall.
#[derive(Debug, Serialize)]
struct WallRow<'a> {
    label: String,
    group: Option<&'a str>,
    /// Flows it covers.
    flows: usize,
    /// The flow, for a row of one flow.
    flow: Option<&'a str>,
    /// The first and last flow ids it covers (flows sorted by group, then id).
    first: &'a str,
    last: &'a str,
}

#[derive(Debug, Serialize)]
struct WallDocument<'a> {
    schema: &'static str,
    /// The first second's start and the last second's end (RFC 3339).
    start: String,
    end: String,
    /// The first second, Unix seconds.
    start_s: i64,
    seconds: usize,
    flows: usize,
    rows: Vec<WallRow<'a>>,
    /// `rows x seconds` bytes, row after row, oldest second first, in base64: 0 no flow,
    /// 1 green, 2 amber, 3 grey, 4 red (a row of many flows: the worst of them).
    cells: String,
    /// Flows in each health, second by second (all flows of the query, not rows).
    counts: Counts,
}

#[derive(Debug, Serialize)]
struct Counts {
    green: Vec<u32>,
    amber: Vec<u32>,
    grey: Vec<u32>,
    red: Vec<u32>,
}

/// The view's flows of `group` (all without one), sorted by group, then id.
fn chosen<'a>(view: &'a View, group: Option<&str>) -> Result<Vec<&'a LiveFlow>, ApiError> {
    if let Some(g) = group {
        if !view.groups.iter().any(|x| x.name == g) {
            return Err(ApiError::not_found(format!("group={g}: no such group")));
        }
    }
    let mut flows: Vec<&LiveFlow> = view
        .flows
        .values()
        .filter(|f| group.is_none_or(|g| f.group.as_deref() == Some(g)))
        .collect();
    // Grouped flows first, by group; then the ungrouped. Ids are unique.
    flows.sort_by(|a, b| {
        (a.group.is_none(), &a.group, &a.id).cmp(&(b.group.is_none(), &b.group, &b.id))
    });
    Ok(flows)
}

/// The seconds `[from, to]` of the last `minutes` the wall holds.
fn span(view: &View, minutes: Option<u32>) -> Result<(i64, usize), ApiError> {
    let window = view.wall.window();
    let seconds = match minutes {
        Some(m) if m == 0 || m as usize * 60 > window => {
            return Err(ApiError::bad_request(format!(
                "minutes={m}: must be 1 to {} (the wall's length)",
                window / 60
            )))
        }
        Some(m) => m as usize * 60,
        None => window,
    };
    let end = view.wall.end().unwrap_or(0);
    Ok((end - seconds as i64 + 1, seconds))
}

/// `GET /api/v1/wall?minutes=&group=&rows=`
pub async fn wall(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<WallQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let Query(q) = query.map_err(rejected)?;
    let rows = q.rows.unwrap_or(DEFAULT_ROWS);
    if rows == 0 || rows > MAX_ROWS {
        return Err(ApiError::bad_request(format!(
            "rows={rows}: must be 1 to {MAX_ROWS}"
        )));
    }
    let view = app.view.clone();
    let _turn = crate::whole_view_turn().await?;
    tokio::task::spawn_blocking(move || wall_document(&view.read(), &q, rows))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

fn wall_document(view: &View, q: &WallQuery, max_rows: usize) -> Result<Response, ApiError> {
    let (from, seconds) = span(view, q.minutes)?;
    let flows = chosen(view, q.group.as_deref())?;
    let mut counts = Counts {
        green: vec![0; seconds],
        amber: vec![0; seconds],
        grey: vec![0; seconds],
        red: vec![0; seconds],
    };
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut line = vec![0u8; seconds];
    // Each group gets rows in proportion to its flows (one at least), so no row mixes groups.
    let mut at = 0;
    while at < flows.len() {
        let group = flows[at].group.as_deref();
        let end = at + flows[at..].partition_point(|f| f.group.as_deref() == group);
        let in_group = end - at;
        let share = (in_group * max_rows).div_ceil(flows.len()).max(1);
        let per_row = in_group.div_ceil(share);
        for (k, chunk) in flows[at..end].chunks(per_row).enumerate() {
            line.fill(0);
            for f in chunk {
                for (s, cell) in line.iter_mut().enumerate() {
                    let c = view.wall.cell(f.wall_row, from + s as i64);
                    match Health::of_code(c) {
                        Some(Health::Green) => counts.green[s] += 1,
                        Some(Health::Amber) => counts.amber[s] += 1,
                        Some(Health::Grey) => counts.grey[s] += 1,
                        Some(Health::Red) => counts.red[s] += 1,
                        None => {}
                    }
                    *cell = (*cell).max(c);
                }
            }
            cells.extend_from_slice(&line);
            let first = &chunk[0].id;
            let last = &chunk[chunk.len() - 1].id;
            let label = match (chunk.len(), group) {
                (1, _) => first.clone(),
                (n, g) => format!(
                    "{} {}-{} of {in_group}",
                    g.unwrap_or("(no group)"),
                    k * per_row + 1,
                    k * per_row + n
                ),
            };
            rows.push(WallRow {
                label,
                group,
                flows: chunk.len(),
                flow: (chunk.len() == 1).then_some(first.as_str()),
                first,
                last,
            });
        }
        at = end;
    }
    let doc = WallDocument {
        schema: "streamprobe.wall/1",
        start: time_text(from * 1_000_000_000),
        end: time_text((from + seconds as i64) * 1_000_000_000),
        start_s: from,
        seconds,
        flows: flows.len(),
        rows,
        cells: base64::engine::general_purpose::STANDARD.encode(&cells),
        counts,
    };
    serde_json::to_vec(&doc)
        .map(json_response)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The query of `/wall/band`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandQuery {
    /// The band's first and last second: RFC 3339 or Unix seconds.
    pub from: String,
    pub to: String,
    pub group: Option<String>,
    /// The least health that counts as hit: `amber` (default), `grey` or `red`.
    pub health: Option<String>,
    /// Flows listed at most (all are counted and shared).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct BandFlow<'a> {
    id: &'a str,
    group: Option<&'a str>,
    src: String,
    dst: String,
    vlan: Option<u16>,
    kind: &'static str,
    /// Its worst health in the band, and the seconds it was at least `health`.
    worst: &'static str,
    seconds: u32,
}

#[derive(Debug, Serialize)]
struct BandDocument<'a> {
    schema: &'static str,
    from: String,
    to: String,
    /// Flows hit, all of them (the list may stop at `limit`).
    count: usize,
    flows: Vec<BandFlow<'a>>,
    shared: Shared,
}

/// `GET /api/v1/wall/band?from=&to=&group=&health=&limit=`
pub async fn band(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<BandQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_read(&app, &headers)?;
    let Query(q) = query.map_err(rejected)?;
    let from = parse_time("from", &q.from)?.div_euclid(1_000_000_000);
    let to = parse_time("to", &q.to)?.div_euclid(1_000_000_000);
    if to < from {
        return Err(ApiError::bad_request(format!(
            "to={}: before from={}",
            q.to, q.from
        )));
    }
    let least = match q.health.as_deref() {
        None | Some("amber") => Health::Amber,
        Some("grey") => Health::Grey,
        Some("red") => Health::Red,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "health={other}: must be amber, grey or red"
            )))
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_BAND_LIMIT).clamp(1, MAX_ROWS);
    let view = app.view.clone();
    let _turn = crate::whole_view_turn().await?;
    tokio::task::spawn_blocking(move || band_document(&view.read(), &q, from, to, least, limit))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

fn band_document(
    view: &View,
    q: &BandQuery,
    from: i64,
    to: i64,
    least: Health,
    limit: usize,
) -> Result<Response, ApiError> {
    let window = view.wall.window() as i64;
    // Only seconds the wall still holds can be hit.
    let end = view.wall.end().unwrap_or(0);
    let (from, to) = (from.max(end - window + 1), to.min(end));
    let mut shared = SharedBuilder::default();
    let mut hit = Vec::new();
    let mut count = 0;
    for f in chosen(view, q.group.as_deref())? {
        let (mut worst, mut seconds) = (0u8, 0u32);
        for s in from..=to {
            let c = view.wall.cell(f.wall_row, s);
            worst = worst.max(c);
            seconds += u32::from(c >= least as u8);
        }
        if seconds == 0 {
            continue;
        }
        count += 1;
        let vlan = f.last.as_ref().and_then(|r| r.vlan);
        shared.add(
            f.name.src.ip(),
            f.name.dst.ip(),
            f.group.as_deref(),
            vlan,
            f.name.kind,
        );
        if hit.len() < limit {
            hit.push(BandFlow {
                id: &f.id,
                group: f.group.as_deref(),
                src: f.name.src.to_string(),
                dst: f.name.dst.to_string(),
                vlan,
                kind: f.name.kind.as_str(),
                worst: Health::of_code(worst).map_or("none", Health::as_str),
                seconds,
            });
        }
    }
    let doc = BandDocument {
        schema: "streamprobe.wall-band/1",
        from: time_text(from * 1_000_000_000),
        to: time_text((to + 1) * 1_000_000_000),
        count,
        flows: hit,
        shared: shared.finish(),
    };
    serde_json::to_vec(&doc)
        .map(json_response)
        .map_err(|e| ApiError::internal(e.to_string()))
}

//! `GET /api/v1/wall` (every flow's health second by second, from the live view's
//! [`outputs::wall::HealthWall`]) and `GET /api/v1/wall/band` (the flows a band of seconds hit,
//! and what they share).

use crate::error::{rejected, ApiError};
use crate::routes::parse_time;
use crate::{check_read, json_response, time_text, AppState};
use analysis::alarm::shared::SharedBuilder;
use analysis::alarm::Shared;
use analysis::interval::FlowName;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use outputs::live_view::{Health, View};
use serde::{Deserialize, Serialize};

/// Rows a wall is drawn in at most by default: a screen's height of cells.
const DEFAULT_ROWS: usize = 300;
/// Rows asked for at most.
const MAX_ROWS: usize = 100_000;
/// Cells (rows x seconds) in one answer at most: 8 MiB before base64.
const MAX_CELLS: usize = 8 << 20;
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

/// A flow on the wall: one the view holds, or one forgotten less than a window ago.
struct WallFlow<'a> {
    id: &'a str,
    name: &'a FlowName,
    group: Option<&'a str>,
    vlan: Option<u16>,
    row: u32,
}

/// The wall's flows of `group` (all without one), forgotten ones included, sorted by group
/// (the ungrouped last), then in the stable order of definitions.md: destination, source,
/// SSRC.
fn chosen<'a>(view: &'a View, group: Option<&str>) -> Result<Vec<WallFlow<'a>>, ApiError> {
    if let Some(g) = group {
        if !view.groups.iter().any(|x| x.name == g) {
            return Err(ApiError::not_found(format!("group={g}: no such group")));
        }
    }
    let live = view.flows.values().map(|f| WallFlow {
        id: &f.id,
        name: &f.name,
        group: f.group.as_deref(),
        vlan: f.last.as_ref().and_then(|r| r.vlan),
        row: f.wall_row,
    });
    let gone = view.wall_gone.iter().map(|(id, g)| WallFlow {
        id,
        name: &g.name,
        group: g.group.as_deref(),
        vlan: g.vlan,
        row: g.wall_row,
    });
    let mut flows: Vec<WallFlow<'_>> = live
        .chain(gone)
        .filter(|f| group.is_none_or(|g| f.group == Some(g)))
        .collect();
    flows.sort_by(|a, b| {
        let key = |f: &WallFlow<'a>| {
            (
                f.group.is_none(),
                f.group,
                f.name.dst,
                f.name.src,
                f.name.ssrc,
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(flows)
}

/// Rows for groups of `sizes` flows, `max_rows` in all: one a group at least, the rest by
/// largest remainder in proportion to their flows, never more rows than flows. More groups
/// than `max_rows`: one row each.
fn share_rows(sizes: &[usize], max_rows: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let mut rows = vec![1; sizes.len()];
    let spare = max_rows.saturating_sub(sizes.len());
    if spare == 0 || total == 0 {
        return rows;
    }
    let mut remainders = Vec::with_capacity(sizes.len());
    for (i, &k) in sizes.iter().enumerate() {
        let exact = k * spare;
        rows[i] += exact / total;
        remainders.push((exact % total, i));
    }
    let given: usize = rows.iter().sum::<usize>() - sizes.len();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(spare - given) {
        rows[i] += 1;
    }
    for (r, &k) in rows.iter_mut().zip(sizes) {
        *r = (*r).min(k.max(1));
    }
    rows
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
    let mut at = 0;
    let mut groups = Vec::new();
    while at < flows.len() {
        let group = flows[at].group;
        let end = at + flows[at..].partition_point(|f| f.group == group);
        groups.push((at, end));
        at = end;
    }
    let shares = share_rows(
        &groups.iter().map(|(a, b)| b - a).collect::<Vec<_>>(),
        max_rows,
    );
    let cells_asked = shares.iter().sum::<usize>() * seconds;
    if cells_asked > MAX_CELLS {
        return Err(ApiError::bad_request(format!(
            "rows={max_rows} over {seconds} s: {cells_asked} cells, at most {MAX_CELLS}: ask fewer rows or minutes"
        )));
    }
    let mut rows = Vec::new();
    let mut cells = Vec::with_capacity(cells_asked);
    let mut line = vec![0u8; seconds];
    let mut one = vec![0u8; seconds];
    // Counts by code (0 none, 1 green ... 4 red), second by second.
    let mut by_code = vec![[0u32; 5]; seconds];
    for (&(at, end), &share) in groups.iter().zip(&shares) {
        let group = flows[at].group;
        let in_group = end - at;
        let per_row = in_group.div_ceil(share);
        for (k, chunk) in flows[at..end].chunks(per_row).enumerate() {
            line.fill(0);
            for f in chunk {
                view.wall.read(f.row, from, &mut one);
                for ((cell, &c), n) in line.iter_mut().zip(&one).zip(by_code.iter_mut()) {
                    n[usize::from(c.min(4))] += 1;
                    *cell = (*cell).max(c);
                }
            }
            cells.extend_from_slice(&line);
            let first = chunk[0].id;
            let last = chunk[chunk.len() - 1].id;
            let label = match (chunk.len(), group) {
                (1, _) => first.to_string(),
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
                flow: (chunk.len() == 1).then_some(first),
                first,
                last,
            });
        }
    }
    let code = |c: usize| by_code.iter().map(|n| n[c]).collect::<Vec<u32>>();
    let counts = Counts {
        green: code(Health::Green as usize),
        amber: code(Health::Amber as usize),
        grey: code(Health::Grey as usize),
        red: code(Health::Red as usize),
    };
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
    let mut one = vec![0u8; usize::try_from(to - from + 1).unwrap_or(0)];
    for f in chosen(view, q.group.as_deref())? {
        view.wall.read(f.row, from, &mut one);
        let worst = one.iter().copied().max().unwrap_or(0);
        let seconds = one.iter().filter(|&&c| c >= least as u8).count() as u32;
        if seconds == 0 {
            continue;
        }
        count += 1;
        shared.add(
            f.name.src.ip(),
            f.name.dst.ip(),
            f.group,
            f.vlan,
            f.name.kind,
        );
        if hit.len() < limit {
            hit.push(BandFlow {
                id: f.id,
                group: f.group,
                src: f.name.src.to_string(),
                dst: f.name.dst.to_string(),
                vlan: f.vlan,
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

#[cfg(test)]
mod tests {
    use super::share_rows;

    #[test]
    fn rows_are_shared_by_largest_remainder_one_a_group_at_least() {
        assert_eq!(share_rows(&[1, 1, 98], 3), [1, 1, 1]);
        assert_eq!(share_rows(&[1, 1, 98], 10), [1, 1, 8]);
        assert_eq!(share_rows(&[8, 2], 3), [2, 1]);
        assert_eq!(share_rows(&[50, 50], 10), [5, 5]);
        assert_eq!(
            share_rows(&[5, 3], 300),
            [5, 3],
            "never more rows than flows"
        );
        assert_eq!(
            share_rows(&[1, 1, 1, 1], 2),
            [1, 1, 1, 1],
            "more groups than rows"
        );
        let shares = share_rows(&[37, 1000, 3, 999], 300);
        assert_eq!(shares.iter().sum::<usize>(), 300);
        assert_eq!(shares, [6, 146, 2, 146]);
    }
}

//! The web dashboard: `GET /` and `GET /assets/{file}`, every file built into the binary
//! (`include_bytes!`), so the page needs no CDN and no internet. The page is plain HTML, CSS
//! and ES modules (crates/api/assets/) with uPlot vendored from the npm registry
//! (assets/vendor/uplot/, its licence and origin there); docs/dashboard.md tells what it shows.
//!
//! The files hold no data, so they are served without the token; every figure the page shows
//! comes from `/api/v1/...`, which asks for the token as any client's call does (with
//! `[api] read_token = true` the page asks for it once and keeps it in the browser).
//!
//! Caching: each file's ETag is a hash of its bytes (a new binary with a changed file gives a
//! new tag), `Cache-Control: no-cache` makes the browser ask again with `If-None-Match` and
//! get `304 Not Modified` while the file is the same. Every answer carries a Content Security
//! Policy that allows only this origin (`default-src 'self'`): no inline script, no other host.

use crate::error::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// Only this origin, for scripts, styles, images (the wall's canvas, `data:` screenshots
/// aside) and API calls; no framing (clickjacking).
const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// (name under /assets/, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("../assets/index.html")),
    ("app.css", CSS, include_bytes!("../assets/app.css")),
    ("app.js", JS, include_bytes!("../assets/app.js")),
    ("api.js", JS, include_bytes!("../assets/api.js")),
    ("health.js", JS, include_bytes!("../assets/health.js")),
    ("flows.js", JS, include_bytes!("../assets/flows.js")),
    ("wall.js", JS, include_bytes!("../assets/wall.js")),
    ("flow.js", JS, include_bytes!("../assets/flow.js")),
    ("alarms.js", JS, include_bytes!("../assets/alarms.js")),
    ("groups.js", JS, include_bytes!("../assets/groups.js")),
    ("probe.js", JS, include_bytes!("../assets/probe.js")),
    (
        "vendor/uplot/uPlot.iife.min.js",
        JS,
        include_bytes!("../assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "vendor/uplot/uPlot.min.css",
        CSS,
        include_bytes!("../assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "vendor/uplot/LICENSE",
        TEXT,
        include_bytes!("../assets/vendor/uplot/LICENSE"),
    ),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// One served file: its type, bytes and tag.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: String,
}

/// The files, and `routes.json`: the API's routes ([`crate::ROUTES`]), so the page calls
/// only routes this build serves (a missing one is "not available", not a failed request).
fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let routes: Vec<String> = crate::ROUTES
            .iter()
            .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
            .collect();
        let routes: &'static [u8] = serde_json::to_vec(&routes).unwrap_or_default().leak();
        FILES
            .iter()
            .map(|&(name, content_type, bytes)| (name, content_type, bytes))
            .chain([("routes.json", "application/json", routes)])
            .map(|(name, content_type, bytes)| Asset {
                name,
                content_type,
                bytes,
                etag: format!("\"{:016x}\"", fnv1a(bytes)),
            })
            .collect()
    })
}

/// FNV-1a, 64 bits: a tag that changes with the bytes (not a security hash: it only tells
/// the browser whether its copy is current).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    let common = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.bytes,
    )
        .into_response()
}

/// `GET /`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    match assets().iter().find(|a| a.name == "index.html") {
        Some(a) => serve(a, &headers),
        None => ApiError::internal("the dashboard was built without its page").into_response(),
    }
}

/// `GET /assets/{file}`: a file of the page.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match assets().iter().find(|a| a.name == file) {
        Some(a) => serve(a, &headers),
        None => ApiError::not_found(format!("no such dashboard asset: {file}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_type_and_a_tag_of_its_bytes_and_routes_lists_the_api() {
        let all = assets();
        assert_eq!(all.len(), FILES.len() + 1);
        for a in all {
            assert!(!a.bytes.is_empty(), "{}", a.name);
            assert_eq!(a.etag, format!("\"{:016x}\"", fnv1a(a.bytes)));
        }
        let routes = all.iter().find(|a| a.name == "routes.json").unwrap();
        let list: Vec<String> = serde_json::from_slice(routes.bytes).unwrap();
        assert!(list.contains(&"GET /api/v1/flows".to_string()));
        assert_eq!(list.len(), crate::ROUTES.len());
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // The FNV-1a test vectors (draft-eastlake-fnv, section 7 / Appendix C).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

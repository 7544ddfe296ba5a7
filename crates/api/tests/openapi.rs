//! docs/openapi.yaml documents exactly the routes the API serves (`api::ROUTES`, which the
//! router is built from): each route with its method, and no route the API does not have.

use std::collections::BTreeSet;

/// (method, path) pairs under `paths:` in the OpenAPI file, read by indentation: a path is
/// a key indented 2 spaces, its methods keys indented 4.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .expect("docs/openapi.yaml");
    let mut pairs = BTreeSet::new();
    let mut in_paths = false;
    let mut path = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let (Some(p), Some(m)) = (
            &path,
            line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')),
        ) {
            if ["get", "post", "put", "delete", "patch"].contains(&m) {
                pairs.insert((m.to_string(), p.clone()));
            }
        }
    }
    pairs
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let served: BTreeSet<(String, String)> = api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = documented();
    assert!(served.len() >= 10);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes not in docs/openapi.yaml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "documented routes the API does not serve: {extra:?}"
    );
}

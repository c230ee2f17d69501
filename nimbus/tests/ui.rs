//! The web UI against a real nimbus on loopback: its page and assets answer without a
//! token, with their content types and security headers, while the API still needs
//! one; unknown assets are 404 and no path walks out of the asset list; the DAG the
//! topology page draws comes from Storm's `/api/v1/topology/{id}/visualization`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' \
data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assert_secure(path: &str, h: &HeaderMap) {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("content-security-policy"), CSP, "{path}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
    assert_eq!(get("cache-control"), "no-cache", "{path}");
}

/// `GET path` without a token: status, headers, body.
async fn anonymous(n: &TestNimbus, path: &str) -> (StatusCode, HeaderMap, String) {
    let r = client_with(None).get(n.url(path)).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// A request sent byte for byte (no client normalises its path); the status code and
/// the whole answer.
async fn raw(n: &TestNimbus, path: &str, token: Option<&str>) -> (u16, String) {
    let addr = n.handle.url().trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split_whitespace().nth(1).unwrap_or("");
    let status = status.parse().unwrap_or_else(|_| panic!("{path}: {text}"));
    (status, text)
}

/// The status of a path that must not reach a file, with or without a token.
async fn raw_status(n: &TestNimbus, path: &str, token: Option<&str>) -> u16 {
    let (status, text) = raw(n, path, token).await;
    assert!(
        !text.contains("import ") && !text.contains("<html") && !text.contains("[package]"),
        "{path} served a file: {text}"
    );
    status
}

#[tokio::test]
async fn the_page_and_assets_are_open_with_security_headers_and_the_api_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    assert!(n.admin.is_some(), "authentication is on");
    for path in ["/", "/index.html"] {
        let (status, h, body) = anonymous(&n, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        assert_secure(path, &h);
        assert!(
            body.contains("<script type=\"module\" src=\"/ui/app.js\""),
            "{body}"
        );
    }
    for (path, kind) in [
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/dag.js", "text/javascript; charset=utf-8"),
        ("/ui/style.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ] {
        let (status, h, body) = anonymous(&n, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h["content-type"], kind, "{path}");
        assert_secure(path, &h);
        assert!(!body.is_empty(), "{path}");
    }
    // The data stays behind the token.
    for path in [
        "/api/v1/topologies",
        "/api/v1/topology/summary",
        "/api/v1/cluster/summary",
        "/api/v1/topology/wc/visualization",
        "/metrics",
    ] {
        let (status, h, _) = anonymous(&n, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(h["www-authenticate"], "Bearer", "{path}");
    }
    // Only GET (and HEAD) are open.
    let r = client_with(None).post(n.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client_with(None)
        .head(n.url("/ui/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // An unknown asset: 404 in the API's error shape, still with the headers.
    let (status, h, body) = anonymous(&n, "/ui/nope.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_secure("/ui/nope.js", &h);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("nope.js"),
        "{body}"
    );
}

#[tokio::test]
async fn no_ui_path_walks_out_of_the_asset_list() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let admin = n.admin.as_ref().unwrap().to_text().expose().clone();
    let (status, text) = raw(&n, "/ui/app.js", None).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("import "), "{text}");
    for path in [
        "/ui/../api/v1/topologies",
        "/ui/..%2Fapi%2Fv1%2Ftopologies",
        "/ui/%2e%2e/%2e%2e/etc/passwd",
        "/ui/..%2F..%2FCargo.toml",
        "/ui/../../../../etc/passwd",
        "/ui/./app.js",
        "/ui//app.js",
        "/ui/.%2Fapp.js",
    ] {
        // Not a UI path: it needs a token like any other, and then finds nothing.
        assert_eq!(raw_status(&n, path, None).await, 401, "{path}");
        assert_eq!(raw_status(&n, path, Some(&admin)).await, 404, "{path}");
    }
}

#[tokio::test]
async fn without_authentication_the_page_and_the_api_open_directly() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.auth.mode = squall_runtime::daemon::Authentication::None;
    })
    .await;
    let (status, h, _) = anonymous(&n, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure("/", &h);
    let (status, _, _) = anonymous(&n, "/api/v1/topology/summary").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_visualization_lists_every_component_with_its_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    let _s1 = FakeSupervisor::start(&n, "s1");
    n.heartbeat("s1").await;
    let (status, body) = n.submit("wc", YAML, &hash).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let viewer = client_for(&n.create_token("ann", "viewer").await);
    for topology in [id.as_str(), "wc"] {
        let r = viewer
            .get(n.url(&format!(
                "/api/v1/topology/{topology}/visualization?window=600"
            )))
            .send()
            .await
            .unwrap();
        let (status, v) = into_json(r).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let mut ids: Vec<&String> = v.as_object().unwrap().keys().collect();
        ids.sort();
        assert_eq!(ids, ["count", "sentences"], "{v}");
        assert_eq!(v["sentences"][":type"], "spout");
        assert_eq!(v["sentences"][":inputs"], json!([]));
        assert_eq!(v["count"][":type"], "bolt");
        assert_eq!(v["count"][":backpressure"], false);
        let input = &v["count"][":inputs"][0];
        assert_eq!(input[":component"], "sentences");
        assert_eq!(input[":stream"], "default");
        assert_eq!(input[":grouping"], "fields");
        assert_eq!(input[":grouping-fields"], json!(["word"]));
        assert_eq!(input[":rate"], 0.0, "no worker reported");
        assert_eq!(
            v["count"][":link"],
            format!("/#/topology/{id}/component/count")
        );
    }
    let (status, v) = n
        .get(&format!("/api/v1/topology/{id}/visualization?sys=1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(v.get("__acker").is_some(), "{v}");
    let (status, v) = n.get("/api/v1/topology/nope/visualization").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "404 Not Found", "Storm's error shape: {v}");
    let (status, _) = n
        .get(&format!("/api/v1/topology/{id}/visualization?window=7"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

//! The web UI: a single page and its assets (`nimbus/ui/`), embedded in the binary at
//! build time and served without a token (they carry no data: the page reads
//! everything through the authenticated API with the token the user gives it).
//!
//! - `GET /` and `GET /index.html`: the page;
//! - `GET /ui/{file}`: an asset from the fixed list [`ASSETS`] (a name, never a path:
//!   anything else, `..` included, is a 404 in the API's error shape).
//!
//! Every answer carries [`SECURITY_HEADERS`]: a Content-Security-Policy allowing only
//! this origin's scripts, styles and connections (no inline script, no framing),
//! `nosniff`, no referrer, and `no-cache` (the page is revalidated after an upgrade).

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use squall_runtime::cluster::protocol::ErrorBody;

/// The Content-Security-Policy of every UI answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self'";

/// The headers every UI answer carries (besides its `Content-Type`).
pub const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (CONTENT_SECURITY_POLICY, CSP),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (REFERRER_POLICY, "no-referrer"),
    (CACHE_CONTROL, "no-cache"),
];

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its name under `/ui/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself (`/` and `/index.html`).
pub const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../ui/index.html"),
};

/// Every file served under `/ui/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../ui/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../ui/favicon.svg"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../../ui/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("../../ui/api.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: include_str!("../../ui/dom.js"),
    },
    Asset {
        name: "format.js",
        content_type: JS,
        body: include_str!("../../ui/format.js"),
    },
    Asset {
        name: "dag.js",
        content_type: JS,
        body: include_str!("../../ui/dag.js"),
    },
    Asset {
        name: "actions.js",
        content_type: JS,
        body: include_str!("../../ui/actions.js"),
    },
    Asset {
        name: "cluster.js",
        content_type: JS,
        body: include_str!("../../ui/cluster.js"),
    },
    Asset {
        name: "topology.js",
        content_type: JS,
        body: include_str!("../../ui/topology.js"),
    },
    Asset {
        name: "component.js",
        content_type: JS,
        body: include_str!("../../ui/component.js"),
    },
    Asset {
        name: "logs.js",
        content_type: JS,
        body: include_str!("../../ui/logs.js"),
    },
];

/// Whether `GET path` is a UI route (open: no token needed). Only `/`, `/index.html`
/// and `/ui/<name>` with a name of letters, digits, `.`, `-` and `_` that is not `..`.
pub fn is_ui_path(path: &str) -> bool {
    match path {
        "/" | "/index.html" => true,
        _ => path.strip_prefix("/ui/").is_some_and(is_asset_name),
    }
}

fn is_asset_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The asset named `name`, if it is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn serve(a: &Asset) -> Response {
    let mut response = (
        [(CONTENT_TYPE, HeaderValue::from_static(a.content_type))],
        a.body,
    )
        .into_response();
    secure(&mut response);
    response
}

/// Add [`SECURITY_HEADERS`] to `response`.
fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// `GET /` and `GET /index.html`.
pub async fn index() -> Response {
    serve(&INDEX)
}

/// `GET /ui/{file}`.
pub async fn file(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some(a) => serve(a),
        None => {
            let body = ErrorBody {
                error: format!(
                    "no such UI file: '{}'",
                    name.chars().take(64).collect::<String>()
                ),
                details: Vec::new(),
                code: None,
            };
            let mut response = (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
            secure(&mut response);
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_ui_paths() {
        for open in [
            "/",
            "/index.html",
            "/ui/app.js",
            "/ui/style.css",
            "/ui/nope.js",
        ] {
            assert!(is_ui_path(open), "{open}");
        }
        for closed in [
            "",
            "/ui/",
            "/ui/../api/v1/topologies",
            "/ui/..",
            "/ui/.hidden",
            "/ui/a/b.js",
            "/ui/%2e%2e",
            "/ui/..%2Fx",
            "/index.htm",
            "/api/v1/topologies",
            "/metrics",
            "//",
        ] {
            assert!(!is_ui_path(closed), "{closed}");
        }
    }

    #[test]
    fn every_asset_is_embedded_with_its_type() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{}", a.name);
            assert!(is_asset_name(a.name), "{}", a.name);
            assert_eq!(asset(a.name).map(|x| x.name), Some(a.name));
        }
        assert!(asset("../index.html").is_none());
        assert!(INDEX.body.contains("/ui/app.js"));
    }

    #[test]
    fn no_inline_script_or_handler_in_the_page() {
        let page = INDEX.body.to_ascii_lowercase();
        // Every script tag has a src.
        for (i, _) in page.match_indices("<script") {
            let tag = &page[i..page[i..].find('>').map_or(page.len(), |e| i + e)];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
        assert!(!page.contains(" onclick="), "inline handler");
        assert!(!page.contains(" onload="), "inline handler");
        assert!(!page.contains("style=\""), "inline style");
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            assert!(!a.body.contains("eval("), "{} uses eval", a.name);
            assert!(!a.body.contains("innerHTML"), "{} uses innerHTML", a.name);
            assert!(!a.body.contains("new Function"), "{} uses Function", a.name);
        }
    }
}

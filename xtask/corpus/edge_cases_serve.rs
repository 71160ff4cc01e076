//! Serves the stubs generated from `edge-cases.yaml` on loopback and checks
//! over real HTTP that each construct decodes as the spec defines it. The
//! constructs are exclusive bounds of number parameters, string enums in
//! cookies, a property named `$ref` and a path segment that is not ASCII.
//!
//! `corpus_crates_compile` copies this file into the generated server
//! crate's `tests/` and runs it there.

mod common;

use std::sync::Arc;

use common::send;
use edge_cases_server::*;

/// An `Api` that returns what it received.
struct Echo;

impl Api for Echo {
    async fn get_totals(&self, _: &RequestContext, request: GetTotalsRequest) -> GetTotalsResponse {
        GetTotalsResponse::Ok(vec![request.min_total, request.share])
    }

    async fn get_theme(&self, _: &RequestContext, request: GetThemeRequest) -> GetThemeResponse {
        let contrast = request.contrast.map(|contrast| contrast.to_string());
        GetThemeResponse::Ok(vec![request.theme, contrast.unwrap_or_default()])
    }

    async fn add_link(&self, _: &RequestContext, request: AddLinkRequest) -> AddLinkResponse {
        AddLinkResponse::Created(request.body)
    }

    async fn get_lab(&self, _: &RequestContext, request: GetLabRequest) -> GetLabResponse {
        GetLabResponse::Ok(request.name)
    }
}

async fn start() -> String {
    common::start(router(Arc::new(Echo))).await
}

#[tokio::test]
async fn exclusive_bounds_reject_the_bound() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.get(format!("{base}/totals?min_total=0.5&share=0"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!([0.5, 0.0]));

    let (status, body) = send(http.get(format!("{base}/totals?min_total=0"))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["data"]["min_total"], "Expected a number greater than 0",
        "{body}"
    );
    let (status, body) = send(http.get(format!("{base}/totals?share=1"))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["data"]["share"], "Expected a number of at least 0 and less than 1",
        "{body}"
    );
    let (status, _) = send(http.get(format!("{base}/totals?share=-0.1"))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn cookie_enums_are_checked() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.get(format!("{base}/theme"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!(["light", ""]), "the default");
    let cookies = "theme=dark; contrast=high";
    let (status, body) = send(http.get(format!("{base}/theme")).header("Cookie", cookies)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!(["dark", "high"]));

    let (status, body) = send(http.get(format!("{base}/theme")).header("Cookie", "theme=blue")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["data"]["theme"], "Expected one of: dark, light",
        "{body}"
    );
    let (status, body) = send(http.get(format!("{base}/theme")).header("Cookie", "contrast=low")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["data"]["contrast"], "Expected one of: normal, high",
        "{body}"
    );
}

#[tokio::test]
async fn ref_property_is_a_field() {
    let base = start().await;
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(format!("{base}/links"))
            .header("Content-Type", "application/json")
            .body(body)
    };
    let (status, body) = send(post(r##"{"$ref": "#/a"}"##)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, serde_json::json!({"$ref": "#/a"}));

    let (status, body) = send(post(r#"{"$ref": ""}"#)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["data"]["$ref"].is_string(), "{body}");
    let (status, body) = send(post("{}")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["data"]["$ref"].is_string(), "{body}");
}

#[tokio::test]
async fn non_ascii_segment_is_routed() {
    let base = start().await;
    let http = reqwest::Client::new();
    // reqwest percent-encodes `ü` as `%C3%BC`.
    for path in ["/lab/über/än", "/lab/%C3%BCber/%C3%A4n"] {
        let (status, body) = send(http.get(format!("{base}{path}"))).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body, "än", "{path}");
    }
    let (status, body) = send(http.post(format!("{base}/lab/über/a"))).await;
    assert_eq!(status, 405, "{body}");

    // Other clients send lower-case hex digits, or the UTF-8 bytes as they are.
    for path in ["/lab/%c3%bcber/a", "/lab/über/a"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let response = send_raw(&base, &request).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{path}: {response}");
        assert!(response.ends_with("\r\n\r\n\"a\""), "{path}: {response}");
    }
}

/// Sends `request` as written over one connection, and returns the
/// response as text, read until the server closes the connection.
async fn send_raw(base: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://").to_string();
    let request = request.to_string();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read");
        String::from_utf8_lossy(&response).to_string()
    })
    .await
    .expect("the request thread ends")
}

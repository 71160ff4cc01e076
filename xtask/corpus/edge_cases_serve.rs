//! Serves the stubs generated from `edge-cases.yaml` on loopback and checks
//! over real HTTP that each construct decodes as the spec defines it:
//! exclusive bounds of number parameters, string enums in cookies, and a
//! property named `$ref`.
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

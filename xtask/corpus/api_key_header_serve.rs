//! Serves the stubs generated from `api-key-header.yaml` on loopback and
//! checks over real HTTP that a rejected API key gets a 401 with the error
//! body `{"error": {"message", "data"}}`, whether or not the operation
//! documents a 401. It also checks that a `pattern` with nested
//! quantifiers is checked in linear time.
//!
//! `corpus_crates_compile` copies this file into the generated server
//! crate's `tests/` and runs it there.

mod common;

use std::sync::Arc;

use api_key_header_server::*;
use common::send;

/// The only key that `Keys` accepts.
const KEY: &str = "secret";

/// An `Api` that accepts the key `KEY` and builds each response from the request alone.
struct Keys;

impl Api for Keys {
    fn authenticate(&self, _: &RequestContext, api_key: &ApiKey) -> Result<(), Rejection> {
        match api_key {
            ApiKey::Key(key) if key == KEY => Ok(()),
            ApiKey::Missing => Err(Rejection::unauthorized("X-Key", "Send an API key")),
            _ => Err(Rejection::unauthorized("X-Key", "Unknown API key")),
        }
    }

    async fn op_123start(
        &self,
        _: &RequestContext,
        request: Op123startRequest,
    ) -> Op123startResponse {
        Op123startResponse::Ok(request._2nd)
    }

    async fn get_slug(&self, _: &RequestContext, request: GetSlugRequest) -> GetSlugResponse {
        GetSlugResponse::Ok(request.slug)
    }

    async fn create_slug(
        &self,
        _: &RequestContext,
        request: CreateSlugRequest,
    ) -> CreateSlugResponse {
        CreateSlugResponse::Created(String::from(request.body.slug))
    }

    async fn count(&self, _: &RequestContext, _: CountRequest) -> CountResponse {
        CountResponse::Ok(7)
    }

    async fn health(&self, _: &RequestContext, _: HealthRequest) -> HealthResponse {
        HealthResponse::NoContent
    }
}

async fn start() -> String {
    common::start(router(Arc::new(Keys))).await
}

#[tokio::test]
async fn rejected_key_gets_error_body() {
    let base = start().await;
    let http = reqwest::Client::new();
    for path in ["/things/a", "/count"] {
        let (status, body) = send(http.get(format!("{base}{path}")).header("X-Key", "wrong")).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            body["error"]["message"], "Unknown API key",
            "{path}: {body}"
        );
        assert_eq!(
            body["error"]["data"]["X-Key"], "Unknown API key",
            "{path}: {body}"
        );
        let (status, body) = send(http.get(format!("{base}{path}"))).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            body["error"]["message"], "Send an API key",
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn accepted_key_reaches_operation() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.get(format!("{base}/things/b")).header("X-Key", KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(body, "b");
    let (status, body) = send(http.get(format!("{base}/count")).header("X-Key", KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(body, 7);
}

#[tokio::test]
async fn unsecured_operation_skips_key() {
    let base = start().await;
    let (status, _) = send(reqwest::Client::new().get(format!("{base}/health"))).await;
    assert_eq!(status, 204);
}

/// Serves the stubs from a thread of their own that is never joined, so
/// that a check that blocks the server cannot block the test's client.
fn start_detached() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            axum::serve(listener, router(Arc::new(Keys))).await
        })
    });
    format!("http://{address}")
}

#[tokio::test]
async fn nested_quantifier_pattern_is_linear() {
    let base = start_detached();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let (status, body) = send(http.get(format!("{base}/slugs/a-b1")).header("X-Key", KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(body, "a-b1");
    // A backtracking engine takes time exponential in the `a`s here.
    let slug = format!("{}_", "a".repeat(5000));
    let (status, body) = send(
        http.get(format!("{base}/slugs/{slug}"))
            .header("X-Key", KEY),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["data"]["slug"].is_string(), "{body}");
    let request = http
        .post(format!("{base}/slugs"))
        .header("X-Key", KEY)
        .header("content-type", "application/json")
        .body(format!(r#"{{"slug": "{slug}"}}"#));
    let (status, body) = send(request).await;
    assert_eq!(status, 400);
    assert!(body["error"]["data"]["slug"].is_string(), "{body}");
}

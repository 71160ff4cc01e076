//! Helpers of the tests that serve generated stubs on loopback:
//! `corpus_crates_compile` copies this file into each served crate as
//! `tests/common/mod.rs`.

use std::net::SocketAddr;

/// Serves `app` on a free loopback port and returns its base URL.
pub async fn start(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// Sends `request` and returns the status and the JSON body, `null` when
/// the body is empty.
pub async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request is sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, body)
}

//! Harness of the fuzz targets: feeds one input through the mock's router,
//! with its middleware, and checks the response.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use serde_json::Value;
use tower::ServiceExt;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a tokio runtime")
});

static APP: LazyLock<axum::Router> = LazyLock::new(|| {
    let api = MockApi::new(ClusterState::default_state(), vec![DEFAULT_API_KEY.to_string()]);
    mock_server::app(Arc::new(api))
});

/// Parses `data` as an HTTP/1.1 request (head, then body bytes), sends it
/// through the router and checks the response. Inputs that are not a
/// complete request head are skipped: hyper rejects those before routing.
pub fn check_http_request(data: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(head_length)) = parsed.parse(data) else {
        return;
    };
    let (Some(method), Some(path)) = (parsed.method, parsed.path) else {
        return;
    };
    let (Ok(method), Ok(uri)) = (Method::from_bytes(method.as_bytes()), path.parse::<Uri>()) else {
        return;
    };
    let mut request = Request::new(Body::from(data[head_length..].to_vec()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    for header in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(header.value),
        ) else {
            return;
        };
        request.headers_mut().append(name, value);
    }
    let jsonrpc = request.uri().path() == "/jsonrpc";
    let (status, body) = send(request);
    check_body(status, &body, jsonrpc);
}

/// Posts `data` to `/jsonrpc` with a valid key and checks the envelope.
pub fn check_jsonrpc_envelope(data: &[u8]) {
    let request = Request::post("/jsonrpc")
        .header("Content-Type", "application/json")
        .header("X-Api-Key", DEFAULT_API_KEY)
        .body(Body::from(data.to_vec()))
        .expect("a valid request");
    let (status, body) = send(request);
    assert!(
        matches!(status, 200 | 204 | 400 | 413),
        "status {status} for a JSON-RPC payload"
    );
    check_body(status, &body, true);
}

fn send(mut request: Request<Body>) -> (u16, Vec<u8>) {
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("a socket address");
    request.extensions_mut().insert(ConnectInfo(peer));
    RUNTIME.block_on(async {
        let response: Response<Body> = APP.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("read the response body");
        (status, body.to_vec())
    })
}

/// Checks that no request is a server error and that every error has the
/// documented body: the REST error body, or a JSON-RPC response.
fn check_body(status: u16, body: &[u8], jsonrpc: bool) {
    assert!(status < 500, "status {status}: {}", String::from_utf8_lossy(body));
    if status == 204 || (status < 400 && !jsonrpc) {
        return;
    }
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("status {status}: body is not JSON ({error})"));
    let rest_error = value["error"]["message"].is_string();
    let envelope = value["jsonrpc"] == "2.0" || value.as_array().is_some_and(|items| !items.is_empty());
    assert!(
        rest_error || (jsonrpc && envelope),
        "status {status}: not a documented body: {value}"
    );
}

//! Harness of the fuzz targets: feeds one input through the mock's server,
//! with its middleware, and checks the responses.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, Response};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a tokio runtime")
});

static APP: LazyLock<axum::Router> = LazyLock::new(|| {
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    );
    mock_server::app(Arc::new(api))
});

static SERVICE: LazyLock<mock_server::MockService> = LazyLock::new(|| {
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    );
    mock_server::service_with(Arc::new(api), &mock_server::AppOptions::default())
});

/// Maximum time for one input; a connection still open then is a hang.
const INPUT_LIMIT: Duration = Duration::from_secs(5);

/// Sends `data` as the raw bytes of one client connection through the
/// server's own connection handling: hyper over an in-memory stream, with
/// the rewrite of hyper's protocol errors. Then it shuts down the client's
/// write half and checks every response the server sends until it closes.
pub fn check_http_request(data: &[u8]) {
    let output = RUNTIME.block_on(async {
        let (mut client, server) = tokio::io::duplex(256 * 1024);
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("a socket address");
        let serving = tokio::spawn(mock_server::serve_connection(
            server,
            peer,
            SERVICE.clone(),
            mock_server::Limits::default(),
        ));
        let exchange = async {
            let mut output = Vec::new();
            // The server may close before it reads all input, so a failed
            // write is not a finding; what it sent is checked below.
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let _ = client.read_to_end(&mut output).await;
            output
        };
        let output = tokio::time::timeout(INPUT_LIMIT, exchange)
            .await
            .expect("the server closes the connection within the limit");
        let _ = serving.await;
        output
    });
    let jsonrpc = data.windows(8).any(|window| window == b"/jsonrpc");
    let head = data
        .windows(4)
        .any(|window| window.eq_ignore_ascii_case(b"HEAD"));
    check_responses(&output, jsonrpc, head);
}

/// Checks each HTTP/1.1 response in `output`: a complete head, no 5xx, and
/// an error body that [`check_body`] accepts. With `head`, only the first
/// response is checked.
fn check_responses(mut output: &[u8], jsonrpc: bool, head: bool) {
    while !output.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let head_length = match response.parse(output) {
            Ok(httparse::Status::Complete(length)) => length,
            other => panic!(
                "not a response head ({other:?}): {:?}",
                String::from_utf8_lossy(output)
            ),
        };
        let status = response.code.expect("a status code");
        let declared = response
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case("content-length"))
            .map(|header| {
                let text = std::str::from_utf8(header.value).expect("an ASCII length");
                text.trim().parse::<usize>().expect("a decimal length")
            });
        let length = match declared {
            Some(length) => length,
            None if status < 200 || status == 204 || status == 304 => 0,
            None => panic!("status {status} without Content-Length"),
        };
        assert!(
            status < 500,
            "status {status}: {:?}",
            String::from_utf8_lossy(output)
        );
        // A response to HEAD declares a length but sends no body, so the
        // bytes after it cannot be split into responses.
        if head {
            return;
        }
        // Only error bodies are checked: a success cannot be matched to its
        // request when an input pipelines several requests to different
        // paths. `jsonrpc_envelope` checks JSON-RPC success bodies.
        let body = &output[head_length..head_length + length];
        if status >= 400 {
            check_body(status, body, jsonrpc);
        }
        output = &output[head_length + length..];
    }
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
    assert!(
        status < 500,
        "status {status}: {}",
        String::from_utf8_lossy(body)
    );
    if status == 204 || (status < 400 && !jsonrpc) {
        return;
    }
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("status {status}: body is not JSON ({error})"));
    let rest_error = value["error"]["message"].is_string();
    let envelope =
        value["jsonrpc"] == "2.0" || value.as_array().is_some_and(|items| !items.is_empty());
    assert!(
        rest_error || (jsonrpc && envelope),
        "status {status}: not a documented body: {value}"
    );
}

//! The middleware of every response: request ids, and a 500 in the
//! documented body for a handler panic on a connection that stays open.

use std::net::SocketAddr;

use axum::routing::get;
use contract_tests::MockServer;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Serves `router` through `mock_server::with_middleware` on 127.0.0.1,
/// with connect info as `mock_server::serve` has it.
async fn serve_router(router: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let address = listener.local_addr().expect("read the bound address");
    let app =
        mock_server::with_middleware(router).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve the router");
    });
    (address, task)
}

/// A response read from a raw HTTP/1.1 connection.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends `GET path` on `connection`, keeping it open, and reads the
/// response, whose body must have a Content-Length.
async fn get_on(connection: &mut BufReader<TcpStream>, path: &str) -> RawResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    connection
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .expect("send the request");

    let mut status_line = String::new();
    connection
        .read_line(&mut status_line)
        .await
        .expect("read the status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| {
            panic!("the server closed the connection without a response ({status_line:?})")
        });

    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        connection
            .read_line(&mut line)
            .await
            .expect("read a header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        headers.push((name.to_string(), value.trim().to_string()));
    }

    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let length: usize = response
        .header("content-length")
        .expect("a Content-Length header")
        .parse()
        .expect("a numeric Content-Length");
    response.body = vec![0; length];
    connection
        .read_exact(&mut response.body)
        .await
        .expect("read the body");
    response
}

async fn panicking_handler() -> &'static str {
    panic!("handler failed on purpose")
}

#[tokio::test]
async fn handler_panic_returns_documented_500() {
    let router = axum::Router::new()
        .route("/panic", get(panicking_handler))
        .route("/ok", get(|| async { "ok" }));
    let (address, task) = serve_router(router).await;
    let stream = TcpStream::connect(address).await.expect("connect");
    let mut connection = BufReader::new(stream);

    let failed = get_on(&mut connection, "/panic").await;
    assert_eq!(failed.status, 500);
    assert!(failed.header("x-request-id").is_some());
    let body: Value = serde_json::from_slice(&failed.body).expect("a JSON body");
    assert_eq!(body["error"]["message"], "An unexpected error occurred");
    let data = body["error"]["data"].as_object().expect("a data object");
    assert_eq!(data.len(), 1, "{body}");
    let error_id = data["error_id"].as_str().expect("a string error_id");
    assert_eq!(error_id.len(), 16, "{error_id}");

    let next = get_on(&mut connection, "/ok").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body, b"ok");
    task.abort();
}

#[tokio::test]
async fn every_response_has_request_id() {
    let mock = MockServer::start().await;
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for path in ["/system/services/active/cron/terminate", "/unknown"] {
        let response = client
            .post(format!("{}{path}", mock.base_url()))
            .send()
            .await
            .expect("the mock answers");
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id on {path}"));
        ids.push(id.to_str().expect("an ASCII id").to_string());
    }
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

//! REST requests that the router rejects, over a real socket: every one
//! gets the documented body `{"error": {"message", "data"}}`.

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use serde_json::Value;

const TERMINATE: &str = "/system/services/active/cron/terminate";

struct Reply {
    status: u16,
    allow: Option<String>,
    body: Value,
}

async fn send(
    mock: &MockServer,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .map(|value| value.to_str().expect("ASCII Allow").to_string());
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().expect("ASCII content type").to_string());
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "status {status}"
    );
    let body = response.json().await.expect("a JSON body");
    Reply {
        status,
        allow,
        body,
    }
}

async fn terminate(mock: &MockServer, body: &str) -> Reply {
    send(
        mock,
        reqwest::Method::POST,
        TERMINATE,
        Some("application/json"),
        body.as_bytes().to_vec(),
    )
    .await
}

/// Asserts a documented 400 whose `data` names `field`; returns its message.
fn field_error(reply: &Reply, field: &str) -> String {
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["error"]["message"], "Invalid request");
    reply.body["error"]["data"][field]
        .as_str()
        .unwrap_or_else(|| panic!("data names {field}: {}", reply.body))
        .to_string()
}

#[tokio::test]
async fn malformed_bodies_name_the_field() {
    let mock = MockServer::start().await;
    let cases = [
        ("not json", "body", "Invalid JSON"),
        ("{} trailing", "body", "trailing characters"),
        ("", "body", "Request body is required"),
        ("   ", "body", "Request body is required"),
        ("[]", "body", "Expected a JSON object, found an array"),
        ("\"cron\"", "body", "Expected a JSON object, found a string"),
        ("null", "body", "Expected a JSON object, found null"),
        (
            r#"{"nodes_id": 5}"#,
            "nodes_id",
            "Expected a string or null, found a number",
        ),
        (r#"{"nodes_id": true}"#, "nodes_id", "found a boolean"),
        (r#"{"nodes_id": ["a"]}"#, "nodes_id", "found an array"),
        (
            r#"{"nodes_id": ""}"#,
            "nodes_id",
            "Empty value is not allowed",
        ),
        (
            r#"{"nodes_id": null, "nodes_id": "node-1"}"#,
            "body",
            "duplicate key `nodes_id`",
        ),
        (
            r#"{"node_id": "node-1"}"#,
            "node_id",
            "Unknown field; allowed fields: nodes_id",
        ),
    ];
    for (body, field, expected) in cases {
        let reply = terminate(&mock, body).await;
        let message = field_error(&reply, field);
        assert!(
            message.contains(expected),
            "body {body:?}: {message:?} lacks {expected:?}"
        );
    }
}

#[tokio::test]
async fn every_unknown_field_is_named() {
    let mock = MockServer::start().await;
    let reply = terminate(&mock, r#"{"a": 1, "b": 2, "nodes_id": null}"#).await;
    field_error(&reply, "a");
    field_error(&reply, "b");
}

#[tokio::test]
async fn malformed_body_changes_nothing() {
    let mock = MockServer::start().await;
    terminate(&mock, r#"{"nodes_id": 5}"#).await;
    let reply = terminate(&mock, r#"{"nodes_id": null}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, 2);
}

#[tokio::test]
async fn unknown_path_is_404() {
    let mock = MockServer::start().await;
    let reply = send(&mock, reqwest::Method::GET, "/nope", None, Vec::new()).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body["error"]["message"].is_string());
    assert_eq!(
        reply.body["error"]["data"]["path"],
        "No operation is served at /nope"
    );
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let mock = MockServer::start().await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let reply = send(&mock, method.clone(), TERMINATE, None, Vec::new()).await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.allow.as_deref(), Some("POST"), "{method}");
        assert!(
            reply.body["error"]["data"]["method"].is_string(),
            "{method}"
        );
    }
}

#[tokio::test]
async fn wrong_media_type_is_415() {
    let mock = MockServer::start().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
    ] {
        let reply = send(
            &mock,
            reqwest::Method::POST,
            TERMINATE,
            Some(content_type),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(reply.status, 415, "{content_type}");
        assert!(reply.body["error"]["data"]["content-type"].is_string());
    }
}

#[tokio::test]
async fn json_media_type_variants_are_accepted() {
    let mock = MockServer::start().await;
    for content_type in [
        "application/json; charset=utf-8",
        "application/merge+json",
        "Application/JSON",
    ] {
        let reply = send(
            &mock,
            reqwest::Method::POST,
            "/system/services/active/backup/terminate",
            Some(content_type),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(reply.status, 200, "{content_type}: {}", reply.body);
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let mock = MockServer::start().await;
    let padding = " ".repeat(system_services_server::MAX_BODY_BYTES);
    let reply = terminate(&mock, &format!("{{}}{padding}")).await;
    assert_eq!(reply.status, 413);
    assert!(reply.body["error"]["data"]["body"].is_string());
}

#[tokio::test]
async fn percent_encoded_id_is_decoded() {
    let mock = MockServer::start().await;
    let reply = send(
        &mock,
        reqwest::Method::POST,
        "/system/services/active/mail%20er/terminate",
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["error"]["data"]["object_id"], "mail er");
}

#[tokio::test]
async fn declared_oversized_body_is_413_at_once() {
    let mock = MockServer::start().await;
    let address = mock.address;
    let reply = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("set a read timeout");
        let head = format!(
            "POST {TERMINATE} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {DEFAULT_API_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000000\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("send the head");
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .expect("read the reply before any body byte");
        reply
    })
    .await
    .expect("the client thread finishes");
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(!reply.contains("100 Continue"), "{reply}");
}

#[tokio::test]
async fn repeated_content_type_is_415() {
    let mock = MockServer::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}{TERMINATE}", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "application/json")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("the mock answers");
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body["error"]["data"]["content-type"].is_string(), "{body}");
}

#[tokio::test]
async fn content_encoding_is_415() {
    let mock = MockServer::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}{TERMINATE}", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body("{}")
        .send()
        .await
        .expect("the mock answers");
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.expect("a JSON body");
    assert!(
        body["error"]["data"]["content-encoding"].is_string(),
        "{body}"
    );
}

/// Sends raw bytes on a new connection and returns the whole response.
async fn raw_exchange(mock: &MockServer, request: Vec<u8>) -> String {
    let address = mock.address;
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("set a read timeout");
        stream.write_all(&request).expect("send the request");
        let mut reply = Vec::new();
        stream
            .read_to_end(&mut reply)
            .expect("read until the server closes");
        String::from_utf8(reply).expect("a UTF-8 reply")
    })
    .await
    .expect("the client thread finishes")
}

#[tokio::test]
async fn unparsable_requests_get_documented_body() {
    let mock = MockServer::start().await;
    let many_headers: String = (0..150).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let cases = [
        ("HELLO\r\n\r\n".to_string(), 400),
        (
            format!("POST {TERMINATE} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
            400,
        ),
        (
            format!(
                "POST {TERMINATE} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"
            ),
            400,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            431,
        ),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000)),
            414,
        ),
    ];
    for (request, status) in cases {
        let shown: String = request.chars().take(60).collect();
        let reply = raw_exchange(&mock, request.into_bytes()).await;
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status} ")),
            "{shown:?}: {reply}"
        );
        let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
        assert!(
            head.contains("content-type: application/json"),
            "{shown:?}: {head}"
        );
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        assert!(body["error"]["message"].is_string(), "{shown:?}: {body}");
        assert!(
            body["error"]["data"]["request"].is_string(),
            "{shown:?}: {body}"
        );
    }
}

/// Sends raw bytes on a new connection from one thread while another reads,
/// and returns what arrives before the server closes or resets the
/// connection.
async fn raw_exchange_large(mock: &MockServer, request: Vec<u8>) -> String {
    let address = mock.address;
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("set a read timeout");
        let mut writer = stream.try_clone().expect("clone the stream");
        // The server may close before it has read all of the request.
        let sender = std::thread::spawn(move || writer.write_all(&request));
        let mut reply = Vec::new();
        let mut reader = stream;
        let mut buffer = [0; 4096];
        while let Ok(count @ 1..) = reader.read(&mut buffer) {
            reply.extend_from_slice(&buffer[..count]);
        }
        let _ = sender.join();
        String::from_utf8_lossy(&reply).into_owned()
    })
    .await
    .expect("the client thread finishes")
}

#[tokio::test]
async fn oversized_head_gets_431() {
    let mock = MockServer::start().await;
    let value = "v".repeat(mock_server::MAX_HEAD_BYTES);
    let request = format!("POST {TERMINATE} HTTP/1.1\r\nHost: x\r\nX-Large: {value}\r\n\r\n");
    // Whether hyper's buffer limit alone catches the head depends on how
    // its bytes are split across reads, so the request is sent ten times.
    for attempt in 0..10 {
        let reply = raw_exchange_large(&mock, request.clone().into_bytes()).await;
        let shown: String = reply.chars().take(80).collect();
        assert!(
            reply.starts_with("HTTP/1.1 431 "),
            "attempt {attempt}: {shown:?}"
        );
    }
}

#[tokio::test]
async fn large_head_under_limit_served() {
    let mock = MockServer::start().await;
    let value = "v".repeat(mock_server::MAX_HEAD_BYTES - 1_000);
    let request = format!(
        "POST {TERMINATE} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {DEFAULT_API_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\
         X-Large: {value}\r\n\r\n{{}}"
    );
    let reply = raw_exchange_large(&mock, request.into_bytes()).await;
    let shown: String = reply.chars().take(80).collect();
    assert!(reply.starts_with("HTTP/1.1 200 "), "{shown:?}");
}

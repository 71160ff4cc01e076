//! Strict decoding of JSON request bodies, which reads a valid body in one
//! pass: a repeated key at any depth, a body that is not an object and
//! trailing data are still rejected with the documented 400.

mod chunked;

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use serde_json::Value;
use system_services_server::MAX_BODY_BYTES;

/// A state fixture with nested objects in arrays, as JSON text.
const FIXTURE: &str = r#"{
  "nodes": [{"id": "n1", "name": "Only node"}],
  "services": [
    {"id": "tasks_scheduler", "name": "Tasks Scheduler"},
    {"id": "cron", "name": "Cron jobs"}
  ],
  "processes": [
    {"service": "cron", "node": "n1", "pid": 7, "started_at": "2026-11-30T08:00:05Z"}
  ]
}"#;

/// Sends `body` as JSON with `method` to `path` and returns the status and
/// the parsed body, or `Value::Null` for an empty one.
async fn send_json(
    mock: &MockServer,
    method: reqwest::Method,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", mock.base_url()))
        .header("Content-Type", "application/json")
        .header("X-Api-Key", DEFAULT_API_KEY)
        .body(body.to_string())
        .send()
        .await
        .expect("send the request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put_state(mock: &MockServer, body: &str) -> (u16, Value) {
    send_json(mock, reqwest::Method::PUT, "/__mock/state", body).await
}

#[tokio::test]
async fn nested_fixture_is_accepted() {
    let mock = MockServer::start().await;
    let (status, body) = put_state(&mock, FIXTURE).await;
    assert!((200..300).contains(&status), "{status} {body}");
}

#[tokio::test]
async fn nested_repeated_key_is_400() {
    let mock = MockServer::start().await;
    let in_process = FIXTURE.replace(r#""pid": 7,"#, r#""pid": 7, "pid": 8,"#);
    let in_node = FIXTURE.replace(r#""name": "Only node""#, r#""name": "A", "name": "B""#);
    for body in [in_process, in_node] {
        let (status, reply) = put_state(&mock, &body).await;
        assert_eq!(status, 400, "{reply}");
        let message = reply["error"]["data"]["body"].as_str().unwrap_or_default();
        assert!(message.contains("duplicate key"), "{reply}");
    }
}

#[tokio::test]
async fn non_object_bodies_are_400() {
    let mock = MockServer::start().await;
    let terminate = "/system/services/active/cron/terminate";
    let cases = [
        (r#"[null]"#, "Expected a JSON object, found an array"),
        (r#"{"nodes_id": null} {}"#, "Invalid JSON"),
        (r#"{"nodes_id": null, "nodes_id": null}"#, "duplicate key"),
    ];
    for (body, expected) in cases {
        let (status, reply) = send_json(&mock, reqwest::Method::POST, terminate, body).await;
        assert_eq!(status, 400, "{body}: {reply}");
        let message = reply["error"]["data"]["body"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {reply}");
    }
}

#[tokio::test]
async fn chunked_body_is_joined() {
    let mock = MockServer::start().await;
    let chunks: [&[u8]; 3] = [b"{\"nodes_", b"id\": \"no", b"de-1\"}"];
    let path = "/system/services/active/cron/terminate";
    let (status, body) = chunked::post_chunks(mock.address, path, chunks).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "1");
}

#[tokio::test]
async fn chunked_body_at_limit_is_read() {
    let mock = MockServer::start().await;
    let path = "/system/services/active/backup/terminate";
    let at_limit = format!("{{}}{}", " ".repeat(MAX_BODY_BYTES - 2));
    let (status, body) =
        chunked::post_chunks(mock.address, path, at_limit.as_bytes().chunks(4096)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "0");

    let status = chunked::post_chunked(mock.address, path, MAX_BODY_BYTES + 1).await;
    assert_eq!(status, 413);
}

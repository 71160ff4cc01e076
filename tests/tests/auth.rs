//! API keys limited to client networks, and `X-Forwarded-For` from trusted
//! proxies, over real sockets on 127.0.0.1.

use contract_tests::MockServer;
use mock_server::auth::{ApiKeyEntry, AuthPolicy, parse_network};
use serde_json::{Value, json};

const TERMINATE: &str = "/system/services/active/cron/terminate";

/// Starts a mock that accepts `keys` (`KEY` or `KEY@NET+NET`) and trusts
/// the proxies `trusted`.
async fn start(keys: &[&str], trusted: &[&str]) -> MockServer {
    let keys: Vec<ApiKeyEntry> = keys
        .iter()
        .map(|entry| entry.parse().expect("valid key entry"))
        .collect();
    let trusted = trusted
        .iter()
        .map(|network| parse_network(network).expect("valid network"))
        .collect();
    MockServer::start_with_auth(AuthPolicy::new(keys, trusted)).await
}

/// Sends a terminate call with `headers` and returns the status and body.
async fn terminate(mock: &MockServer, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{TERMINATE}", mock.base_url()))
        .header("Content-Type", "application/json")
        .body(r#"{"nodes_id": null}"#);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Builds the documented 401 body for the failure `message`.
fn auth_failed(message: &str) -> Value {
    json!({
        "error": {
            "message": format!("utoken-auth-failed: Authentication Failed: {message}"),
            "data": {
                "code": "utoken-auth-failed",
                "message": format!("Authentication Failed: {message}"),
            },
        }
    })
}

#[tokio::test]
async fn loopback_key_accepted_from_loopback() {
    let mock = start(&["loop-key@127.0.0.1"], &[]).await;
    let (status, body) = terminate(&mock, &[("X-Api-Key", "loop-key")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!(2));
}

#[tokio::test]
async fn key_outside_network_rejected_with_ip() {
    let mock = start(&["net-key@10.0.0.0/8"], &[]).await;
    let (status, body) = terminate(&mock, &[("X-Api-Key", "net-key")]).await;
    assert_eq!(status, 401);
    assert_eq!(body, auth_failed("IP 127.0.0.1 is not allowed"));
}

#[tokio::test]
async fn forwarded_for_ignored_from_untrusted_peer() {
    let mock = start(&["net-key@10.0.0.0/8"], &[]).await;
    let headers = [("X-Api-Key", "net-key"), ("X-Forwarded-For", "10.0.0.1")];
    let (status, body) = terminate(&mock, &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body, auth_failed("IP 127.0.0.1 is not allowed"));
}

#[tokio::test]
async fn forwarded_for_honoured_from_trusted_proxy() {
    let mock = start(&["net-key@10.0.0.0/8"], &["127.0.0.1"]).await;
    let headers = [
        ("X-Api-Key", "net-key"),
        ("X-Forwarded-For", "10.0.0.1, 127.0.0.1"),
    ];
    let (status, body) = terminate(&mock, &headers).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!(2));
}

#[tokio::test]
async fn forwarded_client_outside_network_rejected() {
    let mock = start(&["net-key@10.0.0.0/8"], &["127.0.0.1"]).await;
    let headers = [
        ("X-Api-Key", "net-key"),
        ("X-Forwarded-For", "10.0.0.1, 192.0.2.7"),
    ];
    let (status, body) = terminate(&mock, &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body, auth_failed("IP 192.0.2.7 is not allowed"));
}

#[tokio::test]
async fn unreadable_forwarded_for_is_unknown_client() {
    let mock = start(&["loc-key@127.0.0.1"], &["127.0.0.1"]).await;
    let unknown = "client IP address is unknown: no peer address, or a trusted proxy sent \
                   an X-Forwarded-For entry that is not an IP address";
    let cases = [
        ("203.0.113.5, unknown", unknown),
        ("203.0.113.5,", unknown),
        ("203.0.113.5:4444", unknown),
        ("[2001:db8::1]", unknown),
        ("", unknown),
        ("garbage, 203.0.113.5", "IP 203.0.113.5 is not allowed"),
    ];
    for (forwarded, message) in cases {
        let headers = [("X-Api-Key", "loc-key"), ("X-Forwarded-For", forwarded)];
        let (status, body) = terminate(&mock, &headers).await;
        assert_eq!(status, 401, "{forwarded:?}: {body}");
        assert_eq!(body, auth_failed(message), "{forwarded:?}");
    }
}

#[tokio::test]
async fn repeated_key_header_rejected() {
    let mock = start(&["key-one", "key-two"], &[]).await;
    let headers = [("X-Api-Key", "key-one"), ("X-Api-Key", "key-two")];
    let (status, body) = terminate(&mock, &headers).await;
    assert_eq!(status, 401);
    assert_eq!(body, auth_failed("more than one X-Api-Key header"));
}

#[tokio::test]
async fn missing_key_header_rejected() {
    let mock = start(&["key-one"], &[]).await;
    let (status, body) = terminate(&mock, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(body, auth_failed("missing X-Api-Key header"));
}

#[tokio::test]
async fn unknown_key_rejected() {
    let mock = start(&["key-one"], &[]).await;
    let (status, body) = terminate(&mock, &[("X-Api-Key", "key-on")]).await;
    assert_eq!(status, 401);
    assert_eq!(body, auth_failed("unknown API key"));
}

/// Sends a JSON-RPC terminate call with `headers`; returns status and body.
async fn terminate_jsonrpc(mock: &MockServer, headers: &[(&str, &str)]) -> (u16, Value) {
    let call = json!({
        "jsonrpc": "2.0",
        "method": "system.services.active.mark_terminate",
        "params": ["cron"],
        "id": 1,
    });
    let mut request = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .json(&call);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn jsonrpc_key_outside_network_rejected() {
    let mock = start(&["net-key@10.0.0.0/8"], &[]).await;
    let (status, body) = terminate_jsonrpc(&mock, &[("X-Api-Key", "net-key")]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], -32001);
    let rest = auth_failed("IP 127.0.0.1 is not allowed");
    assert_eq!(body["error"]["message"], rest["error"]["message"]);
    assert_eq!(body["error"]["data"], rest["error"]["data"]);
}

#[tokio::test]
async fn jsonrpc_forwarded_for_from_trusted_proxy() {
    let mock = start(&["net-key@10.0.0.0/8"], &["127.0.0.1"]).await;
    let headers = [("X-Api-Key", "net-key"), ("X-Forwarded-For", "10.1.2.3")];
    let (status, body) = terminate_jsonrpc(&mock, &headers).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], 2);
}

#[tokio::test]
async fn jsonrpc_repeated_key_rejected() {
    let mock = start(&["a-key"], &[]).await;
    let headers = [("X-Api-Key", "a-key"), ("X-Api-Key", "a-key")];
    let (status, body) = terminate_jsonrpc(&mock, &headers).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["data"]["message"],
        "Authentication Failed: more than one X-Api-Key header"
    );
}

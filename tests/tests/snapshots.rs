//! Snapshots of every documented error of the terminate operation, over REST
//! and JSON-RPC, and of the JSON-RPC error code table in the spec.

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use serde_json::{Value, json};

/// A REST case: snapshot name, service ID, headers, content type and body.
struct RestCase {
    name: &'static str,
    service: &'static str,
    api_keys: &'static [&'static str],
    content_type: &'static str,
    body: &'static str,
}

const REST_CASES: &[RestCase] = &[
    RestCase {
        name: "terminate_unknown_service",
        service: "mailer",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: r#"{"nodes_id": null}"#,
    },
    RestCase {
        name: "terminate_unknown_node",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: r#"{"nodes_id": "node-9"}"#,
    },
    RestCase {
        name: "terminate_scheduler_itself",
        service: "tasks_scheduler",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: "{}",
    },
    RestCase {
        name: "terminate_missing_key",
        service: "cron",
        api_keys: &[],
        content_type: "application/json",
        body: "{}",
    },
    RestCase {
        name: "terminate_unknown_key",
        service: "cron",
        api_keys: &["not-a-key"],
        content_type: "application/json",
        body: "{}",
    },
    RestCase {
        name: "terminate_repeated_key",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY, DEFAULT_API_KEY],
        content_type: "application/json",
        body: "{}",
    },
    RestCase {
        name: "terminate_empty_node",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: r#"{"nodes_id": ""}"#,
    },
    RestCase {
        name: "terminate_node_not_string",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: r#"{"nodes_id": 5}"#,
    },
    RestCase {
        name: "terminate_body_not_json",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: "nodes_id=node-1",
    },
    RestCase {
        name: "terminate_body_missing",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: "",
    },
    RestCase {
        name: "terminate_unknown_field",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: r#"{"node_id": "node-1"}"#,
    },
    RestCase {
        name: "terminate_duplicate_key",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "application/json",
        body: r#"{"nodes_id": null, "nodes_id": null}"#,
    },
    RestCase {
        name: "terminate_text_plain",
        service: "cron",
        api_keys: &[DEFAULT_API_KEY],
        content_type: "text/plain",
        body: "{}",
    },
];

/// Replaces the error id of a 500, which differs on every run.
fn redact_error_id(mut reply: Value) -> Value {
    if let Some(id) = reply.pointer_mut("/body/error/data/error_id") {
        assert!(id.is_string(), "a 500 carries an error id: {id}");
        *id = Value::from("[error id]");
    }
    reply
}

async fn rest_reply(mock: &MockServer, case: &RestCase) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}/system/services/active/{}/terminate",
            mock.base_url(),
            case.service
        ))
        .header("Content-Type", case.content_type)
        .body(case.body);
    for key in case.api_keys {
        request = request.header("X-Api-Key", *key);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    json!({ "status": status, "body": body })
}

#[tokio::test]
async fn rest_errors_match_snapshots() {
    let mock = MockServer::start().await;
    for case in REST_CASES {
        let reply = rest_reply(&mock, case).await;
        insta::assert_json_snapshot!(format!("rest_{}", case.name), reply);
    }
}

#[tokio::test]
async fn rest_oversized_body_matches_snapshot() {
    let mock = MockServer::start().await;
    let body = format!(
        "{{\"nodes_id\": \"{}\"}}",
        "n".repeat(system_services_server::MAX_BODY_BYTES)
    );
    let response = reqwest::Client::new()
        .post(format!(
            "{}/system/services/active/cron/terminate",
            mock.base_url()
        ))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the mock answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    insta::assert_json_snapshot!(
        "rest_terminate_body_too_large",
        json!({ "status": status, "body": body })
    );
}

/// Serves a router whose one route panics, through the mock's middleware.
async fn panicking_server() -> String {
    let router = axum::Router::new().route(
        "/system/services/active/{system_services_id}/terminate",
        axum::routing::post(|| async {
            panic!("a handler failure for the 500 snapshot");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let address = listener.local_addr().expect("read the bound address");
    let app = mock_server::with_middleware(router);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn internal_error_matches_snapshot() {
    let base_url = panicking_server().await;
    let response = reqwest::Client::new()
        .post(format!("{base_url}/system/services/active/cron/terminate"))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    let reply = redact_error_id(json!({ "status": status, "body": body }));
    insta::assert_json_snapshot!("rest_terminate_internal_error", reply);
}

#[tokio::test]
async fn jsonrpc_errors_match_snapshots() {
    let mock = MockServer::start().await;
    let method = "system.services.active.mark_terminate";
    let cases = [
        ("terminate_unknown_service", json!(["mailer"])),
        ("terminate_unknown_node", json!(["cron", "node-9"])),
        ("terminate_scheduler_itself", json!(["tasks_scheduler"])),
        ("terminate_empty_node", json!(["cron", ""])),
        (
            "terminate_node_not_string",
            json!({"system_services_id": "cron", "nodes_id": 5}),
        ),
        ("terminate_missing_service", json!({"nodes_id": null})),
        (
            "terminate_unknown_param",
            json!({"system_services_id": "cron", "node": "x"}),
        ),
        ("terminate_too_many_params", json!(["cron", null, 3])),
    ];
    for (name, params) in cases {
        let request = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        let reply = jsonrpc_reply(&mock, &request.to_string(), Some(DEFAULT_API_KEY)).await;
        insta::assert_json_snapshot!(format!("jsonrpc_{name}"), reply);
    }

    let envelopes = [
        ("parse_error", r#"{"jsonrpc": "2.0", "method""#.to_string()),
        (
            "invalid_request",
            r#"{"jsonrpc": "2.0", "method": 1}"#.to_string(),
        ),
        ("empty_batch", "[]".to_string()),
        (
            "method_not_found",
            r#"{"jsonrpc": "2.0", "method": "x.y", "id": 2}"#.to_string(),
        ),
    ];
    for (name, body) in envelopes {
        let reply = jsonrpc_reply(&mock, &body, Some(DEFAULT_API_KEY)).await;
        insta::assert_json_snapshot!(format!("jsonrpc_{name}"), reply);
    }

    let request = json!({"jsonrpc": "2.0", "method": method, "params": ["cron"], "id": 3});
    let reply = jsonrpc_reply(&mock, &request.to_string(), None).await;
    insta::assert_json_snapshot!("jsonrpc_terminate_missing_key", reply);

    let oversized = format!(
        "{{\"jsonrpc\": \"2.0\", \"method\": \"{method}\", \"params\": [\"{}\"], \"id\": 4}}",
        "s".repeat(system_services_server::MAX_BODY_BYTES)
    );
    let reply = jsonrpc_reply(&mock, &oversized, Some(DEFAULT_API_KEY)).await;
    insta::assert_json_snapshot!("jsonrpc_body_too_large", reply);

    let response = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "text/plain")
        .body(request.to_string())
        .send()
        .await
        .expect("the mock answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    insta::assert_json_snapshot!(
        "jsonrpc_text_plain",
        json!({ "status": status, "body": body })
    );
}

async fn jsonrpc_reply(mock: &MockServer, body: &str, api_key: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(key) = api_key {
        request = request.header("X-Api-Key", key);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    json!({ "status": status, "body": body })
}

#[test]
fn jsonrpc_error_codes_match_snapshot() {
    let spec: Value = serde_yaml::from_str(api_spec::OPENAPI_YAML).expect("the spec parses");
    let codes = &spec["paths"]["/jsonrpc"]["post"]["x-jsonrpc-error-codes"];
    assert!(codes.is_object(), "the endpoint documents its codes");
    insta::assert_json_snapshot!("jsonrpc_error_codes", codes);
}

//! JSON-RPC 2.0 over a real socket: the terminate method, the REST error
//! mapping, and the envelope rules of the specification.

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use proptest::prelude::*;
use serde_json::{Value, json};

const METHOD: &str = "system.services.active.mark_terminate";

/// Posts `body` to `/jsonrpc` with the default key; returns the status and
/// the parsed body, or `None` for an empty body.
async fn post(mock: &MockServer, body: &str) -> (u16, Option<Value>) {
    post_with(mock, body, Some(DEFAULT_API_KEY), "application/json").await
}

async fn post_with(
    mock: &MockServer,
    body: &str,
    api_key: Option<&str>,
    content_type: &str,
) -> (u16, Option<Value>) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("Content-Type", content_type)
        .body(body.to_string());
    if let Some(key) = api_key {
        request = request.header("X-Api-Key", key);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    let parsed = (!text.is_empty()).then(|| serde_json::from_str(&text).expect("JSON body"));
    (status, parsed)
}

/// Posts one call and returns its response object.
async fn call(mock: &MockServer, params: Value, id: Value) -> Value {
    let request = json!({"jsonrpc": "2.0", "method": METHOD, "params": params, "id": id});
    let (status, body) = post(mock, &request.to_string()).await;
    assert_eq!(status, 200);
    body.expect("a call with an id gets a response")
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .expect("an error object with a code")
}

#[tokio::test]
async fn params_by_name_return_count() {
    let mock = MockServer::start().await;
    let params = json!({"system_services_id": "web_server", "nodes_id": null});
    let first = call(&mock, params.clone(), json!(1)).await;
    assert_eq!(first, json!({"jsonrpc": "2.0", "result": 3, "id": 1}));

    let second = call(&mock, params, json!(2)).await;
    assert_eq!(second["result"], 0);
}

#[tokio::test]
async fn params_by_position_return_count() {
    let mock = MockServer::start().await;
    let one_node = call(&mock, json!(["cron", "node-2"]), json!("a")).await;
    assert_eq!(one_node["result"], 1);

    let all_nodes = call(&mock, json!(["cron"]), json!("b")).await;
    assert_eq!(all_nodes["result"], 1);
}

#[tokio::test]
async fn ids_are_echoed_exactly() {
    let mock = MockServer::start().await;
    for id in [
        json!("req-7"),
        json!(42),
        json!(-3),
        json!(1.5),
        json!(null),
    ] {
        let response = call(&mock, json!(["backup"]), id.clone()).await;
        assert_eq!(response["id"], id, "id {id}");
        assert_eq!(response["result"], 0);
    }
}

#[tokio::test]
async fn rest_errors_keep_message_and_data() {
    let mock = MockServer::start().await;

    let unknown_service = call(&mock, json!(["mailer"]), json!(1)).await;
    assert_eq!(error_code(&unknown_service), -32004);
    assert_eq!(
        unknown_service["error"]["message"],
        "not_found: Object \"system_services(mailer)\" was not found!"
    );
    assert_eq!(
        unknown_service["error"]["data"]["object_name"],
        "system_services"
    );
    assert_eq!(unknown_service["error"]["data"]["object_id"], "mailer");

    let unknown_node = call(&mock, json!(["cron", "node-9"]), json!(2)).await;
    assert_eq!(error_code(&unknown_node), -32004);
    assert_eq!(unknown_node["error"]["data"]["object_name"], "nodes");

    let scheduler = call(&mock, json!(["tasks_scheduler"]), json!(3)).await;
    assert_eq!(error_code(&scheduler), -32022);
    assert_eq!(
        scheduler["error"]["data"]["code"],
        "system_services-scheduler-self-terminate"
    );
}

#[tokio::test]
async fn invalid_params_name_the_field() {
    let mock = MockServer::start().await;
    let cases = [
        (
            json!({"system_services_id": "cron", "nodes_id": 5}),
            "nodes_id",
        ),
        (
            json!({"system_services_id": "cron", "nodes_id": ""}),
            "nodes_id",
        ),
        (json!({"nodes_id": null}), "system_services_id"),
        (json!({"system_services_id": ""}), "system_services_id"),
        (json!({"system_services_id": 7}), "system_services_id"),
        (json!({"system_services_id": "cron", "node": "x"}), "node"),
        (json!(["cron", null, "extra"]), "params"),
    ];
    for (params, field) in cases {
        let response = call(&mock, params.clone(), json!(1)).await;
        assert_eq!(error_code(&response), -32602, "params {params}");
        assert_eq!(
            response["error"]["message"], "Invalid request",
            "params {params}"
        );
        assert!(
            response["error"]["data"][field].is_string(),
            "params {params} name {field}: {response}"
        );
    }

    let empty = call(&mock, json!(["cron", ""]), json!(1)).await;
    assert_eq!(
        empty["error"]["data"]["nodes_id"],
        "Empty value is not allowed"
    );
}

#[tokio::test]
async fn missing_key_is_http_401() {
    let mock = MockServer::start().await;
    let request = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["cron"], "id": 1});
    let (status, body) = post_with(&mock, &request.to_string(), None, "application/json").await;
    assert_eq!(status, 401);
    let body = body.expect("a response");
    assert_eq!(error_code(&body), -32001);
    assert_eq!(body["error"]["data"]["code"], "utoken-auth-failed");
    assert_eq!(body["id"], Value::Null);
}

#[tokio::test]
async fn unknown_key_runs_no_call() {
    let mock = MockServer::start().await;
    let request = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["cron"], "id": 1});
    let (status, _) = post_with(
        &mock,
        &request.to_string(),
        Some("wrong"),
        "application/json",
    )
    .await;
    assert_eq!(status, 401);

    let response = call(&mock, json!(["cron"]), json!(2)).await;
    assert_eq!(response["result"], 2, "the rejected call flagged nothing");
}

#[tokio::test]
async fn out_of_range_id_is_parse_error() {
    let mock = MockServer::start().await;
    let long_integer = format!("1{}", "0".repeat(399));
    for id in ["1e999", "-22e991", &long_integer] {
        let request = format!(
            r#"{{"jsonrpc": "2.0", "method": "{METHOD}", "params": ["cron"], "id": {id}}}"#
        );
        // The reply must be JSON that a client can parse, so the id is not
        // echoed.
        let (status, body) = post(&mock, &request).await;
        assert_eq!(status, 400, "{id}");
        let body = body.expect("a response");
        assert_eq!(error_code(&body), -32700, "{id}: {body}");
        assert_eq!(body["id"], Value::Null, "{id}");
    }
}

#[tokio::test]
async fn parse_error_has_null_id() {
    let mock = MockServer::start().await;
    let (status, body) = post(
        &mock,
        r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
    )
    .await;
    assert_eq!(status, 400);
    let body = body.expect("a response");
    assert_eq!(error_code(&body), -32700);
    assert_eq!(body["error"]["message"], "Parse error");
    assert_eq!(body["id"], Value::Null);
}

#[tokio::test]
async fn invalid_request_object_is_rejected() {
    let mock = MockServer::start().await;
    let cases = [
        r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#,
        r#"{"method": "system.services.active.mark_terminate", "id": 1}"#,
        r#"{"jsonrpc": "1.0", "method": "x", "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "id": {"a": 1}}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "param": [], "id": 1}"#,
        r#""a string""#,
    ];
    for case in cases {
        let (status, body) = post(&mock, case).await;
        assert_eq!(status, 400, "{case}");
        let body = body.expect("a response");
        assert_eq!(error_code(&body), -32600, "{case}");
        assert_eq!(body["error"]["message"], "Invalid Request", "{case}");
    }
}

#[tokio::test]
async fn invalid_request_echoes_valid_id() {
    let mock = MockServer::start().await;
    let (_, body) = post(&mock, r#"{"jsonrpc": "1.0", "method": "x", "id": 9}"#).await;
    assert_eq!(body.expect("a response")["id"], 9);
}

#[tokio::test]
async fn unknown_method_is_not_found() {
    let mock = MockServer::start().await;
    let (_, body) = post(
        &mock,
        r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#,
    )
    .await;
    let body = body.expect("a response");
    assert_eq!(error_code(&body), -32601);
    assert_eq!(body["id"], "1");
}

#[tokio::test]
async fn notification_gets_no_content() {
    let mock = MockServer::start().await;
    let notification = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["web_server"]});
    let (status, body) = post(&mock, &notification.to_string()).await;
    assert_eq!(status, 204);
    assert_eq!(body, None);

    // The notification ran: every web_server process is already flagged.
    let response = call(&mock, json!(["web_server"]), json!(1)).await;
    assert_eq!(response["result"], 0);
}

#[tokio::test]
async fn empty_batch_is_one_error() {
    let mock = MockServer::start().await;
    let (status, body) = post(&mock, "[]").await;
    assert_eq!(status, 400);
    let body = body.expect("a response");
    assert!(body.is_object(), "{body}");
    assert_eq!(error_code(&body), -32600);
    assert_eq!(body["id"], Value::Null);
}

#[tokio::test]
async fn invalid_batch_members_each_fail() {
    let mock = MockServer::start().await;
    for (batch, count) in [("[1]", 1), ("[1,2,3]", 3)] {
        let (status, body) = post(&mock, batch).await;
        assert_eq!(status, 400, "{batch}");
        let responses = body.expect("a response");
        let responses = responses.as_array().expect("an array of responses");
        assert_eq!(responses.len(), count, "{batch}");
        for response in responses {
            assert_eq!(error_code(response), -32600, "{batch}");
            assert_eq!(response["id"], Value::Null, "{batch}");
        }
    }
}

#[tokio::test]
async fn batch_parse_error_is_single() {
    let mock = MockServer::start().await;
    let batch = r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#;
    let (status, body) = post(&mock, batch).await;
    assert_eq!(status, 400);
    let body = body.expect("a response");
    assert!(body.is_object(), "one response, not an array: {body}");
    assert_eq!(error_code(&body), -32700);
}

#[tokio::test]
async fn mixed_batch_skips_notifications() {
    let mock = MockServer::start().await;
    let batch = json!([
        {"jsonrpc": "2.0", "method": METHOD, "params": ["cron"], "id": "1"},
        {"jsonrpc": "2.0", "method": METHOD, "params": ["web_server"]},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": METHOD, "params": ["cron"], "id": 9},
    ]);
    let (status, body) = post(&mock, &batch.to_string()).await;
    assert_eq!(status, 400, "one member is an invalid request");
    let body = body.expect("a response");
    let responses = body.as_array().expect("an array of responses");
    assert_eq!(responses.len(), 4);

    assert_eq!(
        responses[0],
        json!({"jsonrpc": "2.0", "result": 2, "id": "1"})
    );
    assert_eq!(error_code(&responses[1]), -32600);
    assert_eq!(responses[1]["id"], Value::Null);
    assert_eq!(error_code(&responses[2]), -32601);
    assert_eq!(responses[2]["id"], "5");
    assert_eq!(responses[3]["result"], 0);
    assert_eq!(responses[3]["id"], 9);
}

#[tokio::test]
async fn valid_batch_with_errors_is_200() {
    let mock = MockServer::start().await;
    let batch = json!([
        {"jsonrpc": "2.0", "method": METHOD, "params": ["mailer"], "id": 1},
        {"jsonrpc": "2.0", "method": "x.y", "id": 2},
    ]);
    let (status, body) = post(&mock, &batch.to_string()).await;
    assert_eq!(status, 200, "call errors keep the envelope valid");
    let body = body.expect("a response");
    let responses = body.as_array().expect("an array of responses");
    assert_eq!(error_code(&responses[0]), -32004);
    assert_eq!(error_code(&responses[1]), -32601);
}

#[tokio::test]
async fn all_notifications_get_no_content() {
    let mock = MockServer::start().await;
    let batch = json!([
        {"jsonrpc": "2.0", "method": METHOD, "params": ["cron"]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
    ]);
    let (status, body) = post(&mock, &batch.to_string()).await;
    assert_eq!(status, 204);
    assert_eq!(body, None);
}

#[tokio::test]
async fn oversized_batch_is_rejected() {
    let mock = MockServer::start().await;
    let one = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": 1});
    let batch = Value::Array(vec![one; system_services_server::MAX_BATCH_LEN + 1]);
    let (status, body) = post(&mock, &batch.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body.expect("a response")), -32600);
}

#[tokio::test]
async fn wrong_media_type_is_415_envelope() {
    let mock = MockServer::start().await;
    let (status, body) = post_with(&mock, "{}", Some(DEFAULT_API_KEY), "text/plain").await;
    assert_eq!(status, 415);
    let body = body.expect("a response");
    assert_eq!(error_code(&body), -32015);
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], Value::Null);
}

#[tokio::test]
async fn numeric_ids_echoed_as_written() {
    let mock = MockServer::start().await;
    for id in [
        "123456789012345678901234567890",
        "18446744073709551616",
        "-9223372036854775809",
        "1e2",
        "-0",
        "1.50",
    ] {
        let body = format!(
            r#"{{"jsonrpc": "2.0", "method": "{METHOD}", "params": ["backup"], "id": {id}}}"#
        );
        let response = reqwest::Client::new()
            .post(format!("{}/jsonrpc", mock.base_url()))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the mock answers");
        let text = response.text().await.expect("read the body");
        assert!(text.contains(&format!(r#""id":{id}}}"#)), "id {id}: {text}");
    }
}

#[tokio::test]
async fn batch_ids_echoed_as_written() {
    let mock = MockServer::start().await;
    let body = format!(
        r#"[{{"jsonrpc": "2.0", "method": "{METHOD}", "params": ["backup"], "id": 1e2}},
            {{"jsonrpc": "1.0", "id": 99999999999999999999}}]"#
    );
    let (status, _) = post(&mock, &body).await;
    assert_eq!(status, 400);
    let text = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the mock answers")
        .text()
        .await
        .expect("read the body");
    assert!(text.contains(r#""id":1e2"#), "{text}");
    assert!(text.contains(r#""id":99999999999999999999"#), "{text}");
}

#[tokio::test]
async fn unknown_param_lists_all_params() {
    let mock = MockServer::start().await;
    let response = call(
        &mock,
        json!({"system_services_id": "backup", "x": 1}),
        json!(1),
    )
    .await;
    assert_eq!(error_code(&response), -32602);
    assert_eq!(
        response["error"]["data"]["x"],
        "Unknown parameter; allowed parameters: system_services_id, nodes_id"
    );
}

/// Returns the message of the 400 that the REST route gives `body`.
async fn rest_parse_message(mock: &MockServer, body: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/system/services/active/cron/terminate",
            mock.base_url()
        ))
        .header("Content-Type", "application/json")
        .header("X-Api-Key", DEFAULT_API_KEY)
        .body(body.to_string())
        .send()
        .await
        .expect("the mock answers");
    assert_eq!(response.status().as_u16(), 400, "{body}");
    let reply: Value = response.json().await.expect("a JSON error body");
    reply["error"]["data"]["body"]
        .as_str()
        .expect("a message about the body")
        .to_string()
}

#[tokio::test]
async fn repeated_key_anywhere_is_parse_error() {
    let mock = MockServer::start().await;
    let cases = [
        r#"{"jsonrpc": "2.0", "method": "x", "method": "y", "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": {"a": 1, "a": 2}, "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "id": {"a": 1, "a": 2}}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "extra": [{"a": 1, "a": 2}], "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "id": 1, "extra": 1, "extra": 2}"#,
        r#"{"jsonrpc": {"v": 1, "v": 2}, "method": "x", "id": 1}"#,
        r#"[{"jsonrpc": "2.0", "method": "x", "id": 1}, [{"a": 1, "a": 2}]]"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": {"a": [{"b": 1, "b": 2}]}, "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": [{"b": {"c": 1, "c": 2}}], "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": {"a": 1, "\u0061": 2}, "id": 1}"#,
    ];
    for case in cases {
        let (status, body) = post(&mock, case).await;
        assert_eq!(status, 400, "{case}");
        let body = body.expect("a response");
        assert_eq!(error_code(&body), -32700, "{case}");
        assert_eq!(body["id"], Value::Null, "{case}");
        let message = body["error"]["data"]["body"].as_str().expect("a message");
        assert!(
            message.starts_with("Invalid JSON: duplicate key"),
            "{case}: {message}"
        );
        assert_eq!(message, rest_parse_message(&mock, case).await, "{case}");
    }
}

#[tokio::test]
async fn unparsable_param_values_are_parse_errors() {
    let mock = MockServer::start().await;
    let cases = [
        r#"{"jsonrpc": "2.0", "method": "x", "params": {"a": 1e999}, "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": {"a": "\ud800"}, "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": [-1e999], "id": 1}"#,
        r#"{"jsonrpc": "2.0", "method": "x", "params": [{"a": ["\udc00"]}], "id": 1}"#,
    ];
    for case in cases {
        let (status, body) = post(&mock, case).await;
        assert_eq!(status, 400, "{case}");
        let body = body.expect("a response");
        assert_eq!(error_code(&body), -32700, "{case}");
        let message = body["error"]["data"]["body"].as_str().expect("a message");
        assert_eq!(message, rest_parse_message(&mock, case).await, "{case}");
    }
}

#[tokio::test]
async fn escaped_param_names_and_values_decode() {
    let mock = MockServer::start().await;
    let plain = format!(
        r#"{{"jsonrpc": "2.0", "method": "{METHOD}", "params": {{"system_services_id": "cron", "nodes_id": null}}, "id": 1}}"#
    );
    let escaped = format!(
        r#"{{"jsonrpc": "2.0", "method": "{METHOD}", "params": {{"system\u005fservices_id": "cr\u006fn", "nodes\u005fid": null}}, "id": 1}}"#
    );
    let (status, first) = post(&mock, &escaped).await;
    assert_eq!(status, 200);
    let first = first.expect("a response");
    assert!(first["result"].is_u64(), "{first}");
    let (status, second) = post(&mock, &plain).await;
    assert_eq!(status, 200);
    let second = second.expect("a response");
    assert!(second["result"].is_u64(), "{second}");
    let wrong_type = format!(
        r#"{{"jsonrpc": "2.0", "method": "{METHOD}", "params": {{"system\u005fservices_id": "cron", "nodes\u005fid": 5}}, "id": 1}}"#
    );
    let (status, body) = post(&mock, &wrong_type).await;
    assert_eq!(status, 200);
    let body = body.expect("a response");
    assert_eq!(error_code(&body), -32602, "{body}");
    assert!(body["error"]["data"]["nodes_id"].is_string(), "{body}");
}

#[tokio::test]
async fn escaped_string_ids_are_echoed() {
    let mock = MockServer::start().await;
    let cases = [
        (r#""a\u0062\n""#, "ab\n"),
        (r#""\u00e9t\u00e9""#, "été"),
        (r#""été""#, "été"),
        (r#""a\"b""#, "a\"b"),
    ];
    for (id, expected) in cases {
        let request = format!(r#"{{"jsonrpc": "2.0", "method": "x", "id": {id}}}"#);
        let (status, body) = post(&mock, &request).await;
        assert_eq!(status, 200, "{id}");
        let body = body.expect("a response");
        assert_eq!(error_code(&body), -32601, "{id}");
        assert_eq!(body["id"], expected, "{id}");
    }
}

#[tokio::test]
async fn replies_are_compact_json_text() {
    let mock = MockServer::start().await;
    let cases = [
        (
            format!(r#"{{"jsonrpc": "2.0", "method": "{METHOD}", "params": ["backup"], "id": 7}}"#),
            r#"{"jsonrpc":"2.0","result":0,"id":7}"#,
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "x", "id": "a"}"#.to_string(),
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"data":{"method":"Unknown method `x`"},"message":"Method not found"},"id":"a"}"#,
        ),
        (
            format!(
                r#"[{{"jsonrpc": "2.0", "method": "{METHOD}", "params": ["backup"], "id": 1}}, 5]"#
            ),
            concat!(
                r#"[{"jsonrpc":"2.0","result":0,"id":1},"#,
                r#"{"jsonrpc":"2.0","error":{"code":-32600,"data":{"request":"Expected a request object"},"message":"Invalid Request"},"id":null}]"#
            ),
        ),
    ];
    for (request, expected) in cases {
        let response = reqwest::Client::new()
            .post(format!("{}/jsonrpc", mock.base_url()))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .header("Content-Type", "application/json")
            .body(request.clone())
            .send()
            .await
            .expect("the mock answers");
        let content_type = response.headers().get("content-type").cloned();
        assert_eq!(
            content_type.as_ref().and_then(|value| value.to_str().ok()),
            Some("application/json"),
            "{request}"
        );
        let text = response.text().await.expect("read the body");
        assert_eq!(text, expected, "{request}");
    }
}

#[tokio::test]
async fn lone_surrogate_id_is_parse_error() {
    let mock = MockServer::start().await;
    for id in [r#""\ud800""#, r#""a\udc00b""#] {
        let case = format!(r#"{{"jsonrpc": "2.0", "method": "x", "id": {id}}}"#);
        let (status, body) = post(&mock, &case).await;
        assert_eq!(status, 400, "{case}");
        let body = body.expect("a response");
        assert_eq!(error_code(&body), -32700, "{case}");
        let message = body["error"]["data"]["body"].as_str().expect("a message");
        assert_eq!(message, rest_parse_message(&mock, &case).await, "{case}");
    }
}

/// One member of a generated request object: its key and its JSON text.
type Member = (&'static str, String);

/// Generates a request object as members in order, and the whitespace to
/// put around each separator. Most values are of the plain kinds that
/// clients send, and some are not, so both ways of reading a payload run.
fn request_object() -> impl Strategy<Value = (Vec<Member>, &'static str)> {
    let method = prop_oneof![
        4 => Just(format!("\"{METHOD}\"")),
        1 => Just("\"rpc.discover\"".to_string()),
        1 => Just("\"no.such.method\"".to_string()),
        1 => Just("\"system.services.active.mark_termin\\u0061te\"".to_string()),
    ];
    let value = prop_oneof![
        Just("\"cron\"".to_string()),
        Just("\"web_server\"".to_string()),
        Just("\"nope\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"n\u{e9}\"".to_string()),
        Just("\"cr\\u006fn\"".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("-0".to_string()),
        Just("7".to_string()),
        Just("1.5".to_string()),
        Just("[\"node-1\"]".to_string()),
        Just("{}".to_string()),
    ];
    let name = prop_oneof![Just("system_services_id"), Just("nodes_id"), Just("extra"),];
    let params = prop::collection::vec((name, value), 0..4).prop_map(|members| {
        let text: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("\"{name}\":{value}"))
            .collect();
        format!("{{{}}}", text.join(","))
    });
    let id = prop_oneof![
        Just("1".to_string()),
        Just("-12".to_string()),
        Just("\"a b\"".to_string()),
        Just("null".to_string()),
        Just("2.5".to_string()),
        Just("01".to_string()),
        Just("true".to_string()),
    ];
    let members = (
        prop::option::weighted(0.95, Just("\"2.0\"".to_string())),
        prop::option::weighted(0.95, method),
        prop::option::weighted(0.9, params),
        prop::option::weighted(0.8, id),
    )
        .prop_map(|(jsonrpc, method, params, id)| {
            [
                ("jsonrpc", jsonrpc),
                ("method", method),
                ("params", params),
                ("id", id),
            ]
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key, value)))
            .collect::<Vec<Member>>()
        })
        .prop_shuffle();
    (members, prop_oneof![Just(""), Just(" "), Just("\n\t")])
}

/// Writes `members` as a request object, with the first letter of the key
/// `escaped` written as a `\u` escape when it is given.
fn write_object(members: &[Member], space: &str, escaped: Option<&str>) -> String {
    let text: Vec<String> = members
        .iter()
        .map(|(key, value)| {
            let key = match escaped {
                Some(escaped) if escaped == *key => {
                    format!("\\u{:04x}{}", u32::from(key.as_bytes()[0]), &key[1..])
                }
                _ => key.to_string(),
            };
            format!("\"{key}\"{space}:{space}{value}")
        })
        .collect();
    format!(
        "{{{space}{}{space}}}",
        text.join(&format!("{space},{space}"))
    )
}

/// Drops the position from each parse error message in `value`: the escape
/// moves the columns of what follows it.
fn without_position(value: Value) -> Value {
    match value {
        Value::String(text) => match text.split_once(" at line ") {
            Some((message, _)) => Value::String(message.to_string()),
            None => Value::String(text),
        },
        Value::Object(members) => members
            .into_iter()
            .map(|(key, value)| (key, without_position(value)))
            .collect(),
        other => other,
    }
}

/// Sends each payload of `payloads` to two servers, the second with one key
/// of each object escaped, and returns the first difference.
async fn compare_spellings(payloads: &[(Vec<Member>, &'static str)]) -> Result<(), TestCaseError> {
    let plain = MockServer::start().await;
    let escaped = MockServer::start().await;
    for (members, space) in payloads {
        let text = write_object(members, space, None);
        let key = members.first().map(|(key, _)| *key);
        let escaped_text = write_object(members, space, key);
        let (status, body) = post(&plain, &text).await;
        let (escaped_status, escaped_body) = post(&escaped, &escaped_text).await;
        prop_assert_eq!(status, escaped_status, "{} against {}", text, escaped_text);
        prop_assert_eq!(
            body.map(without_position),
            escaped_body.map(without_position),
            "{} against {}",
            text,
            escaped_text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A payload and the same payload with an escaped key, which no fast
    /// path reads, get the same reply, call after call on the same state.
    #[test]
    fn escaped_keys_change_no_reply(payloads in prop::collection::vec(request_object(), 1..12)) {
        let runtime = tokio::runtime::Runtime::new().expect("build a tokio runtime");
        runtime.block_on(compare_spellings(&payloads))?;
    }
}

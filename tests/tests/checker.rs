//! The spec-driven checker: real mock responses pass, hand-made bad ones
//! are caught with their rule and a curl line.

use contract_tests::MockServer;
use contract_tests::checker::{
    Checker, RecordedRequest, RecordedResponse, Rule, Violation, record,
};
use mock_server::DEFAULT_API_KEY;
use reqwest::Method;
use serde_json::{Value, json};

const TERMINATE: &str = "/system/services/active/cron/terminate";
const JSONRPC: &str = "/jsonrpc";
const METHOD: &str = "system.services.active.mark_terminate";
/// A base URL for hand-made exchanges, which are checked but never sent.
const UNSENT_BASE_URL: &str = "http://127.0.0.1:4010";

fn post(base_url: &str, path: &str) -> RecordedRequest {
    RecordedRequest::new(Method::POST, base_url, path).header("X-Api-Key", DEFAULT_API_KEY)
}

fn terminate_path(service: &str) -> String {
    format!("/system/services/active/{service}/terminate")
}

fn jsonrpc_call(params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": METHOD, "params": params, "id": 1})
}

/// Sends `request` to the mock, asserts the status and that the checker
/// passes the exchange.
async fn assert_passes(request: RecordedRequest, status: u16) {
    let response = record(&reqwest::Client::new(), &request)
        .await
        .expect("the mock responds");
    assert_eq!(response.status, status, "{:?}", response);
    let checked = Checker::shared().check(&request, &response);
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

/// Checks a hand-made `response` to a POST of `path` and returns the
/// violation, failing when the checker passes it.
fn violation_of(path: &str, response: RecordedResponse) -> Violation {
    let request = post(UNSENT_BASE_URL, path).json(&json!({"nodes_id": null}));
    Checker::shared()
        .check(&request, &response)
        .expect_err("the checker catches the response")
}

fn error_body(message: &str) -> Value {
    json!({"error": {"message": message, "data": {"code": "not_found"}}})
}

// Real mock responses pass.

#[tokio::test]
async fn terminate_count_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), TERMINATE).json(&json!({"nodes_id": null}));
    assert_passes(request, 200).await;
}

#[tokio::test]
async fn empty_node_400_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), TERMINATE).json(&json!({"nodes_id": ""}));
    assert_passes(request, 400).await;
}

#[tokio::test]
async fn malformed_json_400_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), TERMINATE)
        .header("Content-Type", "application/json")
        .body("not json");
    assert_passes(request, 400).await;
}

#[tokio::test]
async fn unknown_key_401_passes() {
    let mock = MockServer::start().await;
    let request = RecordedRequest::new(Method::POST, &mock.base_url(), TERMINATE)
        .header("X-Api-Key", "wrong-key")
        .json(&json!({}));
    assert_passes(request, 401).await;
}

#[tokio::test]
async fn missing_key_401_passes() {
    let mock = MockServer::start().await;
    let request = RecordedRequest::new(Method::POST, &mock.base_url(), TERMINATE).json(&json!({}));
    assert_passes(request, 401).await;
}

#[tokio::test]
async fn unknown_service_404_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), &terminate_path("mailer")).json(&json!({}));
    assert_passes(request, 404).await;
}

#[tokio::test]
async fn unknown_node_404_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), TERMINATE).json(&json!({"nodes_id": "node-9"}));
    assert_passes(request, 404).await;
}

#[tokio::test]
async fn percent_encoded_id_404_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), &terminate_path("mail%20er")).json(&json!({}));
    assert_passes(request, 404).await;
}

#[tokio::test]
async fn scheduler_self_terminate_422_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), &terminate_path("tasks_scheduler")).json(&json!({}));
    assert_passes(request, 422).await;
}

#[tokio::test]
async fn oversized_body_413_passes() {
    let mock = MockServer::start().await;
    let padding = " ".repeat(system_services_server::MAX_BODY_BYTES);
    let request = post(&mock.base_url(), TERMINATE)
        .header("Content-Type", "application/json")
        .body(format!("{{}}{padding}"));
    assert_passes(request, 413).await;
}

#[tokio::test]
async fn text_plain_415_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), TERMINATE)
        .header("Content-Type", "text/plain")
        .body("{}");
    assert_passes(request, 415).await;
}

#[tokio::test]
async fn jsonrpc_result_200_passes() {
    let mock = MockServer::start().await;
    let call = jsonrpc_call(json!({"system_services_id": "cron", "nodes_id": null}));
    let request = post(&mock.base_url(), JSONRPC).json(&call);
    assert_passes(request, 200).await;
}

#[tokio::test]
async fn jsonrpc_error_200_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), JSONRPC).json(&jsonrpc_call(json!(["mailer"])));
    assert_passes(request, 200).await;
}

#[tokio::test]
async fn jsonrpc_batch_200_passes() {
    let mock = MockServer::start().await;
    let batch = json!([
        jsonrpc_call(json!(["cron"])),
        jsonrpc_call(json!(["mailer"]))
    ]);
    let request = post(&mock.base_url(), JSONRPC).json(&batch);
    assert_passes(request, 200).await;
}

#[tokio::test]
async fn jsonrpc_parse_error_400_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), JSONRPC)
        .header("Content-Type", "application/json")
        .body("{");
    assert_passes(request, 400).await;
}

#[tokio::test]
async fn jsonrpc_invalid_request_400_passes() {
    let mock = MockServer::start().await;
    let invalid = json!({"jsonrpc": "2.0", "method": METHOD, "param": ["cron"], "id": 7});
    let request = post(&mock.base_url(), JSONRPC).json(&invalid);
    assert_passes(request, 400).await;
}

#[tokio::test]
async fn jsonrpc_missing_key_401_passes() {
    let mock = MockServer::start().await;
    let request = RecordedRequest::new(Method::POST, &mock.base_url(), JSONRPC)
        .json(&jsonrpc_call(json!(["cron"])));
    assert_passes(request, 401).await;
}

#[tokio::test]
async fn jsonrpc_notification_204_passes() {
    let mock = MockServer::start().await;
    let notification = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"]});
    let request = post(&mock.base_url(), JSONRPC).json(&notification);
    assert_passes(request, 204).await;
}

#[tokio::test]
async fn jsonrpc_oversized_413_passes() {
    let mock = MockServer::start().await;
    let padding = " ".repeat(system_services_server::MAX_BODY_BYTES);
    let request = post(&mock.base_url(), JSONRPC)
        .header("Content-Type", "application/json")
        .body(format!("{}{padding}", jsonrpc_call(json!(["cron"]))));
    assert_passes(request, 413).await;
}

#[tokio::test]
async fn jsonrpc_text_plain_415_passes() {
    let mock = MockServer::start().await;
    let request = post(&mock.base_url(), JSONRPC)
        .header("Content-Type", "text/plain")
        .body(jsonrpc_call(json!(["cron"])).to_string());
    assert_passes(request, 415).await;
}

/// Checks every example of every documented response of `operation` as a
/// response to a POST of `path`.
fn assert_examples_pass(operation: &str, path: &str) {
    let checker = Checker::shared();
    let statuses = checker.statuses(operation);
    assert!(!statuses.is_empty(), "{operation} documents responses");
    for status in statuses {
        for example in checker.examples(operation, &status) {
            let code = status.parse().expect("a numeric status");
            let response = RecordedResponse::new(code).json(&example.value);
            let checked = checker.check(&post(UNSENT_BASE_URL, path), &response);
            let name = &example.name;
            assert!(
                checked.is_ok(),
                "{operation} {status} {name}: {}",
                checked.unwrap_err()
            );
        }
    }
}

#[test]
fn terminate_examples_pass_check() {
    assert_examples_pass("mark_terminate", TERMINATE);
}

#[test]
fn jsonrpc_examples_pass_check() {
    assert_examples_pass("jsonrpc", JSONRPC);
}

// Requests outside the spec.

#[tokio::test]
async fn unknown_path_is_not_documented() {
    let mock = MockServer::start().await;
    let request = RecordedRequest::new(Method::GET, &mock.base_url(), "/nope");
    let response = record(&reqwest::Client::new(), &request)
        .await
        .expect("the mock responds");
    let violation = Checker::shared()
        .check(&request, &response)
        .expect_err("/nope is not in the spec");
    assert_eq!(violation.rule.name(), "path-not-documented");
}

#[tokio::test]
async fn wrong_method_is_not_documented() {
    let mock = MockServer::start().await;
    let request = RecordedRequest::new(Method::GET, &mock.base_url(), TERMINATE);
    let response = record(&reqwest::Client::new(), &request)
        .await
        .expect("the mock responds");
    let violation = Checker::shared()
        .check(&request, &response)
        .expect_err("GET is not documented for terminate");
    assert_eq!(violation.rule.name(), "method-not-documented");
}

// Hand-made bad responses are caught.

#[test]
fn undocumented_status_is_caught() {
    let response = RecordedResponse::new(418).json(&error_body("teapot"));
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "status-not-documented");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn undocumented_jsonrpc_status_is_caught() {
    let response = RecordedResponse::new(418).json(&json!({"jsonrpc": "2.0", "id": 1}));
    let violation = violation_of(JSONRPC, response);
    assert_eq!(violation.rule.name(), "status-not-documented");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn wrong_content_type_is_caught() {
    let response = RecordedResponse::new(200)
        .header("Content-Type", "text/plain")
        .body("2");
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "content-type-mismatch");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn missing_content_type_is_caught() {
    let response = RecordedResponse::new(200).body("2");
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "content-type-mismatch");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn latin1_charset_is_caught() {
    let response = RecordedResponse::new(200)
        .header("Content-Type", "application/json; charset=latin1")
        .body("2");
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "content-type-mismatch");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn utf8_charset_passes() {
    let response = RecordedResponse::new(200)
        .header("Content-Type", "application/json; charset=UTF-8")
        .body("2");
    let request = post(UNSENT_BASE_URL, TERMINATE);
    let checked = Checker::shared().check(&request, &response);
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

#[test]
fn error_without_message_is_caught() {
    let response = RecordedResponse::new(404).json(&json!({"error": {}}));
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
    let details = violation.details.join("\n");
    assert!(details.contains("body/error:"), "{details}");
    assert!(details.contains("\"message\""), "{details}");
}

#[test]
fn negative_count_is_caught() {
    let response = RecordedResponse::new(200).json(&json!(-1));
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
    let details = violation.details.join("\n");
    assert!(details.contains("minimum"), "{details}");
}

#[test]
fn fractional_count_is_caught() {
    let response = RecordedResponse::new(200).json(&json!(1.5));
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn extra_error_property_is_caught() {
    let body = json!({"error": {"message": "Invalid request"}, "trace": "at main"});
    let violation = violation_of(TERMINATE, RecordedResponse::new(400).json(&body));
    assert_eq!(violation.rule.name(), "body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
    let details = violation.details.join("\n");
    assert!(details.contains("trace"), "{details}");
}

#[test]
fn non_string_data_value_is_caught() {
    let body = json!({"error": {"message": "Invalid request", "data": {"nodes_id": 5}}});
    let violation = violation_of(TERMINATE, RecordedResponse::new(400).json(&body));
    assert_eq!(violation.rule.name(), "body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
    let details = violation.details.join("\n");
    assert!(details.contains("body/error/data/nodes_id:"), "{details}");
}

#[test]
fn jsonrpc_reply_without_id_is_caught() {
    let body = json!({"jsonrpc": "2.0", "result": 2});
    let violation = violation_of(JSONRPC, RecordedResponse::new(200).json(&body));
    assert_eq!(violation.rule.name(), "body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn body_on_204_is_caught() {
    let body = json!({"jsonrpc": "2.0", "result": 0, "id": null});
    let violation = violation_of(JSONRPC, RecordedResponse::new(204).json(&body));
    assert_eq!(violation.rule.name(), "body-not-empty");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn empty_204_passes() {
    let request = post(UNSENT_BASE_URL, JSONRPC);
    let checked = Checker::shared().check(&request, &RecordedResponse::new(204));
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

#[test]
fn invalid_json_body_is_caught() {
    let response = RecordedResponse::new(200)
        .header("Content-Type", "application/json")
        .body("{\"error\":");
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "body-not-json");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn empty_json_body_is_caught() {
    let response = RecordedResponse::new(200).header("Content-Type", "application/json");
    let violation = violation_of(TERMINATE, response);
    assert_eq!(violation.rule.name(), "body-not-json");
}

// What a violation shows.

#[test]
fn violation_shows_rule_and_details() {
    let violation = violation_of(TERMINATE, RecordedResponse::new(200).json(&json!(-1)));
    let displayed = violation.to_string();
    assert!(displayed.starts_with("rule: body-schema\n"), "{displayed}");
    let operation = "operation: POST /system/services/active/{system_services_id}/terminate \
                     (mark_terminate)";
    assert!(displayed.contains(operation), "{displayed}");
    assert!(
        displayed.contains("  - body: -1 is less than the minimum of 0"),
        "{displayed}"
    );
}

#[test]
fn violation_shows_pasteable_curl() {
    let violation = violation_of(TERMINATE, RecordedResponse::new(418));
    let displayed = violation.to_string();
    let curl = "  curl -sS -i -X POST \
                'http://127.0.0.1:4010/system/services/active/cron/terminate' \
                -H \"X-Api-Key: $API_KEY\" -H 'content-type: application/json' \
                --data-binary '{\"nodes_id\":null}'\n";
    assert!(displayed.contains(curl), "{displayed}");
    assert!(!displayed.contains(DEFAULT_API_KEY), "{displayed}");
}

#[test]
fn violation_shows_response() {
    let response = RecordedResponse::new(418).json(&error_body("teapot"));
    let displayed = violation_of(TERMINATE, response).to_string();
    assert!(
        displayed.contains("  status: 418 I'm a teapot\n"),
        "{displayed}"
    );
    assert!(
        displayed.contains("  content-type: application/json\n"),
        "{displayed}"
    );
    let body = r#"  body: {"error":{"data":{"code":"not_found"},"message":"teapot"}}"#;
    assert!(displayed.contains(body), "{displayed}");
}

#[test]
fn violation_rule_is_typed() {
    let violation = violation_of(TERMINATE, RecordedResponse::new(418));
    assert_eq!(violation.rule, Rule::StatusNotDocumented);
}

// Request bodies against the request schema.

#[test]
fn null_node_request_passes() {
    let request = post(UNSENT_BASE_URL, TERMINATE).json(&json!({"nodes_id": null}));
    let checked = Checker::shared().check_request(&request);
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

#[test]
fn numeric_node_request_is_caught() {
    let request = post(UNSENT_BASE_URL, TERMINATE).json(&json!({"nodes_id": 5}));
    let violation = Checker::shared()
        .check_request(&request)
        .expect_err("a number is no node ID");
    assert_eq!(violation.rule.name(), "request-body-schema");
    assert!(violation.to_string().contains("curl "), "{violation}");
}

#[test]
fn empty_node_request_is_caught() {
    let request = post(UNSENT_BASE_URL, TERMINATE).json(&json!({"nodes_id": ""}));
    let violation = Checker::shared()
        .check_request(&request)
        .expect_err("an empty node ID is below minLength");
    assert_eq!(violation.rule.name(), "request-body-schema");
}

#[test]
fn missing_request_body_is_caught() {
    let request = post(UNSENT_BASE_URL, TERMINATE);
    let violation = Checker::shared()
        .check_request(&request)
        .expect_err("the body is required");
    assert_eq!(violation.rule.name(), "request-body-missing");
}

// OpenAPI 3.0.3 semantics of a document loaded from text.

const NULLABLE_SPEC: &str = r#"
openapi: 3.0.3
info: {title: nullable, version: "1"}
paths:
  /typed:
    get:
      responses:
        "200":
          description: A nullable string.
          content:
            application/json:
              schema: {type: string, nullable: true}
  /untyped:
    get:
      responses:
        "200":
          description: A nullable without type.
          content:
            application/json:
              schema:
                nullable: true
                oneOf: [{type: string}, {type: number}]
  /enum:
    get:
      responses:
        "200":
          description: A nullable enum without type or null.
          content:
            application/json:
              schema: {nullable: true, enum: [a, b]}
"#;

fn check_null(path: &str) -> Result<(), Violation> {
    let checker = Checker::from_yaml(NULLABLE_SPEC).expect("the spec loads");
    let request = RecordedRequest::new(Method::GET, UNSENT_BASE_URL, path);
    checker.check(&request, &RecordedResponse::new(200).json(&Value::Null))
}

#[test]
fn typed_nullable_accepts_null() {
    let checked = check_null("/typed");
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

#[test]
fn nullable_composition_accepts_null() {
    // As for a nullable `allOf` reference, which typify types as an
    // `Option`.
    let checked = check_null("/untyped");
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}

#[test]
fn nullable_enum_without_null_rejects_null() {
    let violation = check_null("/enum").expect_err("the enum does not list null");
    assert_eq!(violation.rule, Rule::BodySchema);
}

#[test]
fn unresolvable_ref_fails_loading() {
    let spec = NULLABLE_SPEC.replace("{type: string, nullable: true}", "{$ref: '#/nowhere'}");
    let error = Checker::from_yaml(&spec)
        .err()
        .expect("the $ref does not resolve");
    assert!(
        error
            .to_string()
            .contains("/paths/~1typed/get/responses/200"),
        "{error}"
    );
}

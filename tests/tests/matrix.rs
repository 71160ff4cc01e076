//! Every combination of path, method, content type, body and API key gets
//! the expected status, never a 5xx, and a documented body: the error body
//! `{"error": {"message", "data"}}`, or the JSON-RPC envelope for the 400,
//! 401, 413 and 415 of `POST /jsonrpc`. Responses of documented operations
//! pass the spec-driven checker.

use contract_tests::MockServer;
use contract_tests::checker::{Checker, RecordedRequest, RecordedResponse};
use mock_server::DEFAULT_API_KEY;
use reqwest::Method;
use serde_json::{Value, json};

const METHOD: &str = "system.services.active.mark_terminate";

/// Size of the oversized body: above the 64 KiB limit.
const LARGE_BODY_BYTES: usize = 70 * 1024;

/// What the server makes of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The terminate operation on a service: the status of a valid POST.
    Terminate(u16),
    /// The terminate route with an ID the router rejects with a 400.
    TerminateBadId,
    /// The terminate route with an empty ID segment, which the router
    /// matches and rejects with a 400. OpenAPI path templates do not match
    /// an empty segment, so the checker finds no operation for it.
    TerminateEmptyId,
    JsonRpc,
    Unknown,
}

const PATHS: [(&str, Target); 11] = [
    (
        "/system/services/active/cron/terminate",
        Target::Terminate(200),
    ),
    (
        "/system/services/active/mailer/terminate",
        Target::Terminate(404),
    ),
    (
        "/system/services/active/tasks_scheduler/terminate",
        Target::Terminate(422),
    ),
    (
        "/system/services/active/%FF/terminate",
        Target::TerminateBadId,
    ),
    (
        "/system/services/active//terminate",
        Target::TerminateEmptyId,
    ),
    ("/jsonrpc", Target::JsonRpc),
    ("/", Target::Unknown),
    ("/unknown", Target::Unknown),
    ("/system/services/active/cron", Target::Unknown),
    (
        "/system/services/active/cron/terminate/extra",
        Target::Unknown,
    ),
    ("/jsonrpc/", Target::Unknown),
];

/// OPTIONS goes without an `Origin` header, so it is no CORS preflight.
static METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
];

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
];

/// Returns whether the server reads a body with this content type as JSON. A
/// request without `Content-Type` is read as JSON too.
fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|content_type| content_type.starts_with("application/json"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Empty,
    EmptyObject,
    /// A valid body for the path: a terminate body, or a JSON-RPC call.
    Valid,
    InvalidJson,
    Array,
    /// A valid terminate body of [`LARGE_BODY_BYTES`].
    Large,
}

const BODIES: [Body; 6] = [
    Body::Empty,
    Body::EmptyObject,
    Body::Valid,
    Body::InvalidJson,
    Body::Array,
    Body::Large,
];

fn body_bytes(body: Body, target: Target) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::EmptyObject => b"{}".to_vec(),
        Body::Valid if target == Target::JsonRpc => {
            let params = json!({"system_services_id": "cron", "nodes_id": null});
            let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": params, "id": 1});
            call.to_string().into_bytes()
        }
        Body::Valid => br#"{"nodes_id": "node-2"}"#.to_vec(),
        Body::InvalidJson => br#"{"nodes_id": "#.to_vec(),
        Body::Array => br#"[{"nodes_id": null}]"#.to_vec(),
        Body::Large => {
            let padding = "n".repeat(LARGE_BODY_BYTES - r#"{"nodes_id": ""}"#.len());
            format!(r#"{{"nodes_id": "{padding}"}}"#).into_bytes()
        }
    }
}

/// One request of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    path: &'static str,
    target: Target,
    method: &'static Method,
    content_type: Option<&'static str>,
    body: Body,
    with_key: bool,
}

impl Case {
    /// Returns the status that the documented rules give this request.
    fn expected_status(&self) -> u16 {
        if self.target == Target::Unknown {
            return 404;
        }
        if self.method != Method::POST {
            return 405;
        }
        if !self.with_key {
            return 401;
        }
        if matches!(
            self.target,
            Target::TerminateBadId | Target::TerminateEmptyId
        ) {
            return 400;
        }
        if !is_json(self.content_type) {
            return 415;
        }
        match self.body {
            Body::Large => 413,
            Body::Empty | Body::InvalidJson | Body::Array => 400,
            Body::EmptyObject if self.target == Target::JsonRpc => 400,
            Body::EmptyObject | Body::Valid => match self.target {
                Target::Terminate(status) => status,
                _ => 200,
            },
        }
    }

    /// Returns whether the body of an error is the JSON-RPC envelope rather
    /// than the REST error body.
    fn expects_envelope(&self) -> bool {
        self.target == Target::JsonRpc && self.method == Method::POST
    }

    fn request(&self, base_url: &str) -> RecordedRequest {
        let mut request = RecordedRequest::new(self.method.clone(), base_url, self.path)
            .body(body_bytes(self.body, self.target));
        if let Some(content_type) = self.content_type {
            request = request.header("Content-Type", content_type);
        }
        if self.with_key {
            request = request.header("X-Api-Key", DEFAULT_API_KEY);
        }
        request
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (path, target) in PATHS {
        for method in &METHODS {
            for content_type in CONTENT_TYPES {
                for body in BODIES {
                    for with_key in [true, false] {
                        cases.push(Case {
                            path,
                            target,
                            method,
                            content_type,
                            body,
                            with_key,
                        });
                    }
                }
            }
        }
    }
    cases
}

/// Returns what is wrong with an error body that should be the REST
/// error body, if anything.
fn rest_error_problem(body: &Value) -> Option<String> {
    let Some(object) = body.as_object() else {
        return Some("the body is not an object".to_string());
    };
    if object.len() != 1 {
        return Some("the body has members besides `error`".to_string());
    }
    let Some(error) = object.get("error").and_then(Value::as_object) else {
        return Some("`error` is not an object".to_string());
    };
    if !error.get("message").is_some_and(Value::is_string) {
        return Some("`error.message` is not a string".to_string());
    }
    if !error.get("data").is_none_or(Value::is_object) {
        return Some("`error.data` is not an object".to_string());
    }
    let known = error.keys().all(|key| key == "message" || key == "data");
    (!known).then(|| "`error` has members besides `message` and `data`".to_string())
}

/// Returns what is wrong with a JSON-RPC error response for a whole HTTP
/// request, if anything: one response object with a null id, or for an
/// invalid batch member an array of them.
fn envelope_problem(body: &Value, status: u16) -> Option<String> {
    let expected_code = match status {
        401 => -32001,
        413 => -32013,
        415 => -32015,
        _ => 0,
    };
    let responses = match body {
        Value::Array(items) if status == 400 && !items.is_empty() => items.iter().collect(),
        Value::Array(_) => return Some("an unexpected array".to_string()),
        single => vec![single],
    };
    for response in responses {
        let Some(object) = response.as_object() else {
            return Some("a response is not an object".to_string());
        };
        let allowed = ["jsonrpc", "error", "id"];
        if !object.keys().all(|key| allowed.contains(&key.as_str())) {
            return Some("a response has members besides jsonrpc, error and id".to_string());
        }
        if object.get("jsonrpc") != Some(&json!("2.0")) {
            return Some("`jsonrpc` is not \"2.0\"".to_string());
        }
        if object.get("id") != Some(&Value::Null) {
            return Some("the id is not null".to_string());
        }
        let code = response["error"]["code"].as_i64();
        if !response["error"]["message"].is_string() {
            return Some("`error.message` is not a string".to_string());
        }
        let code_valid = match status {
            400 => matches!(code, Some(-32700 | -32600)),
            _ => code == Some(expected_code),
        };
        if !code_valid {
            return Some(format!("code {code:?} does not fit status {status}"));
        }
    }
    None
}

/// Returns what is wrong with the response to `case`, if anything.
fn problem(case: &Case, response: &RecordedResponse) -> Option<String> {
    let status = response.status;
    let expected = case.expected_status();
    if status >= 500 {
        return Some(format!("a server error {status}"));
    }
    if status != expected {
        return Some(format!("status {status}, expected {expected}"));
    }
    if !response.headers.contains_key("x-request-id") {
        return Some("no X-Request-Id header".to_string());
    }
    if status == 405 {
        let allow = response
            .headers
            .get("allow")
            .and_then(|value| value.to_str().ok());
        if allow != Some("POST") {
            return Some(format!("Allow is {allow:?}, expected POST"));
        }
    }
    if status >= 400 && response.content_type() != Some("application/json") {
        let content_type = response.content_type();
        return Some(format!("content type {content_type:?} of an error"));
    }
    if *case.method == Method::HEAD {
        // A response to HEAD has no body, whatever its Content-Length.
        return (!response.body.is_empty()).then(|| "a body on a HEAD response".to_string());
    }
    if status == 204 {
        return (!response.body.is_empty()).then(|| "a body on a 204".to_string());
    }
    let body: Value = match serde_json::from_slice(&response.body) {
        Ok(body) => body,
        Err(error) => return Some(format!("a body that is not JSON: {error}")),
    };
    if status < 400 {
        return None;
    }
    if case.expects_envelope() {
        envelope_problem(&body, status)
    } else {
        rest_error_problem(&body)
    }
}

/// Returns whether the spec documents the operation of `case`: POST on
/// one of its routes.
fn is_documented(case: &Case) -> bool {
    let undocumented = matches!(case.target, Target::Unknown | Target::TerminateEmptyId);
    *case.method == Method::POST && !undocumented
}

/// Sends every case of `path` on one client and returns a line per
/// failed case.
async fn run_path(base_url: String, cases: Vec<Case>) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    for case in cases {
        let request = case.request(&base_url);
        let response = match contract_tests::checker::record(&http, &request).await {
            Ok(response) => response,
            Err(error) => {
                failures.push(format!("{case:?}: the request failed: {error:?}"));
                continue;
            }
        };
        if let Some(problem) = problem(&case, &response) {
            let body = String::from_utf8_lossy(&response.body);
            failures.push(format!("{case:?}: {problem}; body {body}"));
            continue;
        }
        if is_documented(&case)
            && let Err(violation) = Checker::shared().check(&request, &response)
        {
            failures.push(format!("{case:?}: {violation}"));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_combination_gets_documented_response() {
    let mock = MockServer::start().await;
    let cases = cases();
    assert_eq!(cases.len(), PATHS.len() * 7 * 6 * 6 * 2);

    let mut tasks = tokio::task::JoinSet::new();
    for (path, _) in PATHS {
        let of_path: Vec<Case> = cases
            .iter()
            .filter(|case| case.path == path)
            .copied()
            .collect();
        tasks.spawn(run_path(mock.base_url(), of_path));
    }
    let mut failures = Vec::new();
    while let Some(result) = tasks.join_next().await {
        failures.extend(result.expect("a path's task finishes without panicking"));
    }

    let shown: Vec<&String> = failures.iter().take(20).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed, the first ones:\n{}",
        failures.len(),
        cases.len(),
        shown
            .iter()
            .map(|line| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

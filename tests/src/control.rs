//! Helpers for tests of the mock's control API: requests whose responses
//! are checked against `spec/control.yaml`, and API calls in a session.
//!
//! ```no_run
//! # async fn run() {
//! use contract_tests::control::{body_json, get, send_checked};
//!
//! let mock = contract_tests::MockServer::start().await;
//! let request = get(&mock.base_url(), "/__mock/state").header("X-Mock-Session", "t1");
//! let response = send_checked(&request).await;
//! assert_eq!(body_json(&response)["nodes"][0]["id"], "node-1");
//! # }
//! ```

use std::sync::LazyLock;

use mock_server::DEFAULT_API_KEY;
use reqwest::Method;
use serde_json::{Value, json};

use crate::checker::{Checker, RecordedRequest, RecordedResponse, record};

static CONTROL: LazyLock<Checker> = LazyLock::new(|| {
    Checker::from_yaml(api_spec::CONTROL_YAML)
        .unwrap_or_else(|error| panic!("spec/control.yaml cannot be loaded: {error}"))
});

/// Returns the checker of the embedded `spec/control.yaml`.
pub fn control_checker() -> &'static Checker {
    &CONTROL
}

/// Returns a GET request of `path` on `base_url`.
pub fn get(base_url: &str, path: &str) -> RecordedRequest {
    RecordedRequest::new(Method::GET, base_url, path)
}

/// Returns a POST request of `path` on `base_url` without a body.
pub fn post(base_url: &str, path: &str) -> RecordedRequest {
    RecordedRequest::new(Method::POST, base_url, path)
}

/// Sends `request`, checks the response against `spec/control.yaml` and
/// returns it.
///
/// # Panics
///
/// Panics when the mock does not respond, or with the broken rule, the
/// request as a curl line and the response when the check fails.
pub async fn send_checked(request: &RecordedRequest) -> RecordedResponse {
    let response = send(request).await;
    if let Err(violation) = control_checker().check(request, &response) {
        panic!("{violation}");
    }
    response
}

/// Sends `request` and returns the response, without checks.
///
/// # Panics
///
/// Panics when the mock does not respond.
pub async fn send(request: &RecordedRequest) -> RecordedResponse {
    record(&reqwest::Client::new(), request)
        .await
        .unwrap_or_else(|error| panic!("{} {}: {error}", request.method, request.path))
}

/// Returns the body of `response` as JSON.
///
/// # Panics
///
/// Panics when the body is not JSON.
pub fn body_json(response: &RecordedResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|error| {
        let text = String::from_utf8_lossy(&response.body);
        panic!(
            "status {}: body is not JSON ({error}): {text}",
            response.status
        )
    })
}

/// Sends the terminate call of `service` on every node over REST, in
/// `session` when given, with the default API key. Returns the status and
/// the JSON body.
pub async fn terminate_in(base_url: &str, session: Option<&str>, service: &str) -> (u16, Value) {
    let path = format!("/system/services/active/{service}/terminate");
    let mut request = RecordedRequest::new(Method::POST, base_url, &path)
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&json!({ "nodes_id": null }));
    if let Some(session) = session {
        request = request.header("X-Mock-Session", session);
    }
    let response = send(&request).await;
    let status = response.status;
    (status, body_json(&response))
}

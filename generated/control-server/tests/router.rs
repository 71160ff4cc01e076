//! The generated control router over real HTTP on loopback: parameter
//! decoding, the optional key, `security: []`, and empty and non-JSON
//! responses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mock_control_server::types::{Error, ErrorError};
use mock_control_server::*;
use serde_json::{Value, json};

/// Token that `Recorder::authenticate` accepts; a missing token passes too.
const TOKEN: &str = "control-token";

/// An `Api` that records the debug form of each request it receives.
#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<String>>,
}

impl Recorder {
    fn record(&self, request: &impl std::fmt::Debug) {
        self.requests
            .lock()
            .expect("lock")
            .push(format!("{request:?}"));
    }

    fn last(&self) -> String {
        let requests = self.requests.lock().expect("lock");
        requests.last().cloned().expect("a request reached the Api")
    }
}

fn problem(message: &str) -> Error {
    Error {
        error: ErrorError {
            message: message.to_string(),
            data: BTreeMap::new(),
        },
    }
}

/// Implements operations that record their request and return a 500.
macro_rules! recorded {
    ($($method:ident($request:ty) -> $response:ident;)*) => {
        $(
            async fn $method(&self, _: &RequestContext, request: $request) -> $response {
                self.record(&request);
                $response::InternalServerError(problem("recorded"))
            }
        )*
    };
}

impl Api for Recorder {
    fn authenticate(&self, _: &RequestContext, api_key: &ApiKey) -> Result<(), Error> {
        match api_key {
            ApiKey::Missing => Ok(()),
            ApiKey::Key(key) if key == TOKEN => Ok(()),
            _ => Err(problem("Access to the control API is not authorized")),
        }
    }

    recorded! {
        get_state(GetStateRequest) -> GetStateResponse;
        replace_state(ReplaceStateRequest) -> ReplaceStateResponse;
        reset_state(ResetStateRequest) -> ResetStateResponse;
        get_scheduler(GetSchedulerRequest) -> GetSchedulerResponse;
        run_scheduler(RunSchedulerRequest) -> RunSchedulerResponse;
        advance_clock(AdvanceClockRequest) -> AdvanceClockResponse;
        hang_process(HangProcessRequest) -> HangProcessResponse;
        kill_process(KillProcessRequest) -> KillProcessResponse;
        list_events(ListEventsRequest) -> ListEventsResponse;
        list_faults(ListFaultsRequest) -> ListFaultsResponse;
        add_fault(AddFaultRequest) -> AddFaultResponse;
        remove_fault(RemoveFaultRequest) -> RemoveFaultResponse;
        list_journal(ListJournalRequest) -> ListJournalResponse;
        list_sessions(ListSessionsRequest) -> ListSessionsResponse;
        delete_session(DeleteSessionRequest) -> DeleteSessionResponse;
        get_snapshot(GetSnapshotRequest) -> GetSnapshotResponse;
    }

    async fn clear_faults(
        &self,
        _: &RequestContext,
        request: ClearFaultsRequest,
    ) -> ClearFaultsResponse {
        self.record(&request);
        ClearFaultsResponse::NoContent
    }

    async fn clear_journal(
        &self,
        _: &RequestContext,
        request: ClearJournalRequest,
    ) -> ClearJournalResponse {
        self.record(&request);
        ClearJournalResponse::NoContent
    }

    async fn get_dashboard(
        &self,
        _: &RequestContext,
        request: GetDashboardRequest,
    ) -> GetDashboardResponse {
        self.record(&request);
        GetDashboardResponse::Ok(axum::body::Body::from("<!doctype html><title>mock</title>"))
    }

    async fn stream_updates(
        &self,
        _: &RequestContext,
        request: StreamUpdatesRequest,
    ) -> StreamUpdatesResponse {
        self.record(&request);
        StreamUpdatesResponse::Ok(axum::body::Body::from("event: update\ndata: {}\n\n"))
    }
}

/// The router of a fresh `Recorder`, served on an ephemeral loopback port.
struct Server {
    base: String,
    api: Arc<Recorder>,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Server {
        let api = Arc::new(Recorder::default());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let app = router(api.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            base: format!("http://{address}"),
            api,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("request is sent")
    }
}

/// Checks that `response` is the documented 400 naming `field`, and
/// returns the message for that field.
async fn bad_request_field(response: reqwest::Response, field: &str) -> String {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON error body");
    let message = &body["error"]["data"][field];
    assert!(message.is_string(), "data names `{field}`: {body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    message.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn query_defaults_and_absent_values() {
    let server = Server::start().await;
    let response = server.get("/__mock/journal").await;
    assert_eq!(response.status(), 500);
    let request = server.api.last();
    assert!(request.contains("limit: 1000"), "{request}");
    assert!(request.contains("status: None"), "{request}");
    assert!(request.contains("method: None"), "{request}");
}

#[tokio::test]
async fn query_values_are_decoded() {
    let server = Server::start().await;
    server
        .get("/__mock/journal?status=404&limit=5&method=POST&path=%2Fsystem&since=0")
        .await;
    let request = server.api.last();
    assert!(request.contains("status: Some(404)"), "{request}");
    assert!(request.contains("limit: 5"), "{request}");
    assert!(request.contains("method: Some(\"POST\")"), "{request}");
    assert!(request.contains("path: Some(\"/system\")"), "{request}");
    assert!(request.contains("since: Some(0)"), "{request}");
}

#[tokio::test]
async fn invalid_query_values_are_rejected() {
    let server = Server::start().await;
    let cases = [
        ("/__mock/journal?limit=0", "limit", "from 1 to 10000"),
        ("/__mock/journal?limit=10001", "limit", "from 1 to 10000"),
        ("/__mock/journal?limit=ten", "limit", "an integer"),
        ("/__mock/journal?status=99", "status", "from 100 to 599"),
        ("/__mock/journal?since=-1", "since", "from 0 to"),
        (
            "/__mock/journal?since=9223372036854775808",
            "since",
            "from 0 to 9223372036854775807",
        ),
        ("/__mock/journal?limit=1&limit=2", "limit", "one value"),
        ("/__mock/journal?method=", "method", "Empty value"),
        ("/__mock/events?limit=1.5", "limit", "an integer"),
    ];
    for (path, field, expected) in cases {
        let message = bad_request_field(server.get(path).await, field).await;
        assert!(message.contains(expected), "{path}: {message}");
    }
    assert!(server.api.requests.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn header_parameter_is_decoded() {
    let server = Server::start().await;
    let response = server
        .http
        .get(format!("{}/__mock/state", server.base))
        .header("X-Mock-Session", "alpha")
        .send()
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 500);
    let request = server.api.last();
    assert!(
        request.contains("x_mock_session: Some(\"alpha\")"),
        "{request}"
    );
}

#[tokio::test]
async fn repeated_header_is_rejected() {
    let server = Server::start().await;
    let response = server
        .http
        .get(format!("{}/__mock/state", server.base))
        .header("X-Mock-Session", "alpha")
        .header("X-Mock-Session", "beta")
        .send()
        .await
        .expect("request is sent");
    let message = bad_request_field(response, "X-Mock-Session").await;
    assert!(message.contains("one header"), "{message}");
}

#[tokio::test]
async fn optional_key_may_be_missing() {
    let server = Server::start().await;
    let response = server.get("/__mock/sessions").await;
    assert_eq!(response.status(), 500, "authenticate accepted no key");
    assert!(server.api.last().contains("api_key: Missing"));
}

#[tokio::test]
async fn wrong_key_gets_401() {
    let server = Server::start().await;
    let response = server
        .http
        .get(format!("{}/__mock/sessions", server.base))
        .header("X-Mock-Control-Token", "wrong")
        .send()
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(server.api.requests.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn empty_security_skips_authenticate() {
    let server = Server::start().await;
    let response = server
        .http
        .get(format!("{}/__mock/dashboard", server.base))
        .header("X-Mock-Control-Token", "wrong")
        .send()
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].clone();
    assert_eq!(content_type, "text/html; charset=utf-8");
    let page = response.text().await.expect("page");
    assert!(page.starts_with("<!doctype html>"), "{page}");
}

#[tokio::test]
async fn event_stream_keeps_media_type() {
    let server = Server::start().await;
    let response = server.get("/__mock/updates?session=beta").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].clone();
    assert_eq!(content_type, "text/event-stream; charset=utf-8");
    assert!(server.api.last().contains("session: Some(\"beta\")"));
}

#[tokio::test]
async fn no_content_has_empty_body() {
    let server = Server::start().await;
    let response = server
        .http
        .delete(format!("{}/__mock/faults", server.base))
        .send()
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn path_params_are_decoded() {
    let server = Server::start().await;
    let response = server
        .http
        .post(format!(
            "{}/__mock/processes/cron/node%2D1/hang",
            server.base
        ))
        .send()
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 500);
    let request = server.api.last();
    assert!(request.contains("service_id: \"cron\""), "{request}");
    assert!(request.contains("node_id: \"node-1\""), "{request}");
}

#[tokio::test]
async fn unknown_path_and_method() {
    let server = Server::start().await;
    let missing = server.get("/__mock/nothing").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("JSON error body");
    assert!(body["error"]["data"]["path"].is_string(), "{body}");

    let wrong_method = server
        .http
        .patch(format!("{}/__mock/faults", server.base))
        .send()
        .await
        .expect("request is sent");
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "GET, POST, DELETE");
}

#[tokio::test]
async fn body_errors_name_the_field() {
    let server = Server::start().await;
    let post = |body: &'static str, content_type: &'static str| {
        server
            .http
            .post(format!("{}/__mock/clock/advance", server.base))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = post("{\"seconds\": \"ten\"}", "application/json")
        .await
        .expect("sent");
    bad_request_field(response, "seconds").await;
    let response = post("{\"seconds\": 1, \"extra\": 1}", "application/json")
        .await
        .expect("sent");
    bad_request_field(response, "extra").await;
    let response = post("seconds=1", "text/plain").await.expect("sent");
    assert_eq!(response.status(), 415);
    let large = "x".repeat(MAX_BODY_BYTES + 1);
    let response = server
        .http
        .post(format!("{}/__mock/clock/advance", server.base))
        .header("content-type", "application/json")
        .body(large)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
}

impl Server {
    /// Sends `body` as JSON to `POST path`.
    async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request is sent")
    }

    /// Sends `body` as JSON to `PUT path`.
    async fn put_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request is sent")
    }
}

/// Returns the `data` of a 400 body, after checking the status.
async fn bad_request_data(response: reqwest::Response) -> serde_json::Map<String, Value> {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["data"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("data is an object: {body}"))
}

#[tokio::test]
async fn clock_advance_bounds_are_checked() {
    let server = Server::start().await;
    let cases = [
        (json!({"seconds": -1}), "Must be 0 or more"),
        (json!({"seconds": 31_536_001}), "Must be 31536000 or less"),
        (
            json!({"seconds": 1.5}),
            "Expected an integer, found a number",
        ),
        (
            json!({"seconds": "ten"}),
            "Expected an integer, found a string",
        ),
    ];
    for (body, message) in cases {
        let response = server
            .post_json("/__mock/clock/advance", body.clone())
            .await;
        let data = bad_request_data(response).await;
        assert_eq!(data["seconds"], message, "{body}");
        assert_eq!(data.len(), 1, "{body}: {data:?}");
    }

    for seconds in [0, 31_536_000] {
        let response = server
            .post_json("/__mock/clock/advance", json!({"seconds": seconds}))
            .await;
        assert_eq!(response.status(), 500, "{seconds} reaches the Api");
        let request = server.api.last();
        assert!(
            request.contains(&format!("seconds: {seconds}")),
            "{request}"
        );
    }
}

#[tokio::test]
async fn missing_field_is_named() {
    let server = Server::start().await;
    let response = server.post_json("/__mock/clock/advance", json!({})).await;
    let data = bad_request_data(response).await;
    assert_eq!(data["seconds"], "Field is required");
    assert!(!data.contains_key("body"), "{data:?}");

    let response = server
        .post_json("/__mock/faults", json!({"latency_ms": {"max": 5}}))
        .await;
    let data = bad_request_data(response).await;
    assert_eq!(data["latency_ms.min"], "Field is required");
}

#[tokio::test]
async fn fault_fields_get_clear_messages() {
    let server = Server::start().await;
    let body = json!({
        "status": 418,
        "count": 0,
        "rate": 1.5,
        "match": {"method": 7, "colour": "red"},
        "latency_ms": {"min": 60_001, "max": -1},
    });
    let data = bad_request_data(server.post_json("/__mock/faults", body).await).await;
    let expected = [
        (
            "status",
            "Must be one of 400, 401, 404, 408, 413, 415, 422, 500",
        ),
        ("count", "Must be 1 or more"),
        ("rate", "Must be 1 or less"),
        ("match.method", "Expected a string, found a number"),
        (
            "match.colour",
            "Unknown field; allowed fields: method, path, rpc_method",
        ),
        ("latency_ms.min", "Must be 60000 or less"),
        ("latency_ms.max", "Must be 0 or more"),
    ];
    for (field, message) in expected {
        assert_eq!(data.get(field), Some(&json!(message)), "{field}: {data:?}");
    }
    assert_eq!(data.len(), expected.len(), "{data:?}");
}

#[tokio::test]
async fn state_items_are_named_by_index() {
    let server = Server::start().await;
    let process = |pid: Value| json!({"service": "cron", "node": "n1", "pid": pid, "started_at": "2026-11-30T08:00:00Z"});
    let body = json!({
        "nodes": [{"id": "n1", "name": "A"}, {"id": "", "name": "B"}],
        "services": [{"id": "cron"}],
        "processes": [process(json!(1)), process(json!(2)), process(json!(0)), process(json!(4_294_967_296u64))],
    });
    let data = bad_request_data(server.put_json("/__mock/state", body).await).await;
    let expected = [
        ("nodes[1].id", "Empty value is not allowed"),
        ("services[0].name", "Field is required"),
        ("processes[2].pid", "Must be 1 or more"),
        ("processes[3].pid", "Must be 4294967295 or less"),
    ];
    for (field, message) in expected {
        assert_eq!(data.get(field), Some(&json!(message)), "{field}: {data:?}");
    }
    assert_eq!(data.len(), expected.len(), "{data:?}");
}

#[tokio::test]
async fn valid_fault_reaches_api() {
    let server = Server::start().await;
    let body =
        json!({"status": 500, "count": 1, "rate": 0, "latency_ms": {"min": 0, "max": 60_000}});
    let response = server.post_json("/__mock/faults", body).await;
    assert_eq!(response.status(), 500);
    let request = server.api.last();
    assert!(request.contains("count: Some(1)"), "{request}");
    assert!(request.contains("max: Some(60000)"), "{request}");
}

#[tokio::test]
async fn session_name_rules_are_checked() {
    let server = Server::start().await;
    let long = "a".repeat(65);
    let cases = [
        (
            "/__mock/state",
            "X-Mock-Session",
            "a b",
            "matches the pattern",
        ),
        (
            "/__mock/state",
            "X-Mock-Session",
            long.as_str(),
            "1 to 64 characters",
        ),
        (
            "/__mock/sessions/a%2Fb",
            "session_name",
            "",
            "matches the pattern",
        ),
        (
            "/__mock/updates?session=a%3Fb",
            "session",
            "",
            "matches the pattern",
        ),
    ];
    for (path, field, header, expected) in cases {
        let mut request = server.http.get(format!("{}{path}", server.base));
        if path == "/__mock/sessions/a%2Fb" {
            request = server.http.delete(format!("{}{path}", server.base));
        }
        if !header.is_empty() {
            request = request.header(field, header);
        }
        let response = request.send().await.expect("request is sent");
        let message = bad_request_field(response, field).await;
        assert!(message.contains(expected), "{path}: {message}");
    }
    assert!(server.api.requests.lock().expect("lock").is_empty());

    let response = server
        .http
        .get(format!("{}/__mock/state", server.base))
        .header("X-Mock-Session", "team-1.run_2")
        .send()
        .await
        .expect("request is sent");
    assert_eq!(response.status(), 500);
    assert!(server.api.last().contains("Some(\"team-1.run_2\")"));
}

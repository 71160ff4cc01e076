//! What a web page calling the mock from the browser relies on, over real
//! sockets: CORS preflight responses and headers, the spec served at
//! `/openapi.yaml` and `/openapi.json`, and documented examples selected
//! with the `Prefer` header.

use std::sync::Arc;

use contract_tests::MockServer;
use contract_tests::checker::{Checker, RecordedRequest, RecordedResponse, record};
use mock_server::state::ClusterState;
use mock_server::{Cors, CorsOrigin, DEFAULT_API_KEY, Limits, MockApi};
use reqwest::Method;
use serde_json::{Value, json};

const TERMINATE_CRON: &str = "/system/services/active/cron/terminate";
const PAGE: &str = "http://localhost:5173";

/// A mock on 127.0.0.1 with the default state and the CORS policy given,
/// stopped on drop.
struct Server {
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(cors: Option<Cors>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let base_url = format!("http://{}", listener.local_addr().expect("bound address"));
        let api = Arc::new(MockApi::new(
            ClusterState::default_state(),
            vec![DEFAULT_API_KEY.to_string()],
        ));
        let task = tokio::spawn(async move {
            mock_server::serve_with_cors(
                listener,
                api,
                Limits::default(),
                cors,
                std::future::pending(),
            )
            .await
            .expect("serve the mock");
        });
        Server { base_url, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn origin(text: &str) -> CorsOrigin {
    text.parse().expect("a valid origin")
}

/// Sends the preflight request a browser sends before a POST with the API
/// key and a JSON body from `page`.
async fn preflight(base_url: &str, path: &str, page: &str) -> RecordedResponse {
    let request = RecordedRequest::new(Method::OPTIONS, base_url, path)
        .header("Origin", page)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,prefer,x-api-key",
        );
    record(&reqwest::Client::new(), &request)
        .await
        .expect("send the request")
}

fn header<'a>(response: &'a RecordedResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header"))
}

/// Splits the comma-separated header `name` into lower-case items.
fn header_list(response: &RecordedResponse, name: &str) -> Vec<String> {
    header(response, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

fn cors_headers(response: &RecordedResponse) -> Vec<&str> {
    let names = response.headers.keys().map(|name| name.as_str());
    names
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

fn json_body(response: &RecordedResponse) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&response.body)))
}

/// Builds a terminate call for cron with `headers` and an all-nodes body.
/// It sends the default key unless `headers` sets `X-Api-Key`, and an
/// empty header value leaves that header out.
fn terminate_request(base_url: &str, headers: &[(&str, &str)]) -> RecordedRequest {
    let mut request = RecordedRequest::new(Method::POST, base_url, TERMINATE_CRON);
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-api-key"))
    {
        request = request.header("X-Api-Key", DEFAULT_API_KEY);
    }
    for (name, value) in headers {
        if !value.is_empty() {
            request = request.header(name, value);
        }
    }
    request.json(&json!({"nodes_id": null}))
}

/// Sends `request`, checks the response against the spec and returns it.
async fn checked(request: &RecordedRequest) -> RecordedResponse {
    let response = record(&reqwest::Client::new(), request)
        .await
        .expect("send the request");
    if let Err(violation) = Checker::shared().check(request, &response) {
        panic!("{violation}");
    }
    response
}

// --- CORS

#[tokio::test]
async fn preflight_allows_api_headers() {
    let mock = MockServer::start().await;
    for path in [TERMINATE_CRON, "/jsonrpc"] {
        let response = preflight(&mock.base_url(), path, PAGE).await;
        assert_eq!(response.status, 204, "{path}");
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            header_list(&response, "access-control-allow-methods"),
            ["post"]
        );
        let allowed = header_list(&response, "access-control-allow-headers");
        for name in ["x-api-key", "content-type", "prefer"] {
            assert!(
                allowed.iter().any(|item| item == name),
                "{name}: {allowed:?}"
            );
        }
        assert!(response.body.is_empty(), "{path}");
        assert_eq!(header(&response, "allow"), Some("POST"), "{path}");
    }
    let response = preflight(&mock.base_url(), "/openapi.json", PAGE).await;
    assert_eq!(response.status, 204);
    assert_eq!(header(&response, "allow"), Some("GET,HEAD"));
}

#[tokio::test]
async fn preflight_from_listed_origin_echoes_it() {
    let cors = Cors::new([origin("http://localhost:3000"), origin(PAGE)]);
    let server = Server::start(Some(cors)).await;
    let response = preflight(&server.base_url, TERMINATE_CRON, PAGE).await;
    assert_eq!(response.status, 204);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        header_list(&response, "access-control-allow-methods"),
        ["post"]
    );
    assert!(header_list(&response, "vary").contains(&"origin".to_string()));
    let credentials = header(&response, "access-control-allow-credentials");
    assert_eq!(credentials, Some("true"));
}

#[tokio::test]
async fn listed_origin_may_send_credentials() {
    let server = Server::start(Some(Cors::new([origin(PAGE)]))).await;
    let request = terminate_request(&server.base_url, &[("Origin", PAGE)]);
    let response = checked(&request).await;
    assert_eq!(response.status, 200);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(PAGE));
    let credentials = header(&response, "access-control-allow-credentials");
    assert_eq!(credentials, Some("true"));
    // A page from another origin gets neither header.
    let other = terminate_request(&server.base_url, &[("Origin", "http://evil.test")]);
    let response = checked(&other).await;
    assert_eq!(cors_headers(&response), Vec::<&str>::new());
}

#[tokio::test]
async fn preflight_from_unlisted_origin_rejected() {
    let server = Server::start(Some(Cors::new([origin(PAGE)]))).await;
    for path in [TERMINATE_CRON, "/jsonrpc"] {
        let response = preflight(&server.base_url, path, "http://evil.test").await;
        assert_eq!(response.status, 405, "{path}");
        assert_eq!(cors_headers(&response), Vec::<&str>::new(), "{path}");
    }
}

#[tokio::test]
async fn options_without_origin_stays_405() {
    let mock = MockServer::start().await;
    let request = RecordedRequest::new(Method::OPTIONS, &mock.base_url(), TERMINATE_CRON);
    let response = record(&reqwest::Client::new(), &request)
        .await
        .expect("send the request");
    assert_eq!(response.status, 405);
    assert_eq!(header(&response, "allow"), Some("POST"));
    assert_eq!(cors_headers(&response), Vec::<&str>::new());
    let message = "Method OPTIONS is not allowed here; use POST";
    let expected = json!({"error": {"message": message, "data": {"method": message}}});
    assert_eq!(json_body(&response), expected);
}

#[tokio::test]
async fn ok_and_unauthorized_carry_allow_origin() {
    let mock = MockServer::start().await;
    let ok = checked(&terminate_request(&mock.base_url(), &[("Origin", PAGE)])).await;
    assert_eq!(ok.status, 200);
    assert_eq!(json_body(&ok), 2);
    let missing_key = [("Origin", PAGE), ("X-Api-Key", "")];
    let unauthorized = checked(&terminate_request(&mock.base_url(), &missing_key)).await;
    assert_eq!(unauthorized.status, 401);
    for response in [&ok, &unauthorized] {
        assert_eq!(header(response, "access-control-allow-origin"), Some("*"));
        // With `*`, a browser blocks responses to requests with
        // credentials, so none are allowed.
        let credentials = header(response, "access-control-allow-credentials");
        assert_eq!(credentials, None);
        let exposed = header_list(response, "access-control-expose-headers");
        assert!(exposed.contains(&"x-request-id".to_string()), "{exposed:?}");
    }
}

#[tokio::test]
async fn error_responses_carry_allow_origin() {
    let server = Server::start(Some(Cors::new([origin(PAGE)]))).await;
    let base = &server.base_url;
    let with_origin = |request: RecordedRequest| request.header("Origin", PAGE);
    let requests = [
        (
            400,
            with_origin(RecordedRequest::new(Method::POST, base, TERMINATE_CRON))
                .header("X-Api-Key", DEFAULT_API_KEY)
                .header("Content-Type", "application/json")
                .body("{"),
        ),
        (
            404,
            with_origin(RecordedRequest::new(
                Method::POST,
                base,
                "/system/services/active/mailer/terminate",
            ))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .json(&json!({})),
        ),
        (
            404,
            with_origin(RecordedRequest::new(Method::POST, base, "/unknown")),
        ),
        (
            405,
            with_origin(RecordedRequest::new(Method::GET, base, TERMINATE_CRON)),
        ),
        (
            415,
            with_origin(RecordedRequest::new(Method::POST, base, TERMINATE_CRON))
                .header("X-Api-Key", DEFAULT_API_KEY)
                .header("Content-Type", "text/plain")
                .body("{}"),
        ),
        (
            422,
            with_origin(RecordedRequest::new(
                Method::POST,
                base,
                "/system/services/active/tasks_scheduler/terminate",
            ))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .json(&json!({})),
        ),
    ];
    for (status, request) in requests {
        let response = record(&reqwest::Client::new(), &request)
            .await
            .expect("send the request");
        assert_eq!(response.status, status, "{}", request.path);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(PAGE),
            "{status} {}",
            request.path
        );
        assert!(json_body(&response)["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn no_cors_sends_no_cors_headers() {
    let server = Server::start(None).await;
    let response = preflight(&server.base_url, TERMINATE_CRON, PAGE).await;
    assert_eq!(response.status, 405);
    assert_eq!(cors_headers(&response), Vec::<&str>::new());
    let ok = checked(&terminate_request(&server.base_url, &[("Origin", PAGE)])).await;
    assert_eq!(ok.status, 200);
    assert_eq!(cors_headers(&ok), Vec::<&str>::new());
}

#[tokio::test]
async fn handler_panic_500_carries_allow_origin() {
    let router = axum::Router::new().route(
        TERMINATE_CRON,
        axum::routing::post(|| async {
            panic!("a handler failure for the CORS test");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let base_url = format!("http://{}", listener.local_addr().expect("bound address"));
    let app = mock_server::with_middleware(router);
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    let request = terminate_request(&base_url, &[("Origin", PAGE)]);
    let response = checked(&request).await;
    task.abort();
    assert_eq!(response.status, 500);
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        json_body(&response)["error"]["message"],
        mock_server::INTERNAL_ERROR_MESSAGE
    );
}

// --- The spec at /openapi.yaml and /openapi.json

async fn get(base_url: &str, path: &str) -> RecordedResponse {
    let request = RecordedRequest::new(Method::GET, base_url, path).header("Origin", PAGE);
    record(&reqwest::Client::new(), &request)
        .await
        .expect("send the request")
}

#[tokio::test]
async fn openapi_yaml_is_embedded_spec() {
    let mock = MockServer::start().await;
    let response = get(&mock.base_url(), "/openapi.yaml").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type(), Some("application/yaml"));
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        String::from_utf8(response.body).expect("UTF-8"),
        api_spec::OPENAPI_YAML
    );
}

#[tokio::test]
async fn openapi_json_is_embedded_spec() {
    let mock = MockServer::start().await;
    let response = get(&mock.base_url(), "/openapi.json").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type(), Some("application/json"));
    let expected: Value = serde_yaml::from_str(api_spec::OPENAPI_YAML).expect("the spec");
    assert_eq!(json_body(&response), expected);
}

#[tokio::test]
async fn openapi_documents_reject_other_methods() {
    let mock = MockServer::start().await;
    for path in ["/openapi.yaml", "/openapi.json"] {
        let request = RecordedRequest::new(Method::POST, &mock.base_url(), path);
        let response = record(&reqwest::Client::new(), &request)
            .await
            .expect("send the request");
        assert_eq!(response.status, 405, "{path}");
        assert_eq!(header(&response, "allow"), Some("GET, HEAD"));
        assert_eq!(response.content_type(), Some("application/json"));
        let message = "Method POST is not allowed here; use GET, HEAD";
        let expected = json!({"error": {"message": message, "data": {"method": message}}});
        assert_eq!(json_body(&response), expected);
    }
}

// --- Prefer

/// Returns the value of the documented example `name` of `status`.
fn documented_example(status: &str, name: &str) -> Value {
    let examples = Checker::shared().examples("mark_terminate", status);
    let example = examples.into_iter().find(|example| example.name == name);
    example
        .unwrap_or_else(|| panic!("no example {name} of {status}"))
        .value
}

#[tokio::test]
async fn prefer_code_sends_first_example() {
    let mock = MockServer::start().await;
    let base = mock.base_url();
    let not_found = checked(&terminate_request(&base, &[("Prefer", "code=404")])).await;
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.content_type(), Some("application/json"));
    assert_eq!(header(&not_found, "preference-applied"), Some("code=404"));
    // The spec lists `unknown_service` first among the 404 examples.
    assert_eq!(
        json_body(&not_found),
        documented_example("404", "unknown_service")
    );

    let ok = checked(&terminate_request(&base, &[("Prefer", "code=200")])).await;
    assert_eq!(ok.status, 200);
    assert_eq!(json_body(&ok), json!(3));

    // Neither call flagged a process: the real call flags both of cron's.
    let real = checked(&terminate_request(&base, &[])).await;
    assert_eq!(real.status, 200);
    assert_eq!(json_body(&real), json!(2));
}

#[tokio::test]
async fn prefer_example_selects_named_example() {
    let mock = MockServer::start().await;
    let request = terminate_request(&mock.base_url(), &[("Prefer", "example=unknown_node")]);
    let response = checked(&request).await;
    assert_eq!(response.status, 404);
    assert_eq!(
        json_body(&response),
        documented_example("404", "unknown_node")
    );
    assert_eq!(
        json_body(&response)["error"]["data"]["object_name"],
        "nodes"
    );
    assert_eq!(
        header(&response, "preference-applied"),
        Some("example=unknown_node")
    );
}

#[tokio::test]
async fn prefer_code_and_example_narrow_selection() {
    let mock = MockServer::start().await;
    let prefer = [("Prefer", "code=401, example=ip_not_allowed")];
    let response = checked(&terminate_request(&mock.base_url(), &prefer)).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        json_body(&response),
        documented_example("401", "ip_not_allowed")
    );

    let prefer = [("Prefer", "code=404"), ("Prefer", "example=flagged")];
    let response = checked(&terminate_request(&mock.base_url(), &prefer)).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        json_body(&response)["error"]["data"]["prefer"],
        "Status 404 has no example `flagged`; its examples: unknown_service, unknown_node"
    );
}

#[tokio::test]
async fn prefer_undocumented_code_is_400() {
    let mock = MockServer::start().await;
    for (prefer, detail) in [
        (
            "code=418",
            "Status 418 is not documented for this operation; \
             documented: 200, 400, 401, 404, 408, 413, 415, 422, 500",
        ),
        (
            "code=teapot",
            "Prefer code `teapot` is not an HTTP status code",
        ),
    ] {
        let request = terminate_request(&mock.base_url(), &[("Prefer", prefer)]);
        let response = checked(&request).await;
        assert_eq!(response.status, 400, "{prefer}");
        let expected = json!({"error": {"message": "Invalid request", "data": {"prefer": detail}}});
        assert_eq!(json_body(&response), expected, "{prefer}");
    }
}

#[tokio::test]
async fn prefer_unknown_example_is_400() {
    let mock = MockServer::start().await;
    let request = terminate_request(&mock.base_url(), &[("Prefer", "example=no_such_example")]);
    let response = checked(&request).await;
    assert_eq!(response.status, 400);
    let detail = json_body(&response)["error"]["data"]["prefer"].clone();
    let detail = detail.as_str().expect("a message");
    assert!(
        detail.starts_with(
            "Example `no_such_example` is not documented for this operation; documented: flagged, "
        ),
        "{detail}"
    );
    assert!(detail.contains("unknown_node"), "{detail}");
}

#[tokio::test]
async fn prefer_without_valid_key_is_401() {
    let mock = MockServer::start().await;
    for key in ["", "wrong-key"] {
        let headers = [("Prefer", "code=200"), ("X-Api-Key", key)];
        let response = checked(&terminate_request(&mock.base_url(), &headers)).await;
        assert_eq!(response.status, 401, "key {key:?}");
        assert_eq!(
            json_body(&response)["error"]["data"]["code"],
            mock_server::AUTH_FAILED_CODE
        );
        assert_eq!(header(&response, "preference-applied"), None);
    }
}

#[tokio::test]
async fn prefer_on_jsonrpc_is_400() {
    let mock = MockServer::start().await;
    let call = json!({
        "jsonrpc": "2.0",
        "method": "system.services.active.mark_terminate",
        "params": {"system_services_id": "cron"},
        "id": 1,
    });
    let request = RecordedRequest::new(Method::POST, &mock.base_url(), "/jsonrpc")
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Prefer", "code=404")
        .json(&call);
    let response = checked(&request).await;
    assert_eq!(response.status, 400);
    let body = json_body(&response);
    assert_eq!(body["error"]["code"], -32600);
    let detail = body["error"]["data"]["prefer"].as_str().expect("a message");
    assert!(detail.contains("REST operations only"), "{detail}");

    let missing_key = RecordedRequest::new(Method::POST, &mock.base_url(), "/jsonrpc")
        .header("Prefer", "code=404")
        .json(&call);
    assert_eq!(checked(&missing_key).await.status, 401);

    let ignored = RecordedRequest::new(Method::POST, &mock.base_url(), "/jsonrpc")
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Prefer", "return=minimal")
        .json(&call);
    let response = checked(&ignored).await;
    assert_eq!(response.status, 200);
    assert_eq!(json_body(&response)["result"], 2);
}

#[tokio::test]
async fn every_documented_example_is_served_and_conforms() {
    let mock = MockServer::start().await;
    let checker = Checker::shared();
    let statuses = checker.statuses("mark_terminate");
    assert!(statuses.len() >= 9, "{statuses:?}");
    for status in statuses {
        let examples = checker.examples("mark_terminate", &status);
        assert!(!examples.is_empty(), "status {status} has no example");
        for example in &examples {
            let prefer = format!("code={status}, example={}", example.name);
            let response =
                checked(&terminate_request(&mock.base_url(), &[("Prefer", &prefer)])).await;
            assert_eq!(response.status.to_string(), status, "{prefer}");
            assert_eq!(json_body(&response), example.value, "{prefer}");
        }
        let prefer = format!("code={status}");
        let response = checked(&terminate_request(&mock.base_url(), &[("Prefer", &prefer)])).await;
        assert_eq!(response.status.to_string(), status);
        let body = json_body(&response);
        assert!(
            examples.iter().any(|example| example.value == body),
            "{prefer}: {body}"
        );
    }
    let real = checked(&terminate_request(&mock.base_url(), &[])).await;
    assert_eq!(json_body(&real), 2);
}

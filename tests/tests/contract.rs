//! The conformance properties of `contract_tests::contract`: they pass on
//! the mock, and they catch servers that break the spec.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use contract_tests::MockServer;
use contract_tests::contract::{Settings, case_strategy, check_case, http_client, run};
use mock_server::DEFAULT_API_KEY;
use proptest::prelude::*;

fn settings(base_url: String, seed: u64) -> Settings {
    Settings {
        base_url,
        api_key: DEFAULT_API_KEY.to_string(),
        budget: 300,
        seed,
    }
}

/// Serves `router` on an ephemeral loopback port and returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let address = listener.local_addr().expect("read the bound address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

#[tokio::test]
async fn contract_passes_on_mock() {
    let mock = MockServer::start().await;
    let report = run(&settings(mock.base_url(), 20261204)).await;
    assert_eq!(report.cases, 300);
    assert!(report.failures.is_empty(), "{report}");
}

#[tokio::test]
async fn contract_catches_plain_text_server() {
    let router = Router::new().fallback(|| async { "ok" });
    let report = run(&settings(serve(router).await, 1)).await;
    assert!(!report.failures.is_empty());
    let text = report.to_string();
    assert!(text.contains("property: matches-spec"), "{text}");
    assert!(text.contains("rule: content-type-mismatch"), "{text}");
    assert!(text.contains("curl -sS -i -X POST"), "{text}");
    assert!(
        !text.contains(DEFAULT_API_KEY),
        "the key is redacted: {text}"
    );
}

#[tokio::test]
async fn contract_catches_server_without_validation() {
    // Counts 1 for every REST call, valid or not, and never returns 0.
    let router = Router::new().fallback(|| async {
        (StatusCode::OK, [("content-type", "application/json")], "1").into_response()
    });
    let report = run(&settings(serve(router).await, 2)).await;
    let properties: Vec<&str> = report.failures.iter().map(|f| f.property).collect();
    assert!(properties.contains(&"rest-status"), "{report}");
    assert!(properties.contains(&"repeat-returns-zero"), "{report}");
}

#[tokio::test]
async fn contract_catches_wrong_not_found() {
    // Returns a documented 404 that names another object for every call.
    let body = r#"{"error": {"message": "not_found: Object \"clients(123)\" was not found!",
        "data": {"code": "not_found", "message": "Object \"clients(123)\" was not found!",
        "object_name": "clients", "object_id": "123"}}}"#;
    let router = Router::new().fallback(move || async move {
        (
            StatusCode::NOT_FOUND,
            [("content-type", "application/json")],
            body,
        )
            .into_response()
    });
    let report = run(&settings(serve(router).await, 4)).await;
    let properties: Vec<&str> = report.failures.iter().map(|f| f.property).collect();
    assert!(properties.contains(&"not-found-names-object"), "{report}");
}

#[tokio::test]
async fn rejected_key_stops_early() {
    let mock = MockServer::start().await;
    let mut settings = settings(mock.base_url(), 5);
    settings.api_key = "not-a-key".to_string();
    let report = run(&settings).await;
    assert_eq!(report.cases, 0);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].property, "api-key-accepted");
}

#[tokio::test]
async fn contract_catches_server_error() {
    let router = Router::new().fallback(|| async { StatusCode::INTERNAL_SERVER_ERROR });
    let report = run(&settings(serve(router).await, 3)).await;
    let properties: Vec<&str> = report.failures.iter().map(|f| f.property).collect();
    assert!(properties.contains(&"no-server-error"), "{report}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every random request gets a response that matches the spec and the
    /// terminate rules; the mock never returns a 5xx or drops the connection.
    #[test]
    fn mock_answers_every_case(case in case_strategy()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        runtime.block_on(async {
            let mock = MockServer::start().await;
            let result = check_case(&http_client(), &mock.base_url(), DEFAULT_API_KEY, &case).await;
            if let Err(failure) = result {
                return Err(TestCaseError::fail(failure.to_string()));
            }
            Ok(())
        })?;
    }
}

//! The generated client against the mock server, over real HTTP on loopback.

use contract_tests::{MockServer, client_with_key};
use system_services_client::Error;
use system_services_client::types::TerminateRequest;

fn all_nodes() -> TerminateRequest {
    TerminateRequest { nodes_id: None }
}

#[tokio::test]
async fn terminate_counts_then_repeats_zero() {
    let mock = MockServer::start().await;
    let client = mock.client();

    let first = client
        .mark_terminate()
        .system_services_id("web_server")
        .body(all_nodes())
        .send()
        .await
        .expect("first call succeeds");
    assert_eq!(first.status(), 200);
    assert_eq!(first.into_inner(), 3);

    let second = client
        .mark_terminate()
        .system_services_id("web_server")
        .body(all_nodes())
        .send()
        .await
        .expect("second call succeeds");
    assert_eq!(second.into_inner(), 0);
}

#[tokio::test]
async fn terminate_one_node_flags_one_process() {
    let mock = MockServer::start().await;
    let body = TerminateRequest {
        nodes_id: Some("node-2".parse().expect("valid node ID")),
    };
    let affected = mock
        .client()
        .mark_terminate()
        .system_services_id("cron")
        .body(body)
        .send()
        .await
        .expect("call succeeds");
    assert_eq!(affected.into_inner(), 1);
}

#[tokio::test]
async fn unknown_service_is_typed_404() {
    let mock = MockServer::start().await;
    let error = mock
        .client()
        .mark_terminate()
        .system_services_id("mailer")
        .body(all_nodes())
        .send()
        .await
        .expect_err("unknown service is an error");

    let Error::ErrorResponse(response) = error else {
        panic!("expected a documented error response, got {error:?}");
    };
    assert_eq!(response.status(), 404);
    let body = response.into_inner();
    let data = body.error.data.expect("a 404 carries data");
    assert_eq!(data.code.as_deref(), Some("not_found"));
    assert_eq!(data.object_name.as_deref(), Some("system_services"));
    assert_eq!(data.object_id.as_deref(), Some("mailer"));
    assert_eq!(
        body.error.message,
        "not_found: Object \"system_services(mailer)\" was not found!"
    );
}

#[tokio::test]
async fn unknown_key_is_typed_401() {
    let mock = MockServer::start().await;
    let error = client_with_key(&mock.base_url(), "wrong-key")
        .mark_terminate()
        .system_services_id("cron")
        .body(all_nodes())
        .send()
        .await
        .expect_err("unknown key is an error");

    let Error::ErrorResponse(response) = error else {
        panic!("expected a documented error response, got {error:?}");
    };
    assert_eq!(response.status(), 401);
    let data = response
        .into_inner()
        .error
        .data
        .expect("a 401 carries data");
    assert_eq!(data.code.as_deref(), Some("utoken-auth-failed"));
}

//! The request journal over a real socket: what an entry records, the
//! filters, the limit, and the requests it leaves out.

mod chunked;

use contract_tests::MockServer;
use mock_server::faults::{FaultSpec, Latency};
use mock_server::journal::{Journal, JournalEntry, JournalFilter, MAX_BODY_BYTES, REDACTED};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use serde_json::{Value, json};

const METHOD: &str = "system.services.active.mark_terminate";

async fn start_with_limit(limit: usize) -> MockServer {
    let api = MockApi::new(ClusterState::default_state(), vec![DEFAULT_API_KEY.into()])
        .with_journal(Journal::new(limit));
    MockServer::start_with_api(api).await
}

/// Sends `POST path` with the default key and a JSON `body`; returns the
/// status, the `X-Request-Id` header and the body text.
async fn post(mock: &MockServer, path: &str, body: &str) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("Content-Type", "application/json")
        .header("Cookie", "session=abc")
        .body(body.to_string())
        .send()
        .await
        .expect("the mock answers");
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("read the body");
    (status, request_id, text)
}

fn entries(mock: &MockServer, filter: &JournalFilter) -> Vec<JournalEntry> {
    mock.api.journal().list(None, filter).entries
}

fn header<'a>(entry: &'a JournalEntry, name: &str) -> Option<&'a str> {
    entry
        .headers
        .iter()
        .find(|(header, _)| header == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn rest_request_is_recorded() {
    let mock = MockServer::start().await;
    let body = r#"{"nodes_id": "node-2"}"#;
    let path = "/system/services/active/cron/terminate?trace=1";
    let (status, request_id, text) = post(&mock, path, body).await;
    assert_eq!((status, text.as_str()), (200, "1"));

    let recorded = entries(&mock, &JournalFilter::default());
    assert_eq!(recorded.len(), 1);
    let entry = &recorded[0];
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.method, "POST");
    assert_eq!(entry.path, "/system/services/active/cron/terminate");
    assert_eq!(entry.query.as_deref(), Some("trace=1"));
    assert_eq!(entry.body.as_deref(), Some(body));
    assert_eq!(entry.status, 200);
    assert_eq!(entry.request_id.as_deref(), Some(request_id.as_str()));
    assert_eq!(header(entry, "x-api-key"), Some(REDACTED));
    assert_eq!(header(entry, "cookie"), Some(REDACTED));
    assert_eq!(header(entry, "content-type"), Some("application/json"));
    assert!(entry.rpc_methods.is_empty());
    assert_eq!(entry.fault, None);
    assert!(entry.duration_ms >= 0.0);
}

#[tokio::test]
async fn entry_serialises_as_control_schema() {
    let mock = MockServer::start().await;
    post(&mock, "/system/services/active/backup/terminate", "{}").await;
    let page = mock.api.journal().list(None, &JournalFilter::default());
    let value = serde_json::to_value(&page).expect("serialise the page");
    assert_eq!(value["dropped"], 0);
    let entry = &value["entries"][0];
    assert_eq!(entry["headers"]["x-api-key"], REDACTED);
    assert_eq!(entry["body"], "{}");
    assert_eq!(entry["query"], Value::Null);
    assert_eq!(entry["fault"], Value::Null);
    assert!(
        entry["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{entry}"
    );
    assert!(entry.get("rpc_methods").is_none(), "{entry}");
}

#[tokio::test]
async fn jsonrpc_request_records_methods() {
    let mock = MockServer::start().await;
    let call =
        |id: i64| json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": id});
    let body = json!([call(1), call(2)]).to_string();
    let (status, _, text) = post(&mock, "/jsonrpc", &body).await;
    assert_eq!(status, 200, "{text}");

    let recorded = entries(&mock, &JournalFilter::default());
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, "/jsonrpc");
    assert_eq!(recorded[0].rpc_methods, [METHOD, METHOD]);
    assert_eq!(recorded[0].body.as_deref(), Some(body.as_str()));
    assert_eq!(header(&recorded[0], "x-api-key"), Some(REDACTED));
}

#[tokio::test]
async fn filters_select_entries() {
    let mock = MockServer::start().await;
    let terminate = |service: &str| format!("/system/services/active/{service}/terminate");
    post(&mock, &terminate("backup"), "{}").await;
    post(&mock, &terminate("mailer"), "{}").await;
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": 1});
    post(&mock, "/jsonrpc", &call.to_string()).await;
    reqwest::get(format!("{}/openapi.json", mock.base_url()))
        .await
        .expect("the mock answers");

    let paths = |filter: JournalFilter| -> Vec<String> {
        let recorded = entries(&mock, &filter);
        recorded.into_iter().map(|entry| entry.path).collect()
    };
    assert_eq!(paths(JournalFilter::default()).len(), 4);
    let by_method = JournalFilter {
        method: Some("get".into()),
        ..JournalFilter::default()
    };
    assert_eq!(paths(by_method), ["/openapi.json"]);
    let by_path = JournalFilter {
        path: Some("/system/".into()),
        ..JournalFilter::default()
    };
    assert_eq!(paths(by_path), [terminate("backup"), terminate("mailer")]);
    let by_status = JournalFilter {
        status: Some(404),
        ..JournalFilter::default()
    };
    assert_eq!(paths(by_status), [terminate("mailer")]);
    let by_rpc_method = JournalFilter {
        rpc_method: Some(METHOD.into()),
        ..JournalFilter::default()
    };
    assert_eq!(paths(by_rpc_method), ["/jsonrpc"]);
    let since = JournalFilter {
        since: Some(2),
        limit: Some(1),
        ..JournalFilter::default()
    };
    assert_eq!(paths(since), ["/jsonrpc"]);
}

#[tokio::test]
async fn limit_drops_oldest_with_count() {
    let mock = start_with_limit(3).await;
    for _ in 0..5 {
        post(&mock, "/system/services/active/backup/terminate", "{}").await;
    }
    let page = mock.api.journal().list(None, &JournalFilter::default());
    let seqs: Vec<u64> = page.entries.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(page.dropped, 2);
}

#[tokio::test]
async fn zero_limit_records_nothing() {
    let mock = start_with_limit(0).await;
    let (status, _, _) = post(&mock, "/system/services/active/cron/terminate", "{}").await;
    assert_eq!(status, 200);
    assert!(entries(&mock, &JournalFilter::default()).is_empty());
}

#[tokio::test]
async fn control_paths_are_not_recorded() {
    let mock = MockServer::start().await;
    for path in ["/__mock/journal", "/__mock"] {
        reqwest::get(format!("{}{path}", mock.base_url()))
            .await
            .expect("the mock answers");
    }
    assert!(entries(&mock, &JournalFilter::default()).is_empty());
    reqwest::get(format!("{}/__mockery", mock.base_url()))
        .await
        .expect("the mock answers");
    assert_eq!(entries(&mock, &JournalFilter::default()).len(), 1);
}

/// Sends a terminate request for the idle `backup` service in `session`;
/// returns the status.
async fn terminate_in_session(mock: &MockServer, session: &str) -> u16 {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/system/services/active/backup/terminate",
            mock.base_url()
        ))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("X-Mock-Session", session)
        .json(&json!({}))
        .send()
        .await
        .expect("the mock answers");
    response.status().as_u16()
}

#[tokio::test]
async fn session_requests_are_recorded_apart() {
    let mock = MockServer::start().await;
    assert_eq!(terminate_in_session(&mock, "s1").await, 200);
    let session = mock
        .api
        .journal()
        .list(Some("s1"), &JournalFilter::default());
    assert_eq!(session.entries.len(), 1);
    assert_eq!(session.entries[0].seq, 1);
    assert!(entries(&mock, &JournalFilter::default()).is_empty());

    assert!(mock.api.sessions().remove("s1"));
    let ended = mock
        .api
        .journal()
        .list(Some("s1"), &JournalFilter::default());
    assert!(ended.entries.is_empty());
}

#[tokio::test]
async fn invalid_session_is_not_recorded() {
    let mock = MockServer::start().await;
    assert_eq!(terminate_in_session(&mock, "no spaces").await, 400);
    assert!(entries(&mock, &JournalFilter::default()).is_empty());
    let invalid = mock
        .api
        .journal()
        .list(Some("no spaces"), &JournalFilter::default());
    assert!(invalid.entries.is_empty());
}

#[tokio::test]
async fn large_body_is_cut() {
    let mock = MockServer::start().await;
    let status = chunked::post_chunked(
        mock.address,
        "/system/services/active/cron/terminate",
        100 * 1024,
    )
    .await;
    assert_eq!(status, 413);
    let recorded = entries(&mock, &JournalFilter::default());
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 413);
    let body = recorded[0].body.as_deref().expect("the body that was read");
    assert_eq!(body.len(), MAX_BODY_BYTES);
    assert!(body.bytes().all(|byte| byte == b' '));
}

/// Sends a terminate request for `backup` in `session` with a body of
/// about `size` bytes; returns the status.
async fn terminate_with_body(mock: &MockServer, session: &str, size: usize) -> u16 {
    let body = format!("{}{{}}", " ".repeat(size));
    reqwest::Client::new()
        .post(format!(
            "{}/system/services/active/backup/terminate",
            mock.base_url()
        ))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("X-Mock-Session", session)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the mock answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn total_budget_drops_oldest_entries_of_any_session() {
    const BUDGET: usize = 512 * 1024;
    const BODY: usize = 60_000;
    let journal = Journal::new(mock_server::journal::DEFAULT_LIMIT).with_max_total_bytes(BUDGET);
    let api = MockApi::new(ClusterState::default_state(), vec![DEFAULT_API_KEY.into()])
        .with_journal(journal);
    let mock = MockServer::start_with_api(api).await;
    for session in ["a", "b", "c"] {
        for _ in 0..6 {
            assert_eq!(terminate_with_body(&mock, session, BODY).await, 200);
        }
    }

    let page = |session| {
        mock.api
            .journal()
            .list(Some(session), &JournalFilter::default())
    };
    let (a, b, c) = (page("a"), page("b"), page("c"));
    assert!(a.entries.is_empty(), "{} entries kept", a.entries.len());
    assert_eq!(a.dropped, 6);
    assert_eq!((c.entries.len(), c.dropped), (6, 0));
    assert_eq!(b.entries.len() as u64 + b.dropped, 6);
    let kept_entries = b.entries.len() + c.entries.len();
    assert!(
        kept_entries * BODY <= BUDGET,
        "{kept_entries} entries of {BODY} bytes"
    );
    let newest_of_b = b.entries.last().map(|entry| entry.seq);
    assert_eq!(newest_of_b, Some(6), "the newest entries stay");
}

#[tokio::test]
async fn ended_session_request_is_not_recorded_in_successor() {
    let mock = MockServer::start().await;
    assert_eq!(terminate_in_session(&mock, "del").await, 200);
    let slow = FaultSpec {
        latency_ms: Some(Latency {
            min: 1500,
            max: None,
        }),
        ..FaultSpec::default()
    };
    mock.api
        .faults()
        .add(Some("del"), slow)
        .expect("a valid fault");

    let in_flight = {
        let base_url = mock.base_url();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base_url}/system/services/active/cron/terminate"))
                .header("X-Api-Key", DEFAULT_API_KEY)
                .header("X-Mock-Session", "del")
                .json(&json!({}))
                .send()
                .await
                .expect("the mock answers")
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let deleted = client
        .delete(format!("{}/__mock/sessions/del", mock.base_url()))
        .send()
        .await
        .expect("the mock answers");
    assert_eq!(deleted.status().as_u16(), 204);
    let journal_of = || async {
        client
            .get(format!("{}/__mock/journal", mock.base_url()))
            .header("X-Mock-Session", "del")
            .send()
            .await
            .expect("the mock answers")
            .json::<Value>()
            .await
            .expect("a JSON body")
    };
    assert_eq!(journal_of().await["entries"], json!([]));

    assert_eq!(in_flight.await.expect("the request task finishes"), 200);
    let successor = journal_of().await;
    assert_eq!(successor["entries"], json!([]), "{successor}");
}

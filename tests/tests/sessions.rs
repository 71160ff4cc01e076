//! Sessions (`X-Mock-Session`) over real HTTP on loopback: isolation of
//! parallel sessions, name checks, the session limit, idle expiry and the
//! background Tasks Scheduler of each session.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use contract_tests::MockServer;
use contract_tests::checker::RecordedRequest;
use contract_tests::control::{body_json, get, post, send, send_checked, terminate_in};
use mock_server::clock::ManualClock;
use mock_server::scheduler::Scheduler;
use mock_server::sessions::SessionLimits;
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use reqwest::Method;
use serde_json::{Value, json};

fn api() -> MockApi {
    MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    )
}

fn limits(max_sessions: usize, idle_timeout: Duration) -> SessionLimits {
    SessionLimits {
        max_sessions,
        idle_timeout,
    }
}

#[tokio::test]
async fn jsonrpc_invalid_session_is_400() {
    let mock = MockServer::start_with_api(api()).await;
    let base = mock.base_url();
    let call = json!({
        "jsonrpc": "2.0",
        "method": "system.services.active.mark_terminate",
        "params": {"system_services_id": "cron", "nodes_id": null},
    });
    let mut with_id = call.clone();
    with_id["id"] = json!(1);
    let bodies = [
        ("call", with_id),
        ("notification", call.clone()),
        ("batch", json!([call.clone(), call.clone()])),
    ];
    for (kind, body) in bodies {
        let request = RecordedRequest::new(Method::POST, &base, "/jsonrpc")
            .header("X-Api-Key", DEFAULT_API_KEY)
            .header("X-Mock-Session", "a b")
            .json(&body);
        let response = send(&request).await;
        assert_eq!(response.status, 400, "{kind}");
        let reply = body_json(&response);
        assert_eq!(reply["id"], Value::Null, "{kind}: {reply}");
        assert_eq!(reply["error"]["code"], -32602, "{kind}: {reply}");
        let message = &reply["error"]["data"]["X-Mock-Session"];
        assert!(message.is_string(), "{kind}: {reply}");
    }
    assert_eq!(flagged(&base, None).await, 0);

    let unauthorized = RecordedRequest::new(Method::POST, &base, "/jsonrpc")
        .header("X-Mock-Session", "a b")
        .json(&call);
    assert_eq!(send(&unauthorized).await.status, 401);
}

#[tokio::test]
async fn failing_first_request_starts_session() {
    let mock = MockServer::start_with_api(api()).await;
    let base = mock.base_url();
    let path = "/system/services/active/cron/terminate";
    let unknown_method = json!({"jsonrpc": "2.0", "method": "nope", "id": 1});
    let cases = [
        (
            "bad-body",
            RecordedRequest::new(Method::POST, &base, path).json(&json!({"password": 1})),
        ),
        (
            "wrong-method",
            RecordedRequest::new(Method::GET, &base, path),
        ),
        (
            "wrong-type",
            RecordedRequest::new(Method::POST, &base, path)
                .header("Content-Type", "text/plain")
                .body("{}"),
        ),
        (
            "unknown-rpc",
            RecordedRequest::new(Method::POST, &base, "/jsonrpc").json(&unknown_method),
        ),
        (
            "prefer",
            RecordedRequest::new(Method::POST, &base, path)
                .header("Prefer", "code=404")
                .json(&json!({"nodes_id": null})),
        ),
    ];
    for (name, request) in cases {
        let request = request
            .header("X-Api-Key", DEFAULT_API_KEY)
            .header("X-Mock-Session", name);
        let status = send(&request).await.status;
        assert!(status == 200 || status >= 400, "{name}: {status}");
        assert!(
            session_names(&base).await.contains(&name.to_string()),
            "{name}"
        );
        let journal = get(&base, "/__mock/journal").header("X-Mock-Session", name);
        let entries = body_json(&send_checked(&journal).await)["entries"].clone();
        assert_eq!(entries.as_array().unwrap().len(), 1, "{name}: {entries}");
        assert_eq!(entries[0]["status"], status, "{name}: {entries}");
    }

    let unauthorized = RecordedRequest::new(Method::POST, &base, path)
        .header("X-Mock-Session", "no-key")
        .json(&json!({"nodes_id": null}));
    assert_eq!(send(&unauthorized).await.status, 401);
    assert!(!session_names(&base).await.contains(&"no-key".to_string()));
}

/// Sends the JSON-RPC terminate call of `service` in `session` and
/// returns the JSON-RPC response.
async fn terminate_jsonrpc(base_url: &str, session: &str, service: &str) -> Value {
    let call = json!({
        "jsonrpc": "2.0",
        "method": "system.services.active.mark_terminate",
        "params": {"system_services_id": service, "nodes_id": null},
        "id": 1,
    });
    let request = RecordedRequest::new(Method::POST, base_url, "/jsonrpc")
        .header("X-Api-Key", DEFAULT_API_KEY)
        .header("X-Mock-Session", session)
        .json(&call);
    body_json(&send(&request).await)
}

/// Returns the number of flagged processes of `session`'s state.
async fn flagged(base_url: &str, session: Option<&str>) -> usize {
    let mut request = get(base_url, "/__mock/state");
    if let Some(session) = session {
        request = request.header("X-Mock-Session", session);
    }
    let state = body_json(&send_checked(&request).await);
    let processes = state["processes"].as_array().expect("processes");
    processes
        .iter()
        .filter(|process| process["terminate"] == true)
        .count()
}

async fn session_names(base_url: &str) -> Vec<String> {
    let list = body_json(&send_checked(&get(base_url, "/__mock/sessions")).await);
    let sessions = list["sessions"].as_array().expect("sessions");
    sessions
        .iter()
        .map(|session| session["name"].as_str().unwrap().to_string())
        .collect()
}

/// Polls `condition` every 50 ms until it holds, for at most `limit`.
async fn eventually<F: Future<Output = bool>>(
    limit: Duration,
    mut condition: impl FnMut() -> F,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_sessions_see_own_counts() {
    let mock = MockServer::start_with_api(api()).await;
    let base = mock.base_url();
    let jobs = (0..16).map(|job| {
        let base = base.clone();
        tokio::spawn(async move {
            let session = format!("job-{job}");
            let rest = terminate_in(&base, Some(&session), "cron").await;
            let repeated = terminate_in(&base, Some(&session), "cron").await;
            let jsonrpc = terminate_jsonrpc(&base, &session, "web_server").await;
            (rest, repeated, jsonrpc["result"].clone())
        })
    });
    for job in join_in_order(jobs).await {
        let (rest, repeated, jsonrpc) = job;
        assert_eq!(rest, (200, json!(2)), "each session flags its own cron");
        assert_eq!(repeated, (200, json!(0)));
        assert_eq!(jsonrpc, json!(3));
    }

    assert_eq!(
        flagged(&base, None).await,
        0,
        "the shared state is untouched"
    );
    assert_eq!(terminate_in(&base, None, "cron").await, (200, json!(2)));
    assert_eq!(flagged(&base, Some("job-3")).await, 5);
    assert_eq!(session_names(&base).await.len(), 16);
}

/// Waits for every task and returns their outputs in order.
async fn join_in_order<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.expect("the job finishes"));
    }
    outputs
}

#[tokio::test]
async fn invalid_session_names_rejected() {
    let mock = MockServer::start_with_api(api()).await;
    let base = mock.base_url();
    let long = "x".repeat(65);
    for name in ["a b", "a/b", "ü", long.as_str(), ""] {
        let (status, body) = terminate_in(&base, Some(name), "cron").await;
        assert_eq!(status, 400, "{name:?}");
        assert!(
            body["error"]["data"]["X-Mock-Session"].is_string(),
            "{name:?}: {body}"
        );

        let request = get(&base, "/__mock/state").header("X-Mock-Session", name);
        let response = send_checked(&request).await;
        assert_eq!(response.status, 400, "{name:?}");
        assert!(body_json(&response)["error"]["data"]["X-Mock-Session"].is_string());
    }

    let reply = terminate_jsonrpc(&base, "a b", "cron").await;
    assert_eq!(reply["error"]["code"], -32602);
    assert!(
        reply["error"]["data"]["X-Mock-Session"].is_string(),
        "{reply}"
    );

    let twice = RecordedRequest::new(
        Method::POST,
        &base,
        "/system/services/active/cron/terminate",
    )
    .header("X-Api-Key", DEFAULT_API_KEY)
    .header("X-Mock-Session", "a")
    .header("X-Mock-Session", "b")
    .json(&json!({"nodes_id": null}));
    assert_eq!(send(&twice).await.status, 400);
    assert_eq!(session_names(&base).await, Vec::<String>::new());
    assert_eq!(flagged(&base, None).await, 0);
}

#[tokio::test]
async fn session_limit_is_422() {
    let api = api().with_session_limits(limits(2, Duration::from_secs(600)));
    let mock = MockServer::start_with_api(api).await;
    let base = mock.base_url();
    assert_eq!(terminate_in(&base, Some("a"), "cron").await.0, 200);
    assert_eq!(terminate_in(&base, Some("b"), "cron").await.0, 200);

    let (status, body) = terminate_in(&base, Some("c"), "cron").await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["data"]["code"], "mock-session-limit");
    assert_eq!(body["error"]["data"]["limit"], "2");
    let reply = terminate_jsonrpc(&base, "c", "cron").await;
    assert_eq!(reply["error"]["code"], -32022);
    let request = get(&base, "/__mock/snapshot").header("X-Mock-Session", "c");
    let response = send_checked(&request).await;
    assert_eq!(response.status, 422);
    assert_eq!(
        body_json(&response)["error"]["data"]["code"],
        "mock-session-limit"
    );

    assert_eq!(
        terminate_in(&base, Some("a"), "web_server").await,
        (200, json!(3))
    );
    let delete = RecordedRequest::new(Method::DELETE, &base, "/__mock/sessions/a");
    assert_eq!(send_checked(&delete).await.status, 204);
    assert_eq!(
        terminate_in(&base, Some("c"), "cron").await,
        (200, json!(2))
    );
}

#[tokio::test]
async fn zero_session_limit_says_sessions_off() {
    let api = api().with_session_limits(limits(0, Duration::from_secs(600)));
    let mock = MockServer::start_with_api(api).await;
    let base = mock.base_url();
    let expected = "Sessions are off because the mock runs with --max-sessions 0; send the \
                    request without X-Mock-Session";

    let (status, body) = terminate_in(&base, Some("a"), "cron").await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["data"]["message"], expected);
    let request = get(&base, "/__mock/snapshot").header("X-Mock-Session", "a");
    let response = send_checked(&request).await;
    assert_eq!(response.status, 422);
    assert_eq!(body_json(&response)["error"]["message"], expected);
    assert_eq!(terminate_in(&base, None, "cron").await.0, 200);
}

#[tokio::test]
async fn random_names_stay_within_limit() {
    let api = api().with_session_limits(limits(8, Duration::from_secs(600)));
    let mock = MockServer::start_with_api(api).await;
    let base = mock.base_url();
    let mut statuses = Vec::new();
    for index in 0..200 {
        let name = format!("n{:x}", index * 7919);
        statuses.push(terminate_in(&base, Some(&name), "backup").await.0);
    }
    assert_eq!(statuses.iter().filter(|&&status| status == 200).count(), 8);
    assert_eq!(
        statuses.iter().filter(|&&status| status == 422).count(),
        192
    );
    assert_eq!(session_names(&base).await.len(), 8);
}

#[tokio::test]
async fn idle_session_expires() {
    let api = api().with_session_limits(limits(4, Duration::from_secs(1)));
    let mock = MockServer::start_with_api(api).await;
    let sweeper = mock.api.sessions().spawn_sweeper();
    let base = mock.base_url();
    assert_eq!(
        terminate_in(&base, Some("short"), "cron").await,
        (200, json!(2))
    );
    assert_eq!(session_names(&base).await, ["short"]);

    let expired = eventually(Duration::from_secs(5), || async {
        mock.api.sessions().all().len() == 1
    })
    .await;
    assert!(expired, "the background sweep ends the idle session");
    assert_eq!(session_names(&base).await, Vec::<String>::new());
    assert_eq!(
        terminate_in(&base, Some("short"), "cron").await,
        (200, json!(2)),
        "a later request starts the session on a fresh copy"
    );
    sweeper.abort();
}

#[tokio::test]
async fn expiry_follows_mock_clock() {
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_796_025_600),
    ));
    let api = api()
        .with_clock(clock.clone())
        .with_session_limits(limits(4, Duration::from_secs(600)));
    let mock = MockServer::start_with_api(api).await;
    let base = mock.base_url();
    terminate_in(&base, Some("s"), "cron").await;

    clock.advance(Duration::from_secs(599));
    assert_eq!(
        flagged(&base, Some("s")).await,
        2,
        "a request 1 second early keeps it"
    );
    clock.advance(Duration::from_secs(599));
    assert_eq!(session_names(&base).await, ["s"]);
    clock.advance(Duration::from_secs(1));
    assert_eq!(session_names(&base).await, Vec::<String>::new());
    assert_eq!(flagged(&base, Some("s")).await, 0);
}

#[tokio::test]
async fn background_scheduler_runs_each_session() {
    let api = api().with_scheduler_interval(Duration::from_secs(1));
    let mock = MockServer::start_with_api(api).await;
    let scheduler = Scheduler::new(mock.api.clone())
        .spawn()
        .expect("runs are on");
    let base = mock.base_url();
    assert_eq!(
        terminate_in(&base, Some("s"), "cron").await,
        (200, json!(2))
    );

    let ran = eventually(Duration::from_secs(5), || async {
        let request = get(&base, "/__mock/events").header("X-Mock-Session", "s");
        let events = body_json(&send_checked(&request).await);
        let signals = events["events"].as_array().unwrap().iter();
        signals.filter(|event| event["event"] == "signal").count() == 2
    })
    .await;
    assert!(
        ran,
        "the session's scheduled run terminates its flagged cron"
    );
    let shared = mock.api.with_state(|state| state.processes().len());
    assert_eq!(shared, 7, "the shared state had nothing flagged");
    scheduler.abort();
}

#[tokio::test]
async fn session_reset_leaves_shared_alone() {
    let mock = MockServer::start_with_api(api()).await;
    let base = mock.base_url();
    terminate_in(&base, None, "cron").await;
    terminate_in(&base, Some("s"), "web_server").await;

    let reset = post(&base, "/__mock/reset").header("X-Mock-Session", "s");
    assert_eq!(send_checked(&reset).await.status, 200);
    assert_eq!(flagged(&base, Some("s")).await, 0);
    assert_eq!(flagged(&base, None).await, 2);

    let advance = post(&base, "/__mock/clock/advance")
        .header("X-Mock-Session", "s")
        .json(&json!({"seconds": 60}));
    send_checked(&advance).await;
    let shared = body_json(&send_checked(&get(&base, "/__mock/scheduler")).await);
    let session = body_json(
        &send_checked(&get(&base, "/__mock/scheduler").header("X-Mock-Session", "s")).await,
    );
    assert_ne!(
        shared["now"], session["now"],
        "each session has its own clock"
    );
}

#[tokio::test]
async fn browser_may_send_session_header() {
    let mock = MockServer::start_with_api(api()).await;
    let request = RecordedRequest::new(
        Method::OPTIONS,
        &mock.base_url(),
        "/system/services/active/cron/terminate",
    )
    .header("Origin", "http://localhost:5173")
    .header("Access-Control-Request-Method", "POST")
    .header(
        "Access-Control-Request-Headers",
        "x-api-key, x-mock-session",
    );
    let response = send(&request).await;
    assert_eq!(response.status, 204);
    let allowed = response.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-mock-session"), "{allowed}");
}

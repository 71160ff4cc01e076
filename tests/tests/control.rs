//! The control API under `/__mock` over real HTTP on loopback: each
//! operation and its errors, with every response checked against
//! `spec/control.yaml`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contract_tests::MockServer;
use contract_tests::checker::RecordedRequest;
use contract_tests::control::{body_json, get, post, send, send_checked, terminate_in};
use mock_server::auth::AuthPolicy;
use mock_server::clock::{ManualClock, max_time};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use reqwest::Method;
use serde_json::{Value, json};

/// 2026-11-30T08:00:00Z on the manual clock.
const START: Duration = Duration::from_secs(1_796_025_600);

/// Starts a mock on the default state with a manual clock at [`START`] and
/// scheduled runs every 60 seconds, without the background task.
async fn start() -> MockServer {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    )
    .with_clock(clock);
    MockServer::start_with_api(api).await
}

/// Starts a mock on the default state with a manual clock at `start` and
/// scheduled runs every `interval`, without the background task.
async fn start_with_runs_every(start: SystemTime, interval: Duration) -> MockServer {
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    )
    .with_clock(Arc::new(ManualClock::new(start)))
    .with_scheduler_interval(interval);
    MockServer::start_with_api(api).await
}

fn put_json(base_url: &str, path: &str, body: &Value) -> RecordedRequest {
    RecordedRequest::new(Method::PUT, base_url, path).json(body)
}

/// Sends a clock advance by `seconds`, checks that it is a 400, and
/// returns the message that names `seconds`.
async fn advance_rejected(base_url: &str, seconds: u64) -> String {
    let response = send_checked(&advance(base_url, json!(seconds))).await;
    assert_eq!(response.status, 400);
    error_data(&response)["seconds"]
        .as_str()
        .expect("a message for seconds")
        .to_string()
}

fn advance(base_url: &str, seconds: Value) -> RecordedRequest {
    post(base_url, "/__mock/clock/advance").json(&json!({ "seconds": seconds }))
}

/// Returns the processes of a state as `SERVICE@NODE` with their flags.
fn flags(state: &Value) -> Vec<(String, bool, bool)> {
    let processes = state["processes"].as_array().expect("processes");
    processes
        .iter()
        .map(|process| {
            let id = format!(
                "{}@{}",
                process["service"].as_str().unwrap(),
                process["node"].as_str().unwrap()
            );
            let terminate = process["terminate"].as_bool().unwrap();
            let hung = process["hung"].as_bool().unwrap();
            (id, terminate, hung)
        })
        .collect()
}

fn error_data(response: &contract_tests::checker::RecordedResponse) -> Value {
    body_json(response)["error"]["data"].clone()
}

fn small_fixture() -> Value {
    json!({
        "nodes": [{"id": "n1", "name": "Only node"}],
        "services": [
            {"id": "tasks_scheduler", "name": "Tasks Scheduler"},
            {"id": "cron", "name": "Cron jobs"},
        ],
        "processes": [
            {"service": "cron", "node": "n1", "pid": 7, "started_at": "2026-11-30T08:00:05Z"},
        ],
    })
}

#[tokio::test]
async fn state_matches_default_fixture() {
    let mock = start().await;
    let response = send_checked(&get(&mock.base_url(), "/__mock/state")).await;
    assert_eq!(response.status, 200);
    let state = body_json(&response);
    assert_eq!(state["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(state["services"].as_array().unwrap().len(), 5);
    assert_eq!(state["scheduler_service"], "tasks_scheduler");
    let processes = flags(&state);
    assert_eq!(processes.len(), 7);
    assert!(processes.contains(&("mail_queue@node-2".to_string(), false, true)));
}

#[tokio::test]
async fn replace_state_changes_cluster() {
    let mock = start().await;
    let base = mock.base_url();
    send_checked(&post(&base, "/__mock/scheduler/run")).await;

    let response = send_checked(&put_json(&base, "/__mock/state", &small_fixture())).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        flags(&body_json(&response)),
        [("cron@n1".to_string(), false, false)]
    );

    assert_eq!(terminate_in(&base, None, "cron").await, (200, json!(1)));
    let state = body_json(&send_checked(&get(&base, "/__mock/state")).await);
    assert_eq!(flags(&state), [("cron@n1".to_string(), true, false)]);
    let events = body_json(&send_checked(&get(&base, "/__mock/events")).await);
    assert_eq!(
        events["events"],
        json!([]),
        "replacing clears the event log"
    );
}

#[tokio::test]
async fn replace_invalid_fixture_names_field() {
    let mock = start().await;
    let base = mock.base_url();
    let mut unknown_node = small_fixture();
    unknown_node["processes"][0]["node"] = json!("n9");
    let mut duplicate_node = small_fixture();
    duplicate_node["nodes"] = json!([{"id": "n1", "name": "A"}, {"id": "n1", "name": "B"}]);
    let mut unknown_scheduler = small_fixture();
    unknown_scheduler["scheduler_service"] = json!("nothing");
    let mut pid_zero = small_fixture();
    pid_zero["processes"][0]["pid"] = json!(0);
    let mut extra_field = small_fixture();
    extra_field["colour"] = json!("red");

    let cases = [
        (unknown_node, "processes[0].node", "unknown node `n9`"),
        (duplicate_node, "nodes[1].id", "duplicate node ID `n1`"),
        (
            unknown_scheduler,
            "scheduler_service",
            "unknown service `nothing`",
        ),
        (pid_zero, "processes[0].pid", "Must be 1 or more"),
        (extra_field, "colour", "Unknown field"),
    ];
    for (body, field, message) in cases {
        let response = send_checked(&put_json(&base, "/__mock/state", &body)).await;
        assert_eq!(response.status, 400, "{field}");
        let data = error_data(&response);
        let named = data[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {data}"));
        assert!(named.contains(message), "{field}: {named}");
    }

    let state = body_json(&send_checked(&get(&base, "/__mock/state")).await);
    assert_eq!(flags(&state).len(), 7, "an invalid state changes nothing");
}

#[tokio::test]
async fn reset_restores_initial_state() {
    let mock = start().await;
    let base = mock.base_url();
    assert_eq!(terminate_in(&base, None, "cron").await, (200, json!(2)));
    send_checked(&advance(&base, json!(3600))).await;
    send_checked(&post(&base, "/__mock/processes/web_server/node-1/kill")).await;

    let response = send_checked(&post(&base, "/__mock/reset")).await;
    assert_eq!(response.status, 200);
    let state = flags(&body_json(&response));
    assert_eq!(state.len(), 7);
    assert!(
        state.iter().all(|(_, terminate, _)| !terminate),
        "{state:?}"
    );

    let events = body_json(&send_checked(&get(&base, "/__mock/events")).await);
    assert_eq!(events["events"], json!([]));
    let schedule = body_json(&send_checked(&get(&base, "/__mock/scheduler")).await);
    assert_eq!(schedule["now"], "2026-11-30T08:00:00Z");
    assert_eq!(schedule["next_run_at"], "2026-11-30T08:01:00Z");
    assert_eq!(terminate_in(&base, None, "cron").await, (200, json!(2)));
}

#[tokio::test]
async fn scheduler_run_signals_flagged() {
    let mock = start().await;
    let base = mock.base_url();
    let schedule = body_json(&send_checked(&get(&base, "/__mock/scheduler")).await);
    assert_eq!(
        schedule,
        json!({
            "now": "2026-11-30T08:00:00Z",
            "interval_seconds": 60,
            "next_run_at": "2026-11-30T08:01:00Z",
        })
    );

    terminate_in(&base, None, "cron").await;
    let run = body_json(&send_checked(&post(&base, "/__mock/scheduler/run")).await);
    assert_eq!(run["at"], "2026-11-30T08:00:00Z");
    let signals = run["signals"].as_array().unwrap();
    assert_eq!(signals.len(), 2);
    assert!(
        signals
            .iter()
            .all(|signal| signal["outcome"] == "terminated")
    );
    let after = body_json(&send_checked(&get(&base, "/__mock/scheduler")).await);
    assert_eq!(
        after["next_run_at"], "2026-11-30T08:01:00Z",
        "the schedule stays"
    );
}

#[tokio::test]
async fn clock_advance_runs_skipped_runs() {
    let mock = start().await;
    let base = mock.base_url();
    terminate_in(&base, None, "cron").await;

    let response = send_checked(&advance(&base, json!(150))).await;
    assert_eq!(response.status, 200);
    let advanced = body_json(&response);
    let times: Vec<&Value> = advanced["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| &run["at"])
        .collect();
    assert_eq!(
        times,
        [
            &json!("2026-11-30T08:01:00Z"),
            &json!("2026-11-30T08:02:00Z")
        ]
    );
    assert_eq!(advanced["runs"][0]["signals"].as_array().unwrap().len(), 2);
    assert_eq!(advanced["runs"][1]["signals"], json!([]));
    assert_eq!(advanced["schedule"]["now"], "2026-11-30T08:02:30Z");
    assert_eq!(advanced["schedule"]["next_run_at"], "2026-11-30T08:03:00Z");

    let state = body_json(&send_checked(&get(&base, "/__mock/state")).await);
    let cron = flags(&state)
        .into_iter()
        .filter(|(id, ..)| id.starts_with("cron@"))
        .count();
    assert_eq!(cron, 0, "the first run terminated cron");
    let kill =
        body_json(&send_checked(&post(&base, "/__mock/processes/web_server/node-1/kill")).await);
    assert_eq!(kill["pid"], 1422);
    let events = body_json(&send_checked(&get(&base, "/__mock/events")).await);
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "kill");
    assert_eq!(
        last["at"], "2026-11-30T08:02:30Z",
        "a kill happens at the session's clock"
    );
}

#[tokio::test]
async fn clock_advance_rejects_invalid_seconds() {
    let mock = start().await;
    let base = mock.base_url();
    let cases = [
        (json!(-1), "Must be 0 or more"),
        (json!(31_536_001), "Must be 31536000 or less"),
        (json!("ten"), "Expected an integer, found a string"),
        (json!(1.5), "Expected an integer, found a number"),
    ];
    for (seconds, message) in cases {
        let response = send_checked(&advance(&base, seconds.clone())).await;
        assert_eq!(response.status, 400, "{seconds}");
        assert_eq!(error_data(&response)["seconds"], message, "{seconds}");
    }
    let missing = send_checked(&post(&base, "/__mock/clock/advance").json(&json!({}))).await;
    assert_eq!(missing.status, 400);
    assert_eq!(error_data(&missing)["seconds"], "Field is required");

    let schedule = body_json(&send_checked(&get(&base, "/__mock/scheduler")).await);
    assert_eq!(
        schedule["now"], "2026-11-30T08:00:00Z",
        "a rejected advance moves nothing"
    );
}

#[tokio::test]
async fn clock_advance_stops_at_year_9999() {
    let start = max_time() - Duration::from_secs(3700);
    let mock = start_with_runs_every(start, Duration::from_secs(3600)).await;
    let base = mock.base_url();

    let message = advance_rejected(&base, 101).await;
    assert!(message.contains("past 9999-12-31T23:59:59Z"), "{message}");

    let response = send_checked(&advance(&base, json!(100))).await;
    assert_eq!(response.status, 200);
    let schedule = &body_json(&response)["schedule"];
    assert_eq!(schedule["now"], "9999-12-31T22:59:59Z");
    assert_eq!(schedule["next_run_at"], "9999-12-31T23:58:19Z");
    let events = send_checked(&get(&base, "/__mock/events")).await;
    assert_eq!(events.status, 200);
    let response = send_checked(&advance(&base, json!(1))).await;
    assert_eq!(response.status, 400);
}

#[tokio::test]
async fn clock_advance_limits_signals() {
    let mock = start_with_runs_every(UNIX_EPOCH + START, Duration::from_secs(5)).await;
    let base = mock.base_url();
    let nodes: Vec<Value> = (0..100)
        .map(|node| json!({"id": format!("n{node}"), "name": "x"}))
        .collect();
    let processes: Vec<Value> = (0..100)
        .map(|node| {
            json!({
                "service": "h", "node": format!("n{node}"), "pid": 1,
                "started_at": "2026-01-01T00:00:00Z", "hung": true, "terminate": true,
            })
        })
        .collect();
    let fixture = json!({
        "nodes": nodes,
        "services": [{"id": "tasks_scheduler", "name": "t"}, {"id": "h", "name": "h"}],
        "processes": processes,
    });
    let replaced = send_checked(&put_json(&base, "/__mock/state", &fixture)).await;
    assert_eq!(replaced.status, 200);

    let message = advance_rejected(&base, 50_000).await;
    assert!(
        message.contains("sends 1000000 signals, more than 100000"),
        "{message}"
    );

    let response = send_checked(&advance(&base, json!(5_000))).await;
    assert_eq!(response.status, 200);
    let runs = body_json(&response)["runs"].clone();
    assert_eq!(runs.as_array().unwrap().len(), 1_000);
}

#[tokio::test]
async fn clock_advance_limits_runs() {
    let mock = start_with_runs_every(UNIX_EPOCH + START, Duration::from_secs(1)).await;
    let base = mock.base_url();

    let message = advance_rejected(&base, 10_001).await;
    assert!(
        message.contains("10001 scheduled runs, more than 10000"),
        "{message}"
    );

    let response = send_checked(&advance(&base, json!(10_000))).await;
    assert_eq!(
        body_json(&response)["runs"].as_array().unwrap().len(),
        10_000
    );
}

#[tokio::test]
async fn hang_then_kill_process() {
    let mock = start().await;
    let base = mock.base_url();
    let hung = send_checked(&post(&base, "/__mock/processes/cron/node-1/hang")).await;
    assert_eq!(hung.status, 200);
    let process = body_json(&hung);
    assert_eq!(process["hung"], true);
    assert_eq!(process["pid"], 1310);

    terminate_in(&base, None, "cron").await;
    let run = body_json(&send_checked(&post(&base, "/__mock/scheduler/run")).await);
    let outcomes: Vec<(&Value, &Value)> = run["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|signal| (&signal["node"], &signal["outcome"]))
        .collect();
    assert_eq!(
        outcomes,
        [
            (&json!("node-1"), &json!("ignored")),
            (&json!("node-2"), &json!("terminated"))
        ]
    );

    let killed = send_checked(&post(&base, "/__mock/processes/cron/node-1/kill")).await;
    assert_eq!(killed.status, 200);
    assert_eq!(body_json(&killed)["pid"], 1310);
    let again = send_checked(&post(&base, "/__mock/processes/cron/node-1/kill")).await;
    assert_eq!(again.status, 404);
    let data = error_data(&again);
    assert_eq!(data["code"], "object-not-found");
    assert_eq!(data["object_name"], "processes");
    assert_eq!(data["object_id"], "cron@node-1");
}

#[tokio::test]
async fn hang_and_kill_name_missing_objects() {
    let mock = start().await;
    let base = mock.base_url();
    let cases = [
        (
            "/__mock/processes/mailer/node-1/hang",
            "system_services",
            "mailer",
        ),
        ("/__mock/processes/cron/node-9/kill", "nodes", "node-9"),
        (
            "/__mock/processes/backup/node-1/hang",
            "processes",
            "backup@node-1",
        ),
    ];
    for (path, object_name, object_id) in cases {
        let response = send_checked(&post(&base, path)).await;
        assert_eq!(response.status, 404, "{path}");
        let data = error_data(&response);
        assert_eq!(data["object_name"], object_name, "{path}");
        assert_eq!(data["object_id"], object_id, "{path}");
    }
}

#[tokio::test]
async fn events_limit_keeps_newest() {
    let mock = start().await;
    let base = mock.base_url();
    send_checked(&post(&base, "/__mock/processes/cron/node-1/kill")).await;
    send_checked(&post(&base, "/__mock/processes/cron/node-2/kill")).await;
    send_checked(&post(&base, "/__mock/processes/web_server/node-3/kill")).await;

    let all = body_json(&send_checked(&get(&base, "/__mock/events")).await);
    assert_eq!(all["events"].as_array().unwrap().len(), 3);
    assert_eq!(all["dropped"], 0);
    let newest = body_json(&send_checked(&get(&base, "/__mock/events?limit=1")).await);
    assert_eq!(newest["events"].as_array().unwrap().len(), 1);
    assert_eq!(newest["events"][0]["service"], "web_server");

    for limit in ["0", "10001", "many"] {
        let path = format!("/__mock/events?limit={limit}");
        let response = send_checked(&get(&base, &path)).await;
        assert_eq!(response.status, 400, "{limit}");
        assert!(error_data(&response)["limit"].is_string(), "{limit}");
    }
}

#[tokio::test]
async fn sessions_list_and_delete() {
    let mock = start().await;
    let base = mock.base_url();
    for name in ["b-2", "a.1"] {
        let request = get(&base, "/__mock/state").header("X-Mock-Session", name);
        assert_eq!(send_checked(&request).await.status, 200);
    }

    let client = mock_control_client::Client::new(&base);
    let list = client
        .list_sessions()
        .send()
        .await
        .expect("list the sessions")
        .into_inner();
    let names: Vec<&str> = list
        .sessions
        .iter()
        .map(|session| session.name.as_str())
        .collect();
    assert_eq!(names, ["a.1", "b-2"]);
    assert_eq!(list.limit, 64);
    assert_eq!(list.idle_timeout_seconds.get(), 600);
    let first = &list.sessions[0];
    assert_eq!(
        first.expires_at - first.last_used_at,
        chrono::TimeDelta::seconds(600)
    );

    let deleted = client.delete_session().session_name("a.1").send().await;
    assert_eq!(deleted.expect("delete a.1").status(), 204);
    let again = send_checked(&RecordedRequest::new(
        Method::DELETE,
        &base,
        "/__mock/sessions/a.1",
    ))
    .await;
    assert_eq!(again.status, 404);
    assert_eq!(error_data(&again)["object_name"], "sessions");
    assert_eq!(error_data(&again)["object_id"], "a.1");
    let invalid = send_checked(&RecordedRequest::new(
        Method::DELETE,
        &base,
        "/__mock/sessions/a%20b",
    ))
    .await;
    assert_eq!(invalid.status, 400);
    assert!(error_data(&invalid)["session_name"].is_string());
}

#[tokio::test]
async fn snapshot_names_session() {
    let mock = start().await;
    let base = mock.base_url();
    let shared = body_json(&send_checked(&get(&base, "/__mock/snapshot")).await);
    assert_eq!(shared["session"], Value::Null);
    assert_eq!(shared["schedule"]["interval_seconds"], 60);
    assert_eq!(flags(&shared["state"]).len(), 7);

    terminate_in(&base, Some("s1"), "cron").await;
    let request = get(&base, "/__mock/snapshot").header("X-Mock-Session", "s1");
    let session = body_json(&send_checked(&request).await);
    assert_eq!(session["session"], "s1");
    let flagged = flags(&session["state"])
        .into_iter()
        .filter(|(_, terminate, _)| *terminate)
        .count();
    assert_eq!(flagged, 2);
    assert_eq!(session["events"], json!({"events": [], "dropped": 0}));
}

/// Reads the next `update` event of a server-sent event stream and returns
/// its data as JSON, skipping comment lines.
async fn next_update(response: &mut reqwest::Response, buffer: &mut String) -> Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(data) = frame.strip_prefix("event: update\ndata: ") {
                return serde_json::from_str(data.trim_end()).expect("the update's data is JSON");
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("an update within 5 seconds")
            .expect("read the stream")
            .expect("the stream stays open");
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
    }
}

#[tokio::test]
async fn updates_stream_after_terminate() {
    let mock = start().await;
    let base = mock.base_url();
    let mut response = reqwest::get(format!("{base}/__mock/updates?session=live"))
        .await
        .expect("open the stream");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );

    let mut buffer = String::new();
    let first = next_update(&mut response, &mut buffer).await;
    assert_eq!(first["session"], "live");
    assert!(
        flags(&first["state"])
            .iter()
            .all(|(_, terminate, _)| !terminate)
    );

    terminate_in(&base, None, "web_server").await;
    assert_eq!(
        terminate_in(&base, Some("live"), "cron").await,
        (200, json!(2))
    );
    let second = next_update(&mut response, &mut buffer).await;
    let flagged: Vec<String> = flags(&second["state"])
        .into_iter()
        .filter(|(_, terminate, _)| *terminate)
        .map(|(id, ..)| id)
        .collect();
    assert_eq!(
        flagged,
        ["cron@node-1", "cron@node-2"],
        "only the session's own change"
    );

    let request = RecordedRequest::new(Method::DELETE, &base, "/__mock/sessions/live");
    assert_eq!(send_checked(&request).await.status, 204);
    let end = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await;
    assert!(
        matches!(end, Ok(Ok(None))),
        "the stream ends with its session: {end:?}"
    );
}

#[tokio::test]
async fn updates_header_wins_over_query() {
    let mock = start().await;
    let base = mock.base_url();
    let mut response = reqwest::Client::new()
        .get(format!("{base}/__mock/updates?session=from-query"))
        .header("X-Mock-Session", "from-header")
        .send()
        .await
        .expect("open the stream");
    let first = next_update(&mut response, &mut String::new()).await;
    assert_eq!(first["session"], "from-header");

    let invalid = send_checked(&get(&base, "/__mock/updates?session=a%20b")).await;
    assert_eq!(invalid.status, 400);
    assert!(error_data(&invalid)["session"].is_string());
    let both = get(&base, "/__mock/updates?session=a%20b").header("X-Mock-Session", "h");
    let response = send_checked(&both).await;
    assert_eq!(
        response.status, 400,
        "an invalid query is a 400 beside a header too"
    );
    assert!(error_data(&response)["session"].is_string());
}

#[tokio::test]
async fn dashboard_served_to_loopback() {
    let mock = start().await;
    let response = send_checked(&get(&mock.base_url(), "/__mock/dashboard")).await;
    assert_eq!(response.status, 200);
    let page = String::from_utf8_lossy(&response.body).to_ascii_lowercase();
    assert!(page.contains("<html"), "{page}");
}

#[tokio::test]
async fn token_required_when_configured() {
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    )
    .with_control_token(Some("s3cret-token".parse().unwrap()));
    let mock = MockServer::start_with_api(api).await;
    let base = mock.base_url();

    let cases = [
        (None, 401),
        (Some("wrong-token"), 401),
        (Some("s3cret-token"), 200),
    ];
    for (token, status) in cases {
        let mut request = get(&base, "/__mock/state");
        if let Some(token) = token {
            request = request.header("X-Mock-Control-Token", token);
        }
        let response = send_checked(&request).await;
        assert_eq!(response.status, status, "{token:?}");
        if status == 401 {
            assert_eq!(error_data(&response)["code"], "mock-control-auth-failed");
        }
    }
    let page = send_checked(&get(&base, "/__mock/dashboard")).await;
    assert_eq!(page.status, 200, "the page itself needs no token");
}

#[tokio::test]
async fn cross_site_requests_rejected() {
    let mock = start().await;
    let base = mock.base_url();
    let host = mock.address.to_string();
    let same_origin = format!("http://{host}");
    let cases = [
        ("Origin", "http://evil.test", 401),
        ("Origin", "null", 401),
        ("Host", "evil.test", 401),
        ("Origin", same_origin.as_str(), 200),
    ];
    for (header, value, status) in cases {
        let request = post(&base, "/__mock/reset").header(header, value);
        let response = send_checked(&request).await;
        assert_eq!(response.status, status, "{header}: {value}");
    }
    let page = send_checked(&get(&base, "/__mock/dashboard").header("Host", "evil.test")).await;
    assert_eq!(page.status, 401, "DNS rebinding cannot load the page");
}

#[tokio::test]
async fn unknown_control_paths_use_error_body() {
    let mock = start().await;
    let base = mock.base_url();
    let unknown = send(&get(&base, "/__mock/nothing")).await;
    assert_eq!(unknown.status, 404);
    assert!(body_json(&unknown)["error"]["message"].is_string());
    let method = send(&RecordedRequest::new(
        Method::DELETE,
        &base,
        "/__mock/state",
    ))
    .await;
    assert_eq!(method.status, 405);
    assert_eq!(method.headers["allow"], "GET, PUT");
    assert!(body_json(&method)["error"]["data"]["method"].is_string());
}

#[tokio::test]
async fn faults_apply_per_session() {
    let mock = start().await;
    let base = mock.base_url();
    let fault = post(&base, "/__mock/faults")
        .header("X-Mock-Session", "f")
        .json(&json!({"status": 500, "count": 1}));
    let added = send_checked(&fault).await;
    assert_eq!(added.status, 201);
    let id = body_json(&added)["id"].as_str().unwrap().to_string();

    let listed = send_checked(&get(&base, "/__mock/faults").header("X-Mock-Session", "f")).await;
    let faults = body_json(&listed);
    assert_eq!(faults[0]["id"], id.as_str());
    assert_eq!(faults[0]["applied"], 0);
    assert_eq!(faults[0]["remaining"], 1);

    assert_eq!(
        terminate_in(&base, None, "cron").await.0,
        200,
        "the shared state has no fault"
    );
    assert_eq!(terminate_in(&base, Some("f"), "cron").await.0, 500);
    assert_eq!(
        terminate_in(&base, Some("f"), "cron").await,
        (200, json!(2))
    );
    let listed = send_checked(&get(&base, "/__mock/faults").header("X-Mock-Session", "f")).await;
    assert_eq!(body_json(&listed), json!([]), "a used-up fault expires");

    let fault = post(&base, "/__mock/faults")
        .header("X-Mock-Session", "f")
        .json(&json!({"latency_ms": {"min": 1}}));
    let id = body_json(&send_checked(&fault).await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/__mock/faults/{id}");
    let remove = RecordedRequest::new(Method::DELETE, &base, &path).header("X-Mock-Session", "f");
    assert_eq!(send_checked(&remove).await.status, 204);
    let again = send_checked(&remove).await;
    assert_eq!(again.status, 404);
    assert_eq!(error_data(&again)["object_name"], "faults");

    let invalid = post(&base, "/__mock/faults").json(&json!({"status": 418}));
    let response = send_checked(&invalid).await;
    assert_eq!(response.status, 400);
    assert!(error_data(&response)["status"].is_string());
}

#[tokio::test]
async fn reset_clears_faults() {
    let mock = start().await;
    let base = mock.base_url();
    let fault = post(&base, "/__mock/faults").json(&json!({"status": 404}));
    assert_eq!(send_checked(&fault).await.status, 201);
    assert_eq!(terminate_in(&base, None, "cron").await.0, 404);

    send_checked(&post(&base, "/__mock/reset")).await;
    let faults = body_json(&send_checked(&get(&base, "/__mock/faults")).await);
    assert_eq!(faults, json!([]));
    assert_eq!(terminate_in(&base, None, "cron").await, (200, json!(2)));
}

#[tokio::test]
async fn journal_lists_session_requests() {
    let mock = start().await;
    let base = mock.base_url();
    terminate_in(&base, Some("j"), "cron").await;
    terminate_in(&base, Some("j"), "mailer").await;
    terminate_in(&base, None, "web_server").await;

    let request = get(&base, "/__mock/journal?status=404").header("X-Mock-Session", "j");
    let journal = body_json(&send_checked(&request).await);
    let entries = journal["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["path"],
        "/system/services/active/mailer/terminate"
    );
    assert_eq!(entries[0]["headers"]["x-api-key"], "[redacted]");

    let clear = RecordedRequest::new(Method::DELETE, &base, "/__mock/journal")
        .header("X-Mock-Session", "j");
    assert_eq!(send_checked(&clear).await.status, 204);
    let after = body_json(
        &send_checked(&get(&base, "/__mock/journal").header("X-Mock-Session", "j")).await,
    );
    assert_eq!(after["entries"], json!([]));
    let shared = body_json(&send_checked(&get(&base, "/__mock/journal")).await);
    assert_eq!(
        shared["entries"].as_array().unwrap().len(),
        1,
        "the shared journal stays"
    );
}

#[tokio::test]
async fn session_query_rejected_outside_updates() {
    let mock = start().await;
    let base = mock.base_url();
    terminate_in(&base, None, "cron").await;

    let requests = [
        post(&base, "/__mock/reset?session=t1"),
        get(&base, "/__mock/state?session=t1"),
        get(&base, "/__mock/journal?limit=5&session=t1"),
    ];
    for request in requests {
        let response = send_checked(&request).await;
        assert_eq!(response.status, 400, "{}", request.path);
        let message = error_data(&response)["session"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains("X-Mock-Session"), "{message}");
    }
    let state = body_json(&send_checked(&get(&base, "/__mock/state")).await);
    assert!(
        flags(&state).iter().any(|(_, terminate, _)| *terminate),
        "the shared state was not reset"
    );
    let dashboard = get(&base, "/__mock/dashboard?session=t1");
    assert_eq!(send_checked(&dashboard).await.status, 200);
}

/// Starts a mock that trusts `X-Forwarded-For` from 127.0.0.1.
async fn start_behind_loopback_proxy() -> MockServer {
    let trusted = vec!["127.0.0.1/32".parse().unwrap()];
    let keys = vec![DEFAULT_API_KEY.parse().unwrap()];
    let api = MockApi::new(
        ClusterState::default_state(),
        AuthPolicy::new(keys, trusted),
    );
    MockServer::start_with_api(api).await
}

#[tokio::test]
async fn local_proxy_keeps_clients_remote() {
    let mock = start_behind_loopback_proxy().await;
    let base = mock.base_url();

    let proxied = get(&base, "/__mock/state").header("X-Forwarded-For", "198.51.100.7");
    let response = send_checked(&proxied).await;
    assert_eq!(response.status, 401);
    let message = error_data(&response)["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("198.51.100.7"), "{message}");

    let local = get(&base, "/__mock/state").header("X-Forwarded-For", "127.0.0.1");
    assert_eq!(send_checked(&local).await.status, 200);
    assert_eq!(send_checked(&get(&base, "/__mock/state")).await.status, 200);
}

#[tokio::test]
async fn unreadable_forwarded_for_stays_remote() {
    let mock = start_behind_loopback_proxy().await;
    let base = mock.base_url();

    // What a proxy that appends the client address forwards when the
    // client itself sent a bad X-Forwarded-For, and values a proxy may
    // write in place of an address.
    let cases: [&[&str]; 8] = [
        &["garbage, 203.0.113.5"],
        &["garbage", "203.0.113.5"],
        &["203.0.113.5,"],
        &["203.0.113.5:4444"],
        &["[2001:db8::1]"],
        &["unknown"],
        &[""],
        &["127.0.0.1, unknown"],
    ];
    for values in cases {
        let mut request = get(&base, "/__mock/state");
        for value in values {
            request = request.header("X-Forwarded-For", value);
        }
        let response = send_checked(&request).await;
        assert_eq!(response.status, 401, "{values:?}");
        let message = error_data(&response)["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!message.contains("127.0.0.1"), "{values:?}: {message}");
    }
}

//! Properties of the control API over real HTTP on loopback. Random
//! sequences of control and API requests, with random session names, clock
//! moves and state fixtures, always get a documented response and never a
//! 5xx. The state always reads back as a fixture that the mock accepts
//! again.

use std::time::Duration;

use contract_tests::MockServer;
use contract_tests::checker::{RecordedRequest, RecordedResponse};
use contract_tests::control::{body_json, control_checker, send};
use mock_server::sessions::SessionLimits;
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

const SERVICES: [&str; 4] = ["cron", "web_server", "mail_queue", "mailer"];
const NODES: [&str; 4] = ["node-1", "node-2", "node-3", "node-9"];

/// One request of a sequence.
#[derive(Debug, Clone)]
enum Step {
    Advance(Value),
    Replace(Value),
    Reset,
    Run,
    Hang(usize, usize),
    Kill(usize, usize),
    Events(String),
    Snapshot,
    DeleteSession(String),
    Terminate(usize),
}

fn session_name() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        6 => "[ab]".prop_map(Some),
        1 => "[a-z0-9._-]{1,6}".prop_map(Some),
        1 => "[ -~]{0,70}".prop_map(Some),
    ]
}

fn seconds() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0_i64..400).prop_map(Value::from),
        (-5_i64..40_000_000).prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!("60")),
        Just(Value::Null),
    ]
}

/// A fixture of random nodes, services and processes, valid or not. The
/// IDs are short, so that processes often name nodes and services that
/// exist, and IDs often repeat.
fn fixture() -> impl Strategy<Value = Value> {
    let ids = prop_oneof![
        4 => prop::sample::subsequence(vec!["a", "b"], 0..=2)
            .prop_map(|ids| ids.into_iter().map(str::to_string).collect::<Vec<_>>()),
        1 => prop::collection::vec("[ab]{0,1}", 0..3),
    ];
    let process = (
        "[ab]{0,1}",
        "[ab]{0,1}",
        0_u32..4,
        prop_oneof![
            3 => Just("2026-11-30T08:00:00Z".to_string()),
            1 => Just("2026-11-30T09:00:00+01:00".to_string()),
            1 => Just("yesterday".to_string()),
        ],
        any::<bool>(),
        any::<bool>(),
    );
    let scheduler = prop::option::weighted(0.3, "[ab]{0,1}");
    (
        ids.clone(),
        ids,
        prop::collection::vec(process, 0..3),
        scheduler,
    )
        .prop_map(|(nodes, services, processes, scheduler)| {
            let nodes: Vec<Value> = nodes
                .iter()
                .map(|id| json!({"id": id, "name": id}))
                .collect();
            let services: Vec<Value> = services
                .iter()
                .map(|id| json!({"id": id, "name": id}))
                .collect();
            let processes: Vec<Value> = processes
                .into_iter()
                .map(|(service, node, pid, started_at, terminate, hung)| {
                    json!({
                        "service": service, "node": node, "pid": pid,
                        "started_at": started_at, "terminate": terminate, "hung": hung,
                    })
                })
                .collect();
            let mut fixture = json!({"nodes": nodes, "services": services, "processes": processes});
            if let Some(scheduler) = scheduler {
                fixture["scheduler_service"] = json!(scheduler);
            }
            fixture
        })
}

fn step() -> impl Strategy<Value = Step> {
    let process = (0..SERVICES.len(), 0..NODES.len());
    prop_oneof![
        1 => seconds().prop_map(Step::Advance),
        4 => fixture().prop_map(Step::Replace),
        1 => Just(Step::Reset),
        1 => Just(Step::Run),
        1 => process
            .clone()
            .prop_map(|(service, node)| Step::Hang(service, node)),
        1 => process.prop_map(|(service, node)| Step::Kill(service, node)),
        1 => prop_oneof![
            Just("5".to_string()),
            Just("0".to_string()),
            "[0-9a-z]{0,3}"
        ]
        .prop_map(Step::Events),
        1 => Just(Step::Snapshot),
        1 => "[ab ]{1,2}".prop_map(Step::DeleteSession),
        1 => (0..SERVICES.len()).prop_map(Step::Terminate),
    ]
}

/// Builds the request of `step` in `session`.
fn request(base: &str, step: &Step, session: &Option<String>) -> RecordedRequest {
    let request = match step {
        Step::Advance(seconds) => RecordedRequest::new(Method::POST, base, "/__mock/clock/advance")
            .json(&json!({ "seconds": seconds })),
        Step::Replace(fixture) => {
            RecordedRequest::new(Method::PUT, base, "/__mock/state").json(fixture)
        }
        Step::Reset => RecordedRequest::new(Method::POST, base, "/__mock/reset"),
        Step::Run => RecordedRequest::new(Method::POST, base, "/__mock/scheduler/run"),
        Step::Hang(service, node) => {
            let path = format!(
                "/__mock/processes/{}/{}/hang",
                SERVICES[*service], NODES[*node]
            );
            RecordedRequest::new(Method::POST, base, &path)
        }
        Step::Kill(service, node) => {
            let path = format!(
                "/__mock/processes/{}/{}/kill",
                SERVICES[*service], NODES[*node]
            );
            RecordedRequest::new(Method::POST, base, &path)
        }
        Step::Events(limit) => {
            RecordedRequest::new(Method::GET, base, &format!("/__mock/events?limit={limit}"))
        }
        Step::Snapshot => RecordedRequest::new(Method::GET, base, "/__mock/snapshot"),
        Step::DeleteSession(name) => {
            let path = format!("/__mock/sessions/{}", name.replace(' ', "%20"));
            RecordedRequest::new(Method::DELETE, base, &path)
        }
        Step::Terminate(service) => {
            let path = format!("/system/services/active/{}/terminate", SERVICES[*service]);
            RecordedRequest::new(Method::POST, base, &path)
                .header("X-Api-Key", DEFAULT_API_KEY)
                .json(&json!({ "nodes_id": null }))
        }
    };
    match session {
        Some(name) => request.header("X-Mock-Session", name),
        None => request,
    }
}

/// Checks a control response against `spec/control.yaml`, and any
/// response for a 5xx.
fn check(
    step: &Step,
    request: &RecordedRequest,
    response: &RecordedResponse,
) -> Result<(), TestCaseError> {
    prop_assert!(
        response.status < 500,
        "{step:?}: status {}",
        response.status
    );
    if !matches!(step, Step::Terminate(_))
        && let Err(violation) = control_checker().check(request, response)
    {
        return Err(TestCaseError::fail(format!("{step:?}:\n{violation}")));
    }
    Ok(())
}

/// Reads the state of `session`, or of the shared state, and puts it back,
/// which must succeed and leave it as it was.
async fn state_round_trips(base: &str, session: Option<&str>) -> Result<(), TestCaseError> {
    let with_session = |request: RecordedRequest| match session {
        Some(name) => request.header("X-Mock-Session", name),
        None => request,
    };
    let read = || with_session(RecordedRequest::new(Method::GET, base, "/__mock/state"));
    let response = send(&read()).await;
    if response.status == 422 {
        return Ok(());
    }
    prop_assert_eq!(response.status, 200);
    let state = body_json(&response);
    let put = with_session(RecordedRequest::new(Method::PUT, base, "/__mock/state")).json(&state);
    let replaced = send(&put).await;
    prop_assert_eq!(
        replaced.status,
        200,
        "{}",
        String::from_utf8_lossy(&replaced.body)
    );
    prop_assert_eq!(body_json(&send(&read()).await), state);
    Ok(())
}

async fn run(steps: &[(Step, Option<String>)]) -> Result<(), TestCaseError> {
    let limits = SessionLimits {
        max_sessions: 3,
        idle_timeout: Duration::from_secs(600),
    };
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    )
    .with_session_limits(limits);
    let mock = MockServer::start_with_api(api).await;
    let base = mock.base_url();
    for (step, session) in steps {
        let request = request(&base, step, session);
        let response = send(&request).await;
        check(step, &request, &response)?;
    }
    for session in [None, Some("a"), Some("b")] {
        state_round_trips(&base, session).await?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_control_requests_get_documented_responses(
        steps in prop::collection::vec((step(), session_name()), 1..12)
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("build a tokio runtime");
        runtime.block_on(run(&steps))?;
    }
}

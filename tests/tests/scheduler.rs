//! Terminate calls over HTTP on loopback, then Tasks Scheduler runs through the mock's handle.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contract_tests::MockServer;
use mock_server::clock::ManualClock;
use mock_server::events::{EventKind, Signal, SignalOutcome};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};

/// 2026-11-30T08:00:00Z.
const START: Duration = Duration::from_secs(1_796_025_600);
const INTERVAL: Duration = Duration::from_secs(60);

async fn start_on_manual_clock() -> (MockServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    )
    .with_clock(clock.clone());
    (MockServer::start_with_api(api).await, clock)
}

/// Sends a terminate request for the service on every node and returns the
/// number of affected processes.
async fn terminate(mock: &MockServer, service: &str) -> u64 {
    let url = format!(
        "{}/system/services/active/{service}/terminate",
        mock.base_url()
    );
    let response = reqwest::Client::new()
        .post(url)
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&serde_json::json!({ "nodes_id": null }))
        .send()
        .await
        .expect("the mock sends a response");
    assert_eq!(response.status(), 200, "terminate {service}");
    response.json().await.expect("a count in the body")
}

fn signal(service: &str, node: &str, pid: u32, outcome: SignalOutcome) -> Signal {
    Signal {
        service: service.into(),
        node: node.into(),
        pid,
        outcome,
    }
}

/// Returns the kinds of the events logged at `at`.
fn events_at(mock: &MockServer, at: SystemTime) -> Vec<EventKind> {
    let events = mock.api.events().into_iter();
    events
        .filter(|event| event.at == at)
        .map(|event| event.kind)
        .collect()
}

#[tokio::test]
async fn run_terminates_flagged_processes() {
    let (mock, _clock) = start_on_manual_clock().await;
    assert_eq!(terminate(&mock, "web_server").await, 3);

    let run = mock.api.run_scheduler();
    assert_eq!(run.terminated(), 3);
    assert_eq!(run.ignored(), 0);

    let expected = [
        EventKind::SchedulerRun { signals: 3 },
        EventKind::Signal(signal(
            "web_server",
            "node-1",
            1422,
            SignalOutcome::Terminated,
        )),
        EventKind::Signal(signal(
            "web_server",
            "node-2",
            2422,
            SignalOutcome::Terminated,
        )),
        EventKind::Signal(signal(
            "web_server",
            "node-3",
            3422,
            SignalOutcome::Terminated,
        )),
    ];
    assert_eq!(events_at(&mock, UNIX_EPOCH + START), expected);
    assert_eq!(terminate(&mock, "web_server").await, 0);
}

#[tokio::test]
async fn hung_process_stays_flagged_across_runs() {
    let (mock, clock) = start_on_manual_clock().await;
    assert_eq!(terminate(&mock, "mail_queue").await, 1);
    assert_eq!(terminate(&mock, "cron").await, 2);

    let first = mock.api.run_scheduler();
    assert_eq!(first.terminated(), 2);
    assert_eq!(first.ignored(), 1);
    assert_eq!(terminate(&mock, "mail_queue").await, 0);
    assert_eq!(terminate(&mock, "cron").await, 0);

    clock.advance(INTERVAL);
    let second = mock.api.run_scheduler();
    let ignored = signal("mail_queue", "node-2", 2533, SignalOutcome::Ignored);
    assert_eq!(second.signals, std::slice::from_ref(&ignored));
    let expected = [
        EventKind::SchedulerRun { signals: 1 },
        EventKind::Signal(ignored),
    ];
    assert_eq!(events_at(&mock, UNIX_EPOCH + START + INTERVAL), expected);
}

#[tokio::test]
async fn kill_ends_hung_process_signals() {
    let (mock, clock) = start_on_manual_clock().await;
    assert_eq!(terminate(&mock, "mail_queue").await, 1);
    mock.api.run_scheduler();

    clock.advance(Duration::from_secs(30));
    let killed = mock
        .api
        .kill("mail_queue", "node-2")
        .expect("process exists");
    assert_eq!(killed.pid, 2533);
    let kill = EventKind::Kill {
        service: "mail_queue".into(),
        node: "node-2".into(),
        pid: 2533,
    };
    assert_eq!(
        events_at(&mock, UNIX_EPOCH + START + Duration::from_secs(30)),
        [kill]
    );

    assert_eq!(mock.api.run_scheduler().signals, []);
    assert_eq!(terminate(&mock, "mail_queue").await, 0);
}

//! State-machine properties: random sequences of terminate calls (over REST
//! or JSON-RPC), Tasks Scheduler runs, hangs and kills, each step checked
//! against a small reference model of the semantics.

use std::collections::BTreeMap;

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use mock_server::events::SignalOutcome;
use mock_server::state::ClusterState;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Services of the default state, and one that does not exist.
const SERVICES: [&str; 6] = [
    "tasks_scheduler",
    "cron",
    "web_server",
    "mail_queue",
    "backup",
    "mailer",
];

/// Nodes of the default state, and one that does not exist.
const NODES: [&str; 4] = ["node-1", "node-2", "node-3", "node-9"];

const SCHEDULER: &str = "tasks_scheduler";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Rest,
    JsonRpc,
}

#[derive(Debug, Clone)]
enum Action {
    Terminate {
        service: usize,
        node: Option<usize>,
        transport: Transport,
    },
    RunScheduler,
    Hang {
        service: usize,
        node: usize,
    },
    Kill {
        service: usize,
        node: usize,
    },
}

/// The outcome of a terminate call, as both transports report it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Count(u64),
    NotFound(String),
    SchedulerItself,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ModelProcess {
    flagged: bool,
    hung: bool,
}

/// The reference model: active processes by (service, node).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    processes: BTreeMap<(String, String), ModelProcess>,
}

impl Model {
    fn from_state(state: &ClusterState) -> Self {
        let processes = state
            .processes()
            .iter()
            .map(|process| {
                let key = (process.service.clone(), process.node.clone());
                let value = ModelProcess {
                    flagged: process.terminate,
                    hung: process.hung,
                };
                (key, value)
            })
            .collect();
        Model { processes }
    }

    fn terminate(&mut self, service: &str, node: Option<&str>) -> Outcome {
        if !SERVICES[..5].contains(&service) {
            return Outcome::NotFound("system_services".into());
        }
        if node.is_some_and(|node| !NODES[..3].contains(&node)) {
            return Outcome::NotFound("nodes".into());
        }
        if service == SCHEDULER {
            return Outcome::SchedulerItself;
        }
        let mut count = 0;
        for ((process_service, process_node), process) in &mut self.processes {
            let selected = process_service == service && node.is_none_or(|n| n == process_node);
            if selected && !process.flagged {
                process.flagged = true;
                count += 1;
            }
        }
        Outcome::Count(count)
    }

    /// Runs the scheduler; returns the signalled processes and whether each
    /// one terminated.
    fn run_scheduler(&mut self) -> BTreeMap<(String, String), bool> {
        let signalled: BTreeMap<_, _> = self
            .processes
            .iter()
            .filter(|(_, process)| process.flagged)
            .map(|(key, process)| (key.clone(), !process.hung))
            .collect();
        self.processes
            .retain(|key, _| signalled.get(key) != Some(&true));
        signalled
    }

    fn hang(&mut self, service: &str, node: &str) -> bool {
        let key = (service.to_string(), node.to_string());
        match self.processes.get_mut(&key) {
            Some(process) => {
                process.hung = true;
                true
            }
            None => false,
        }
    }

    fn kill(&mut self, service: &str, node: &str) -> bool {
        let key = (service.to_string(), node.to_string());
        self.processes.remove(&key).is_some()
    }
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![Just(Transport::Rest), Just(Transport::JsonRpc)]
}

fn action() -> impl Strategy<Value = Action> {
    let service = 0..SERVICES.len();
    let node = 0..NODES.len();
    prop_oneof![
        4 => (service.clone(), proptest::option::of(node.clone()), transport()).prop_map(
            |(service, node, transport)| Action::Terminate { service, node, transport }
        ),
        2 => Just(Action::RunScheduler),
        1 => (service.clone(), node.clone()).prop_map(|(service, node)| Action::Hang { service, node }),
        1 => (service, node).prop_map(|(service, node)| Action::Kill { service, node }),
    ]
}

/// Sends a terminate call and reads its outcome; panics on any other response.
async fn terminate(
    mock: &MockServer,
    http: &reqwest::Client,
    service: &str,
    node: Option<&str>,
    transport: Transport,
) -> Outcome {
    match transport {
        Transport::Rest => terminate_rest(mock, http, service, node).await,
        Transport::JsonRpc => terminate_jsonrpc(mock, http, service, node).await,
    }
}

async fn terminate_rest(
    mock: &MockServer,
    http: &reqwest::Client,
    service: &str,
    node: Option<&str>,
) -> Outcome {
    let url = format!(
        "{}/system/services/active/{service}/terminate",
        mock.base_url()
    );
    let response = http
        .post(url)
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&json!({ "nodes_id": node }))
        .send()
        .await
        .expect("the mock answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    match status {
        200 => Outcome::Count(body.as_u64().expect("a count")),
        404 => Outcome::NotFound(
            body["error"]["data"]["object_name"]
                .as_str()
                .unwrap()
                .into(),
        ),
        422 => Outcome::SchedulerItself,
        _ => panic!("unexpected REST answer {status}: {body}"),
    }
}

async fn terminate_jsonrpc(
    mock: &MockServer,
    http: &reqwest::Client,
    service: &str,
    node: Option<&str>,
) -> Outcome {
    let request = json!({
        "jsonrpc": "2.0",
        "method": "system.services.active.mark_terminate",
        "params": { "system_services_id": service, "nodes_id": node },
        "id": 1,
    });
    let response = http
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&request)
        .send()
        .await
        .expect("the mock answers");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("a JSON body");
    if let Some(count) = body["result"].as_u64() {
        return Outcome::Count(count);
    }
    match body["error"]["code"].as_i64() {
        Some(-32004) => Outcome::NotFound(
            body["error"]["data"]["object_name"]
                .as_str()
                .unwrap()
                .into(),
        ),
        Some(-32022) => Outcome::SchedulerItself,
        _ => panic!("unexpected JSON-RPC answer: {body}"),
    }
}

/// Runs `actions` on a fresh mock and checks each step against the model.
async fn run_against_model(actions: &[Action]) -> Result<(), TestCaseError> {
    let mock = MockServer::start().await;
    let http = reqwest::Client::new();
    let mut model = Model::from_state(&ClusterState::default_state());

    for (step, action) in actions.iter().enumerate() {
        match action {
            Action::Terminate {
                service,
                node,
                transport,
            } => {
                let (service, node) = (SERVICES[*service], node.map(|n| NODES[n]));
                let expected = model.terminate(service, node);
                let actual = terminate(&mock, &http, service, node, *transport).await;
                prop_assert_eq!(actual, expected, "step {}: {:?}", step, action);
            }
            Action::RunScheduler => {
                let expected = model.run_scheduler();
                let run = mock.api.run_scheduler();
                let actual: BTreeMap<_, _> = run
                    .signals
                    .iter()
                    .map(|signal| {
                        let key = (signal.service.clone(), signal.node.clone());
                        (key, signal.outcome == SignalOutcome::Terminated)
                    })
                    .collect();
                prop_assert_eq!(run.signals.len(), actual.len(), "one signal per process");
                prop_assert_eq!(actual, expected, "step {}: scheduler run", step);
            }
            Action::Hang { service, node } => {
                let expected = model.hang(SERVICES[*service], NODES[*node]);
                let actual = mock.api.hang(SERVICES[*service], NODES[*node]).is_ok();
                prop_assert_eq!(actual, expected, "step {}: {:?}", step, action);
            }
            Action::Kill { service, node } => {
                let expected = model.kill(SERVICES[*service], NODES[*node]);
                let actual = mock.api.kill(SERVICES[*service], NODES[*node]).is_ok();
                prop_assert_eq!(actual, expected, "step {}: {:?}", step, action);
            }
        }
        let state = mock.api.with_state(Model::from_state);
        prop_assert_eq!(&state, &model, "step {}: state after {:?}", step, action);
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mock_follows_reference_model(actions in proptest::collection::vec(action(), 1..40)) {
        runtime().block_on(run_against_model(&actions))?;
    }

    #[test]
    fn transports_give_same_outcomes(
        calls in proptest::collection::vec(
            (0..SERVICES.len(), proptest::option::of(0..NODES.len())),
            1..20,
        )
    ) {
        runtime().block_on(async {
            let rest = MockServer::start().await;
            let jsonrpc = MockServer::start().await;
            let http = reqwest::Client::new();
            for (service, node) in &calls {
                let (service, node) = (SERVICES[*service], node.map(|n| NODES[n]));
                let by_rest = terminate(&rest, &http, service, node, Transport::Rest).await;
                let by_jsonrpc = terminate(&jsonrpc, &http, service, node, Transport::JsonRpc).await;
                prop_assert_eq!(by_rest, by_jsonrpc, "{} on {:?}", service, node);
            }
            let rest_state = rest.api.with_state(Model::from_state);
            let jsonrpc_state = jsonrpc.api.with_state(Model::from_state);
            prop_assert_eq!(rest_state, jsonrpc_state);
            Ok(())
        })?;
    }
}

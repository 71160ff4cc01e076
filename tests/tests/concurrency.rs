//! Terminate calls under parallel load on loopback: many client tasks on a
//! multi-threaded runtime, each with its own connection, mixing REST and
//! JSON-RPC, with Tasks Scheduler runs from other threads at the same time.
//!
//! The interleaving differs from run to run, but the checked outcome does
//! not: every process is counted by exactly one call, and the event log
//! shows each running process signalled once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use mock_server::events::{Event, EventKind, SignalOutcome};
use mock_server::state::{ClusterState, Fixture, Node, Process, Service};
use serde_json::{Value, json};
use tokio::sync::Barrier;

/// The service under load; it runs one process on each node.
const SERVICE: &str = "s";

/// A service without processes, for warming up each client's connection.
const IDLE_SERVICE: &str = "idle";

const NODES: usize = 200;

/// Client tasks, each with its own HTTP client and so its own connection.
const CLIENTS: usize = 64;

/// Single-node terminate calls of each client task.
const CALLS_PER_CLIENT: usize = 12;

/// Nodes that the clients' single-node calls select at each step: about
/// four clients call for each of them at the same time, and the steps
/// together select every node.
const NODES_PER_STEP: usize = 17;

/// Time limit of a whole test, far above its usual run time of well under
/// a second.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

const METHOD: &str = "system.services.active.mark_terminate";

fn node_id(index: usize) -> String {
    format!("n{index:03}")
}

/// Builds a cluster of [`NODES`] nodes where [`SERVICE`] runs on every node, and
/// the Tasks Scheduler on the first one. The processes on the nodes whose
/// index `hung` accepts ignore SIGTERM.
fn fixture(hung: impl Fn(usize) -> bool) -> ClusterState {
    let nodes = (0..NODES)
        .map(|index| Node {
            id: node_id(index),
            name: format!("Node {index}"),
        })
        .collect();
    let service = |id: &str| Service {
        id: id.to_string(),
        name: id.to_string(),
    };
    let process = |service: &str, node: usize, pid: u32, hung: bool| Process {
        service: service.to_string(),
        node: node_id(node),
        pid,
        started_at: "2026-11-30T08:00:00Z".to_string(),
        terminate: false,
        hung,
    };
    let mut processes = vec![process("tasks_scheduler", 0, 9999, false)];
    processes.extend((0..NODES).map(|node| process(SERVICE, node, node as u32 + 1, hung(node))));
    let fixture = Fixture {
        nodes,
        services: vec![
            service("tasks_scheduler"),
            service(SERVICE),
            service(IDLE_SERVICE),
        ],
        processes,
        scheduler_service: None,
    };
    ClusterState::from_fixture(fixture).expect("the load fixture is valid")
}

/// One way to send a terminate call for [`SERVICE`].
#[derive(Debug, Clone, Copy)]
enum Call {
    /// REST with `{"nodes_id": "<node>"}`.
    RestNode(usize),
    /// REST with `{"nodes_id": null}`.
    RestAll,
    /// REST with `{}`, which also selects every node.
    RestEmptyObject,
    /// JSON-RPC with params by name and a node.
    RpcNamedNode(usize),
    /// JSON-RPC with params by position and a node.
    RpcPositionalNode(usize),
    /// JSON-RPC with params by name, without `nodes_id`.
    RpcAll,
    /// A JSON-RPC batch of two calls on two nodes.
    RpcBatch(usize, usize),
}

/// Returns the calls of client `client`: single-node calls, which several clients
/// send for the same node at about the same time, then an all-nodes call
/// from some clients.
fn calls_of(client: usize) -> Vec<Call> {
    let mut calls: Vec<Call> = (0..CALLS_PER_CLIENT)
        .map(|step| {
            let node = (step * NODES_PER_STEP + client % NODES_PER_STEP) % NODES;
            let other = (node + NODES / 2) % NODES;
            match (client + step) % 5 {
                0 => Call::RestNode(node),
                1 => Call::RpcNamedNode(node),
                2 => Call::RpcPositionalNode(node),
                3 => Call::RpcBatch(node, other),
                _ => Call::RestNode(other),
            }
        })
        .collect();
    match client % 8 {
        0 => calls.push(Call::RestAll),
        3 => calls.push(Call::RestEmptyObject),
        5 => calls.push(Call::RpcAll),
        _ => {}
    }
    calls
}

/// A client of one mock with its own connection pool, so each client task
/// opens its own connection.
struct Client {
    http: reqwest::Client,
    base_url: String,
}

impl Client {
    fn new(mock: &MockServer) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("build an HTTP client");
        Client {
            http,
            base_url: mock.base_url(),
        }
    }

    /// Sends a REST terminate call and returns the count.
    async fn rest(&self, service: &str, body: Value) -> u64 {
        let url = format!(
            "{}/system/services/active/{service}/terminate",
            self.base_url
        );
        let response = self
            .http
            .post(url)
            .header("X-Api-Key", DEFAULT_API_KEY)
            .json(&body)
            .send()
            .await
            .expect("the mock answers a REST call");
        let status = response.status().as_u16();
        let text = response.text().await.expect("read the REST body");
        assert_eq!(status, 200, "REST terminate {service} {body}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a count, not {text}"))
    }

    /// Posts a JSON-RPC payload and returns the response body.
    async fn rpc(&self, payload: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/jsonrpc", self.base_url))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .json(&payload)
            .send()
            .await
            .expect("the mock answers a JSON-RPC call");
        let status = response.status().as_u16();
        let text = response.text().await.expect("read the JSON-RPC body");
        assert_eq!(status, 200, "JSON-RPC {payload}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, not {text}"))
    }

    /// Sends one JSON-RPC call and returns its result as a count.
    async fn rpc_count(&self, params: Value, id: u64) -> u64 {
        let payload = json!({"jsonrpc": "2.0", "method": METHOD, "params": params, "id": id});
        let response = self.rpc(payload).await;
        result_count(&response, id)
    }

    /// Sends `call` and returns the count it reports.
    async fn send(&self, call: Call, id: u64) -> u64 {
        match call {
            Call::RestNode(node) => self.rest(SERVICE, json!({"nodes_id": node_id(node)})).await,
            Call::RestAll => self.rest(SERVICE, json!({"nodes_id": null})).await,
            Call::RestEmptyObject => self.rest(SERVICE, json!({})).await,
            Call::RpcNamedNode(node) => {
                let params = json!({"system_services_id": SERVICE, "nodes_id": node_id(node)});
                self.rpc_count(params, id).await
            }
            Call::RpcPositionalNode(node) => {
                self.rpc_count(json!([SERVICE, node_id(node)]), id).await
            }
            Call::RpcAll => {
                self.rpc_count(json!({"system_services_id": SERVICE}), id)
                    .await
            }
            Call::RpcBatch(first, second) => {
                let call = |node: usize, id: u64| {
                    json!({"jsonrpc": "2.0", "method": METHOD,
                           "params": [SERVICE, node_id(node)], "id": id})
                };
                let response = self
                    .rpc(json!([call(first, id), call(second, id + 1)]))
                    .await;
                let responses = response.as_array().expect("a batch response array");
                assert_eq!(responses.len(), 2, "{response}");
                // A batch's responses may come in any order; match by id.
                let by_id = |id: u64| {
                    let found = responses.iter().find(|item| item["id"] == id);
                    found.unwrap_or_else(|| panic!("no response with id {id}: {response}"))
                };
                result_count(by_id(id), id) + result_count(by_id(id + 1), id + 1)
            }
        }
    }
}

/// Returns the count of a JSON-RPC response object with `id`.
fn result_count(response: &Value, id: u64) -> u64 {
    assert_eq!(response["jsonrpc"], "2.0", "{response}");
    assert_eq!(response["id"], id, "{response}");
    let result = response["result"].as_u64();
    result.unwrap_or_else(|| panic!("a count result: {response}"))
}

/// Runs every client task against `mock` at once and returns the sum of
/// the counts they received. Each client first sends a call on the idle
/// service to open its connection, and all clients start their calls
/// together.
async fn run_clients(mock: &MockServer) -> u64 {
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let connection = Client::new(mock);
        let barrier = barrier.clone();
        tasks.spawn(async move {
            let warm_up = connection.rest(IDLE_SERVICE, json!({"nodes_id": null}));
            assert_eq!(warm_up.await, 0, "the idle service has no processes");
            barrier.wait().await;
            let mut sum = 0;
            for (step, call) in calls_of(client).into_iter().enumerate() {
                let id = (client * 100 + step * 2) as u64;
                sum += connection.send(call, id).await;
            }
            sum
        });
    }
    let mut total = 0;
    while let Some(result) = tasks.join_next().await {
        total += result.expect("a client task finishes without panicking");
    }
    total
}

/// Returns the flag of each process of [`SERVICE`], by pid.
fn flags(mock: &MockServer) -> BTreeMap<u32, (bool, bool)> {
    mock.api.with_state(|state| {
        let processes = state.processes().iter();
        processes
            .filter(|process| process.service == SERVICE)
            .map(|process| (process.pid, (process.terminate, process.hung)))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_terminates_count_each_process_once() {
    let mock = MockServer::start_with(fixture(|_| false)).await;
    let every_node: Vec<usize> = calls_of(0)
        .into_iter()
        .chain((1..CLIENTS).flat_map(calls_of))
        .flat_map(|call| match call {
            Call::RestNode(node) | Call::RpcNamedNode(node) | Call::RpcPositionalNode(node) => {
                vec![node]
            }
            Call::RpcBatch(first, second) => vec![first, second],
            Call::RestAll | Call::RestEmptyObject | Call::RpcAll => (0..NODES).collect(),
        })
        .collect();
    for node in 0..NODES {
        assert!(
            every_node.contains(&node),
            "no call selects node {node}, so the expected sum would not be {NODES}"
        );
    }

    let total = tokio::time::timeout(TEST_TIMEOUT, run_clients(&mock))
        .await
        .expect("the clients finish within the time limit");

    assert_eq!(total, NODES as u64, "sum of the counts of every call");
    let flags = flags(&mock);
    assert_eq!(flags.len(), NODES, "no process left the active set");
    let unflagged: Vec<u32> = flags
        .iter()
        .filter(|(_, (terminate, _))| !terminate)
        .map(|(pid, _)| *pid)
        .collect();
    assert_eq!(unflagged, Vec::<u32>::new(), "pids left without the flag");
    let scheduler_flagged = mock.api.with_state(|state| {
        let mut processes = state.processes().iter();
        processes.any(|process| process.service == "tasks_scheduler" && process.terminate)
    });
    assert!(!scheduler_flagged, "the Tasks Scheduler was flagged");
}

/// Upper bound of the scheduler runs of each runner, so that the event log
/// (10,000 events) keeps every event of the test.
const MAX_RUNS_PER_RUNNER: usize = 500;

/// Nodes whose process of [`SERVICE`] is hung.
fn is_hung_node(node: usize) -> bool {
    node % 50 == 7
}

/// The signals of one process, as indexes of the scheduler runs that sent
/// them, with their outcomes.
type SignalsByPid = BTreeMap<u32, Vec<(usize, SignalOutcome)>>;

/// Reads the event log of scheduler runs and signals. Checks that each run
/// is followed by exactly its own signals, and returns the number of runs
/// and the signals of each process of [`SERVICE`].
fn read_runs(events: &[Event]) -> (usize, SignalsByPid) {
    let mut runs = 0;
    let mut signals = SignalsByPid::new();
    let mut index = 0;
    while index < events.len() {
        let EventKind::SchedulerRun { signals: count } = events[index].kind else {
            panic!("event {index} is not a scheduler run: {:?}", events[index]);
        };
        let run_at = events[index].at;
        for offset in 1..=count {
            let event = events
                .get(index + offset)
                .unwrap_or_else(|| panic!("run {runs} logs {count} signals, the log ends first"));
            let EventKind::Signal(signal) = &event.kind else {
                panic!("run {runs} logs {count} signals, event {offset} is {event:?}");
            };
            assert_eq!(event.at, run_at, "a signal has the time of its run");
            assert_eq!(signal.service, SERVICE, "only {SERVICE} was flagged");
            signals
                .entry(signal.pid)
                .or_default()
                .push((runs, signal.outcome));
        }
        index += 1 + count;
        runs += 1;
    }
    (runs, signals)
}

/// Runs the Tasks Scheduler from a new OS thread until `stop` is set, at
/// most [`MAX_RUNS_PER_RUNNER`] times and at least once.
fn spawn_runner(mock: &MockServer, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let api = mock.api.clone();
    std::thread::spawn(move || {
        for _ in 0..MAX_RUNS_PER_RUNNER {
            api.run_scheduler();
            if stop.load(Ordering::Acquire) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduler_runs_during_terminates_signal_once() {
    let mock = MockServer::start_with(fixture(is_hung_node)).await;
    let hung_pids: Vec<u32> = (0..NODES)
        .filter(|node| is_hung_node(*node))
        .map(|node| node as u32 + 1)
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let threads = [
        spawn_runner(&mock, stop.clone()),
        spawn_runner(&mock, stop.clone()),
    ];
    // A third runner on a runtime worker, between the request tasks.
    let api = mock.api.clone();
    let task_stop = stop.clone();
    let task_runner = tokio::spawn(async move {
        for _ in 0..MAX_RUNS_PER_RUNNER {
            api.run_scheduler();
            if task_stop.load(Ordering::Acquire) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });

    let total = tokio::time::timeout(TEST_TIMEOUT, run_clients(&mock))
        .await
        .expect("the clients finish within the time limit");
    stop.store(true, Ordering::Release);
    for thread in threads {
        thread
            .join()
            .expect("a runner thread finishes without panicking");
    }
    task_runner.await.expect("the runner task finishes");
    // A last run after every call, so every flagged process was signalled.
    mock.api.run_scheduler();

    assert_eq!(total, NODES as u64, "sum of the counts of every call");
    let dropped = mock.api.with_state(|state| state.events().dropped());
    assert_eq!(dropped, 0, "the event log kept every event");
    let (runs, signals) = read_runs(&mock.api.events());
    assert!(
        runs >= 4,
        "each runner ran at least once, then the last run"
    );

    for pid in (1..=NODES as u32).filter(|pid| !hung_pids.contains(pid)) {
        let received = signals.get(&pid).map(Vec::as_slice).unwrap_or_default();
        let outcomes: Vec<SignalOutcome> = received.iter().map(|(_, outcome)| *outcome).collect();
        assert_eq!(
            outcomes,
            [SignalOutcome::Terminated],
            "pid {pid} is signalled once and terminates (runs {received:?})"
        );
    }
    for &pid in &hung_pids {
        let received = signals.get(&pid).map(Vec::as_slice).unwrap_or_default();
        assert!(!received.is_empty(), "hung pid {pid} was never signalled");
        let outcomes_ignored = received
            .iter()
            .all(|(_, outcome)| *outcome == SignalOutcome::Ignored);
        assert!(
            outcomes_ignored,
            "hung pid {pid} ignores SIGTERM: {received:?}"
        );
        // Once flagged, a hung process stays flagged, so every later run
        // signals it: its runs are the consecutive ones up to the last.
        let first = received[0].0;
        let run_indexes: Vec<usize> = received.iter().map(|(run, _)| *run).collect();
        let missed: Vec<usize> = (first..runs)
            .filter(|run| !run_indexes.contains(run))
            .collect();
        assert!(
            missed.is_empty(),
            "hung pid {pid}, signalled first in run {first}, missed {} later runs: {:?}",
            missed.len(),
            &missed[..missed.len().min(5)]
        );
        assert_eq!(
            run_indexes.len(),
            runs - first,
            "hung pid {pid} is signalled once per run"
        );
    }

    let remaining = flags(&mock);
    let remaining_pids: Vec<u32> = remaining.keys().copied().collect();
    assert_eq!(remaining_pids, hung_pids, "only hung processes stay active");
    for (pid, (terminate, hung)) in remaining {
        assert!(terminate, "hung pid {pid} stays flagged");
        assert!(hung, "pid {pid} is still hung");
    }
}

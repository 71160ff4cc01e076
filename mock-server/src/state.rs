//! The in-memory model of the cluster: nodes, system services and their
//! active processes, with the termination flag on each process.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use serde::Deserialize;

use crate::events::{Event, EventKind, EventLog, Signal, SignalOutcome};

/// The embedded default state, a three-node cluster.
pub const DEFAULT_STATE_YAML: &str = include_str!("default_state.yaml");

/// Service ID of the Tasks Scheduler when a fixture does not name one.
pub const DEFAULT_SCHEDULER_SERVICE: &str = "tasks_scheduler";

/// A state fixture as written in YAML or JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    #[serde(default)]
    pub processes: Vec<Process>,
    /// ID of the service that processes termination flags.
    #[serde(default = "default_scheduler_service")]
    pub scheduler_service: String,
}

fn default_scheduler_service() -> String {
    DEFAULT_SCHEDULER_SERVICE.to_string()
}

/// A cluster node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: String,
    pub name: String,
}

/// A system service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub id: String,
    pub name: String,
}

/// An active process: one service running on one node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub service: String,
    pub node: String,
    pub pid: u32,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Whether the termination flag is set.
    #[serde(default)]
    pub terminate: bool,
    /// Whether the process hung: it ignores SIGTERM.
    #[serde(default)]
    pub hung: bool,
}

impl Process {
    /// Returns the reaction of the process to SIGTERM, `Ignored` when it hung.
    pub fn sigterm_outcome(&self) -> SignalOutcome {
        if self.hung {
            SignalOutcome::Ignored
        } else {
            SignalOutcome::Terminated
        }
    }

    fn sigterm(&self) -> Signal {
        Signal {
            service: self.service.clone(),
            node: self.node.clone(),
            pid: self.pid,
            outcome: self.sigterm_outcome(),
        }
    }
}

/// A fixture that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The message includes the parser's, so the parser error is not also
    /// a `source`, which error reports would print a second time.
    #[error("invalid state fixture: {0}")]
    Syntax(serde_yaml::Error),
    #[error("invalid state fixture: {field}: {message}{}", at_line(.location))]
    Invalid {
        field: String,
        message: String,
        /// Line and column of the field in the fixture text, when known.
        location: Option<(usize, usize)>,
    },
}

impl From<serde_yaml::Error> for FixtureError {
    fn from(error: serde_yaml::Error) -> Self {
        FixtureError::Syntax(error)
    }
}

fn at_line(location: &Option<(usize, usize)>) -> String {
    match location {
        Some((line, column)) => format!(" at line {line} column {column}"),
        None => String::new(),
    }
}

/// Reason a terminate call is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminateError {
    #[error("system service `{0}` was not found")]
    UnknownService(String),
    #[error("cluster node `{0}` was not found")]
    UnknownNode(String),
    #[error("the Tasks Scheduler `{0}` cannot flag itself")]
    SchedulerItself(String),
}

/// Reason a change to one process, such as a kill, is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error("system service `{0}` was not found")]
    UnknownService(String),
    #[error("cluster node `{0}` was not found")]
    UnknownNode(String),
    #[error("system service `{service}` has no active process on node `{node}`")]
    NoProcess { service: String, node: String },
}

/// The result of one run of the Tasks Scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerRun {
    pub at: SystemTime,
    /// One SIGTERM per flagged process, in the order of the processes.
    pub signals: Vec<Signal>,
}

impl SchedulerRun {
    /// Number of processes that stopped and left the active set.
    pub fn terminated(&self) -> usize {
        self.count(SignalOutcome::Terminated)
    }

    /// Number of hung processes that stayed active and flagged.
    pub fn ignored(&self) -> usize {
        self.count(SignalOutcome::Ignored)
    }

    fn count(&self, outcome: SignalOutcome) -> usize {
        self.signals
            .iter()
            .filter(|signal| signal.outcome == outcome)
            .count()
    }
}

/// The cluster state that the mock serves.
#[derive(Debug, Clone)]
pub struct ClusterState {
    nodes: Vec<Node>,
    services: Vec<Service>,
    processes: Vec<Process>,
    scheduler_service: String,
    /// Indexes into `processes`, by service ID. Every removal of a process
    /// rebuilds it.
    by_service: HashMap<String, Vec<usize>>,
    events: EventLog,
}

impl ClusterState {
    /// Loads the embedded default state.
    pub fn default_state() -> Self {
        Self::from_yaml(DEFAULT_STATE_YAML).expect("the embedded default state is valid")
    }

    /// Parses and checks a fixture in YAML or JSON (JSON is valid YAML).
    pub fn from_yaml(text: &str) -> Result<Self, FixtureError> {
        let fixture: Fixture = serde_yaml::from_str(text)?;
        Self::from_fixture(fixture).map_err(|error| match error {
            FixtureError::Invalid { field, message, .. } => FixtureError::Invalid {
                location: crate::yaml_location::locate(text, &field),
                field,
                message,
            },
            syntax => syntax,
        })
    }

    /// Checks that IDs are unique and that every process names a known
    /// service and node.
    pub fn from_fixture(fixture: Fixture) -> Result<Self, FixtureError> {
        let invalid = |field: String, message: String| FixtureError::Invalid {
            field,
            message,
            location: None,
        };

        let mut node_ids = HashSet::new();
        for (index, node) in fixture.nodes.iter().enumerate() {
            if !node_ids.insert(node.id.as_str()) {
                return Err(invalid(
                    format!("nodes[{index}].id"),
                    format!("duplicate node ID `{}`", node.id),
                ));
            }
        }
        let mut service_ids = HashSet::new();
        for (index, service) in fixture.services.iter().enumerate() {
            if !service_ids.insert(service.id.as_str()) {
                return Err(invalid(
                    format!("services[{index}].id"),
                    format!("duplicate service ID `{}`", service.id),
                ));
            }
        }

        let mut running = HashSet::new();
        for (index, process) in fixture.processes.iter().enumerate() {
            if !service_ids.contains(process.service.as_str()) {
                return Err(invalid(
                    format!("processes[{index}].service"),
                    format!("unknown service `{}`", process.service),
                ));
            }
            if !node_ids.contains(process.node.as_str()) {
                return Err(invalid(
                    format!("processes[{index}].node"),
                    format!("unknown node `{}`", process.node),
                ));
            }
            if !running.insert((process.service.as_str(), process.node.as_str())) {
                return Err(invalid(
                    format!("processes[{index}]"),
                    format!(
                        "service `{}` already has a process on node `{}`",
                        process.service, process.node
                    ),
                ));
            }
        }

        Ok(ClusterState {
            by_service: index_by_service(&fixture.processes),
            nodes: fixture.nodes,
            services: fixture.services,
            processes: fixture.processes,
            scheduler_service: fixture.scheduler_service,
            events: EventLog::default(),
        })
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// Returns the log of scheduler runs, signals and kills.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    fn has_service(&self, service_id: &str) -> bool {
        self.services.iter().any(|service| service.id == service_id)
    }

    fn has_node(&self, node_id: &str) -> bool {
        self.nodes.iter().any(|node| node.id == node_id)
    }

    /// Sets the termination flag on the service's active processes, on one
    /// node or on all of them.
    ///
    /// Returns the number of processes whose flag changed from unset to set;
    /// processes already flagged are not counted.
    pub fn mark_terminate(
        &mut self,
        service_id: &str,
        node_id: Option<&str>,
    ) -> Result<u64, TerminateError> {
        if !self.has_service(service_id) {
            return Err(TerminateError::UnknownService(service_id.to_string()));
        }
        if let Some(node_id) = node_id
            && !self.has_node(node_id)
        {
            return Err(TerminateError::UnknownNode(node_id.to_string()));
        }
        if service_id == self.scheduler_service {
            return Err(TerminateError::SchedulerItself(service_id.to_string()));
        }

        let mut affected = 0;
        for &index in self.by_service.get(service_id).into_iter().flatten() {
            let process = &mut self.processes[index];
            let on_node = node_id.is_none_or(|node_id| process.node == node_id);
            if on_node && !process.terminate {
                process.terminate = true;
                affected += 1;
            }
        }
        Ok(affected)
    }

    /// Runs the Tasks Scheduler once at `now`: sends SIGTERM to every
    /// flagged process and logs the run and each signal.
    ///
    /// A running process stops and leaves the active set. A hung process
    /// ignores the signal and stays active and flagged, so every later run
    /// signals it again. Unflagged processes are untouched.
    pub fn run_scheduler(&mut self, now: SystemTime) -> SchedulerRun {
        let signals: Vec<Signal> = self
            .processes
            .iter()
            .filter(|process| process.terminate)
            .map(Process::sigterm)
            .collect();
        let stops = signals
            .iter()
            .any(|signal| signal.outcome == SignalOutcome::Terminated);
        if stops {
            self.processes
                .retain(|process| !process.terminate || process.hung);
            self.by_service = index_by_service(&self.processes);
        }

        self.log(
            now,
            EventKind::SchedulerRun {
                signals: signals.len(),
            },
        );
        for signal in &signals {
            self.log(now, EventKind::Signal(signal.clone()));
        }
        SchedulerRun { at: now, signals }
    }

    /// Marks the service's process on the node as hung, so that it ignores
    /// SIGTERM from then on.
    pub fn hang(&mut self, service_id: &str, node_id: &str) -> Result<(), ProcessError> {
        let index = self.find_process(service_id, node_id)?;
        self.processes[index].hung = true;
        Ok(())
    }

    /// Kills the service's process on the node, as an operator does from a
    /// shell on the node: the process leaves the active set whatever its
    /// state. Returns the removed process and logs the kill at `now`.
    pub fn kill(
        &mut self,
        service_id: &str,
        node_id: &str,
        now: SystemTime,
    ) -> Result<Process, ProcessError> {
        let index = self.find_process(service_id, node_id)?;
        let process = self.processes.remove(index);
        self.by_service = index_by_service(&self.processes);
        let kill = EventKind::Kill {
            service: process.service.clone(),
            node: process.node.clone(),
            pid: process.pid,
        };
        self.log(now, kill);
        Ok(process)
    }

    /// Returns the index of the service's active process on the node.
    fn find_process(&self, service_id: &str, node_id: &str) -> Result<usize, ProcessError> {
        if !self.has_service(service_id) {
            return Err(ProcessError::UnknownService(service_id.to_string()));
        }
        if !self.has_node(node_id) {
            return Err(ProcessError::UnknownNode(node_id.to_string()));
        }
        let indexes = self.by_service.get(service_id).into_iter().flatten();
        indexes
            .copied()
            .find(|&index| self.processes[index].node == node_id)
            .ok_or_else(|| ProcessError::NoProcess {
                service: service_id.to_string(),
                node: node_id.to_string(),
            })
    }

    fn log(&mut self, at: SystemTime, kind: EventKind) {
        self.events.push(Event { at, kind });
    }
}

/// Maps each service ID to the indexes of its processes in `processes`.
fn index_by_service(processes: &[Process]) -> HashMap<String, Vec<usize>> {
    let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, process) in processes.iter().enumerate() {
        by_service
            .entry(process.service.clone())
            .or_default()
            .push(index);
    }
    by_service
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_state_loads() {
        let state = ClusterState::default_state();
        assert_eq!(state.nodes().len(), 3);
        assert!(state.processes().iter().any(|process| process.hung));
    }

    #[test]
    fn terminate_counts_only_newly_flagged() {
        let mut state = ClusterState::default_state();
        assert_eq!(state.mark_terminate("web_server", Some("node-2")), Ok(1));
        assert_eq!(state.mark_terminate("web_server", None), Ok(2));
        assert_eq!(state.mark_terminate("web_server", None), Ok(0));
    }

    #[test]
    fn terminate_without_processes_is_zero() {
        let mut state = ClusterState::default_state();
        assert_eq!(state.mark_terminate("backup", None), Ok(0));
    }

    #[test]
    fn terminate_rejects_unknown_ids() {
        let mut state = ClusterState::default_state();
        assert_eq!(
            state.mark_terminate("mailer", None),
            Err(TerminateError::UnknownService("mailer".into()))
        );
        assert_eq!(
            state.mark_terminate("cron", Some("node-9")),
            Err(TerminateError::UnknownNode("node-9".into()))
        );
    }

    #[test]
    fn scheduler_cannot_flag_itself() {
        let mut state = ClusterState::default_state();
        assert_eq!(
            state.mark_terminate("tasks_scheduler", None),
            Err(TerminateError::SchedulerItself("tasks_scheduler".into()))
        );
    }

    fn at(seconds: u64) -> SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
    }

    fn pids(state: &ClusterState, service: &str) -> Vec<u32> {
        let processes = state.processes().iter();
        processes
            .filter(|process| process.service == service)
            .map(|process| process.pid)
            .collect()
    }

    fn find<'a>(state: &'a ClusterState, service: &str, node: &str) -> Option<&'a Process> {
        let mut processes = state.processes().iter();
        processes.find(|process| process.service == service && process.node == node)
    }

    fn signal(service: &str, node: &str, pid: u32, outcome: SignalOutcome) -> Signal {
        Signal {
            service: service.into(),
            node: node.into(),
            pid,
            outcome,
        }
    }

    #[test]
    fn scheduler_removes_flagged_running_processes() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("web_server", None).unwrap();
        let run = state.run_scheduler(at(60));
        assert_eq!(
            run.signals,
            [
                signal("web_server", "node-1", 1422, SignalOutcome::Terminated),
                signal("web_server", "node-2", 2422, SignalOutcome::Terminated),
                signal("web_server", "node-3", 3422, SignalOutcome::Terminated),
            ]
        );
        assert_eq!(pids(&state, "web_server"), Vec::<u32>::new());
    }

    #[test]
    fn hung_process_ignores_sigterm() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("mail_queue", None).unwrap();
        let run = state.run_scheduler(at(60));
        assert_eq!(
            run.signals,
            [signal("mail_queue", "node-2", 2533, SignalOutcome::Ignored)]
        );
        let process = find(&state, "mail_queue", "node-2").expect("still active");
        assert!(process.terminate);
        assert!(process.hung);
    }

    #[test]
    fn hung_process_signalled_every_run() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("mail_queue", None).unwrap();
        state.run_scheduler(at(60));
        let second = state.run_scheduler(at(120));
        assert_eq!(second.ignored(), 1);
        assert_eq!(second.terminated(), 0);
    }

    #[test]
    fn scheduler_leaves_unflagged_processes_alone() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("cron", Some("node-2")).unwrap();
        let before: Vec<Process> = state.processes().to_vec();
        let run = state.run_scheduler(at(60));
        assert_eq!(run.terminated(), 1);

        let after = state.processes();
        assert_eq!(after.len(), before.len() - 1);
        for process in after {
            let old = before.iter().find(|old| old.pid == process.pid).unwrap();
            assert_eq!(process.terminate, old.terminate, "pid {}", process.pid);
            assert_eq!(process.hung, old.hung, "pid {}", process.pid);
        }
        assert_eq!(pids(&state, "cron"), [1310]);
    }

    #[test]
    fn scheduler_run_counts_outcomes() {
        let mut state = ClusterState::default_state();
        assert_eq!(state.mark_terminate("web_server", None), Ok(3));
        assert_eq!(state.mark_terminate("mail_queue", None), Ok(1));
        let run = state.run_scheduler(at(60));
        assert_eq!(run.at, at(60));
        assert_eq!(run.signals.len(), 4);
        assert_eq!(run.terminated(), 3);
        assert_eq!(run.ignored(), 1);
    }

    #[test]
    fn scheduler_without_flags_sends_nothing() {
        let mut state = ClusterState::default_state();
        let run = state.run_scheduler(at(60));
        assert!(run.signals.is_empty());
        assert_eq!(state.processes().len(), 7);
    }

    #[test]
    fn terminate_after_removal_returns_zero() {
        let mut state = ClusterState::default_state();
        assert_eq!(state.mark_terminate("cron", None), Ok(2));
        state.run_scheduler(at(60));
        assert_eq!(state.mark_terminate("cron", None), Ok(0));
        assert_eq!(state.mark_terminate("mail_queue", None), Ok(1));
        state.run_scheduler(at(120));
        assert_eq!(state.mark_terminate("mail_queue", None), Ok(0));
    }

    #[test]
    fn removal_keeps_service_index_consistent() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("cron", Some("node-1")).unwrap();
        state.run_scheduler(at(60));
        assert_eq!(state.mark_terminate("web_server", Some("node-3")), Ok(1));
        let flagged: Vec<u32> = state
            .processes()
            .iter()
            .filter(|process| process.terminate)
            .map(|process| process.pid)
            .collect();
        assert_eq!(flagged, [3422]);
        assert_eq!(
            state.kill("cron", "node-2", at(61)).map(|p| p.pid),
            Ok(2310)
        );
        assert_eq!(state.mark_terminate("web_server", None), Ok(2));
    }

    #[test]
    fn event_log_records_runs_and_signals() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("cron", Some("node-1")).unwrap();
        state.mark_terminate("mail_queue", None).unwrap();
        state.run_scheduler(at(60));
        state.run_scheduler(at(120));
        state.kill("mail_queue", "node-2", at(150)).unwrap();

        let event = |seconds, kind| Event {
            at: at(seconds),
            kind,
        };
        let cron = signal("cron", "node-1", 1310, SignalOutcome::Terminated);
        let mail = signal("mail_queue", "node-2", 2533, SignalOutcome::Ignored);
        let expected = [
            event(60, EventKind::SchedulerRun { signals: 2 }),
            event(60, EventKind::Signal(cron)),
            event(60, EventKind::Signal(mail.clone())),
            event(120, EventKind::SchedulerRun { signals: 1 }),
            event(120, EventKind::Signal(mail)),
            event(
                150,
                EventKind::Kill {
                    service: "mail_queue".into(),
                    node: "node-2".into(),
                    pid: 2533,
                },
            ),
        ];
        let events: Vec<Event> = state.events().iter().cloned().collect();
        assert_eq!(events, expected);
        assert_eq!(state.events().dropped(), 0);
    }

    #[test]
    fn event_log_keeps_newest_events() {
        let mut state = ClusterState::default_state();
        let capacity = crate::events::DEFAULT_EVENT_CAPACITY;
        let runs = capacity as u64 + 5;
        for second in 0..runs {
            state.run_scheduler(at(second));
        }
        let events = state.events();
        assert_eq!(events.len(), capacity);
        assert_eq!(events.dropped(), 5);
        assert_eq!(events.iter().next().map(|event| event.at), Some(at(5)));
        assert_eq!(
            events.iter().last().map(|event| event.at),
            Some(at(runs - 1))
        );
    }

    #[test]
    fn hang_makes_process_ignore_sigterm() {
        let mut state = ClusterState::default_state();
        assert_eq!(state.hang("cron", "node-2"), Ok(()));
        state.mark_terminate("cron", None).unwrap();
        let run = state.run_scheduler(at(60));
        assert_eq!(
            run.signals,
            [
                signal("cron", "node-1", 1310, SignalOutcome::Terminated),
                signal("cron", "node-2", 2310, SignalOutcome::Ignored),
            ]
        );
        assert_eq!(pids(&state, "cron"), [2310]);
    }

    #[test]
    fn kill_removes_hung_flagged_process() {
        let mut state = ClusterState::default_state();
        state.mark_terminate("mail_queue", None).unwrap();
        state.run_scheduler(at(60));
        let killed = state.kill("mail_queue", "node-2", at(90)).unwrap();
        assert_eq!(killed.pid, 2533);
        assert!(killed.hung);
        assert_eq!(pids(&state, "mail_queue"), Vec::<u32>::new());
        assert_eq!(state.run_scheduler(at(120)).signals, []);
    }

    #[test]
    fn hang_and_kill_reject_unknown_ids() {
        let mut state = ClusterState::default_state();
        let cases = [
            (
                "mailer",
                "node-1",
                ProcessError::UnknownService("mailer".into()),
            ),
            ("cron", "node-9", ProcessError::UnknownNode("node-9".into())),
            (
                "cron",
                "node-3",
                ProcessError::NoProcess {
                    service: "cron".into(),
                    node: "node-3".into(),
                },
            ),
        ];
        for (service, node, expected) in cases {
            assert_eq!(state.hang(service, node), Err(expected.clone()));
            assert_eq!(
                state.kill(service, node, at(0)).map(|process| process.pid),
                Err(expected)
            );
        }
        assert!(state.events().is_empty());
        assert_eq!(state.processes().len(), 7);
    }

    #[test]
    fn fixture_names_unknown_node() {
        let fixture = "nodes: [{id: a, name: A}]\n\
                       services: [{id: s, name: S}]\n\
                       processes: [{service: s, node: b, pid: 1, started_at: x}]\n";
        let error = ClusterState::from_yaml(fixture).unwrap_err().to_string();
        assert!(error.contains("processes[0].node"), "{error}");
        assert!(error.contains("unknown node `b`"), "{error}");
        assert!(error.contains("at line 3 column"), "{error}");
    }

    #[test]
    fn fixture_syntax_error_names_line() {
        let error = ClusterState::from_yaml("nodes: [\n  {id: a, nam: A}]\nservices: []\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("nam"), "{error}");
    }
}

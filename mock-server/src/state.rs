//! The in-memory model of the cluster: nodes, system services and their
//! active processes, with the termination flag on each process.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::events::{Event, EventKind, EventLog, Signal, SignalOutcome};

/// The embedded default state, a three-node cluster.
pub const DEFAULT_STATE_YAML: &str = include_str!("default_state.yaml");

/// Service ID of the Tasks Scheduler when a fixture does not name one.
pub const DEFAULT_SCHEDULER_SERVICE: &str = "tasks_scheduler";

/// A state fixture as written in YAML or JSON.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    #[serde(default)]
    pub processes: Vec<Process>,
    /// ID of the service that processes termination flags; it must be one of
    /// `services`. When absent, it is [`DEFAULT_SCHEDULER_SERVICE`], which
    /// need not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_service: Option<String>,
}

/// A cluster node.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: String,
    pub name: String,
}

/// A system service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub id: String,
    pub name: String,
}

/// An active process: one service running on one node.
#[derive(Debug, Clone, Deserialize, Serialize)]
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

/// Returns whether `text` is an RFC 3339 date and time, such as
/// `2026-11-30T08:00:00Z` or `2026-11-30T09:00:00.5+01:00`.
fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range.clone())
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
            .then(|| text[range].parse::<u32>().ok())
            .flatten()
    };
    let fixed = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !fixed {
        return false;
    }
    let (Some(_), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    let in_range = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return false;
        }
        rest = &fraction[count..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit())
                && (rest[1..3].parse::<u32>().unwrap_or(99) < 24)
                && (rest[4..6].parse::<u32>().unwrap_or(99) < 60)
        }
        _ => false,
    };
    in_range && offset
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerRun {
    #[serde(serialize_with = "crate::clock::serialize_rfc3339")]
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

/// A change to a [`ClusterState`], as its `*_recorded` methods report it to
/// their recorder before they apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// The termination flag of the service's process on each of `nodes`
    /// changes from unset to set.
    Flag {
        service: &'a str,
        nodes: Vec<&'a str>,
    },
    /// The service's process on the node hangs: it ignores SIGTERM.
    Hang { service: &'a str, node: &'a str },
    /// A run of the Tasks Scheduler at `at`: each process whose signal has
    /// the outcome `Terminated` leaves the active set, and the log gets the
    /// run's event and one event per signal, in that order.
    SchedulerRun {
        at: SystemTime,
        signals: &'a [Signal],
    },
    /// The service's process on the node, `pid`, is killed at `at`: it
    /// leaves the active set and the log gets a kill event.
    Kill {
        at: SystemTime,
        service: &'a str,
        node: &'a str,
        pid: u32,
    },
}

/// Accepts every change: the recorder of the methods that take none.
fn accept(_: &Change<'_>) -> Result<(), Infallible> {
    Ok(())
}

fn infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// The cluster state that the mock serves.
///
/// Node and service IDs are interned: a process row contains the indexes of its
/// service and node, so a row owns one string, its start time. Rows stay in
/// fixture order in a slab where a removed row leaves a hole; each service
/// lists the slots of its live rows. A terminate call and a removal touch
/// only the rows of one service, and a scheduler run scans the slab once.
#[derive(Debug, Clone)]
pub struct ClusterState {
    nodes: Vec<Node>,
    services: Vec<Service>,
    node_index: HashMap<Box<str>, u32>,
    service_index: HashMap<Box<str>, u32>,
    scheduler_service: String,
    /// Process rows in fixture order; `None` is a removed row, until the
    /// slab is compacted.
    rows: Vec<Option<Row>>,
    /// Number of `Some` rows.
    live: usize,
    /// Slots in `rows` of each service's live rows, ascending, by service
    /// index.
    by_service: Vec<Vec<u32>>,
    events: EventLog,
}

/// A process row: [`Process`] with interned service and node IDs.
#[derive(Debug, Clone)]
struct Row {
    service: u32,
    node: u32,
    pid: u32,
    terminate: bool,
    hung: bool,
    started_at: Box<str>,
}

/// Removed rows that the slab keeps before it compacts, at least: below
/// this, holes cost less than the compaction.
const MIN_HOLES_TO_COMPACT: usize = 1024;

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

        let mut node_index = HashMap::with_capacity(fixture.nodes.len());
        for (index, node) in fixture.nodes.iter().enumerate() {
            if node.id.is_empty() {
                let message = "a node ID cannot be empty".to_string();
                return Err(invalid(format!("nodes[{index}].id"), message));
            }
            if node_index
                .insert(node.id.as_str().into(), index as u32)
                .is_some()
            {
                return Err(invalid(
                    format!("nodes[{index}].id"),
                    format!("duplicate node ID `{}`", node.id),
                ));
            }
        }
        let mut service_index = HashMap::with_capacity(fixture.services.len());
        for (index, service) in fixture.services.iter().enumerate() {
            if service.id.is_empty() {
                let message = "a service ID cannot be empty".to_string();
                return Err(invalid(format!("services[{index}].id"), message));
            }
            if service_index
                .insert(service.id.as_str().into(), index as u32)
                .is_some()
            {
                return Err(invalid(
                    format!("services[{index}].id"),
                    format!("duplicate service ID `{}`", service.id),
                ));
            }
        }

        let scheduler_service = match fixture.scheduler_service {
            Some(name) if !service_index.contains_key(name.as_str()) => {
                return Err(invalid(
                    "scheduler_service".to_string(),
                    format!(
                        "unknown service `{name}`; name the service that processes termination flags"
                    ),
                ));
            }
            Some(name) => name,
            None => DEFAULT_SCHEDULER_SERVICE.to_string(),
        };

        let mut rows = Vec::with_capacity(fixture.processes.len());
        let mut by_service = vec![Vec::new(); fixture.services.len()];
        let mut running = HashSet::with_capacity(fixture.processes.len());
        let mut pids = HashMap::with_capacity(fixture.processes.len());
        for (index, process) in fixture.processes.into_iter().enumerate() {
            if process.pid == 0 {
                let message = "pid 0 is not a process ID; use 1 or more".to_string();
                return Err(invalid(format!("processes[{index}].pid"), message));
            }
            if !is_rfc3339(&process.started_at) {
                let message = format!(
                    "`{}` is not an RFC 3339 time such as 2026-11-30T08:00:00Z",
                    process.started_at
                );
                return Err(invalid(format!("processes[{index}].started_at"), message));
            }
            let Some(&service) = service_index.get(process.service.as_str()) else {
                return Err(invalid(
                    format!("processes[{index}].service"),
                    format!("unknown service `{}`", process.service),
                ));
            };
            let Some(&node) = node_index.get(process.node.as_str()) else {
                return Err(invalid(
                    format!("processes[{index}].node"),
                    format!("unknown node `{}`", process.node),
                ));
            };
            if !running.insert((u64::from(service) << 32) | u64::from(node)) {
                return Err(invalid(
                    format!("processes[{index}]"),
                    format!(
                        "service `{}` already has a process on node `{}`",
                        process.service, process.node
                    ),
                ));
            }
            if let Some(other) = pids.insert((node, process.pid), service) {
                return Err(invalid(
                    format!("processes[{index}].pid"),
                    format!(
                        "pid {} on node `{}` is already the process of service `{}`",
                        process.pid, process.node, fixture.services[other as usize].id
                    ),
                ));
            }
            by_service[service as usize].push(rows.len() as u32);
            rows.push(Some(Row {
                service,
                node,
                pid: process.pid,
                terminate: process.terminate,
                hung: process.hung,
                started_at: process.started_at.into_boxed_str(),
            }));
        }

        Ok(ClusterState {
            nodes: fixture.nodes,
            services: fixture.services,
            node_index,
            service_index,
            scheduler_service,
            live: rows.len(),
            rows,
            by_service,
            events: EventLog::default(),
        })
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Returns the active processes, in the order of the fixture.
    pub fn processes(&self) -> Processes<'_> {
        Processes { state: self }
    }

    /// Returns the log of scheduler runs, signals and kills.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// Returns the ID of the service that processes termination flags.
    pub fn scheduler_service(&self) -> &str {
        &self.scheduler_service
    }

    /// Returns the state as a fixture, which [`from_fixture`](Self::from_fixture)
    /// loads back. The event log is not part of it. `scheduler_service` is
    /// absent when it names no service of the state, as a fixture without
    /// it and without a `tasks_scheduler` service has it.
    pub fn to_fixture(&self) -> Fixture {
        let scheduler_known = self.service(&self.scheduler_service).is_some();
        Fixture {
            nodes: self.nodes.clone(),
            services: self.services.clone(),
            processes: self.processes().to_vec(),
            scheduler_service: scheduler_known.then(|| self.scheduler_service.clone()),
        }
    }

    /// Returns a copy of the state with an empty event log.
    pub fn without_events(&self) -> Self {
        let mut copy = self.clone();
        copy.events = EventLog::with_capacity(self.events.capacity());
        copy
    }

    /// Replaces the event log, for a state restored with its log.
    pub(crate) fn set_events(&mut self, events: EventLog) {
        self.events = events;
    }

    fn service(&self, service_id: &str) -> Option<usize> {
        self.service_index
            .get(service_id)
            .map(|&index| index as usize)
    }

    fn node(&self, node_id: &str) -> Option<u32> {
        self.node_index.get(node_id).copied()
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
        infallible(self.mark_terminate_recorded(service_id, node_id, accept))
    }

    /// [`mark_terminate`](Self::mark_terminate) that first passes the
    /// change, when there is one, to `record`. When `record` fails, the
    /// state is unchanged and its error is returned.
    pub fn mark_terminate_recorded<E>(
        &mut self,
        service_id: &str,
        node_id: Option<&str>,
        record: impl FnOnce(&Change<'_>) -> Result<(), E>,
    ) -> Result<Result<u64, TerminateError>, E> {
        let Some(service) = self.service(service_id) else {
            return Ok(Err(TerminateError::UnknownService(service_id.to_string())));
        };
        let node = match node_id {
            Some(node_id) => match self.node(node_id) {
                Some(node) => Some(node),
                None => return Ok(Err(TerminateError::UnknownNode(node_id.to_string()))),
            },
            None => None,
        };
        if service_id == self.scheduler_service {
            return Ok(Err(TerminateError::SchedulerItself(service_id.to_string())));
        }

        let rows = &self.rows;
        let slots: Vec<u32> = self.by_service[service]
            .iter()
            .copied()
            .filter(|&slot| {
                let row = rows[slot as usize]
                    .as_ref()
                    .expect("an indexed slot contains a row");
                node.is_none_or(|node| row.node == node) && !row.terminate
            })
            .collect();
        if slots.is_empty() {
            return Ok(Ok(0));
        }
        let nodes = slots
            .iter()
            .map(|&slot| {
                let row = rows[slot as usize].as_ref().expect("a live row");
                self.nodes[row.node as usize].id.as_str()
            })
            .collect();
        record(&Change::Flag {
            service: service_id,
            nodes,
        })?;
        for &slot in &slots {
            live_row(&mut self.rows, slot).terminate = true;
        }
        Ok(Ok(slots.len() as u64))
    }

    /// Returns the number of signals that `runs` runs of the Tasks
    /// Scheduler send in a row: the first signals every flagged process,
    /// and each later one only the flagged processes that hung, because the
    /// others stopped.
    pub fn signals_of_runs(&self, runs: u64) -> u64 {
        if runs == 0 {
            return 0;
        }
        let (mut flagged, mut hung) = (0u64, 0u64);
        for row in self.rows.iter().flatten().filter(|row| row.terminate) {
            flagged += 1;
            hung += u64::from(row.hung);
        }
        flagged.saturating_add((runs - 1).saturating_mul(hung))
    }

    /// Runs the Tasks Scheduler once at `now`: sends SIGTERM to every
    /// flagged process and logs the run and each signal.
    ///
    /// A running process stops and leaves the active set. A hung process
    /// ignores the signal and stays active and flagged, so every later run
    /// signals it again. Unflagged processes are untouched.
    pub fn run_scheduler(&mut self, now: SystemTime) -> SchedulerRun {
        infallible(self.run_scheduler_recorded(now, accept))
    }

    /// [`run_scheduler`](Self::run_scheduler) that first passes the change
    /// to `record`. When `record` fails, the state is unchanged and its
    /// error is returned.
    pub fn run_scheduler_recorded<E>(
        &mut self,
        now: SystemTime,
        record: impl FnOnce(&Change<'_>) -> Result<(), E>,
    ) -> Result<SchedulerRun, E> {
        let mut signals = Vec::new();
        let mut stopping = Vec::new();
        for (slot, row) in self.rows.iter().enumerate() {
            let Some(row) = row.as_ref().filter(|row| row.terminate) else {
                continue;
            };
            signals.push(Signal {
                service: self.services[row.service as usize].id.clone(),
                node: self.nodes[row.node as usize].id.clone(),
                pid: row.pid,
                outcome: row.sigterm_outcome(),
            });
            if !row.hung {
                stopping.push(slot);
            }
        }
        record(&Change::SchedulerRun {
            at: now,
            signals: &signals,
        })?;

        let mut stopped_services = Vec::with_capacity(stopping.len());
        for slot in stopping {
            let row = self.rows[slot].take().expect("a flagged row is live");
            stopped_services.push(row.service);
            self.live -= 1;
        }
        stopped_services.sort_unstable();
        stopped_services.dedup();
        for service in stopped_services {
            let rows = &self.rows;
            self.by_service[service as usize].retain(|&slot| rows[slot as usize].is_some());
        }
        self.compact_if_sparse();

        let events = 1 + signals.len();
        self.events.push_many(events, |index| Event {
            at: now,
            kind: match index {
                0 => EventKind::SchedulerRun {
                    signals: signals.len(),
                },
                _ => EventKind::Signal(signals[index - 1].clone()),
            },
        });
        Ok(SchedulerRun { at: now, signals })
    }

    /// Marks the service's process on the node as hung, so that it ignores
    /// SIGTERM from then on.
    pub fn hang(&mut self, service_id: &str, node_id: &str) -> Result<(), ProcessError> {
        infallible(self.hang_recorded(service_id, node_id, accept))
    }

    /// [`hang`](Self::hang) that first passes the change, when there is
    /// one, to `record`. When `record` fails, the state is unchanged and its
    /// error is returned.
    pub fn hang_recorded<E>(
        &mut self,
        service_id: &str,
        node_id: &str,
        record: impl FnOnce(&Change<'_>) -> Result<(), E>,
    ) -> Result<Result<(), ProcessError>, E> {
        let slot = match self.find_process(service_id, node_id) {
            Ok(slot) => slot,
            Err(error) => return Ok(Err(error)),
        };
        if live_row(&mut self.rows, slot).hung {
            return Ok(Ok(()));
        }
        record(&Change::Hang {
            service: service_id,
            node: node_id,
        })?;
        live_row(&mut self.rows, slot).hung = true;
        Ok(Ok(()))
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
        infallible(self.kill_recorded(service_id, node_id, now, accept))
    }

    /// [`kill`](Self::kill) that first passes the change to `record`. When
    /// `record` fails, the state is unchanged and its error is returned.
    pub fn kill_recorded<E>(
        &mut self,
        service_id: &str,
        node_id: &str,
        now: SystemTime,
        record: impl FnOnce(&Change<'_>) -> Result<(), E>,
    ) -> Result<Result<Process, ProcessError>, E> {
        let slot = match self.find_process(service_id, node_id) {
            Ok(slot) => slot,
            Err(error) => return Ok(Err(error)),
        };
        let pid = live_row(&mut self.rows, slot).pid;
        record(&Change::Kill {
            at: now,
            service: service_id,
            node: node_id,
            pid,
        })?;
        let row = self.rows[slot as usize]
            .take()
            .expect("an indexed slot contains a row");
        self.live -= 1;
        let slots = &mut self.by_service[row.service as usize];
        if let Ok(position) = slots.binary_search(&slot) {
            slots.remove(position);
        }
        self.compact_if_sparse();

        let process = self.process(&row);
        let kill = EventKind::Kill {
            service: process.service.clone(),
            node: process.node.clone(),
            pid: process.pid,
        };
        self.events.push(Event {
            at: now,
            kind: kill,
        });
        Ok(Ok(process))
    }

    /// Returns the service's active process on the node.
    pub fn process_of(&self, service_id: &str, node_id: &str) -> Result<Process, ProcessError> {
        let slot = self.find_process(service_id, node_id)?;
        let row = self.rows[slot as usize]
            .as_ref()
            .expect("an indexed slot contains a row");
        Ok(self.process(row))
    }

    /// Returns the slot of the service's active process on the node.
    fn find_process(&self, service_id: &str, node_id: &str) -> Result<u32, ProcessError> {
        let Some(service) = self.service(service_id) else {
            return Err(ProcessError::UnknownService(service_id.to_string()));
        };
        let Some(node) = self.node(node_id) else {
            return Err(ProcessError::UnknownNode(node_id.to_string()));
        };
        let mut slots = self.by_service[service].iter().copied();
        slots
            .find(|&slot| {
                let row = self.rows[slot as usize].as_ref();
                row.is_some_and(|row| row.node == node)
            })
            .ok_or_else(|| ProcessError::NoProcess {
                service: service_id.to_string(),
                node: node_id.to_string(),
            })
    }

    /// Drops the holes of removed rows once they outnumber the live rows,
    /// and renumbers the slots. Each compaction follows at least as many
    /// removals as it moves rows, so a removal costs O(1) amortized.
    fn compact_if_sparse(&mut self) {
        let holes = self.rows.len() - self.live;
        if holes < MIN_HOLES_TO_COMPACT || holes <= self.live {
            return;
        }
        self.rows.retain(Option::is_some);
        for slots in &mut self.by_service {
            slots.clear();
        }
        for (slot, row) in self.rows.iter().enumerate() {
            let row = row.as_ref().expect("compaction keeps live rows only");
            self.by_service[row.service as usize].push(slot as u32);
        }
    }

    fn process(&self, row: &Row) -> Process {
        Process {
            service: self.services[row.service as usize].id.clone(),
            node: self.nodes[row.node as usize].id.clone(),
            pid: row.pid,
            started_at: row.started_at.to_string(),
            terminate: row.terminate,
            hung: row.hung,
        }
    }
}

impl Row {
    fn sigterm_outcome(&self) -> SignalOutcome {
        if self.hung {
            SignalOutcome::Ignored
        } else {
            SignalOutcome::Terminated
        }
    }
}

/// Returns the row of a slot that a service's index lists.
fn live_row(rows: &mut [Option<Row>], slot: u32) -> &mut Row {
    rows[slot as usize]
        .as_mut()
        .expect("an indexed slot contains a row")
}

/// The active processes of a [`ClusterState`], in the order of the fixture.
/// Iterating yields each process as an owned [`Process`].
#[derive(Debug, Clone, Copy)]
pub struct Processes<'a> {
    state: &'a ClusterState,
}

impl<'a> Processes<'a> {
    pub fn len(&self) -> usize {
        self.state.live
    }

    pub fn is_empty(&self) -> bool {
        self.state.live == 0
    }

    /// Returns an iterator over copies of the processes.
    pub fn iter(&self) -> ProcessIter<'a> {
        ProcessIter {
            state: self.state,
            rows: self.state.rows.iter(),
        }
    }

    pub fn to_vec(&self) -> Vec<Process> {
        self.iter().collect()
    }
}

impl<'a> IntoIterator for Processes<'a> {
    type Item = Process;
    type IntoIter = ProcessIter<'a>;

    fn into_iter(self) -> ProcessIter<'a> {
        self.iter()
    }
}

/// Iterator of [`Processes`].
#[derive(Debug, Clone)]
pub struct ProcessIter<'a> {
    state: &'a ClusterState,
    rows: std::slice::Iter<'a, Option<Row>>,
}

impl Iterator for ProcessIter<'_> {
    type Item = Process;

    fn next(&mut self) -> Option<Process> {
        let row = self.rows.by_ref().flatten().next()?;
        Some(self.state.process(row))
    }
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

    fn find(state: &ClusterState, service: &str, node: &str) -> Option<Process> {
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

    /// A fixture of one service on `nodes` nodes, one process each.
    fn one_service_fixture(nodes: usize) -> Fixture {
        let node_ids: Vec<String> = (0..nodes).map(|index| format!("n{index}")).collect();
        Fixture {
            nodes: node_ids
                .iter()
                .map(|id| Node {
                    id: id.clone(),
                    name: id.clone(),
                })
                .collect(),
            services: vec![Service {
                id: "s".into(),
                name: "S".into(),
            }],
            processes: node_ids
                .iter()
                .enumerate()
                .map(|(index, node)| Process {
                    service: "s".into(),
                    node: node.clone(),
                    pid: index as u32 + 1,
                    started_at: "2026-11-30T08:00:00Z".into(),
                    terminate: false,
                    hung: false,
                })
                .collect(),
            scheduler_service: None,
        }
    }

    #[test]
    fn compaction_keeps_order_and_index() {
        let mut state = ClusterState::from_fixture(one_service_fixture(3000)).unwrap();
        // Kills leave holes until they outnumber the live rows, then the
        // slab compacts; a scheduler run removes rows the same way.
        for node in (0..3000).filter(|node| node % 3 != 0) {
            state.kill("s", &format!("n{node}"), at(1)).unwrap();
        }
        assert_eq!(state.processes().len(), 1000);
        assert_eq!(state.mark_terminate("s", Some("n3")), Ok(1));
        assert_eq!(state.run_scheduler(at(2)).terminated(), 1);
        assert_eq!(state.mark_terminate("s", None), Ok(999));
        assert_eq!(state.hang("s", "n2997"), Ok(()));
        let run = state.run_scheduler(at(3));
        assert_eq!((run.terminated(), run.ignored()), (998, 1));
        let left: Vec<(u32, bool)> = state
            .processes()
            .iter()
            .map(|process| (process.pid, process.hung))
            .collect();
        assert_eq!(left, [(2998, true)], "pids are node numbers plus one");
        assert_eq!(
            state.kill("s", "n3", at(4)).map(|process| process.pid),
            Err(ProcessError::NoProcess {
                service: "s".into(),
                node: "n3".into(),
            })
        );
        assert_eq!(state.kill("s", "n2997", at(4)).map(|p| p.pid), Ok(2998));
        assert!(state.processes().is_empty());
        assert_eq!(state.mark_terminate("s", None), Ok(0));
    }

    #[test]
    fn fixture_names_unknown_node() {
        let fixture = "nodes: [{id: a, name: A}]\n\
                       services: [{id: s, name: S}]\n\
                       processes: [{service: s, node: b, pid: 1, started_at: 2026-11-30T08:00:00Z}]\n";
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

#[cfg(test)]
mod fixture_checks {
    use super::*;

    const BASE: &str = "nodes: [{id: a, name: A}, {id: b, name: B}]\n\
                        services: [{id: s, name: S}, {id: t, name: T}]\n\
                        processes:\n\
                        \x20 - {service: s, node: a, pid: 7, started_at: \"2026-11-30T08:00:00Z\"}\n";

    /// Loads `BASE` with `from` replaced by `to` and returns the error text.
    fn error_with(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "the base fixture contains {from:?}");
        match ClusterState::from_yaml(&BASE.replace(from, to)) {
            Ok(_) => panic!("replacing {from:?} with {to:?} must fail"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn base_fixture_loads() {
        ClusterState::from_yaml(BASE).expect("the base fixture is valid");
    }

    #[test]
    fn duplicate_pid_on_node_rejected() {
        let error = error_with(
            "processes:\n",
            "processes:\n  - {service: t, node: a, pid: 7, started_at: \"2026-11-30T08:00:00Z\"}\n",
        );
        assert!(error.contains("processes[1].pid"), "{error}");
        assert!(error.contains("pid 7 on node `a`"), "{error}");
    }

    #[test]
    fn same_pid_on_other_node_accepted() {
        let fixture = BASE.replace(
            "processes:\n",
            "processes:\n  - {service: t, node: b, pid: 7, started_at: \"2026-11-30T08:00:00Z\"}\n",
        );
        ClusterState::from_yaml(&fixture).expect("pids are per node");
    }

    #[test]
    fn bad_start_time_rejected() {
        let error = error_with("2026-11-30T08:00:00Z", "yesterday");
        assert!(error.contains("processes[0].started_at"), "{error}");
        assert!(error.contains("not an RFC 3339 time"), "{error}");
    }

    #[test]
    fn empty_ids_rejected() {
        let node = error_with("{id: a, name: A}", "{id: \"\", name: A}");
        assert!(node.contains("nodes[0].id"), "{node}");
        let service = error_with("{id: t, name: T}", "{id: \"\", name: T}");
        assert!(service.contains("services[1].id"), "{service}");
    }

    #[test]
    fn unknown_scheduler_service_rejected() {
        let error = error_with("processes:\n", "scheduler_service: nope\nprocesses:\n");
        assert!(error.contains("scheduler_service"), "{error}");
        assert!(error.contains("unknown service `nope`"), "{error}");
    }

    #[test]
    fn pid_zero_rejected() {
        let error = error_with("pid: 7", "pid: 0");
        assert!(error.contains("processes[0].pid"), "{error}");
    }

    #[test]
    fn rfc3339_accepts_and_rejects() {
        for valid in [
            "2026-11-30T08:00:00Z",
            "2026-11-30t08:00:00z",
            "2026-11-30T08:00:00.123Z",
            "2026-11-30T09:00:00+01:00",
            "2026-11-30T08:00:60Z",
        ] {
            assert!(is_rfc3339(valid), "{valid}");
        }
        for invalid in [
            "",
            "yesterday",
            "2026-11-30",
            "2026-11-30 08:00:00Z",
            "2026-13-30T08:00:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T08:00:00",
            "2026-11-30T08:00:00.Z",
            "2026-11-30T08:00:00+1:00",
            "2026-11-30T08:00:00+25:00",
        ] {
            assert!(!is_rfc3339(invalid), "{invalid}");
        }
    }
}

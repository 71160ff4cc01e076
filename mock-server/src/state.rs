//! The in-memory model of the cluster: nodes, system services and their
//! active processes, with the termination flag on each process.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

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

/// A fixture that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("invalid state fixture: {0}")]
    Syntax(#[from] serde_yaml::Error),
    #[error("invalid state fixture: {field}: {message}")]
    Invalid { field: String, message: String },
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

/// The cluster state that the mock serves.
#[derive(Debug, Clone)]
pub struct ClusterState {
    nodes: Vec<Node>,
    services: Vec<Service>,
    processes: Vec<Process>,
    scheduler_service: String,
    /// Indexes into `processes`, by service ID.
    by_service: HashMap<String, Vec<usize>>,
}

impl ClusterState {
    /// Loads the embedded default state.
    pub fn default_state() -> Self {
        Self::from_yaml(DEFAULT_STATE_YAML).expect("the embedded default state is valid")
    }

    /// Parses and checks a fixture in YAML or JSON (JSON is valid YAML).
    pub fn from_yaml(text: &str) -> Result<Self, FixtureError> {
        let fixture: Fixture = serde_yaml::from_str(text)?;
        Self::from_fixture(fixture)
    }

    /// Checks that IDs are unique and that every process names a known
    /// service and node.
    pub fn from_fixture(fixture: Fixture) -> Result<Self, FixtureError> {
        let invalid = |field: String, message: String| FixtureError::Invalid { field, message };

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
        let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
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
            by_service
                .entry(process.service.clone())
                .or_default()
                .push(index);
        }

        Ok(ClusterState {
            nodes: fixture.nodes,
            services: fixture.services,
            processes: fixture.processes,
            scheduler_service: fixture.scheduler_service,
            by_service,
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
        if !self.services.iter().any(|service| service.id == service_id) {
            return Err(TerminateError::UnknownService(service_id.to_string()));
        }
        if let Some(node_id) = node_id
            && !self.nodes.iter().any(|node| node.id == node_id)
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

    #[test]
    fn fixture_names_unknown_node() {
        let fixture = "nodes: [{id: a, name: A}]\n\
                       services: [{id: s, name: S}]\n\
                       processes: [{service: s, node: b, pid: 1, started_at: x}]\n";
        let error = ClusterState::from_yaml(fixture).unwrap_err().to_string();
        assert!(error.contains("processes[0].node"), "{error}");
        assert!(error.contains("unknown node `b`"), "{error}");
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

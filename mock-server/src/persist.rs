//! The `--persist` database: the cluster state, its flags and its event log
//! in an embedded SQLite database, so that they survive a restart.
//!
//! [`MockApi`](crate::MockApi) keeps serving reads from the in-memory
//! state. It passes each change to [`Store::record`], which writes it in one
//! SQLite transaction. It does so inside the lock of that state, before it
//! applies the change in memory and before the response is sent. When the
//! transaction fails, the change is not applied in memory either, so the two
//! never differ.
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`, so a
//! committed transaction has been written to the disk with `fsync` before
//! `record` returns. An acknowledged change therefore survives a crash or
//! kill of the process, and a crash of the operating system or a power loss
//! too, as far as the disk keeps what it reports as written. (NORMAL would
//! be enough for process crashes only, because the operating system keeps
//! the written WAL pages of a killed process.)

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::clock::MAX_TIME_SECS;
use crate::events::{Event, EventKind, EventLog, Signal, SignalOutcome};
use crate::state::{
    Change, ClusterState, DEFAULT_SCHEDULER_SERVICE, Fixture, Node, Process, Service,
};

/// Version of the tables below, kept in `cluster.schema_version`.
const SCHEMA_VERSION: i64 = 1;

/// The tables. `cluster` has one row, written in the same transaction as
/// the rest of the first save, so its presence means the file contains a state.
/// Processes and events are kept in order by `seq`.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    scheduler_service TEXT NOT NULL,
    event_capacity INTEGER NOT NULL,
    events_dropped INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS services (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS processes (
    seq INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    node TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    terminate INTEGER NOT NULL,
    hung INTEGER NOT NULL,
    UNIQUE (service, node)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at_secs INTEGER NOT NULL,
    at_nanos INTEGER NOT NULL,
    kind TEXT NOT NULL,
    signals INTEGER,
    service TEXT,
    node TEXT,
    pid INTEGER,
    outcome TEXT
);
";

/// A failure to read or write the database.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("SQLite: {0}")]
    Sqlite(rusqlite::Error),
    #[error("the database does not hold a valid state: {0}")]
    Invalid(String),
    #[error("the database does not match the in-memory state: {0}")]
    Mismatch(String),
    #[error("event time {0:?} is before 1970-01-01T00:00:00Z")]
    TimeBeforeEpoch(SystemTime),
}

impl From<rusqlite::Error> for PersistError {
    fn from(error: rusqlite::Error) -> Self {
        PersistError::Sqlite(error)
    }
}

/// An open `--persist` database.
///
/// The connection holds SQLite's exclusive lock from [`Store::open`] on, so
/// a second server on the same file fails to open it instead of writing
/// changes that the first one never reads.
#[derive(Debug)]
pub struct Store {
    connection: Connection,
    /// Capacity of the event log, as in the saved state.
    event_capacity: usize,
}

impl Store {
    /// Opens the database at `path`, creating the file when it does not
    /// exist, and returns the state it contains, if any. Save a state with
    /// [`Store::save`] when it contains none.
    pub fn open(path: &Path) -> Result<(Store, Option<ClusterState>), PersistError> {
        let connection = Connection::open(path)?;
        // A database locked by another server fails at once.
        connection.busy_timeout(Duration::ZERO)?;
        // Exclusive locking before WAL: no shared-memory index file, and the
        // lock is kept from the first transaction until the process ends.
        let locking: String =
            connection.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |row| row.get(0))?;
        let journal: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !locking.eq_ignore_ascii_case("exclusive") || !journal.eq_ignore_ascii_case("wal") {
            return Err(PersistError::Invalid(format!(
                "SQLite runs with locking_mode {locking} and journal_mode {journal}, \
                 not exclusive and wal"
            )));
        }
        // FULL: each commit is on the disk before it returns; see the module
        // documentation.
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
        let mut store = Store {
            connection,
            event_capacity: crate::events::DEFAULT_EVENT_CAPACITY,
        };
        let state = store.load()?;
        Ok((store, state))
    }

    /// Replaces the contents of the database with `state`, in one
    /// transaction.
    pub fn save(&mut self, state: &ClusterState) -> Result<(), PersistError> {
        let transaction = self.connection.transaction()?;
        transaction.execute_batch(SCHEMA)?;
        transaction.execute_batch(
            "DELETE FROM cluster; DELETE FROM nodes; DELETE FROM services; \
             DELETE FROM processes; DELETE FROM events;",
        )?;
        transaction.execute(
            "INSERT INTO cluster (id, schema_version, scheduler_service, event_capacity, \
             events_dropped) VALUES (1, ?1, ?2, ?3, ?4)",
            params![
                SCHEMA_VERSION,
                state.scheduler_service(),
                state.events().capacity() as i64,
                state.events().dropped() as i64,
            ],
        )?;
        {
            let mut insert_node = transaction
                .prepare("INSERT INTO nodes (position, id, name) VALUES (?1, ?2, ?3)")?;
            for (position, node) in state.nodes().iter().enumerate() {
                insert_node.execute(params![position as i64, node.id, node.name])?;
            }
            let mut insert_service = transaction
                .prepare("INSERT INTO services (position, id, name) VALUES (?1, ?2, ?3)")?;
            for (position, service) in state.services().iter().enumerate() {
                insert_service.execute(params![position as i64, service.id, service.name])?;
            }
            let mut insert_process = transaction.prepare(
                "INSERT INTO processes (service, node, pid, started_at, terminate, hung) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for process in state.processes() {
                insert_process.execute(params![
                    process.service,
                    process.node,
                    process.pid,
                    process.started_at,
                    process.terminate,
                    process.hung,
                ])?;
            }
        }
        for event in state.events().iter() {
            insert_event(&transaction, event.at, EventRow::of(&event.kind))?;
        }
        transaction.commit()?;
        self.event_capacity = state.events().capacity();
        Ok(())
    }

    /// Writes `change` in one transaction. Writes are proportional to the
    /// change: one row per flagged, hung or removed process and per event.
    /// On an error nothing is written.
    pub fn record(&mut self, change: &Change<'_>) -> Result<(), PersistError> {
        let capacity = self.event_capacity;
        let transaction = self.connection.transaction()?;
        let mut appended = 0_usize;
        let mut dropped = 0_u64;
        match change {
            Change::Flag { service, nodes } => {
                let mut flag = transaction.prepare_cached(
                    "UPDATE processes SET terminate = 1 \
                     WHERE service = ?1 AND node = ?2 AND terminate = 0",
                )?;
                for node in nodes {
                    one_row(flag.execute(params![service, node])?, service, node)?;
                }
            }
            Change::Hang { service, node } => {
                let mut hang = transaction.prepare_cached(
                    "UPDATE processes SET hung = 1 WHERE service = ?1 AND node = ?2 AND hung = 0",
                )?;
                one_row(hang.execute(params![service, node])?, service, node)?;
            }
            Change::SchedulerRun { at, signals } => {
                {
                    let mut remove = transaction.prepare_cached(
                        "DELETE FROM processes WHERE service = ?1 AND node = ?2 AND terminate = 1",
                    )?;
                    for signal in signals.iter() {
                        if signal.outcome == SignalOutcome::Terminated {
                            let removed = remove.execute(params![signal.service, signal.node])?;
                            one_row(removed, &signal.service, &signal.node)?;
                        }
                    }
                }
                // As `EventLog::push_many`: events that the log would drop at
                // once are counted as dropped without being written.
                let count = 1 + signals.len();
                let first_kept = count.saturating_sub(capacity);
                dropped += first_kept as u64;
                for index in first_kept..count {
                    let row = match index {
                        0 => EventRow::run(signals.len()),
                        _ => EventRow::signal(&signals[index - 1]),
                    };
                    insert_event(&transaction, *at, row)?;
                    appended += 1;
                }
            }
            Change::Kill {
                at,
                service,
                node,
                pid,
            } => {
                {
                    let mut remove = transaction
                        .prepare_cached("DELETE FROM processes WHERE service = ?1 AND node = ?2")?;
                    one_row(remove.execute(params![service, node])?, service, node)?;
                }
                let row = EventRow {
                    kind: "kill",
                    signals: None,
                    service: Some(service),
                    node: Some(node),
                    pid: Some(*pid),
                    outcome: None,
                };
                insert_event(&transaction, *at, row)?;
                appended += 1;
            }
        }
        if appended > 0 {
            let mut prune = transaction.prepare_cached(
                "DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?1",
            )?;
            dropped += prune.execute(params![capacity as i64])? as u64;
        }
        if dropped > 0 {
            let mut count = transaction.prepare_cached(
                "UPDATE cluster SET events_dropped = events_dropped + ?1 WHERE id = 1",
            )?;
            count.execute(params![dropped as i64])?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Reads the state, or returns `None` when the database contains none.
    fn load(&mut self) -> Result<Option<ClusterState>, PersistError> {
        let connection = &self.connection;
        let has_cluster: bool = connection.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'cluster'",
            [],
            |row| row.get(0),
        )?;
        if !has_cluster {
            return Ok(None);
        }
        let cluster = connection
            .query_row(
                "SELECT schema_version, scheduler_service, event_capacity, events_dropped \
                 FROM cluster WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((version, scheduler_service, capacity, dropped)) = cluster else {
            return Ok(None);
        };
        if version != SCHEMA_VERSION {
            return Err(PersistError::Invalid(format!(
                "schema version {version}; this server reads version {SCHEMA_VERSION}"
            )));
        }
        let (Ok(capacity), Ok(dropped)) = (usize::try_from(capacity), u64::try_from(dropped))
        else {
            return Err(PersistError::Invalid(format!(
                "negative event capacity {capacity} or dropped count {dropped}"
            )));
        };

        let named = |table: &str| -> Result<Vec<(String, String)>, PersistError> {
            let mut query =
                connection.prepare(&format!("SELECT id, name FROM {table} ORDER BY position"))?;
            let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let nodes: Vec<Node> = named("nodes")?
            .into_iter()
            .map(|(id, name)| Node { id, name })
            .collect();
        let services: Vec<Service> = named("services")?
            .into_iter()
            .map(|(id, name)| Service { id, name })
            .collect();
        let processes = {
            let mut query = connection.prepare(
                "SELECT service, node, pid, started_at, terminate, hung FROM processes \
                 ORDER BY seq",
            )?;
            let rows = query.query_map([], |row| {
                Ok(Process {
                    service: row.get(0)?,
                    node: row.get(1)?,
                    pid: row.get(2)?,
                    started_at: row.get(3)?,
                    terminate: row.get(4)?,
                    hung: row.get(5)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let events = {
            let mut query = connection.prepare(
                "SELECT at_secs, at_nanos, kind, signals, service, node, pid, outcome \
                 FROM events ORDER BY seq",
            )?;
            let mut rows = query.query([])?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                events.push(read_event(row)?);
            }
            events
        };

        let scheduler_named = services.iter().any(|s| s.id == scheduler_service);
        let scheduler_service = if scheduler_named {
            Some(scheduler_service)
        } else if scheduler_service == DEFAULT_SCHEDULER_SERVICE {
            None
        } else {
            return Err(PersistError::Invalid(format!(
                "scheduler service `{scheduler_service}` is not one of the services"
            )));
        };
        let fixture = Fixture {
            nodes,
            services,
            processes,
            scheduler_service,
        };
        let mut state = ClusterState::from_fixture(fixture)
            .map_err(|error| PersistError::Invalid(error.to_string()))?;
        state.set_events(EventLog::restore(capacity, events, dropped));
        self.event_capacity = capacity;
        Ok(Some(state))
    }

    /// Returns the connection, for tests that make writes fail.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Checks that a statement on one process changed exactly one row.
fn one_row(changed: usize, service: &str, node: &str) -> Result<(), PersistError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(PersistError::Mismatch(format!(
            "{changed} rows changed for the process of service `{service}` on node `{node}`, \
             expected 1"
        )))
    }
}

/// The columns of an event other than its time.
struct EventRow<'a> {
    kind: &'static str,
    signals: Option<usize>,
    service: Option<&'a str>,
    node: Option<&'a str>,
    pid: Option<u32>,
    outcome: Option<&'static str>,
}

impl<'a> EventRow<'a> {
    fn run(signals: usize) -> Self {
        EventRow {
            kind: "scheduler_run",
            signals: Some(signals),
            service: None,
            node: None,
            pid: None,
            outcome: None,
        }
    }

    fn signal(signal: &'a Signal) -> Self {
        EventRow {
            kind: "signal",
            signals: None,
            service: Some(&signal.service),
            node: Some(&signal.node),
            pid: Some(signal.pid),
            outcome: Some(match signal.outcome {
                SignalOutcome::Terminated => "terminated",
                SignalOutcome::Ignored => "ignored",
            }),
        }
    }

    fn of(kind: &'a EventKind) -> Self {
        match kind {
            EventKind::SchedulerRun { signals } => EventRow::run(*signals),
            EventKind::Signal(signal) => EventRow::signal(signal),
            EventKind::Kill { service, node, pid } => EventRow {
                kind: "kill",
                signals: None,
                service: Some(service),
                node: Some(node),
                pid: Some(*pid),
                outcome: None,
            },
        }
    }
}

fn insert_event(
    transaction: &Transaction<'_>,
    at: SystemTime,
    row: EventRow<'_>,
) -> Result<(), PersistError> {
    let since_epoch = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| PersistError::TimeBeforeEpoch(at))?;
    let mut insert = transaction.prepare_cached(
        "INSERT INTO events (at_secs, at_nanos, kind, signals, service, node, pid, outcome) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    insert.execute(params![
        since_epoch.as_secs() as i64,
        since_epoch.subsec_nanos(),
        row.kind,
        row.signals.map(|signals| signals as i64),
        row.service,
        row.node,
        row.pid,
        row.outcome,
    ])?;
    Ok(())
}

fn read_event(row: &rusqlite::Row<'_>) -> Result<Event, PersistError> {
    let secs: i64 = row.get(0)?;
    let nanos: u32 = row.get(1)?;
    let kind: String = row.get(2)?;
    let signals: Option<i64> = row.get(3)?;
    let service: Option<String> = row.get(4)?;
    let node: Option<String> = row.get(5)?;
    let pid: Option<u32> = row.get(6)?;
    let outcome: Option<String> = row.get(7)?;

    let invalid = || PersistError::Invalid(format!("event `{kind}` at {secs}.{nanos:09}"));
    let secs = u64::try_from(secs).map_err(|_| invalid())?;
    if nanos >= 1_000_000_000 {
        return Err(invalid());
    }
    if secs > MAX_TIME_SECS {
        return Err(PersistError::Invalid(format!(
            "event `{kind}` at {secs} seconds after the epoch is later than \
             9999-12-31T23:59:59Z; remove the database file to start again from the fixture"
        )));
    }
    let at = UNIX_EPOCH + Duration::new(secs, nanos);

    let kind = match (kind.as_str(), signals, service, node, pid, outcome) {
        ("scheduler_run", Some(signals), None, None, None, None) => EventKind::SchedulerRun {
            signals: usize::try_from(signals).map_err(|_| invalid())?,
        },
        ("signal", None, Some(service), Some(node), Some(pid), Some(outcome)) => {
            let outcome = match outcome.as_str() {
                "terminated" => SignalOutcome::Terminated,
                "ignored" => SignalOutcome::Ignored,
                _ => return Err(invalid()),
            };
            EventKind::Signal(Signal {
                service,
                node,
                pid,
                outcome,
            })
        }
        ("kill", None, Some(service), Some(node), Some(pid), None) => {
            EventKind::Kill { service, node, pid }
        }
        _ => return Err(invalid()),
    };

    Ok(Event { at, kind })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use system_services_server::types::TerminateRequest;
    use system_services_server::{Api, ApiKey, MarkTerminateRequest, MarkTerminateResponse};

    use super::*;
    use crate::MockApi;
    use crate::clock::ManualClock;

    const START: Duration = Duration::from_secs(1_796_025_600);

    /// Opens a new database in `dir` and saves `state` to it.
    fn create(dir: &tempfile::TempDir, state: &ClusterState) -> Store {
        let (mut store, saved) = Store::open(&dir.path().join("state.db")).expect("open");
        assert!(saved.is_none(), "a new database contains no state");
        store.save(state).expect("save");
        store
    }

    fn reopen(dir: &tempfile::TempDir) -> (Store, ClusterState) {
        let (store, saved) = Store::open(&dir.path().join("state.db")).expect("reopen");
        (store, saved.expect("the database contains a state"))
    }

    /// Returns everything a state contains, as comparable text.
    fn snapshot(state: &ClusterState) -> String {
        format!(
            "{:?}\n{:?}\n{}\n{:?}\n{:?}\n{}\n{}",
            state.nodes(),
            state.services(),
            state.scheduler_service(),
            state.processes().to_vec(),
            state.events().iter().collect::<Vec<_>>(),
            state.events().dropped(),
            state.events().capacity(),
        )
    }

    fn api(state: ClusterState, store: Store, clock: &Arc<ManualClock>) -> MockApi {
        MockApi::new(state, vec![])
            .with_store(store)
            .with_clock(clock.clone())
    }

    async fn terminate(api: &MockApi, service: &str, node: Option<&str>) -> MarkTerminateResponse {
        let request = MarkTerminateRequest {
            system_services_id: service.to_string(),
            api_key: ApiKey::Missing,
            body: TerminateRequest {
                nodes_id: node.map(|node| node.parse().expect("a node ID")),
            },
        };
        let context = system_services_server::RequestContext {
            peer: None,
            headers: Default::default(),
        };
        api.mark_terminate(&context, request).await
    }

    fn affected(response: MarkTerminateResponse) -> u64 {
        match response {
            MarkTerminateResponse::Ok(affected) => affected,
            other => panic!("expected a 200, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reopened_database_holds_identical_state_and_events() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let state = ClusterState::default_state();
        let store = create(&dir, &state);
        let api = api(state, store, &clock);

        assert_eq!(affected(terminate(&api, "cron", None).await), 2);
        assert_eq!(
            affected(terminate(&api, "web_server", Some("node-2")).await),
            1
        );
        assert_eq!(
            affected(terminate(&api, "web_server", Some("node-2")).await),
            0
        );
        assert_eq!(api.hang("web_server", "node-1"), Ok(()));
        assert_eq!(affected(terminate(&api, "mail_queue", None).await), 1);
        clock.advance(Duration::from_millis(60_250));
        assert_eq!(api.run_scheduler().terminated(), 3);
        clock.advance(Duration::from_secs(5));
        assert_eq!(api.kill("mail_queue", "node-2").map(|p| p.pid), Ok(2533));
        assert_eq!(affected(terminate(&api, "web_server", None).await), 2);
        clock.advance(Duration::from_secs(60));
        let run = api.run_scheduler();
        assert_eq!((run.terminated(), run.ignored()), (1, 1));
        let before = api.with_state(snapshot);
        drop(api);

        let (store, reloaded) = reopen(&dir);
        assert_eq!(snapshot(&reloaded), before);
        assert_eq!(reloaded.events().len(), 9);

        // The reloaded state goes on recording changes.
        let api = MockApi::new(reloaded, vec![])
            .with_store(store)
            .with_clock(clock.clone());
        clock.advance(Duration::from_secs(60));
        assert_eq!(api.kill("web_server", "node-1").map(|p| p.pid), Ok(1422));
        let before = api.with_state(snapshot);
        drop(api);
        assert_eq!(snapshot(&reopen(&dir).1), before);
    }

    #[tokio::test]
    async fn full_log_drops_same_events_on_disk() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let mut state = ClusterState::default_state();
        state.set_events(EventLog::with_capacity(3));
        let store = create(&dir, &state);
        let api = api(state, store, &clock);

        api.run_scheduler();
        api.run_scheduler();
        assert_eq!(affected(terminate(&api, "cron", None).await), 2);
        assert_eq!(affected(terminate(&api, "web_server", None).await), 3);
        // Six events: the log drops its two and the first three new ones.
        assert_eq!(api.run_scheduler().terminated(), 5);
        assert_eq!(api.with_state(|state| state.events().dropped()), 5);
        clock.advance(Duration::from_secs(1));
        assert_eq!(api.kill("mail_queue", "node-2").map(|p| p.pid), Ok(2533));
        assert_eq!(api.with_state(|state| state.events().dropped()), 6);
        let before = api.with_state(snapshot);
        drop(api);
        assert_eq!(snapshot(&reopen(&dir).1), before);
    }

    #[tokio::test]
    async fn failed_write_is_a_500_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let state = ClusterState::default_state();
        let store = create(&dir, &state);
        store
            .connection()
            .execute_batch(
                "CREATE TRIGGER reject_flags BEFORE UPDATE ON processes \
                 BEGIN SELECT RAISE(ABORT, 'rejected'); END; \
                 CREATE TRIGGER reject_events BEFORE INSERT ON events \
                 BEGIN SELECT RAISE(ABORT, 'rejected'); END;",
            )
            .expect("create the triggers");
        let api = api(state, store, &clock);
        let before = api.with_state(snapshot);

        match terminate(&api, "cron", None).await {
            MarkTerminateResponse::InternalServerError(error) => {
                assert_eq!(error.error.message, crate::INTERNAL_ERROR_MESSAGE);
                let data = error.error.data.expect("error data");
                assert!(data.extra.contains_key("error_id"), "{data:?}");
            }
            other => panic!("expected a 500, got {other:?}"),
        }
        assert!(matches!(
            api.try_hang("cron", "node-1"),
            Err(PersistError::Sqlite(_))
        ));
        assert!(api.try_run_scheduler().is_err());
        assert!(api.try_kill("cron", "node-1").is_err());
        assert_eq!(api.with_state(snapshot), before);
        // Errors that need no write still get their response.
        assert!(matches!(
            terminate(&api, "nope", None).await,
            MarkTerminateResponse::NotFound(_)
        ));
        drop(api);
        assert_eq!(snapshot(&reopen(&dir).1), before);
    }

    #[test]
    fn second_server_cannot_open_the_database() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let _first = create(&dir, &ClusterState::default_state());
        let second = Store::open(&dir.path().join("state.db"));
        assert!(second.is_err(), "the first store holds the lock");
    }

    #[test]
    fn file_that_is_not_a_database_is_left_alone() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("notes.txt");
        let text = "not a database, and long enough to fill a header page of SQLite\n";
        std::fs::write(&path, text.repeat(20)).expect("write the file");
        assert!(Store::open(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text.repeat(20));
    }

    #[test]
    fn event_after_year_9999_fails_to_load() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = create(&dir, &ClusterState::default_state());
        store
            .connection()
            .execute(
                "INSERT INTO events (at_secs, at_nanos, kind, signals) \
                 VALUES (?1, 0, 'scheduler_run', 0)",
                [MAX_TIME_SECS as i64 + 1],
            )
            .expect("insert the event");
        drop(store);
        let error = Store::open(&dir.path().join("state.db")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("later than 9999-12-31T23:59:59Z"),
            "{message}"
        );
    }
}

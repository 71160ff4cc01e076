//! The mock's implementation of the generated `Api` trait.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use system_services_server::types::{Error, ErrorBody, ErrorData};
use system_services_server::{
    Api, ApiKey, MarkTerminateRequest, MarkTerminateResponse, RequestContext,
};

use crate::auth::AuthPolicy;
use crate::clock::{Clock, SystemClock};
use crate::events::Event;
use crate::persist::{PersistError, Store};
use crate::state::{Change, ClusterState, Process, ProcessError, SchedulerRun, TerminateError};

/// The header that carries the API key.
const API_KEY_HEADER: &str = "X-Api-Key";

/// Error code of every rejected API key.
pub const AUTH_FAILED_CODE: &str = "utoken-auth-failed";

/// Error code of a 404.
pub const NOT_FOUND_CODE: &str = "not_found";

/// Error code of the 422 for a terminate call on the Tasks Scheduler.
pub const SCHEDULER_ITSELF_CODE: &str = "system_services-scheduler-self-terminate";

/// The mock API: cluster state behind a lock, the accepted API keys, and
/// the clock that times scheduler runs and kills.
pub struct MockApi {
    state: Mutex<Guarded>,
    auth: AuthPolicy,
    clock: Arc<dyn Clock>,
}

/// The contents of the lock of [`MockApi`]: the state that reads use, and
/// the database that each change is written to first, if persistence is on.
struct Guarded {
    state: ClusterState,
    store: Option<Store>,
}

impl Guarded {
    /// Writes `change` to the database, if there is one.
    fn record(store: &mut Option<Store>, change: &Change<'_>) -> Result<(), PersistError> {
        match store {
            Some(store) => store.record(change),
            None => Ok(()),
        }
    }
}

impl MockApi {
    /// Creates the API on the system clock.
    pub fn new(state: ClusterState, auth: impl Into<AuthPolicy>) -> Self {
        MockApi {
            state: Mutex::new(Guarded { state, store: None }),
            auth: auth.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Writes each change to `store` before applying it, in the same
    /// critical section. `store` must hold the state of this API: the one
    /// that [`Store::open`] returned, or one saved with [`Store::save`].
    pub fn with_store(self, store: Store) -> Self {
        let mut guarded = self
            .state
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guarded.store = Some(store);
        MockApi {
            state: Mutex::new(guarded),
            ..self
        }
    }

    /// Replaces the clock, for example with a `ManualClock` in tests.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs the Tasks Scheduler once, at the clock's current time.
    ///
    /// # Panics
    ///
    /// Panics when the persistence database rejects the change; see
    /// [`try_run_scheduler`](Self::try_run_scheduler).
    pub fn run_scheduler(&self) -> SchedulerRun {
        self.try_run_scheduler()
            .unwrap_or_else(|error| panic!("cannot persist the scheduler run: {error}"))
    }

    /// Runs the Tasks Scheduler once, at the clock's current time. When the
    /// persistence database rejects the change, nothing changes.
    pub fn try_run_scheduler(&self) -> Result<SchedulerRun, PersistError> {
        let now = self.clock.now();
        let guarded = &mut *self.lock_state();
        let store = &mut guarded.store;
        guarded
            .state
            .run_scheduler_recorded(now, |change| Guarded::record(store, change))
    }

    /// Marks a process as hung, as [`ClusterState::hang`] does.
    ///
    /// # Panics
    ///
    /// Panics when the persistence database rejects the change; see
    /// [`try_hang`](Self::try_hang).
    pub fn hang(&self, service_id: &str, node_id: &str) -> Result<(), ProcessError> {
        self.try_hang(service_id, node_id)
            .unwrap_or_else(|error| panic!("cannot persist the hang: {error}"))
    }

    /// Marks a process as hung. When the persistence database rejects the
    /// change, nothing changes.
    pub fn try_hang(
        &self,
        service_id: &str,
        node_id: &str,
    ) -> Result<Result<(), ProcessError>, PersistError> {
        let guarded = &mut *self.lock_state();
        let store = &mut guarded.store;
        guarded
            .state
            .hang_recorded(service_id, node_id, |change| Guarded::record(store, change))
    }

    /// Kills a process from a shell on its node, as [`ClusterState::kill`]
    /// does, at the clock's current time.
    ///
    /// # Panics
    ///
    /// Panics when the persistence database rejects the change; see
    /// [`try_kill`](Self::try_kill).
    pub fn kill(&self, service_id: &str, node_id: &str) -> Result<Process, ProcessError> {
        self.try_kill(service_id, node_id)
            .unwrap_or_else(|error| panic!("cannot persist the kill: {error}"))
    }

    /// Kills a process at the clock's current time. When the persistence
    /// database rejects the change, nothing changes.
    pub fn try_kill(
        &self,
        service_id: &str,
        node_id: &str,
    ) -> Result<Result<Process, ProcessError>, PersistError> {
        let now = self.clock.now();
        let guarded = &mut *self.lock_state();
        let store = &mut guarded.store;
        guarded
            .state
            .kill_recorded(service_id, node_id, now, |change| {
                Guarded::record(store, change)
            })
    }

    /// Returns a copy of the event log, oldest event first.
    pub fn events(&self) -> Vec<Event> {
        self.with_state(|state| state.events().iter().cloned().collect())
    }

    /// Returns whether the `X-Api-Key` header in `headers` of a request from
    /// `peer` passes [`Api::authenticate`]. It logs no rejection, because the
    /// operation that runs next logs it.
    pub(crate) fn accepts_key(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        let api_key = ApiKey::from_headers(headers, API_KEY_HEADER);
        self.auth.check(&api_key, peer, headers).is_ok()
    }

    /// Runs `read` on the current state.
    pub fn with_state<T>(&self, read: impl FnOnce(&ClusterState) -> T) -> T {
        read(&self.lock_state().state)
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, Guarded> {
        // A poisoned lock still holds a consistent state, because no update
        // panics part-way: updates flip flags, remove processes and rebuild
        // the index right after, and append events. A panic in a database
        // write comes before the in-memory change, and drops the open
        // transaction, which rolls it back.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Api for MockApi {
    fn authenticate(&self, context: &RequestContext, api_key: &ApiKey) -> Result<(), Error> {
        let peer = context.peer.map(|address| address.ip());
        let Err(reason) = self.auth.check(api_key, peer, &context.headers) else {
            return Ok(());
        };
        tracing::info!(%reason, peer = peer.map(tracing::field::display), "API key rejected");
        Err(coded_error(
            AUTH_FAILED_CODE,
            &format!("Authentication Failed: {reason}"),
        ))
    }

    async fn mark_terminate(
        &self,
        _context: &RequestContext,
        request: MarkTerminateRequest,
    ) -> MarkTerminateResponse {
        let node = request.body.nodes_id.as_ref().map(|node| node.as_str());
        let result = {
            let guarded = &mut *self.lock_state();
            let store = &mut guarded.store;
            guarded
                .state
                .mark_terminate_recorded(&request.system_services_id, node, |change| {
                    Guarded::record(store, change)
                })
        };
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                return MarkTerminateResponse::InternalServerError(crate::internal_error(
                    &format_args!("cannot persist the terminate call: {error}"),
                ));
            }
        };
        match result {
            Ok(affected) => MarkTerminateResponse::Ok(affected),
            Err(TerminateError::UnknownService(id)) => {
                MarkTerminateResponse::NotFound(not_found("system_services", &id))
            }
            Err(TerminateError::UnknownNode(id)) => {
                MarkTerminateResponse::NotFound(not_found("nodes", &id))
            }
            Err(TerminateError::SchedulerItself(_)) => {
                MarkTerminateResponse::UnprocessableEntity(coded_error(
                    SCHEDULER_ITSELF_CODE,
                    "The Tasks Scheduler processes termination flags and cannot flag itself",
                ))
            }
        }
    }
}

/// Builds an error whose `message` is `<code>: <message>`.
fn coded_error(code: &str, message: &str) -> Error {
    error_body(
        format!("{code}: {message}"),
        ErrorData {
            code: Some(code.to_string()),
            message: Some(message.to_string()),
            object_id: None,
            object_name: None,
            extra: BTreeMap::new(),
        },
    )
}

/// Builds the 404 for the object `object_name(object_id)`.
fn not_found(object_name: &str, object_id: &str) -> Error {
    let message = format!("Object \"{object_name}({object_id})\" was not found!");
    let mut error = coded_error(NOT_FOUND_CODE, &message);
    if let Some(data) = &mut error.error.data {
        data.object_name = Some(object_name.to_string());
        data.object_id = Some(object_id.to_string());
    }
    error
}

fn error_body(message: String, data: ErrorData) -> Error {
    Error {
        error: ErrorBody {
            message,
            data: Some(data),
        },
    }
}

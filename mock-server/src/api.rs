//! The mock's implementation of the generated `Api` trait.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::Response;
use system_services_server::types::{Error, ErrorBody, ErrorData};
use system_services_server::{
    Api, ApiKey, MarkTerminateRequest, MarkTerminateResponse, RequestContext,
};
use system_services_server::{CallError, jsonrpc};

use crate::any_spec::AnySpec;
use crate::auth::{AuthError, AuthPolicy};
use crate::clock::{Clock, SystemClock};
use crate::control_auth::{ControlAccess, ControlAuthError, ControlToken};
use crate::events::Event;
use crate::faults::Faults;
use crate::journal::Journal;
use crate::persist::{PersistError, Store};
use crate::routed::MatchedRoute;
use crate::scheduler::DEFAULT_INTERVAL;
use crate::sessions::{
    SESSION_HEADER, SESSION_HEADER_NAME, SessionError, SessionLimits, Sessions, name_from_headers,
    session_limit_message,
};
use crate::state::{ClusterState, Process, ProcessError, SchedulerRun, TerminateError};

/// The header that carries the API key, parsed once rather than per lookup.
static API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// Error code of every rejected API key.
pub const AUTH_FAILED_CODE: &str = "utoken-auth-failed";

/// Error code of a 404.
pub const NOT_FOUND_CODE: &str = "not_found";

/// Error code of the 422 for a request that would start one session too
/// many.
pub const SESSION_LIMIT_CODE: &str = "mock-session-limit";

/// Error code of the 422 for a terminate call on the Tasks Scheduler.
pub const SCHEDULER_ITSELF_CODE: &str = "system_services-scheduler-self-terminate";

/// The mock API: the shared cluster state and the sessions, the accepted
/// API keys, and the clock that times scheduler runs and kills.
pub struct MockApi {
    sessions: Sessions,
    options: SessionOptions,
    auth: AuthPolicy,
    control: ControlAccess,
    /// The other OpenAPI document that the mock serves, if any.
    spec: Option<Arc<AnySpec>>,
}

/// The options that [`Sessions`] is built with.
#[derive(Clone)]
struct SessionOptions {
    clock: Arc<dyn Clock>,
    interval: Duration,
    limits: SessionLimits,
    /// The journal and the faults, which keep data for the sessions of the
    /// registry and forget a session when it ends.
    journal: Arc<Journal>,
    faults: Arc<Faults>,
}

impl MockApi {
    /// Creates the API on the system clock, with scheduled runs every
    /// [`DEFAULT_INTERVAL`] and the default [`SessionLimits`]. Sessions
    /// and resets start on `state` without its events.
    pub fn new(state: ClusterState, auth: impl Into<AuthPolicy>) -> Self {
        let options = SessionOptions {
            clock: Arc::new(SystemClock),
            interval: DEFAULT_INTERVAL,
            limits: SessionLimits::default(),
            journal: Arc::new(Journal::default()),
            faults: Arc::new(Faults::new(0)),
        };
        MockApi {
            sessions: build_sessions(&state, state.clone(), None, &options),
            options,
            auth: auth.into(),
            control: ControlAccess::default(),
            spec: None,
        }
    }

    /// Serves the operations of `spec` too ([`AnySpec`]).
    pub fn with_spec(mut self, spec: AnySpec) -> Self {
        self.spec = Some(Arc::new(spec));
        self.redact_spec_secrets();
        self
    }

    /// Makes the journal redact the credentials of the loaded document.
    fn redact_spec_secrets(&self) {
        if let Some(spec) = &self.spec {
            self.options.journal.redact_also(spec.secrets());
        }
    }

    /// Returns the other OpenAPI document that the mock serves, if any.
    pub(crate) fn spec(&self) -> Option<&Arc<AnySpec>> {
        self.spec.as_ref()
    }

    /// Checks `api_key`, sent by `peer`, against the mock's API keys.
    pub(crate) fn check_api_key(
        &self,
        api_key: &ApiKey,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<(), AuthError> {
        self.auth.check(api_key, peer, headers)
    }

    /// Requires `token` on every request to the control API. Without a
    /// token, the control API serves loopback clients only.
    pub fn with_control_token(mut self, token: Option<ControlToken>) -> Self {
        self.control = ControlAccess::new(token);
        self
    }

    /// Returns who may use the control API.
    pub fn control_access(&self) -> &ControlAccess {
        &self.control
    }

    /// Checks a control request from the socket peer `peer` with
    /// [`ControlAccess::check`]. Behind a `--trusted-proxy`, the client is
    /// the one that `X-Forwarded-For` names, so a proxy on the loopback
    /// interface does not make its remote clients local.
    pub(crate) fn check_control(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<(), ControlAuthError> {
        let client = peer.and_then(|peer| self.auth.client_ip(peer, headers));
        self.control.check(client, headers)
    }

    /// Writes each change of the shared state to `store` before applying
    /// it, in the same critical section. `store` must hold the shared
    /// state: the one that [`Store::open`] returned, or one saved with
    /// [`Store::save`].
    pub fn with_store(self, store: Store) -> Self {
        self.rebuild(|_, _, saved| *saved = Some(store))
    }

    /// Replaces the clock, for example with a `ManualClock` in tests.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.rebuild(|options, _, _| options.clock = clock)
    }

    /// Sets the time between two scheduled runs of the Tasks Scheduler;
    /// zero turns them off. The first run is one interval from now.
    pub fn with_scheduler_interval(self, interval: Duration) -> Self {
        self.rebuild(|options, _, _| options.interval = interval)
    }

    /// Sets the session limit and the idle timeout.
    pub fn with_session_limits(self, limits: SessionLimits) -> Self {
        self.rebuild(|options, _, _| options.limits = limits)
    }

    /// Replaces the journal of the API's requests, which by default keeps
    /// [`journal::DEFAULT_LIMIT`](crate::journal::DEFAULT_LIMIT) entries.
    pub fn with_journal(self, journal: Journal) -> Self {
        let api = self.rebuild(|options, _, _| options.journal = Arc::new(journal));
        api.redact_spec_secrets();
        api
    }

    /// Replaces the faults injected into the API's responses, which by
    /// default draw from the seed 0.
    pub fn with_faults(self, faults: Faults) -> Self {
        self.rebuild(|options, _, _| options.faults = Arc::new(faults))
    }

    /// Returns the journal of the API's requests.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.options.journal
    }

    /// Returns the faults injected into the API's responses.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.options.faults
    }

    /// Sets the state that sessions start on and a reset restores, when
    /// it is not the shared state the API was created with, as for a
    /// state loaded from a database.
    pub fn with_initial_state(self, initial: ClusterState) -> Self {
        self.rebuild(|_, start, _| *start = initial)
    }

    /// Rebuilds the sessions after `change` edits the options, the
    /// initial state or the database.
    fn rebuild(
        self,
        change: impl FnOnce(&mut SessionOptions, &mut ClusterState, &mut Option<Store>),
    ) -> Self {
        let MockApi {
            sessions,
            mut options,
            auth,
            control,
            spec,
        } = self;
        let (mut initial, shared, mut store) = sessions.into_parts();
        change(&mut options, &mut initial, &mut store);
        MockApi {
            sessions: build_sessions(&initial, shared, store, &options),
            options,
            auth,
            control,
            spec,
        }
    }

    /// Returns the shared state and the sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Returns the time between two scheduled runs; zero when they are off.
    pub fn scheduler_interval(&self) -> Duration {
        self.options.interval
    }

    /// Runs the Tasks Scheduler of the shared state once, at its clock.
    ///
    /// # Panics
    ///
    /// Panics when the persistence database rejects the change; see
    /// [`try_run_scheduler`](Self::try_run_scheduler).
    pub fn run_scheduler(&self) -> SchedulerRun {
        self.try_run_scheduler()
            .unwrap_or_else(|error| panic!("cannot persist the scheduler run: {error}"))
    }

    /// Runs the Tasks Scheduler of the shared state once, at its clock.
    /// When the persistence database rejects the change, nothing changes.
    pub fn try_run_scheduler(&self) -> Result<SchedulerRun, PersistError> {
        self.sessions.shared().run_scheduler()
    }

    /// Marks a process of the shared state as hung, as
    /// [`ClusterState::hang`] does.
    ///
    /// # Panics
    ///
    /// Panics when the persistence database rejects the change; see
    /// [`try_hang`](Self::try_hang).
    pub fn hang(&self, service_id: &str, node_id: &str) -> Result<(), ProcessError> {
        self.try_hang(service_id, node_id)
            .unwrap_or_else(|error| panic!("cannot persist the hang: {error}"))
    }

    /// Marks a process of the shared state as hung. When the persistence
    /// database rejects the change, nothing changes.
    pub fn try_hang(
        &self,
        service_id: &str,
        node_id: &str,
    ) -> Result<Result<(), ProcessError>, PersistError> {
        let hung = self.sessions.shared().hang(service_id, node_id)?;
        Ok(hung.map(|_| ()))
    }

    /// Kills a process of the shared state from a shell on its node, as
    /// [`ClusterState::kill`] does, at the clock's current time.
    ///
    /// # Panics
    ///
    /// Panics when the persistence database rejects the change; see
    /// [`try_kill`](Self::try_kill).
    pub fn kill(&self, service_id: &str, node_id: &str) -> Result<Process, ProcessError> {
        self.try_kill(service_id, node_id)
            .unwrap_or_else(|error| panic!("cannot persist the kill: {error}"))
    }

    /// Kills a process of the shared state at the clock's current time.
    /// When the persistence database rejects the change, nothing changes.
    pub fn try_kill(
        &self,
        service_id: &str,
        node_id: &str,
    ) -> Result<Result<Process, ProcessError>, PersistError> {
        self.sessions.shared().kill(service_id, node_id)
    }

    /// Returns a copy of the event log of the shared state, oldest event
    /// first.
    pub fn events(&self) -> Vec<Event> {
        self.with_state(|state| state.events().iter().cloned().collect())
    }

    /// Returns whether the `X-Api-Key` header in `headers` of a request from
    /// `peer` passes [`Api::authenticate`]. It logs no rejection, because the
    /// operation that runs next logs it.
    pub(crate) fn accepts_key(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        let api_key = ApiKey::from_headers(headers, &API_KEY_HEADER);
        self.auth.check(&api_key, peer, headers).is_ok()
    }

    /// Returns whether the API key of `request` passes, as
    /// [`accepts_key`](Self::accepts_key) does for the request's peer. A
    /// request to an operation of the loaded document ([`AnySpec`]) must
    /// pass that operation's security requirement instead.
    pub(crate) fn accepts_request<B>(&self, request: &axum::http::Request<B>) -> bool {
        let peer = crate::telemetry::client_address(request).map(|address| address.ip());
        // The mock's own routes come first, and axum marks their requests
        // with the matched path.
        let loaded = self
            .spec
            .as_ref()
            .filter(|_| MatchedRoute::of(request).is_none())
            .and_then(|spec| {
                let (method, headers, uri) = (request.method(), request.headers(), request.uri());
                spec.accepts(self, peer, method, headers, uri)
            });
        loaded.unwrap_or_else(|| self.accepts_key(peer, request.headers()))
    }

    /// Starts the session that a request with an accepted key names, so
    /// that the session's journal shows the request even when it fails for
    /// another reason. A request whose key is rejected starts nothing.
    ///
    /// Returns the 400 of a JSON-RPC request with an accepted key and an
    /// invalid [`SESSION_HEADER`], so that no call of it runs, notifications
    /// included, and `None` for any other request.
    pub(crate) fn admit_session(&self, request: &Request) -> Option<Response> {
        // Without the header, the request uses the shared state, which
        // needs no start.
        if !crate::sessions::has_header(request.headers(), &SESSION_HEADER_NAME) {
            return None;
        }
        if !self.accepts_request(request) {
            return None;
        }
        let message = match name_from_headers(request.headers()) {
            Ok(name) => {
                // Over the session limit, the operation returns the 422.
                let _ = self.sessions.get(name);
                return None;
            }
            Err(error) => error.to_string(),
        };
        let path = MatchedRoute::of(request)?;
        let operation = crate::spec::document().operation(&path, request.method())?;
        if !operation.jsonrpc_endpoint {
            return None;
        }
        let body = invalid_field(SESSION_HEADER, message);
        let error = CallError::from_rest(jsonrpc::INVALID_PARAMS, &body);
        Some(jsonrpc::reject(StatusCode::BAD_REQUEST, error))
    }

    /// Runs `read` on the shared state.
    pub fn with_state<T>(&self, read: impl FnOnce(&ClusterState) -> T) -> T {
        self.sessions.shared().with_state(read)
    }
}

/// Builds the registry, and connects the journal and the faults to it.
fn build_sessions(
    initial: &ClusterState,
    shared: ClusterState,
    store: Option<Store>,
    options: &SessionOptions,
) -> Sessions {
    let sessions = Sessions::new(
        initial,
        shared,
        store,
        options.clock.clone(),
        options.interval,
        options.limits,
    );
    options.journal.set_sessions(sessions.exists_predicate());
    options.faults.set_sessions(sessions.exists_predicate());
    let (journal, faults) = (options.journal.clone(), options.faults.clone());
    sessions.on_end(Arc::new(move |name| {
        journal.remove_session(name);
        faults.remove_session(name);
    }));
    sessions
}

impl Api for MockApi {
    fn authenticate(&self, context: &RequestContext, api_key: &ApiKey) -> Result<(), Error> {
        let peer = crate::telemetry::client_ip(context.peer);
        let Err(reason) = self.auth.check(api_key, peer, &context.headers) else {
            return Ok(());
        };
        tracing::info!(
            request_id = crate::telemetry::request_id_field(),
            %reason,
            peer = peer.map(tracing::field::display),
            "API key rejected"
        );
        Err(coded_error(
            AUTH_FAILED_CODE,
            &format!("Authentication Failed: {reason}"),
        ))
    }

    async fn mark_terminate(
        &self,
        context: &RequestContext,
        request: MarkTerminateRequest,
    ) -> MarkTerminateResponse {
        let session = match self.sessions.for_headers(&context.headers) {
            Ok(session) => session,
            Err(SessionError::InvalidName(message)) => {
                return MarkTerminateResponse::BadRequest(invalid_field(SESSION_HEADER, message));
            }
            Err(SessionError::LimitReached(limit)) => {
                return MarkTerminateResponse::UnprocessableEntity(session_limit_error(limit));
            }
        };
        let node = request.body.nodes_id.as_ref().map(|node| node.as_str());
        let result = match session.mark_terminate(&request.system_services_id, node) {
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

/// Builds the 400 naming one invalid field, as the generated decoder does.
fn invalid_field(field: &str, message: String) -> Error {
    let extra = BTreeMap::from([(field.to_string(), message)]);
    error_body(
        "Invalid request".to_string(),
        ErrorData {
            code: None,
            message: None,
            object_id: None,
            object_name: None,
            extra,
        },
    )
}

/// Builds the 422 of a request that would start one session too many.
fn session_limit_error(limit: usize) -> Error {
    let message = session_limit_message(limit);
    let mut error = coded_error(SESSION_LIMIT_CODE, &message);
    if let Some(data) = &mut error.error.data {
        data.extra.insert("limit".to_string(), limit.to_string());
    }
    error
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

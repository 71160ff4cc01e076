//! The control API under `/__mock`: the generated
//! `mock_control_server::Api` on the mock's shared state and sessions.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mock_control_server::types::{self, ErrorError};
use mock_control_server::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::MockApi;
use crate::control_auth::CONTROL_AUTH_FAILED_CODE;
use crate::faults::{AddError, FAULT_LIMIT_CODE, FaultSpec, MAX_FAULTS};
use crate::journal::JournalFilter;
use crate::session::{AdvanceError, MAX_RUNS_PER_ADVANCE, MAX_SIGNALS_PER_ADVANCE, Session};
use crate::sessions::{SESSION_HEADER, SessionError, check_name, session_limit_message};
use crate::state::{ClusterState, Fixture, FixtureError, ProcessError};
use crate::telemetry;

/// The dashboard page, served at `/__mock/dashboard`.
const DASHBOARD_HTML: &str = include_str!("dashboard.html");

/// Maximum of `seconds` in a clock advance: a year.
const MAX_ADVANCE_SECS: i64 = 31_536_000;

/// Error code of the 422 for a request that would start one session too
/// many.
const SESSION_LIMIT_CODE: &str = crate::SESSION_LIMIT_CODE;

/// Error code of a control API 404.
pub const OBJECT_NOT_FOUND_CODE: &str = "object-not-found";

/// `error.message` of a 400.
const INVALID_REQUEST: &str = "Invalid request";

/// Builds the router of the control API on `api`. Each route stores its
/// template for the request's log line, because the control router is
/// the fallback of the API's router, which has no route to store.
pub fn router(api: Arc<MockApi>) -> axum::Router {
    let control = Arc::new(ControlApi { api });
    let checked = control.clone();
    mock_control_server::router(control).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let checked = checked.clone();
            async move {
                telemetry::note_route(&request);
                match checked.reject_session_query(&request) {
                    Some(response) => response,
                    None => next.run(request).await,
                }
            }
        },
    ))
}

/// Control paths that may carry a `session` query parameter: the update
/// stream reads it, because a browser's `EventSource` cannot set headers,
/// and the dashboard page passes it on to that stream.
const SESSION_QUERY_PATHS: [&str; 2] = ["/__mock/updates", "/__mock/dashboard"];

/// The implementation of the control API.
struct ControlApi {
    api: Arc<MockApi>,
}

/// A control request that fails the same way in every operation that
/// names a session.
enum Failure {
    BadRequest(types::Error),
    Unprocessable(types::Error),
    Internal(types::Error),
}

/// Turns a [`Failure`] into each operation's response with the same
/// variants.
macro_rules! responses_of_failure {
    ($($response:ident),* $(,)?) => {
        $(
            impl From<Failure> for $response {
                fn from(failure: Failure) -> Self {
                    match failure {
                        Failure::BadRequest(error) => $response::BadRequest(error),
                        Failure::Unprocessable(error) => $response::UnprocessableEntity(error),
                        Failure::Internal(error) => $response::InternalServerError(error),
                    }
                }
            }
        )*
    };
}

responses_of_failure!(
    GetStateResponse,
    ReplaceStateResponse,
    ResetStateResponse,
    GetSchedulerResponse,
    RunSchedulerResponse,
    AdvanceClockResponse,
    HangProcessResponse,
    KillProcessResponse,
    ListEventsResponse,
    ListFaultsResponse,
    AddFaultResponse,
    ClearFaultsResponse,
    RemoveFaultResponse,
    ListJournalResponse,
    ClearJournalResponse,
    StreamUpdatesResponse,
    GetSnapshotResponse,
);

/// Returns `ok(value)`, or the response of the failure.
fn reply<T, R: From<Failure>>(result: Result<T, Failure>, ok: impl FnOnce(T) -> R) -> R {
    match result {
        Ok(value) => ok(value),
        Err(failure) => failure.into(),
    }
}

impl ControlApi {
    /// Returns the session that `name` names, started when it does not
    /// exist, or the shared state for `None`. `parameter` is the name of
    /// the header or query parameter, for the 400.
    fn session(&self, name: Option<&str>, parameter: &str) -> Result<Arc<Session>, Failure> {
        self.api.sessions().get(name).map_err(|error| match error {
            SessionError::InvalidName(message) => Failure::BadRequest(invalid(parameter, message)),
            SessionError::LimitReached(limit) => {
                Failure::Unprocessable(session_limit_reached(limit))
            }
        })
    }

    /// Returns the session of the `X-Mock-Session` header.
    fn session_of_header(&self, name: &Option<String>) -> Result<Arc<Session>, Failure> {
        self.session(name.as_deref(), SESSION_HEADER)
    }

    fn initial(&self) -> &ClusterState {
        self.api.sessions().initial()
    }
}

impl ControlApi {
    /// Builds the 400 of an authorized control request that has a `session`
    /// query parameter on a path that does not read it, so that the request
    /// does not act on the shared state while the caller meant a session.
    /// Returns `None` for any other request.
    fn reject_session_query(&self, request: &Request) -> Option<Response> {
        let query = request.uri().query()?;
        let path = request.extensions().get::<MatchedPath>()?;
        if SESSION_QUERY_PATHS.contains(&path.as_str()) {
            return None;
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
        if !pairs.iter().any(|(name, _)| name == "session") {
            return None;
        }
        let peer = telemetry::client_address(request).map(|address| address.ip());
        self.api.check_control(peer, request.headers()).ok()?;
        let message = format!(
            "Only GET /__mock/updates reads the session from the query; name the session in \
             the {SESSION_HEADER} header"
        );
        let body = invalid("session", message);
        Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
    }
}

impl Api for ControlApi {
    fn authenticate(&self, context: &RequestContext, _token: &ApiKey) -> Result<(), types::Error> {
        let peer = telemetry::client_ip(context.peer);
        let Err(reason) = self.api.check_control(peer, &context.headers) else {
            return Ok(());
        };
        tracing::info!(
            request_id = telemetry::request_id_field(),
            %reason,
            peer = peer.map(tracing::field::display),
            "control request rejected"
        );
        Err(unauthorized(&reason))
    }

    async fn get_state(&self, _: &RequestContext, request: GetStateRequest) -> GetStateResponse {
        let state = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| convert(&session.with_state(ClusterState::to_fixture)));
        reply(state, GetStateResponse::Ok)
    }

    async fn replace_state(
        &self,
        _: &RequestContext,
        request: ReplaceStateRequest,
    ) -> ReplaceStateResponse {
        let result = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                let fixture: Fixture = convert(&request.body)?;
                let state = ClusterState::from_fixture(fixture).map_err(invalid_fixture)?;
                let replaced = state.to_fixture();
                session
                    .replace(state)
                    .map_err(|error| internal("cannot persist the new state", &error))?;
                convert(&replaced)
            });
        reply(result, ReplaceStateResponse::Ok)
    }

    async fn reset_state(
        &self,
        _: &RequestContext,
        request: ResetStateRequest,
    ) -> ResetStateResponse {
        let result = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                session
                    .reset(self.initial())
                    .map_err(|error| internal("cannot persist the reset", &error))?;
                self.api.faults().clear(session.name());
                convert(&self.initial().to_fixture())
            });
        reply(result, ResetStateResponse::Ok)
    }

    async fn get_scheduler(
        &self,
        _: &RequestContext,
        request: GetSchedulerRequest,
    ) -> GetSchedulerResponse {
        let schedule = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| convert(&session.schedule()));
        reply(schedule, GetSchedulerResponse::Ok)
    }

    async fn run_scheduler(
        &self,
        _: &RequestContext,
        request: RunSchedulerRequest,
    ) -> RunSchedulerResponse {
        let run = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                let run = session
                    .run_scheduler()
                    .map_err(|error| internal("cannot persist the scheduler run", &error))?;
                convert(&run)
            });
        reply(run, RunSchedulerResponse::Ok)
    }

    async fn advance_clock(
        &self,
        _: &RequestContext,
        request: AdvanceClockRequest,
    ) -> AdvanceClockResponse {
        let result = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                let seconds = request.body.seconds;
                if !(0..=MAX_ADVANCE_SECS).contains(&seconds) {
                    let message =
                        format!("Expected a number of seconds from 0 to {MAX_ADVANCE_SECS}");
                    return Err(Failure::BadRequest(invalid("seconds", message)));
                }
                let by = Duration::from_secs(seconds.unsigned_abs());
                let advanced = session.advance_clock(by).map_err(|error| match error {
                    AdvanceError::TooManyRuns { runs } => {
                        let message = format!(
                            "Moving the clock by {seconds} seconds causes {runs} scheduled runs, \
                             more than {MAX_RUNS_PER_ADVANCE}; move it in smaller steps"
                        );
                        Failure::BadRequest(invalid("seconds", message))
                    }
                    AdvanceError::TooManySignals { signals } => {
                        let message = format!(
                            "Moving the clock by {seconds} seconds sends {signals} signals, more \
                             than {MAX_SIGNALS_PER_ADVANCE}, because each run signals every hung, \
                             flagged process again; move it in smaller steps"
                        );
                        Failure::BadRequest(invalid("seconds", message))
                    }
                    AdvanceError::PastMaxTime => {
                        let message = format!(
                            "Moving the clock by {seconds} seconds puts it or its next \
                             scheduled run past 9999-12-31T23:59:59Z, the latest time an \
                             RFC 3339 timestamp can show; move it by less or reset the session"
                        );
                        Failure::BadRequest(invalid("seconds", message))
                    }
                    AdvanceError::Persist(error) => {
                        internal("cannot persist a scheduled run", &error)
                    }
                })?;
                convert(&advanced)
            });
        reply(result, AdvanceClockResponse::Ok)
    }

    async fn hang_process(
        &self,
        _: &RequestContext,
        request: HangProcessRequest,
    ) -> HangProcessResponse {
        let result = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                session
                    .hang(&request.service_id, &request.node_id)
                    .map_err(|error| internal("cannot persist the hang", &error))
            });
        match result {
            Ok(Ok(process)) => reply(convert(&process), HangProcessResponse::Ok),
            Ok(Err(error)) => HangProcessResponse::NotFound(process_not_found(&error)),
            Err(failure) => failure.into(),
        }
    }

    async fn kill_process(
        &self,
        _: &RequestContext,
        request: KillProcessRequest,
    ) -> KillProcessResponse {
        let result = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                session
                    .kill(&request.service_id, &request.node_id)
                    .map_err(|error| internal("cannot persist the kill", &error))
            });
        match result {
            Ok(Ok(process)) => reply(convert(&process), KillProcessResponse::Ok),
            Ok(Err(error)) => KillProcessResponse::NotFound(process_not_found(&error)),
            Err(failure) => failure.into(),
        }
    }

    async fn list_events(
        &self,
        _: &RequestContext,
        request: ListEventsRequest,
    ) -> ListEventsResponse {
        // The router checks that `limit` is 1 to 10000.
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let events = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| convert(&session.events(limit)));
        reply(events, ListEventsResponse::Ok)
    }

    async fn list_faults(
        &self,
        _: &RequestContext,
        request: ListFaultsRequest,
    ) -> ListFaultsResponse {
        let faults = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| convert(&self.api.faults().list(session.name())));
        reply(faults, ListFaultsResponse::Ok)
    }

    async fn add_fault(&self, _: &RequestContext, request: AddFaultRequest) -> AddFaultResponse {
        let result = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| {
                let spec: FaultSpec = convert(&request.body)?;
                let fault = self
                    .api
                    .faults()
                    .add(session.name(), spec)
                    .map_err(|failed| match failed {
                        AddError::Invalid(errors) => {
                            Failure::BadRequest(error(INVALID_REQUEST, errors))
                        }
                        AddError::LimitReached => Failure::Unprocessable(fault_limit_reached()),
                    })?;
                convert(&fault)
            });
        reply(result, AddFaultResponse::Created)
    }

    async fn clear_faults(
        &self,
        _: &RequestContext,
        request: ClearFaultsRequest,
    ) -> ClearFaultsResponse {
        let session = self.session_of_header(&request.x_mock_session);
        reply(session, |session| {
            self.api.faults().clear(session.name());
            ClearFaultsResponse::NoContent
        })
    }

    async fn remove_fault(
        &self,
        _: &RequestContext,
        request: RemoveFaultRequest,
    ) -> RemoveFaultResponse {
        let session = self.session_of_header(&request.x_mock_session);
        reply(session, |session| {
            if self.api.faults().remove(session.name(), &request.fault_id) {
                RemoveFaultResponse::NoContent
            } else {
                RemoveFaultResponse::NotFound(not_found("faults", &request.fault_id))
            }
        })
    }

    async fn list_journal(
        &self,
        _: &RequestContext,
        request: ListJournalRequest,
    ) -> ListJournalResponse {
        // The router checks the ranges of `status` (100 to 599), `since`
        // (0 or more) and `limit` (1 to 10000), so the conversions succeed.
        let filter = JournalFilter {
            method: request.method,
            path: request.path,
            status: request.status.and_then(|status| u16::try_from(status).ok()),
            rpc_method: request.rpc_method,
            since: request.since.and_then(|since| u64::try_from(since).ok()),
            limit: usize::try_from(request.limit).ok(),
        };
        let journal = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| convert(&self.api.journal().list(session.name(), &filter)));
        reply(journal, ListJournalResponse::Ok)
    }

    async fn clear_journal(
        &self,
        _: &RequestContext,
        request: ClearJournalRequest,
    ) -> ClearJournalResponse {
        let session = self.session_of_header(&request.x_mock_session);
        reply(session, |session| {
            self.api.journal().clear(session.name());
            ClearJournalResponse::NoContent
        })
    }

    async fn list_sessions(
        &self,
        _: &RequestContext,
        _: ListSessionsRequest,
    ) -> ListSessionsResponse {
        match convert(&self.api.sessions().list()) {
            Ok(sessions) => ListSessionsResponse::Ok(sessions),
            // A conversion fails with a 500 only.
            Err(
                Failure::Internal(error)
                | Failure::BadRequest(error)
                | Failure::Unprocessable(error),
            ) => ListSessionsResponse::InternalServerError(error),
        }
    }

    async fn delete_session(
        &self,
        _: &RequestContext,
        request: DeleteSessionRequest,
    ) -> DeleteSessionResponse {
        let name = request.session_name;
        if let Err(error) = check_name(&name) {
            return DeleteSessionResponse::BadRequest(invalid("session_name", error.to_string()));
        }
        if self.api.sessions().remove(&name) {
            DeleteSessionResponse::NoContent
        } else {
            DeleteSessionResponse::NotFound(not_found("sessions", &name))
        }
    }

    async fn get_dashboard(
        &self,
        context: &RequestContext,
        _: GetDashboardRequest,
    ) -> GetDashboardResponse {
        // With a token the page contains no secret, and reads the token from
        // the URL fragment, so any client may load it.
        if !self.api.control_access().has_token() {
            let peer = telemetry::client_ip(context.peer);
            if let Err(reason) = self.api.check_control(peer, &context.headers) {
                tracing::info!(
                    request_id = telemetry::request_id_field(),
                    %reason,
                    peer = peer.map(tracing::field::display),
                    "dashboard request rejected"
                );
                return GetDashboardResponse::Unauthorized(unauthorized(&reason));
            }
        }
        GetDashboardResponse::Ok(Body::from(DASHBOARD_HTML))
    }

    async fn stream_updates(
        &self,
        _: &RequestContext,
        request: StreamUpdatesRequest,
    ) -> StreamUpdatesResponse {
        // The header wins, but an invalid query parameter is a 400 either way.
        if let (Some(_), Some(query)) = (&request.x_mock_session, &request.session)
            && let Err(error) = check_name(query)
        {
            return StreamUpdatesResponse::BadRequest(invalid("session", error.to_string()));
        }
        let session = match (&request.x_mock_session, &request.session) {
            (Some(header), _) => self.session(Some(header), SESSION_HEADER),
            (None, query) => self.session(query.as_deref(), "session"),
        };
        reply(session, |session| {
            StreamUpdatesResponse::Ok(Body::from_stream(crate::updates::stream(session)))
        })
    }

    async fn get_snapshot(
        &self,
        _: &RequestContext,
        request: GetSnapshotRequest,
    ) -> GetSnapshotResponse {
        let snapshot = self
            .session_of_header(&request.x_mock_session)
            .and_then(|session| convert(&session.snapshot()));
        reply(snapshot, GetSnapshotResponse::Ok)
    }
}

/// Converts a value of the mock's model to the generated type of the same
/// JSON form.
fn convert<T: Serialize, U: DeserializeOwned>(value: &T) -> Result<U, Failure> {
    let json = serde_json::to_value(value)
        .map_err(|error| internal("cannot serialize a response", &error))?;
    serde_json::from_value(json).map_err(|error| {
        let type_name = std::any::type_name::<U>();
        internal(&format!("cannot convert a response to {type_name}"), &error)
    })
}

fn error(message: impl Into<String>, data: BTreeMap<String, String>) -> types::Error {
    types::Error {
        error: ErrorError {
            message: message.into(),
            data,
        },
    }
}

/// Builds the 400 naming one invalid field.
fn invalid(field: &str, message: impl Into<String>) -> types::Error {
    error(
        INVALID_REQUEST,
        BTreeMap::from([(field.to_string(), message.into())]),
    )
}

/// Builds the 400 of an invalid state, naming the field as `--state` does.
fn invalid_fixture(fixture_error: FixtureError) -> Failure {
    let body = match fixture_error {
        FixtureError::Invalid { field, message, .. } => invalid(&field, message),
        FixtureError::Syntax(syntax) => invalid("body", syntax.to_string()),
    };
    Failure::BadRequest(body)
}

fn unauthorized(reason: &dyn fmt::Display) -> types::Error {
    let data = BTreeMap::from([
        ("code".to_string(), CONTROL_AUTH_FAILED_CODE.to_string()),
        ("message".to_string(), reason.to_string()),
    ]);
    error("Access to the control API is not authorized", data)
}

fn session_limit_reached(limit: usize) -> types::Error {
    let data = BTreeMap::from([
        ("code".to_string(), SESSION_LIMIT_CODE.to_string()),
        ("limit".to_string(), limit.to_string()),
    ]);
    error(session_limit_message(limit), data)
}

fn fault_limit_reached() -> types::Error {
    let data = BTreeMap::from([
        ("code".to_string(), FAULT_LIMIT_CODE.to_string()),
        ("limit".to_string(), MAX_FAULTS.to_string()),
    ]);
    let message = format!("The session has {MAX_FAULTS} faults, the maximum; remove one first");
    error(message, data)
}

fn not_found(object_name: &str, object_id: &str) -> types::Error {
    let data = BTreeMap::from([
        ("code".to_string(), OBJECT_NOT_FOUND_CODE.to_string()),
        ("object_name".to_string(), object_name.to_string()),
        ("object_id".to_string(), object_id.to_string()),
    ]);
    error(format!("Object not found: {object_name} {object_id}"), data)
}

/// Builds the 404 of a hang or kill: the unknown service or node, or the
/// missing process as `SERVICE@NODE`.
fn process_not_found(process_error: &ProcessError) -> types::Error {
    match process_error {
        ProcessError::UnknownService(id) => not_found("system_services", id),
        ProcessError::UnknownNode(id) => not_found("nodes", id),
        ProcessError::NoProcess { service, node } => {
            not_found("processes", &format!("{service}@{node}"))
        }
    }
}

/// Logs `error` with a new error id, as [`crate::internal_error`] does, and
/// returns the 500.
fn internal(context: &str, cause: &dyn fmt::Display) -> Failure {
    let body = crate::internal_error(&format_args!("{context}: {cause}"));
    let data = body.error.data.map(|data| data.extra).unwrap_or_default();
    Failure::Internal(error(body.error.message, data))
}

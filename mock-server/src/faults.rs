//! Faults injected into the API's responses, per session, for the control
//! API's `/__mock/faults`.
//!
//! A fault delays the response, replaces it with the documented example of
//! an error status, or drops the connection without a response.
//! `FaultLayer` applies faults to each request outside the control API
//! and the spec documents. Of the faults, in the order they were added, the
//! first one applies whose `match` fits the request, whose `count` is not
//! used up, and which the draw for its `rate` selects. A fault that the
//! draw passes over leaves the request to the next fitting one. The draws
//! come from a generator seeded with the seed of [`Faults::new`], so the
//! same requests get the same outcomes in each run.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, request};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::future::Either;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use system_services_server::{CallError, JsonRpcMethods, Rejection, jsonrpc};

use crate::journal::{BoxedResponse, MAX_BODY_BYTES, SessionCheck, is_control_path};
use crate::routed::MatchedRoute;
use crate::sessions::{ExistsPredicate, name_from_headers};
use crate::spec::{self, Operation};
use crate::{AnySpec, MockApi};

/// Maximum number of faults of one session.
pub const MAX_FAULTS: usize = 100;

/// Maximum delay of a fault, in milliseconds.
pub const MAX_LATENCY_MS: i64 = 60_000;

/// Status of the journal entry and log line of a request whose connection
/// a fault dropped: nginx's code for a connection closed without a
/// response. No client receives it.
pub const DROPPED_STATUS: u16 = 444;

/// Field errors of an invalid fault: each field, such as `latency_ms.max`,
/// with what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

/// `data.code` of the 422 of a session that has [`MAX_FAULTS`] faults.
pub const FAULT_LIMIT_CODE: &str = "mock-fault-limit";

/// Why [`Faults::add`] did not add a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddError {
    /// The fault or the session name is invalid: each field with what is
    /// wrong with it.
    Invalid(FieldErrors),
    /// The session already has [`MAX_FAULTS`] faults.
    LimitReached,
}

impl From<FieldErrors> for AddError {
    fn from(errors: FieldErrors) -> Self {
        AddError::Invalid(errors)
    }
}

/// A fault as the control API's `FaultRequest` schema describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The requests the fault applies to. Absent, it matches any request.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<FaultMatch>,
    /// A status that the API documents with an example, which replaces the
    /// response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// Close the connection without a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_connection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// Number of requests to apply to before expiring, or none for no
    /// limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Share of the fitting requests to apply to, from 0 to 1, or 1 when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// The requests a fault applies to, as the `FaultMatch` schema describes
/// it. An absent field matches any request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultMatch {
    /// HTTP method, compared without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Prefix of the request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A JSON-RPC method that the request calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_method: Option<String>,
}

/// A delay of `min` to `max` milliseconds, drawn uniformly. `min` alone
/// is a fixed delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub min: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

/// An active fault, as the control API's `Fault` schema describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultInfo {
    pub id: String,
    pub fault: FaultSpec,
    /// Number of requests the fault applied to so far.
    pub applied: u64,
    /// Requests left before the fault expires, or none without a count.
    pub remaining: Option<u64>,
}

/// The error statuses a fault may answer with: those that a REST operation
/// of the spec documents with an example.
static STATUSES: LazyLock<Vec<StatusCode>> = LazyLock::new(|| spec::document().error_statuses());

/// The effect of a fault on a request, besides its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Respond(StatusCode),
    DropConnection,
    DelayOnly,
}

/// A validated fault with its counters.
#[derive(Debug)]
struct Rule {
    id: String,
    spec: FaultSpec,
    method: Option<String>,
    path: Option<String>,
    rpc_method: Option<String>,
    action: Action,
    /// Delay range in milliseconds, inclusive.
    latency: Option<(u64, u64)>,
    count: Option<u64>,
    rate: f64,
    applied: u64,
    /// Requests that the fault was chosen for and that are still running:
    /// each counts as applied once the fault shapes its response, and
    /// returns its use otherwise.
    pending: u64,
}

/// The parts of a request that a fault's `match` is compared with.
struct RequestFacts<'a> {
    method: &'a Method,
    path: &'a str,
    /// The JSON-RPC methods that the request calls, or none when the body
    /// was not read for them.
    rpc_methods: Option<&'a [String]>,
}

impl Rule {
    /// Validates `spec`, naming each invalid field. The rule's ID is empty.
    fn new(spec: FaultSpec) -> Result<Rule, FieldErrors> {
        let mut errors = FieldErrors::new();
        let matches = spec.matches.clone().unwrap_or_default();
        let not_empty = |errors: &mut FieldErrors, field: &str, value: &Option<String>| {
            if value.as_deref() == Some("") {
                errors.insert(field.into(), "Empty value is not allowed".into());
            }
        };
        not_empty(&mut errors, "match.method", &matches.method);
        not_empty(&mut errors, "match.rpc_method", &matches.rpc_method);
        if let Some(path) = &matches.path
            && !path.starts_with('/')
        {
            errors.insert(
                "match.path".into(),
                "Expected a path starting with `/`".into(),
            );
        }

        let status = spec.status.map(|status| {
            let found = STATUSES
                .iter()
                .find(|known| i64::from(known.as_u16()) == status);
            if found.is_none() {
                let known: Vec<&str> = STATUSES.iter().map(StatusCode::as_str).collect();
                let message = format!("Expected one of {}", known.join(", "));
                errors.insert("status".into(), message);
            }
            found.copied()
        });
        let drop_connection = spec.drop_connection == Some(true);
        if status.is_some() && drop_connection {
            let message = "status and drop_connection exclude each other, so give only one";
            errors.insert("status".into(), message.into());
            errors.insert("drop_connection".into(), message.into());
        }
        if status.is_none() && !drop_connection && spec.latency_ms.is_none() {
            let message = "Expected status, drop_connection or latency_ms";
            errors.insert("body".into(), message.into());
        }

        let latency = spec.latency_ms.map(|latency| {
            let in_range = |value: i64| (0..=MAX_LATENCY_MS).contains(&value);
            let range = format!("Expected 0 to {MAX_LATENCY_MS} milliseconds");
            if !in_range(latency.min) {
                errors.insert("latency_ms.min".into(), range.clone());
            }
            let max = latency.max.unwrap_or(latency.min);
            if latency.max.is_some() && !in_range(max) {
                errors.insert("latency_ms.max".into(), range);
            } else if max < latency.min {
                errors.insert("latency_ms.max".into(), "Expected min or more".into());
            }
            (latency.min.max(0) as u64, max.max(0) as u64)
        });
        if spec.count == Some(0) {
            errors.insert("count".into(), "Expected 1 or more".into());
        }
        let rate = spec.rate.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&rate) {
            errors.insert("rate".into(), "Expected a number from 0 to 1".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let action = match (status, drop_connection) {
            (Some(Some(status)), _) => Action::Respond(status),
            (_, true) => Action::DropConnection,
            _ => Action::DelayOnly,
        };
        Ok(Rule {
            id: String::new(),
            method: matches.method,
            path: matches.path,
            rpc_method: matches.rpc_method,
            action,
            latency,
            count: spec.count,
            rate,
            applied: 0,
            pending: 0,
            spec,
        })
    }

    /// Returns whether the fault's method and path fit the request.
    fn fits_route(&self, facts: &RequestFacts<'_>) -> bool {
        let method = self
            .method
            .as_ref()
            .is_none_or(|method| method.eq_ignore_ascii_case(facts.method.as_str()));
        let path = self
            .path
            .as_ref()
            .is_none_or(|prefix| facts.path.starts_with(prefix.as_str()));
        method && path
    }

    fn fits(&self, facts: &RequestFacts<'_>) -> bool {
        let rpc_method = self.rpc_method.as_ref().is_none_or(|name| {
            facts
                .rpc_methods
                .is_some_and(|methods| methods.contains(name))
        });
        let left = self
            .count
            .is_none_or(|count| self.applied + self.pending < count);
        self.fits_route(facts) && rpc_method && left
    }

    fn info(&self) -> FaultInfo {
        FaultInfo {
            id: self.id.clone(),
            fault: self.spec.clone(),
            applied: self.applied,
            remaining: self.count.map(|count| count - self.applied),
        }
    }
}

/// SplitMix64: the generator of the faults' draws.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::telemetry::mix(self.0)
    }

    /// Draws a number in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Draws a number in `min..=max`.
    fn between(&mut self, min: u64, max: u64) -> u64 {
        min + self.next_u64() % (max - min + 1)
    }
}

/// The faults of the shared state or of one session, with the generator
/// of their draws.
#[derive(Debug)]
struct FaultList {
    rules: Vec<Rule>,
    rng: Rng,
}

/// A fault chosen for a request.
#[derive(Debug)]
struct Decision {
    id: String,
    action: Action,
    latency: Option<Duration>,
}

impl FaultList {
    fn new(seed: u64) -> Self {
        FaultList {
            rules: Vec::new(),
            rng: Rng(seed),
        }
    }

    /// Chooses the fault for a request and reserves one use of its count
    /// for it until [`settle`](Self::settle).
    fn decide(&mut self, facts: &RequestFacts<'_>) -> Option<Decision> {
        let rng = &mut self.rng;
        let index = self.rules.iter().position(|rule| {
            rule.fits(facts) && (rule.rate >= 1.0 || rule.rate > 0.0 && rng.next_f64() < rule.rate)
        })?;
        let rule = &mut self.rules[index];
        rule.pending += 1;
        let latency = rule.latency.map(|(min, max)| {
            let millis = if max > min {
                rng.between(min, max)
            } else {
                min
            };
            Duration::from_millis(millis)
        });
        let decision = Decision {
            id: rule.id.clone(),
            action: rule.action,
            latency,
        };
        Some(decision)
    }

    /// Ends the use that [`decide`](Self::decide) reserved for the fault `id`:
    /// counts it as applied when the fault shaped the response, and gives
    /// it back otherwise. A fault whose count is used up is removed.
    fn settle(&mut self, id: &str, shaped: bool) {
        let Some(index) = self.rules.iter().position(|rule| rule.id == id) else {
            return;
        };
        let rule = &mut self.rules[index];
        rule.pending = rule.pending.saturating_sub(1);
        if shaped {
            rule.applied += 1;
        }
        if rule.count == Some(rule.applied) {
            self.rules.remove(index);
        }
    }
}

/// The lists of the shared state and of each session.
#[derive(Debug)]
struct Lists {
    shared: FaultList,
    sessions: HashMap<String, FaultList>,
}

impl Lists {
    fn get_mut(&mut self, session: Option<&str>) -> Option<&mut FaultList> {
        match session {
            None => Some(&mut self.shared),
            Some(name) => self.sessions.get_mut(name),
        }
    }

    fn total(&self) -> usize {
        let sessions: usize = self.sessions.values().map(|list| list.rules.len()).sum();
        self.shared.rules.len() + sessions
    }
}

/// The faults of the shared state and of each existing session.
///
/// ```
/// use mock_server::faults::{FaultSpec, Faults};
///
/// let faults = Faults::new(7);
/// let spec = FaultSpec { status: Some(500), count: Some(2), ..FaultSpec::default() };
/// let fault = faults.add(None, spec).unwrap();
/// assert_eq!(fault.remaining, Some(2));
/// assert!(faults.add(None, FaultSpec::default()).is_err());
/// ```
pub struct Faults {
    seed: u64,
    sessions: SessionCheck,
    last_id: AtomicU64,
    /// Number of faults in every list, so that requests skip the lock
    /// while there are none.
    total: AtomicUsize,
    lists: Mutex<Lists>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Faults {
    /// Creates an empty set of faults whose draws start from `seed`. Until
    /// [`set_sessions`](Self::set_sessions) it keeps faults for the shared
    /// state only.
    pub fn new(seed: u64) -> Self {
        Faults {
            seed,
            sessions: SessionCheck::new(),
            last_id: AtomicU64::new(0),
            total: AtomicUsize::new(0),
            lists: Mutex::new(Lists {
                shared: FaultList::new(seed),
                sessions: HashMap::new(),
            }),
        }
    }

    /// Keeps faults for the sessions for which `exists` returns true, too,
    /// in place of the previous predicate. The faults call it without
    /// holding their lock.
    pub fn set_sessions(&self, exists: ExistsPredicate) {
        self.sessions.set(exists);
    }

    /// Returns the seed of the draws.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds a fault to `session` (none for the shared state), after its
    /// other faults. An invalid fault or an unknown session is an error
    /// naming the field; a session with [`MAX_FAULTS`] faults is
    /// [`AddError::LimitReached`].
    pub fn add(&self, session: Option<&str>, spec: FaultSpec) -> Result<FaultInfo, AddError> {
        let unknown = || {
            let mut errors = FieldErrors::new();
            let name = session.unwrap_or_default();
            let message = format!("Session `{name}` does not exist");
            errors.insert("X-Mock-Session".into(), message);
            errors
        };
        if session.is_some_and(|name| !self.sessions.exists(name)) {
            return Err(unknown().into());
        }
        let mut rule = Rule::new(spec)?;
        rule.id = format!("fault-{}", self.last_id.fetch_add(1, Ordering::Relaxed) + 1);
        let info = rule.info();

        let mut lists = self.lock();
        let list = match session {
            None => &mut lists.shared,
            Some(name) => lists
                .sessions
                .entry(name.to_string())
                .or_insert_with(|| FaultList::new(self.seed)),
        };
        if list.rules.len() >= MAX_FAULTS {
            return Err(AddError::LimitReached);
        }
        list.rules.push(rule);
        self.total.store(lists.total(), Ordering::Release);
        drop(lists);

        // The session may have ended, and its faults been removed, since
        // the check above. Then drop the list that this call created.
        if let Some(name) = session
            && !self.sessions.exists(name)
        {
            self.remove_session(name);
            return Err(unknown().into());
        }
        Ok(info)
    }

    /// Lists the faults of `session`, in the order they apply.
    pub fn list(&self, session: Option<&str>) -> Vec<FaultInfo> {
        let mut lists = self.lock();
        lists
            .get_mut(session)
            .map(|list| list.rules.iter().map(Rule::info).collect())
            .unwrap_or_default()
    }

    /// Removes every fault of `session` and restarts its draws from the
    /// seed.
    pub fn clear(&self, session: Option<&str>) {
        let mut lists = self.lock();
        match session {
            None => lists.shared = FaultList::new(self.seed),
            Some(name) => {
                lists.sessions.remove(name);
            }
        }
        self.total.store(lists.total(), Ordering::Release);
    }

    /// Removes the fault `id` of `session` and returns whether it existed.
    pub fn remove(&self, session: Option<&str>, id: &str) -> bool {
        let mut lists = self.lock();
        let Some(list) = lists.get_mut(session) else {
            return false;
        };
        let before = list.rules.len();
        list.rules.retain(|rule| rule.id != id);
        let removed = list.rules.len() < before;
        self.total.store(lists.total(), Ordering::Release);
        removed
    }

    /// Forgets the session `name`. Call it after the session ended, so that
    /// the session-exists predicate returns false for it.
    pub fn remove_session(&self, name: &str) {
        self.clear(Some(name));
    }

    fn is_empty(&self) -> bool {
        self.total.load(Ordering::Acquire) == 0
    }

    /// Returns whether a fault of `session` needs the JSON-RPC methods of
    /// a request to tell whether it fits.
    fn needs_rpc_methods(&self, session: Option<&str>, facts: &RequestFacts<'_>) -> bool {
        let mut lists = self.lock();
        lists.get_mut(session).is_some_and(|list| {
            list.rules
                .iter()
                .any(|rule| rule.rpc_method.is_some() && rule.fits_route(facts))
        })
    }

    fn decide(&self, session: Option<&str>, facts: &RequestFacts<'_>) -> Option<Decision> {
        self.lock().get_mut(session)?.decide(facts)
    }

    fn settle(&self, session: Option<&str>, id: &str, shaped: bool) {
        let mut lists = self.lock();
        if let Some(list) = lists.get_mut(session) {
            list.settle(id, shaped);
        }
        self.total.store(lists.total(), Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, Lists> {
        self.lists
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies the fault that fits `request`, if any, around `inner`. The
    /// fault counts as applied only when it shapes the response.
    async fn apply<S>(
        self: Arc<Self>,
        session: Option<String>,
        request: Request,
        mut inner: S,
        loaded: Option<Arc<AnySpec>>,
    ) -> Result<Response, Infallible>
    where
        S: tower_service::Service<Request, Response = Response, Error = Infallible>,
    {
        let (parts, mut body) = request.into_parts();
        let operation = operation_of(&parts);
        let jsonrpc = operation.is_some_and(|operation| operation.jsonrpc_endpoint);
        let session = session.as_deref();
        // The router matches the decoded path, so `match.path` does too.
        let path = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy();
        let mut facts = RequestFacts {
            method: &parts.method,
            path: &path,
            rpc_methods: None,
        };
        let mut rpc_methods = None;
        if jsonrpc && self.needs_rpc_methods(session, &facts) {
            let (peeked, methods) = peek_rpc_methods(body).await;
            body = peeked;
            rpc_methods = Some(methods);
        }
        facts.rpc_methods = rpc_methods.as_deref();
        let Some(decision) = self.decide(session, &facts) else {
            return inner.call(Request::from_parts(parts, body)).await;
        };
        tracing::debug!(
            request_id = crate::telemetry::request_id_field(),
            fault = decision.id,
            action = ?decision.action,
            "applying a fault"
        );

        let delay = async {
            if let Some(latency) = decision.latency {
                tokio::time::sleep(latency).await;
            }
        };
        let (mut response, shaped) = match decision.action {
            Action::DelayOnly => {
                let response = inner.call(Request::from_parts(parts, body)).await?;
                delay.await;
                (response, true)
            }
            Action::DropConnection => {
                delay.await;
                let mut response = Response::new(Body::empty());
                *response.status_mut() =
                    StatusCode::from_u16(DROPPED_STATUS).expect("a valid status code");
                response.extensions_mut().insert(DropConnection);
                (response, true)
            }
            Action::Respond(status) if jsonrpc => {
                let (response, shaped) = jsonrpc_response(status, operation, parts, body).await;
                if shaped {
                    delay.await;
                }
                (response, shaped)
            }
            Action::Respond(status) => {
                delay.await;
                let loaded =
                    loaded.and_then(|spec| spec.fault_response(&parts.method, &parts.uri, status));
                let response = loaded.unwrap_or_else(|| rest_response(status, operation));
                (response, true)
            }
        };
        self.settle(session, &decision.id, shaped);
        if let Some(methods) = rpc_methods
            && response.extensions().get::<JsonRpcMethods>().is_none()
        {
            response.extensions_mut().insert(JsonRpcMethods(methods));
        }
        if shaped {
            response.extensions_mut().insert(AppliedFault(decision.id));
        }
        Ok(response)
    }
}

/// Builds the response of a JSON-RPC request to a `status` fault, with
/// whether the fault shaped it. 408, 413 and 415 reject the whole HTTP
/// request, as a slow, large or non-JSON body does: HTTP 408 with the
/// error body of a REST operation, and HTTP 413 or 415 with a JSON-RPC
/// error. Another status fails each call of the payload. A payload with
/// no call to fail, such as a body that is not JSON, gets its usual
/// response, so the fault did not shape it.
async fn jsonrpc_response(
    status: StatusCode,
    operation: Option<&Operation>,
    parts: request::Parts,
    body: Body,
) -> (Response, bool) {
    let document = spec::document();
    let code = |status| {
        document
            .jsonrpc_error_code(status)
            .unwrap_or(jsonrpc::INVALID_REQUEST)
    };
    match status {
        StatusCode::REQUEST_TIMEOUT => (rest_response(status, operation), true),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            let error = call_error(None, status);
            (jsonrpc::reject(status, error), true)
        }
        _ => {
            let bytes = match jsonrpc::read_payload(&parts.headers, body, code).await {
                Ok(bytes) => bytes,
                Err(response) => return (response, false),
            };
            let called = AtomicBool::new(false);
            let response = jsonrpc::serve(&bytes, |method, _params| {
                called.store(true, Ordering::Relaxed);
                let operation = document.jsonrpc_operation(&method);
                std::future::ready(Err(call_error(operation, status)))
            })
            .await;
            (response, called.into_inner())
        }
    }
}

/// Returns the spec's operation that the matched route and method of a
/// request serve.
fn operation_of(parts: &request::Parts) -> Option<&'static Operation> {
    let path = MatchedRoute::in_extensions(&parts.extensions)?;
    spec::document().operation(&path, &parts.method)
}

/// Builds the response of a REST request: the documented example of
/// `status`.
fn rest_response(status: StatusCode, operation: Option<&Operation>) -> Response {
    match spec::document().example_of(status, operation) {
        Some(example) => example.response(),
        None => error_response(status),
    }
}

/// Builds the mock's error body of a `status` fault, for an operation that
/// documents no response of that status.
pub(crate) fn error_response(status: StatusCode) -> Response {
    let mut rejection = Rejection::invalid("fault", "The response was replaced by a fault");
    rejection.status = status;
    rejection.message = status.canonical_reason().unwrap_or("Error").to_string();
    rejection.into_response()
}

/// Builds the JSON-RPC error of `status`: the code that the spec maps it
/// to, with the message and data of the documented example of `status` of
/// `operation`, or of the first REST operation that has one.
fn call_error(operation: Option<&Operation>, status: StatusCode) -> CallError {
    let document = spec::document();
    let code = document
        .jsonrpc_error_code(status)
        .unwrap_or(jsonrpc::INVALID_REQUEST);
    let example = document
        .example_of(status, operation)
        .and_then(|example| serde_json::from_slice::<Value>(&example.body).ok());
    match example {
        Some(body) => CallError::from_rest(code, &body),
        None => CallError::new(code, status.canonical_reason().unwrap_or("Error"), None),
    }
}

/// Reads up to [`MAX_BODY_BYTES`] of a JSON-RPC request body. Returns the
/// methods it calls, with a body that yields the same data, or the same
/// error, to the handler. A larger body, or one whose read fails, yields
/// no methods.
async fn peek_rpc_methods(body: Body) -> (Body, Vec<String>) {
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut size = 0;
    let outcome = loop {
        if size > MAX_BODY_BYTES {
            break None;
        }
        match stream.next().await {
            Some(Ok(chunk)) => {
                size += chunk.len();
                chunks.push(chunk);
            }
            Some(Err(error)) => break Some(Err(error)),
            None => break Some(Ok(())),
        }
    };
    let prefix = futures_util::stream::iter(chunks.clone().into_iter().map(Ok));
    match outcome {
        Some(Ok(())) => {
            let bytes = Bytes::from(chunks.concat());
            let methods = rpc_methods_of(&bytes);
            (Body::from(bytes), methods)
        }
        Some(Err(error)) => {
            let failed = futures_util::stream::once(std::future::ready(Err(error)));
            (Body::from_stream(prefix.chain(failed)), Vec::new())
        }
        None => (Body::from_stream(prefix.chain(stream)), Vec::new()),
    }
}

/// Returns the `method` of each request object of a JSON-RPC payload.
fn rpc_methods_of(bytes: &[u8]) -> Vec<String> {
    let method = |item: &Value| item.get("method")?.as_str().map(str::to_string);
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => items.iter().filter_map(method).collect(),
        Ok(item) => method(&item).into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// Response extension with the ID of the fault that applied to the
/// request.
#[derive(Debug, Clone)]
pub(crate) struct AppliedFault(pub String);

/// Response extension of a request whose connection a fault drops: the
/// server closes the connection instead of sending the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// Error that makes hyper close a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("a fault dropped the connection")]
pub(crate) struct ConnectionDropped;

/// Awaits `response` and fails with [`ConnectionDropped`] when a fault
/// marked it with [`DropConnection`]. hyper then closes the connection
/// without writing a byte of the response.
pub(crate) async fn drop_if_marked(
    response: impl Future<Output = Result<Response, Infallible>>,
) -> Result<Response, ConnectionDropped> {
    let Ok(response) = response.await;
    if response.extensions().get::<DropConnection>().is_some() {
        return Err(ConnectionDropped);
    }
    Ok(response)
}

/// Returns whether faults apply to requests for `path`: every path but
/// the control API's and the spec documents'.
fn is_faultable(path: &str) -> bool {
    !is_control_path(path) && path != crate::OPENAPI_YAML_PATH && path != crate::OPENAPI_JSON_PATH
}

/// Tower layer that applies [`Faults`] to the API's requests. It must run
/// inside the body deadline, which then bounds the read of a JSON-RPC body
/// for its methods. A fault simulates the server, not a gateway in front of
/// it, so a request whose API key `api` rejects gets no fault: it gets the
/// operation's 401 at once.
#[derive(Clone)]
pub(crate) struct FaultLayer {
    faults: Arc<Faults>,
    api: Option<Arc<MockApi>>,
}

impl FaultLayer {
    pub(crate) fn new(faults: Arc<Faults>, api: Option<Arc<MockApi>>) -> Self {
        FaultLayer { faults, api }
    }
}

impl<S> tower_layer::Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> FaultService<S> {
        FaultService {
            inner,
            faults: self.faults.clone(),
            api: self.api.clone(),
        }
    }
}

/// The service of [`FaultLayer`]. While no fault exists, a request goes to
/// the inner service without taking a lock.
#[derive(Clone)]
pub(crate) struct FaultService<S> {
    inner: S,
    faults: Arc<Faults>,
    api: Option<Arc<MockApi>>,
}

impl<S> FaultService<S> {
    /// Returns the service that this one wraps.
    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S> tower_service::Service<Request> for FaultService<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxedResponse>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.faults.is_empty() || !is_faultable(request.uri().path()) {
            return Either::Left(self.inner.call(request));
        }
        if self
            .api
            .as_ref()
            .is_some_and(|api| !api.accepts_request(&request))
        {
            return Either::Left(self.inner.call(request));
        }
        // A request with an invalid session name belongs to no session.
        let Ok(session) = name_from_headers(request.headers()) else {
            return Either::Left(self.inner.call(request));
        };
        let session = session.map(str::to_string);
        // The service that poll_ready prepared handles this request, and
        // the clone stays for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let faults = self.faults.clone();
        // The operations of a loaded document are those without a route of
        // the mock's own.
        let loaded = self
            .api
            .as_ref()
            .and_then(|api| api.spec().cloned())
            .filter(|_| MatchedRoute::of(&request).is_none());
        Either::Right(Box::pin(faults.apply(session, request, inner, loaded)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: FaultSpec) -> FieldErrors {
        match Faults::new(1).add(None, spec) {
            Err(AddError::Invalid(errors)) => errors,
            other => panic!("expected an invalid fault, got {other:?}"),
        }
    }

    fn facts<'a>(method: &'a Method, path: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            method,
            path,
            rpc_methods: None,
        }
    }

    #[test]
    fn statuses_come_from_spec() {
        let statuses: Vec<u16> = STATUSES.iter().map(StatusCode::as_u16).collect();
        assert_eq!(statuses, [400, 401, 404, 408, 413, 415, 422, 500]);
    }

    #[test]
    fn invalid_specs_name_fields() {
        let none = errors(FaultSpec::default());
        assert!(none.contains_key("body"), "{none:?}");

        let both = errors(FaultSpec {
            status: Some(500),
            drop_connection: Some(true),
            ..FaultSpec::default()
        });
        assert!(both.contains_key("status"), "{both:?}");
        assert!(both.contains_key("drop_connection"), "{both:?}");

        let spec = FaultSpec {
            matches: Some(FaultMatch {
                method: Some(String::new()),
                path: Some("jsonrpc".into()),
                rpc_method: None,
            }),
            status: Some(418),
            latency_ms: Some(Latency {
                min: 300,
                max: Some(200),
            }),
            count: Some(0),
            rate: Some(1.5),
            ..FaultSpec::default()
        };
        let fields: Vec<String> = errors(spec).into_keys().collect();
        assert_eq!(
            fields,
            [
                "count",
                "latency_ms.max",
                "match.method",
                "match.path",
                "rate",
                "status"
            ]
        );
    }

    #[test]
    fn count_expires_fault() {
        let faults = Faults::new(1);
        let spec = FaultSpec {
            status: Some(500),
            count: Some(2),
            ..FaultSpec::default()
        };
        let id = faults.add(None, spec).unwrap().id;
        let post = Method::POST;
        let request = facts(&post, "/x");
        assert_eq!(faults.decide(None, &request).unwrap().id, id);
        faults.settle(None, &id, true);
        assert_eq!(faults.list(None)[0].remaining, Some(1));
        assert_eq!(faults.decide(None, &request).unwrap().id, id);
        faults.settle(None, &id, false);
        assert_eq!(faults.list(None)[0].remaining, Some(1));
        assert_eq!(faults.decide(None, &request).unwrap().id, id);
        assert!(
            faults.decide(None, &request).is_none(),
            "the last use is held"
        );
        faults.settle(None, &id, true);
        assert!(faults.decide(None, &request).is_none());
        assert!(faults.list(None).is_empty());
        assert!(faults.is_empty());
    }

    #[test]
    fn match_selects_requests() {
        let faults = Faults::new(1);
        let spec = FaultSpec {
            matches: Some(FaultMatch {
                method: Some("post".into()),
                path: Some("/system/".into()),
                rpc_method: None,
            }),
            latency_ms: Some(Latency { min: 5, max: None }),
            ..FaultSpec::default()
        };
        faults.add(None, spec).unwrap();
        let (get, post) = (Method::GET, Method::POST);
        assert!(faults.decide(None, &facts(&get, "/system/a")).is_none());
        assert!(faults.decide(None, &facts(&post, "/jsonrpc")).is_none());
        let decision = faults.decide(None, &facts(&post, "/system/a")).unwrap();
        assert_eq!(decision.latency, Some(Duration::from_millis(5)));
    }

    #[test]
    fn unknown_session_gets_no_faults() {
        let faults = Faults::new(1);
        faults.set_sessions(Arc::new(|name| name == "known"));
        let spec = FaultSpec {
            status: Some(500),
            ..FaultSpec::default()
        };
        let Err(AddError::Invalid(errors)) = faults.add(Some("other"), spec.clone()) else {
            panic!("expected an unknown session");
        };
        assert!(errors.contains_key("X-Mock-Session"), "{errors:?}");
        faults.add(Some("known"), spec).unwrap();
        assert!(faults.list(None).is_empty());
        assert_eq!(faults.list(Some("known")).len(), 1);
        faults.remove_session("known");
        assert!(faults.list(Some("known")).is_empty());
        assert!(faults.is_empty());
    }

    #[test]
    fn latency_draws_stay_in_range() {
        let mut rng = Rng(3);
        for _ in 0..1000 {
            let drawn = rng.between(200, 400);
            assert!((200..=400).contains(&drawn), "{drawn}");
            let share = rng.next_f64();
            assert!((0.0..1.0).contains(&share), "{share}");
        }
    }

    #[test]
    fn rpc_methods_of_batches() {
        let single = br#"{"jsonrpc":"2.0","method":"a","id":1}"#;
        assert_eq!(rpc_methods_of(single), ["a"]);
        let batch = br#"[{"method":"a"},{"method":"b"},{"id":3}]"#;
        assert_eq!(rpc_methods_of(batch), ["a", "b"]);
        assert!(rpc_methods_of(b"not json").is_empty());
    }
}

//! The journal of the requests that the API received, kept per session for
//! the control API's `GET /__mock/journal`.
//!
//! [`JournalLayer`] records every request outside the control API (paths
//! under `/__mock`): its headers with secrets redacted, the part of its body
//! that the server read, the JSON-RPC methods it called, its status and the
//! fault that applied to it. [`Journal`] keeps the newest entries of the
//! shared state and of each session, and lists them with filters.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use serde::{Serialize, Serializer};
use system_services_server::JsonRpcMethods;

use crate::faults::AppliedFault;
use crate::sessions::{ExistsPredicate, name_from_headers};
use crate::telemetry::RequestId;

/// Entries that a journal keeps per session when no limit is given.
pub const DEFAULT_LIMIT: usize = 10_000;

/// Bytes of a request body that an entry keeps. The rest is cut.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Bytes of entries (strings, plus [`ENTRY_OVERHEAD`] each) that a journal
/// keeps per session. It drops its oldest entries beyond it too, so that
/// 10,000 entries of large bodies do not take 640 MiB. About 10,000 entries
/// of a browser's requests (1 KiB of headers each) fit.
pub const MAX_BYTES_PER_SESSION: usize = 16 * 1024 * 1024;

/// Estimated bytes of an entry besides its strings.
const ENTRY_OVERHEAD: usize = 256;

/// Default `limit` of [`JournalFilter`].
pub const DEFAULT_PAGE_LIMIT: usize = 1000;

/// Path prefix of the control API, whose requests are neither recorded nor
/// faulted.
pub const CONTROL_PREFIX: &str = "/__mock";

/// Value that replaces a secret header's value in an entry.
pub const REDACTED: &str = "[redacted]";

/// Headers whose values an entry never contains.
const SECRET_HEADERS: [&str; 5] = [
    "x-api-key",
    "x-mock-control-token",
    "authorization",
    "proxy-authorization",
    "cookie",
];

/// The predicate that tells the journal or the faults which sessions
/// exist, so that they keep data only for the shared state and those. It
/// returns false for every session until [`SessionCheck::set`].
pub(crate) struct SessionCheck(RwLock<ExistsPredicate>);

impl SessionCheck {
    pub(crate) fn new() -> Self {
        SessionCheck(RwLock::new(Arc::new(|_| false)))
    }

    /// Replaces the predicate, as when the session registry is rebuilt.
    pub(crate) fn set(&self, exists: ExistsPredicate) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = exists;
    }

    /// Returns whether the session `name` exists. The predicate runs
    /// without any lock of the caller held.
    pub(crate) fn exists(&self, name: &str) -> bool {
        let exists = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        exists(name)
    }
}

/// Returns whether `path` belongs to the control API.
pub(crate) fn is_control_path(path: &str) -> bool {
    path.strip_prefix(CONTROL_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A request that the API received, as `GET /__mock/journal` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// Sequence number, growing by one per recorded request of the session,
    /// in the order the responses were ready.
    pub seq: u64,
    /// Time the request arrived.
    #[serde(serialize_with = "crate::clock::serialize_rfc3339")]
    pub at: SystemTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names, lowercase, with their values. Several values of one
    /// name are joined with `, `, and secret values read [`REDACTED`].
    #[serde(serialize_with = "serialize_map")]
    pub headers: Vec<(String, String)>,
    /// The body that the server read, as text, cut at [`MAX_BODY_BYTES`].
    /// It is none when the server read none, as for a 404 sent before the
    /// body was read.
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rpc_methods: Vec<String>,
    /// The response status, or 444 when a fault dropped the connection.
    pub status: u16,
    /// Time from the request's arrival to its response head being ready.
    pub duration_ms: f64,
    /// ID of the fault that applied to the request.
    pub fault: Option<String>,
}

impl JournalEntry {
    /// Estimates the memory the entry takes.
    fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        let strings = [&self.request_id, &self.query, &self.body, &self.fault]
            .into_iter()
            .flatten()
            .map(String::len)
            .sum::<usize>();
        let rpc_methods: usize = self.rpc_methods.iter().map(String::len).sum();
        ENTRY_OVERHEAD + self.method.len() + self.path.len() + headers + strings + rpc_methods
    }
}

fn serialize_map<S: Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(name, value)| (name, value)))
}

/// The filters of a journal listing. An absent filter matches any entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalFilter {
    /// HTTP method, compared without regard to case.
    pub method: Option<String>,
    /// Prefix of the path.
    pub path: Option<String>,
    pub status: Option<u16>,
    /// A JSON-RPC method that the request called.
    pub rpc_method: Option<String>,
    /// Entries with a sequence number above this one.
    pub since: Option<u64>,
    /// Maximum number of entries, the oldest matching ones, or
    /// [`DEFAULT_PAGE_LIMIT`] when absent.
    pub limit: Option<usize>,
}

impl JournalFilter {
    fn matches(&self, entry: &JournalEntry) -> bool {
        let method = self
            .method
            .as_ref()
            .is_none_or(|method| method.eq_ignore_ascii_case(&entry.method));
        let path = self
            .path
            .as_ref()
            .is_none_or(|prefix| entry.path.starts_with(prefix.as_str()));
        let status = self.status.is_none_or(|status| status == entry.status);
        let rpc_method = self
            .rpc_method
            .as_ref()
            .is_none_or(|name| entry.rpc_methods.contains(name));
        let since = self.since.is_none_or(|since| entry.seq > since);
        method && path && status && rpc_method && since
    }
}

/// A page of a journal listing, in the format of the control API's
/// `Journal` schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalPage {
    /// The matching entries, oldest first.
    pub entries: Vec<JournalEntry>,
    /// Number of older entries of the session that the journal no longer
    /// keeps.
    pub dropped: u64,
}

/// The entries of the shared state or of one session.
#[derive(Debug, Default)]
struct SessionLog {
    entries: VecDeque<JournalEntry>,
    /// Sum of the entries' [`JournalEntry::size`].
    bytes: usize,
    /// The sequence number of the latest entry.
    last_seq: u64,
    dropped: u64,
}

impl SessionLog {
    /// Appends `entry` with the next sequence number, dropping the oldest
    /// entries beyond `limit` entries or [`MAX_BYTES_PER_SESSION`].
    fn push(&mut self, mut entry: JournalEntry, limit: usize) {
        self.last_seq += 1;
        entry.seq = self.last_seq;
        self.bytes += entry.size();
        self.entries.push_back(entry);
        while self.entries.len() > limit || self.bytes > MAX_BYTES_PER_SESSION {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= oldest.size();
            self.dropped += 1;
        }
    }
}

/// The logs of the shared state and of each session.
#[derive(Debug, Default)]
struct Logs {
    shared: SessionLog,
    sessions: HashMap<String, SessionLog>,
}

impl Logs {
    fn get(&self, session: Option<&str>) -> Option<&SessionLog> {
        match session {
            None => Some(&self.shared),
            Some(name) => self.sessions.get(name),
        }
    }
}

/// The journal of the API's requests: the newest `limit` entries of the
/// shared state and of each existing session.
///
/// ```
/// use mock_server::journal::{Journal, JournalFilter};
///
/// let journal = Journal::new(100);
/// let page = journal.list(None, &JournalFilter::default());
/// assert!(page.entries.is_empty());
/// ```
pub struct Journal {
    limit: usize,
    sessions: SessionCheck,
    logs: Mutex<Logs>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new(DEFAULT_LIMIT)
    }
}

impl Journal {
    /// Creates a journal that keeps the newest `limit` entries per session,
    /// or records nothing when `limit` is 0. Until
    /// [`set_sessions`](Self::set_sessions) it records the shared state
    /// only.
    pub fn new(limit: usize) -> Self {
        Journal {
            limit,
            sessions: SessionCheck::new(),
            logs: Mutex::new(Logs::default()),
        }
    }

    /// Records the requests of the sessions for which `exists` returns
    /// true, too, in place of the previous predicate. The journal calls it
    /// without holding its lock.
    pub fn set_sessions(&self, exists: ExistsPredicate) {
        self.sessions.set(exists);
    }

    /// Returns the maximum number of entries per session, 0 when recording
    /// is off.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Lists the entries of `session` (none for the shared state) that
    /// match `filter`, oldest first. An unknown session has none.
    pub fn list(&self, session: Option<&str>, filter: &JournalFilter) -> JournalPage {
        let logs = self.lock();
        let Some(log) = logs.get(session) else {
            return JournalPage {
                entries: Vec::new(),
                dropped: 0,
            };
        };
        let limit = filter.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        let entries = log
            .entries
            .iter()
            .filter(|entry| filter.matches(entry))
            .take(limit)
            .cloned()
            .collect();
        JournalPage {
            entries,
            dropped: log.dropped,
        }
    }

    /// Removes the entries of `session` and resets its dropped count. Its
    /// sequence numbers go on from the last one.
    pub fn clear(&self, session: Option<&str>) {
        let mut logs = self.lock();
        let log = match session {
            None => &mut logs.shared,
            Some(name) => match logs.sessions.get_mut(name) {
                Some(log) => log,
                None => return,
            },
        };
        log.entries.clear();
        log.bytes = 0;
        log.dropped = 0;
    }

    /// Forgets the session `name`. Call it after the session ended, so that
    /// the session-exists predicate returns false for it.
    pub fn remove_session(&self, name: &str) {
        self.lock().sessions.remove(name);
    }

    /// Appends `entry` to the log of `session`, unless the session does
    /// not exist.
    fn record(&self, session: Option<&str>, entry: JournalEntry) {
        if self.limit == 0 {
            return;
        }
        let Some(name) = session else {
            self.lock().shared.push(entry, self.limit);
            return;
        };
        if !self.sessions.exists(name) {
            return;
        }
        let mut logs = self.lock();
        match logs.sessions.get_mut(name) {
            Some(log) => log.push(entry, self.limit),
            None => {
                let mut log = SessionLog::default();
                log.push(entry, self.limit);
                logs.sessions.insert(name.to_string(), log);
            }
        }
        drop(logs);
        // The session may have ended, and its entries been removed, since
        // the check above. Then drop the log that this call created.
        if !self.sessions.exists(name) {
            self.remove_session(name);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Logs> {
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Copies the headers, joining the values of one name and redacting
/// secrets.
fn copy_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut copied: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let secret = SECRET_HEADERS.contains(&name.as_str());
        let value = if secret {
            REDACTED.into()
        } else {
            String::from_utf8_lossy(value.as_bytes())
        };
        match copied.last_mut() {
            Some((last, joined)) if last == name.as_str() => {
                if !secret {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
            }
            _ => copied.push((name.as_str().to_string(), value.into_owned())),
        }
    }
    copied
}

/// The boxed future of a middleware's response.
pub(crate) type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Runs `next` on `request` and records the request in `journal`, unless
/// it calls the control API. It must run inside the middleware that sets
/// [`RequestId`] and outside the faults, so that the response it records
/// carries the fault and the final status.
pub(crate) async fn record_request<F, Fut>(journal: &Journal, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if journal.limit == 0 || is_control_path(request.uri().path()) {
        return next(request).await;
    }
    // A request with an invalid session name belongs to no session.
    let Ok(session) = name_from_headers(request.headers()) else {
        return next(request).await;
    };
    let session = session.map(str::to_string);
    let started = Instant::now();
    let at = SystemTime::now();
    let mut entry = JournalEntry {
        seq: 0,
        at,
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|RequestId(id)| id.clone()),
        method: request.method().as_str().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().map(str::to_string),
        headers: copy_headers(request.headers()),
        body: None,
        rpc_methods: Vec::new(),
        status: 0,
        duration_ms: 0.0,
        fault: None,
    };

    let captured = Arc::new(Mutex::new(Vec::new()));
    let request = if http_body::Body::is_end_stream(request.body()) {
        request
    } else {
        let captured = captured.clone();
        request.map(|inner| Body::new(TapBody { inner, captured }))
    };
    let response = next(request).await;
    entry.duration_ms = started.elapsed().as_micros() as f64 / 1000.0;
    entry.status = response.status().as_u16();
    entry.fault = response
        .extensions()
        .get::<AppliedFault>()
        .map(|AppliedFault(id)| id.clone());
    if let Some(JsonRpcMethods(names)) = response.extensions().get() {
        entry.rpc_methods = names.clone();
    }
    let body = std::mem::take(&mut *captured.lock().unwrap_or_else(|p| p.into_inner()));
    if !body.is_empty() {
        entry.body = Some(
            String::from_utf8(body)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
        );
    }
    journal.record(session.as_deref(), entry);
    response
}

/// A request body that copies the first [`MAX_BODY_BYTES`] of the data
/// it passes on to `captured`. Its frames, size hint and end are those of
/// `inner`.
struct TapBody {
    inner: Body,
    captured: Arc<Mutex<Vec<u8>>>,
}

impl http_body::Body for TapBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(context));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let mut captured = self
                .captured
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let room = MAX_BODY_BYTES.saturating_sub(captured.len());
            captured.extend_from_slice(&data[..data.len().min(room)]);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn entry(method: &str, path: &str, status: u16) -> JournalEntry {
        JournalEntry {
            seq: 0,
            at: SystemTime::UNIX_EPOCH,
            request_id: None,
            method: method.to_string(),
            path: path.to_string(),
            query: None,
            headers: Vec::new(),
            body: None,
            rpc_methods: Vec::new(),
            status,
            duration_ms: 0.0,
            fault: None,
        }
    }

    #[test]
    fn control_paths_are_recognised() {
        assert!(is_control_path("/__mock"));
        assert!(is_control_path("/__mock/journal"));
        assert!(!is_control_path("/__mockery"));
        assert!(!is_control_path("/jsonrpc"));
    }

    #[test]
    fn headers_are_joined_and_redacted() {
        let mut headers = HeaderMap::new();
        headers.append("x-api-key", HeaderValue::from_static("secret"));
        headers.append("x-api-key", HeaderValue::from_static("other"));
        headers.append("accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        headers.append("cookie", HeaderValue::from_static("id=1"));
        let copied = copy_headers(&headers);
        assert!(copied.contains(&("x-api-key".into(), REDACTED.into())));
        assert!(copied.contains(&("accept".into(), "a, b".into())));
        assert!(copied.contains(&("cookie".into(), REDACTED.into())));
        assert_eq!(copied.len(), 3);
    }

    #[test]
    fn limit_drops_oldest_and_counts() {
        let journal = Journal::new(3);
        for index in 0..5 {
            journal.record(None, entry("GET", &format!("/{index}"), 200));
        }
        let page = journal.list(None, &JournalFilter::default());
        let seqs: Vec<u64> = page.entries.iter().map(|entry| entry.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(page.dropped, 2);
    }

    #[test]
    fn byte_budget_drops_oldest() {
        let journal = Journal::new(DEFAULT_LIMIT);
        let mut large = entry("POST", "/", 200);
        large.body = Some("x".repeat(MAX_BODY_BYTES));
        let fitting = MAX_BYTES_PER_SESSION / large.size();
        for _ in 0..fitting + 10 {
            journal.record(None, large.clone());
        }
        let page = journal.list(None, &JournalFilter::default());
        assert_eq!(page.entries.len(), fitting);
        assert_eq!(page.dropped, 10);
    }

    #[test]
    fn unknown_session_is_not_recorded() {
        let journal = Journal::new(10);
        journal.set_sessions(Arc::new(|name| name == "known"));
        journal.record(Some("known"), entry("GET", "/", 200));
        journal.record(Some("unknown"), entry("GET", "/", 200));
        let known = journal.list(Some("known"), &JournalFilter::default());
        assert_eq!(known.entries.len(), 1);
        let unknown = journal.list(Some("unknown"), &JournalFilter::default());
        assert!(unknown.entries.is_empty());
        assert!(
            journal
                .list(None, &JournalFilter::default())
                .entries
                .is_empty()
        );
        assert_eq!(journal.lock().sessions.len(), 1);
    }

    #[test]
    fn clear_keeps_sequence_going() {
        let journal = Journal::new(10);
        journal.record(None, entry("GET", "/", 200));
        journal.clear(None);
        journal.record(None, entry("GET", "/", 200));
        let page = journal.list(None, &JournalFilter::default());
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].seq, 2);
    }
}

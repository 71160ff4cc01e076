//! The journal of the requests that the API received, kept per session for
//! the control API's `GET /__mock/journal`.
//!
//! `record_request` records every request outside the control API (paths
//! under `/__mock`): its headers with secrets redacted, the part of its body
//! that the server read, the JSON-RPC methods it called, its status and the
//! fault that applied to it. [`Journal`] keeps the newest entries of the
//! shared state and of each session, and lists them with filters.

mod layer;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::SystemTime;

use axum::http::{HeaderName, Method, header};
use serde::{Serialize, Serializer};

use crate::sessions::ExistsPredicate;

pub(crate) use layer::{BoxedResponse, Recording};

/// Entries that a journal keeps per session when no limit is given.
pub const DEFAULT_LIMIT: usize = 10_000;

/// Bytes of a request body that an entry keeps. The rest is cut.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Bytes of entries (their text, plus an estimated overhead each) that a
/// journal keeps per session. It drops its oldest entries beyond it too, so that
/// 10,000 entries of large bodies do not take 640 MiB. About 10,000 entries
/// of a browser's requests (1 KiB of headers each) fit.
pub const MAX_BYTES_PER_SESSION: usize = 16 * 1024 * 1024;

/// Bytes of entries that a journal keeps across the shared state and all
/// sessions, unless [`Journal::with_max_total_bytes`] gives another
/// budget. Beyond it, the journal drops the oldest entries, of whichever
/// session, so that its memory does not grow with the number of sessions.
pub const DEFAULT_MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// Estimated bytes of an entry besides its text.
const ENTRY_OVERHEAD: usize = 192;

/// Default `limit` of [`JournalFilter`].
pub const DEFAULT_PAGE_LIMIT: usize = 1000;

/// Path prefix of the control API, whose requests are neither recorded nor
/// faulted.
pub const CONTROL_PREFIX: &str = "/__mock";

/// Value that replaces a secret header's value in an entry.
pub const REDACTED: &str = "[redacted]";

/// Headers whose values an entry never contains.
static SECRET_HEADERS: [HeaderName; 5] = [
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-mock-control-token"),
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
];

/// The session-exists predicate of the journal or the faults, which keep
/// data only for the shared state and the existing sessions. It returns
/// false for every session until [`SessionCheck::set`].
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
    /// `None` when the server read no body, as for a 404 sent before the
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
    fn matches(&self, entry: &Record) -> bool {
        let method = self
            .method
            .as_ref()
            .is_none_or(|method| method.eq_ignore_ascii_case(entry.method.as_str()));
        let path = self
            .path
            .as_ref()
            .is_none_or(|prefix| entry.piece(entry.path).starts_with(prefix.as_bytes()));
        let status = self.status.is_none_or(|status| status == entry.status);
        let rpc_method = self
            .rpc_method
            .as_ref()
            .is_none_or(|name| entry.rpc_methods().any(|called| called == name.as_bytes()));
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

/// Start and end of a piece of a [`Record`]'s text.
type Span = (u32, u32);

/// A recorded request as the journal stores it: its strings back to back
/// in one buffer, so that recording a request takes few allocations. The
/// text is converted to UTF-8, lossily, only when the entry is listed.
#[derive(Debug)]
struct Record {
    seq: u64,
    /// Position among the entries of every session, in the order they were
    /// recorded; the journal drops the lowest first when over its budget.
    order: u64,
    at: SystemTime,
    method: Method,
    status: u16,
    duration_ms: f64,
    text: Vec<u8>,
    request_id: Option<Span>,
    path: Span,
    query: Option<Span>,
    /// The name and value of each header, in the request's order. A secret
    /// value is [`REDACTED`] in the text.
    headers: Vec<(Span, Span)>,
    body: Option<Span>,
    rpc_methods: RpcMethods,
    fault: Option<String>,
}

/// The JSON-RPC method names that a request called.
#[derive(Debug, Clone, Copy)]
enum RpcMethods {
    /// One call of a method that the mock serves, the common case, which
    /// takes no room in the text.
    Served(&'static str),
    /// Any other list of names in the text, each as its length (four bytes,
    /// little-endian) followed by its bytes. Empty for a request that
    /// called none.
    InText(Span),
}

impl RpcMethods {
    const NONE: RpcMethods = RpcMethods::InText((0, 0));
}

/// Returns the mock's own copy of `name`, if it is a JSON-RPC method that
/// the mock serves.
fn served_rpc_method(name: &str) -> Option<&'static str> {
    const DISCOVER: &str = "rpc.discover";
    if name == DISCOVER {
        return Some(DISCOVER);
    }
    system_services_server::JSONRPC_METHODS
        .iter()
        .copied()
        .find(|served| *served == name)
}

impl Record {
    /// Appends `bytes` to `text` and returns their span.
    fn push(text: &mut Vec<u8>, bytes: &[u8]) -> Span {
        let start = text.len() as u32;
        text.extend_from_slice(bytes);
        (start, text.len() as u32)
    }

    fn piece(&self, (start, end): Span) -> &[u8] {
        &self.text[start as usize..end as usize]
    }

    fn string(&self, span: Span) -> String {
        String::from_utf8_lossy(self.piece(span)).into_owned()
    }

    /// Returns `names` as [`RpcMethods`], appended to `text` unless they
    /// are one method that the mock serves.
    fn push_rpc_methods(text: &mut Vec<u8>, names: &[String]) -> RpcMethods {
        if let [name] = names
            && let Some(served) = served_rpc_method(name)
        {
            return RpcMethods::Served(served);
        }
        let start = text.len() as u32;
        text.reserve_exact(names.iter().map(|name| 4 + name.len()).sum());
        for name in names {
            text.extend_from_slice(&(name.len() as u32).to_le_bytes());
            text.extend_from_slice(name.as_bytes());
        }
        RpcMethods::InText((start, text.len() as u32))
    }

    /// Returns the JSON-RPC method names of the request, in order.
    fn rpc_methods(&self) -> impl Iterator<Item = &[u8]> {
        let (served, mut rest) = match self.rpc_methods {
            RpcMethods::Served(name) => (Some(name.as_bytes()), &[][..]),
            RpcMethods::InText(span) => (None, self.piece(span)),
        };
        served.into_iter().chain(std::iter::from_fn(move || {
            let (length, tail) = rest.split_first_chunk::<4>()?;
            let (name, tail) = tail.split_at(u32::from_le_bytes(*length) as usize);
            rest = tail;
            Some(name)
        }))
    }

    /// Estimates the memory the record takes.
    fn size(&self) -> usize {
        let fault = self.fault.as_ref().map_or(0, String::len);
        ENTRY_OVERHEAD
            + self.text.capacity()
            + self.headers.capacity() * size_of::<(Span, Span)>()
            + fault
    }

    /// Returns the headers, joining the values of one name with `, `. The
    /// [`REDACTED`] value of a repeated header that `secrets` names appears
    /// once.
    fn joined_headers(&self, secrets: &Secrets) -> Vec<(String, String)> {
        let mut joined: Vec<(String, String)> = Vec::with_capacity(self.headers.len());
        for &(name, value) in &self.headers {
            let secret = secrets.has_header_bytes(self.piece(name));
            let name = String::from_utf8_lossy(self.piece(name));
            let value = String::from_utf8_lossy(self.piece(value));
            match joined.last_mut() {
                Some((last, values)) if *last == name => {
                    if !secret {
                        values.push_str(", ");
                        values.push_str(&value);
                    }
                }
                _ => joined.push((name.into_owned(), value.into_owned())),
            }
        }
        joined
    }

    fn entry(&self, secrets: &Secrets) -> JournalEntry {
        JournalEntry {
            seq: self.seq,
            at: self.at,
            request_id: self.request_id.map(|span| self.string(span)),
            method: self.method.as_str().to_string(),
            path: self.string(self.path),
            query: self.query.map(|span| self.string(span)),
            headers: self.joined_headers(secrets),
            body: self.body.map(|span| self.string(span)),
            rpc_methods: self
                .rpc_methods()
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .collect(),
            status: self.status,
            duration_ms: self.duration_ms,
            fault: self.fault.clone(),
        }
    }
}

/// The entries of the shared state or of one session.
#[derive(Debug, Default)]
struct SessionLog {
    /// Unique number of this log, which differs from that of an earlier or
    /// later log of a session with the same name.
    instance: u64,
    entries: VecDeque<Record>,
    /// Sum of the entries' [`Record::size`].
    bytes: usize,
    /// The sequence number of the latest entry.
    last_seq: u64,
    dropped: u64,
}

impl SessionLog {
    /// Appends `entry` with the next sequence number, dropping the oldest
    /// entries beyond `limit` entries or [`MAX_BYTES_PER_SESSION`].
    fn push(&mut self, mut entry: Record, limit: usize) {
        self.last_seq += 1;
        entry.seq = self.last_seq;
        self.bytes += entry.size();
        // A full journal moves its entries through all of the deque's
        // capacity, so the capacity grows by doubling only up to the limit.
        if self.entries.len() == self.entries.capacity() {
            let target = (self.entries.capacity() * 2)
                .max(16)
                .min(limit.saturating_add(1));
            self.entries
                .reserve_exact(target.saturating_sub(self.entries.len()));
        }
        self.entries.push_back(entry);
        while self.entries.len() > limit || self.bytes > MAX_BYTES_PER_SESSION {
            if !self.drop_oldest() {
                break;
            }
        }
    }

    /// Drops the oldest entry, counting it, and returns whether there was
    /// one.
    fn drop_oldest(&mut self) -> bool {
        let Some(oldest) = self.entries.pop_front() else {
            return false;
        };
        self.bytes -= oldest.size();
        self.dropped += 1;
        true
    }
}

/// The logs of the shared state and of each session.
#[derive(Debug, Default)]
struct Logs {
    shared: SessionLog,
    sessions: HashMap<String, SessionLog>,
    /// The [`Record::order`] of the next entry.
    next_order: u64,
    /// The last [`SessionLog::instance`] given out.
    last_instance: u64,
    /// Sum of the logs' bytes.
    bytes: usize,
}

impl Logs {
    fn get(&self, session: Option<&str>) -> Option<&SessionLog> {
        match session {
            None => Some(&self.shared),
            Some(name) => self.sessions.get(name),
        }
    }

    /// Returns the log of the session `name`, created empty if it has
    /// none.
    fn session_log(&mut self, name: &str) -> &mut SessionLog {
        if !self.sessions.contains_key(name) {
            self.last_instance += 1;
            let log = SessionLog {
                instance: self.last_instance,
                ..SessionLog::default()
            };
            self.sessions.insert(name.to_string(), log);
        }
        self.sessions.get_mut(name).expect("the log was inserted")
    }

    /// Drops the oldest entries of any log until all of them take at most
    /// `budget` bytes.
    fn enforce_budget(&mut self, budget: usize) {
        while self.bytes > budget {
            let oldest = std::iter::once(&mut self.shared)
                .chain(self.sessions.values_mut())
                .filter(|log| !log.entries.is_empty())
                .min_by_key(|log| log.entries.front().map(|entry| entry.order));
            let Some(log) = oldest else {
                break;
            };
            let before = log.bytes;
            log.drop_oldest();
            self.bytes -= before - log.bytes;
        }
    }
}

/// The log of the session that a request named when it arrived, which
/// [`Journal::record`] records the request in. A request of a session that
/// ended in the meantime, even if a session of the same name started
/// since, is not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ticket {
    /// The shared state.
    Shared,
    /// The log with this [`SessionLog::instance`].
    Instance(u64),
    /// The session did not exist yet: the log of the session that exists
    /// when the request is recorded.
    // NOTE: the registry gives the journal no instance to compare. So if
    // the session that this request started ends, and another of the same
    // name starts before the response, the entry goes to the later one.
    New,
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
    max_total_bytes: usize,
    sessions: SessionCheck,
    logs: Mutex<Logs>,
    /// The credentials of a loaded document, redacted besides
    /// [`SECRET_HEADERS`].
    loaded_secrets: OnceLock<Secrets>,
}

/// The credentials that the journal redacts: the values of headers in
/// `headers` and of query parameters in `query`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Secrets {
    pub headers: Vec<HeaderName>,
    pub query: Vec<String>,
}

impl Secrets {
    /// Returns whether the header `name` has a secret value.
    pub(crate) fn has_header(&self, name: &HeaderName) -> bool {
        SECRET_HEADERS.contains(name) || self.headers.contains(name)
    }

    fn has_header_bytes(&self, name: &[u8]) -> bool {
        SECRET_HEADERS
            .iter()
            .chain(&self.headers)
            .any(|secret| secret.as_str().as_bytes() == name)
    }
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
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            sessions: SessionCheck::new(),
            logs: Mutex::new(Logs::default()),
            loaded_secrets: OnceLock::new(),
        }
    }

    /// Redacts `secrets` too, the credentials of a loaded document, from the
    /// entries recorded after the call. Only the first call has an effect.
    pub(crate) fn redact_also(&self, secrets: Secrets) {
        let _ = self.loaded_secrets.set(secrets);
    }

    /// Returns the credentials redacted besides [`SECRET_HEADERS`].
    pub(crate) fn secrets(&self) -> &Secrets {
        static NONE: Secrets = Secrets {
            headers: Vec::new(),
            query: Vec::new(),
        };
        self.loaded_secrets.get().unwrap_or(&NONE)
    }

    /// Keeps the entries of the shared state and all sessions within
    /// `bytes`, in place of [`DEFAULT_MAX_TOTAL_BYTES`], dropping the
    /// oldest entries of any session first.
    pub fn with_max_total_bytes(mut self, bytes: usize) -> Self {
        self.max_total_bytes = bytes;
        self
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
            .map(|record| record.entry(self.secrets()))
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
        let freed = log.bytes;
        log.entries.clear();
        log.bytes = 0;
        log.dropped = 0;
        logs.bytes -= freed;
    }

    /// Forgets the session `name`. Call it after the session ended, so that
    /// the session-exists predicate returns false for it.
    pub fn remove_session(&self, name: &str) {
        let mut logs = self.lock();
        if let Some(log) = logs.sessions.remove(name) {
            logs.bytes -= log.bytes;
        }
    }

    /// Returns the ticket of a request that names `session` (none for
    /// the shared state) as it arrives.
    pub(crate) fn ticket(&self, session: Option<&str>) -> Ticket {
        let Some(name) = session else {
            return Ticket::Shared;
        };
        if !self.sessions.exists(name) {
            return Ticket::New;
        }
        let instance = self.lock().session_log(name).instance;
        // The session may have ended, and its log been removed, since the
        // check above. Then drop the log that this call created.
        if !self.sessions.exists(name) {
            self.remove_session(name);
        }
        Ticket::Instance(instance)
    }

    /// Appends `entry` to the log of `session` that `ticket` names, unless
    /// that session no longer exists.
    fn record(&self, session: Option<&str>, ticket: Ticket, mut entry: Record) {
        if self.limit == 0 {
            return;
        }
        if let Some(name) = session
            && !self.sessions.exists(name)
        {
            return;
        }
        let mut logs = self.lock();
        entry.order = logs.next_order;
        logs.next_order += 1;

        let log = match (session, ticket) {
            (Some(name), Ticket::Instance(instance)) => match logs.sessions.get_mut(name) {
                Some(log) if log.instance == instance => log,
                _ => return,
            },
            (Some(name), _) => logs.session_log(name),
            (None, _) => &mut logs.shared,
        };
        let before = log.bytes;
        log.push(entry, self.limit);
        let after = log.bytes;
        logs.bytes = logs.bytes + after - before;
        logs.enforce_budget(self.max_total_bytes);
        drop(logs);

        // The session may have ended, and its entries been removed, since
        // the check above. Then drop the log that this call created.
        if let Some(name) = session
            && !self.sessions.exists(name)
        {
            self.remove_session(name);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Logs> {
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(method: Method, path: &str, status: u16) -> Record {
        let mut text = Vec::new();
        let path = Record::push(&mut text, path.as_bytes());
        Record {
            seq: 0,
            order: 0,
            at: SystemTime::UNIX_EPOCH,
            method,
            status,
            duration_ms: 0.0,
            text,
            request_id: None,
            path,
            query: None,
            headers: Vec::new(),
            body: None,
            rpc_methods: RpcMethods::NONE,
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
    fn limit_drops_oldest_and_counts() {
        let journal = Journal::new(3);
        for index in 0..5 {
            journal.record(
                None,
                Ticket::Shared,
                record(Method::GET, &format!("/{index}"), 200),
            );
        }
        let page = journal.list(None, &JournalFilter::default());
        let seqs: Vec<u64> = page.entries.iter().map(|entry| entry.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(page.dropped, 2);
    }

    #[test]
    fn full_log_keeps_capacity_at_limit() {
        let journal = Journal::new(40);
        for index in 0..200 {
            journal.record(
                None,
                Ticket::Shared,
                record(Method::GET, &format!("/{index}"), 200),
            );
        }
        let logs = journal.lock();
        assert_eq!(logs.shared.entries.len(), 40);
        assert_eq!(logs.shared.entries.capacity(), 41);
    }

    #[test]
    fn rpc_methods_are_listed_and_filtered() {
        let journal = Journal::new(10);
        let names = [
            "system.services.active.mark_terminate".to_string(),
            String::new(),
            "nul\0and\u{fffd}".to_string(),
        ];
        let mut called = record(Method::POST, "/jsonrpc", 200);
        called.rpc_methods = Record::push_rpc_methods(&mut called.text, &names);
        journal.record(None, Ticket::Shared, called);
        journal.record(None, Ticket::Shared, record(Method::POST, "/jsonrpc", 400));
        let served = ["rpc.discover".to_string()];
        let mut discover = record(Method::POST, "/jsonrpc", 200);
        let text_length = discover.text.len();
        discover.rpc_methods = Record::push_rpc_methods(&mut discover.text, &served);
        assert_eq!(discover.text.len(), text_length);
        journal.record(None, Ticket::Shared, discover);

        let page = journal.list(None, &JournalFilter::default());
        assert_eq!(page.entries[0].rpc_methods, names);
        assert!(page.entries[1].rpc_methods.is_empty());
        assert_eq!(page.entries[2].rpc_methods, served);
        for name in names.iter().chain(&served) {
            let filter = JournalFilter {
                rpc_method: Some(name.clone()),
                ..JournalFilter::default()
            };
            let page = journal.list(None, &filter);
            assert_eq!(page.entries.len(), 1, "{name:?}");
        }
        let filter = JournalFilter {
            rpc_method: Some("system.services".to_string()),
            ..JournalFilter::default()
        };
        assert!(journal.list(None, &filter).entries.is_empty());
    }

    #[test]
    fn byte_budget_drops_oldest() {
        let journal = Journal::new(DEFAULT_LIMIT);
        let large = || {
            let mut large = record(Method::POST, "/", 200);
            let body = Record::push(&mut large.text, &[b'x'; MAX_BODY_BYTES]);
            large.body = Some(body);
            large
        };
        let fitting = MAX_BYTES_PER_SESSION / large().size();
        for _ in 0..fitting + 10 {
            journal.record(None, Ticket::Shared, large());
        }
        let page = journal.list(None, &JournalFilter::default());
        assert_eq!(page.entries.len(), fitting);
        assert_eq!(page.dropped, 10);
        let body = page.entries[0].body.as_deref().unwrap_or_default();
        assert_eq!(body.len(), MAX_BODY_BYTES);
    }

    #[test]
    fn unknown_session_is_not_recorded() {
        let journal = Journal::new(10);
        journal.set_sessions(Arc::new(|name| name == "known"));
        journal.record(Some("known"), Ticket::New, record(Method::GET, "/", 200));
        journal.record(Some("unknown"), Ticket::New, record(Method::GET, "/", 200));
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
        journal.record(None, Ticket::Shared, record(Method::GET, "/", 200));
        journal.clear(None);
        journal.record(None, Ticket::Shared, record(Method::GET, "/", 200));
        let page = journal.list(None, &JournalFilter::default());
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].seq, 2);
    }
}

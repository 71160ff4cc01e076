//! The session registry: named sessions, each on its own copy of the
//! initial state, started by their first request and ended when idle or
//! deleted, next to the shared state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName};
use serde::Serialize;

use crate::clock::{Clock, serialize_rfc3339};
use crate::persist::Store;
use crate::session::Session;
use crate::state::ClusterState;

/// Request header that names the session of a request.
pub const SESSION_HEADER: &str = "X-Mock-Session";

/// [`SESSION_HEADER`] as a header name, which lookups need not parse.
pub(crate) static SESSION_HEADER_NAME: HeaderName = HeaderName::from_static("x-mock-session");

/// Maximum length of a session name.
pub const MAX_NAME_LEN: usize = 64;

/// Description of a valid session name, for error messages.
const NAME_RULE: &str = "Expected 1 to 64 letters, digits, `-`, `_` or `.`";

/// Time between two sweeps of the background task of
/// [`Sessions::spawn_sweeper`].
const SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// How many sessions may exist at once and how long an idle one lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Maximum number of sessions at once; 0 turns sessions off.
    pub max_sessions: usize,
    /// Time without a request after which a session ends.
    pub idle_timeout: Duration,
}

impl SessionLimits {
    pub const DEFAULT_MAX_SESSIONS: usize = 64;
    pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;
}

/// Builds the message of the 422 for a request that would start one
/// session more than `limit` allows.
pub(crate) fn session_limit_message(limit: usize) -> String {
    if limit == 0 {
        return "Sessions are off because the mock runs with --max-sessions 0; send the \
                request without X-Mock-Session"
            .to_string();
    }
    format!("The session limit of {limit} is reached; delete a session or wait until one expires")
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_sessions: Self::DEFAULT_MAX_SESSIONS,
            idle_timeout: Duration::from_secs(Self::DEFAULT_IDLE_TIMEOUT_SECS),
        }
    }
}

/// Reason a request cannot use the session it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// An invalid `X-Mock-Session` header or session name. The message
    /// gives the reason.
    #[error("{0}")]
    InvalidName(String),
    /// A new session would exceed the limit.
    #[error("the session limit of {0} is reached")]
    LimitReached(usize),
}

/// Checks that `name` is 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `-`,
/// `_` or `.`.
pub fn check_name(name: &str) -> Result<(), SessionError> {
    let valid = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(SessionError::InvalidName(NAME_RULE.to_string()))
    }
}

/// Returns whether `headers` contain `name`. It compares the names in turn
/// rather than hashing `name`, which costs less for the few headers of a
/// request when `name`, such as [`SESSION_HEADER`], is not a standard one.
pub(crate) fn has_header(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.keys().any(|key| key == name)
}

/// Returns the session name of a request's headers, or `None` without an
/// [`SESSION_HEADER`] header. The name is checked with [`check_name`].
pub fn name_from_headers(headers: &HeaderMap) -> Result<Option<&str>, SessionError> {
    if !has_header(headers, &SESSION_HEADER_NAME) {
        return Ok(None);
    }
    let mut values = headers.get_all(&SESSION_HEADER_NAME).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        let message = format!("Send one {SESSION_HEADER} header, not several");
        return Err(SessionError::InvalidName(message));
    }
    let name = value
        .to_str()
        .map_err(|_| SessionError::InvalidName(NAME_RULE.to_string()))?;
    check_name(name)?;
    Ok(Some(name))
}

/// A session as `GET /__mock/sessions` lists it. Times are on the mock's
/// clock, without the session's clock offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub name: String,
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: SystemTime,
    #[serde(serialize_with = "serialize_rfc3339")]
    pub last_used_at: SystemTime,
    #[serde(serialize_with = "serialize_rfc3339")]
    pub expires_at: SystemTime,
}

/// The sessions, sorted by name, and the limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
    pub limit: usize,
    pub idle_timeout_seconds: u64,
}

/// Called with the name of each session that ends, so that data kept per
/// session elsewhere (faults, the journal) goes with it.
pub type EndHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Returns whether a session of that name exists.
pub type ExistsPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The shared state and the named sessions.
pub struct Sessions {
    shared: Arc<Session>,
    registry: Arc<Registry>,
}

struct Registry {
    named: Mutex<HashMap<Box<str>, Arc<Session>>>,
    /// The state a session starts on and a reset restores, without events.
    initial: ClusterState,
    clock: Arc<dyn Clock>,
    interval: Duration,
    limits: SessionLimits,
    end_hooks: Mutex<Vec<EndHook>>,
}

impl Sessions {
    /// Creates the registry with the shared state `shared` (saved in
    /// `store`, if any) and no sessions. New sessions and resets start on
    /// `initial` without its events.
    pub(crate) fn new(
        initial: &ClusterState,
        shared: ClusterState,
        store: Option<Store>,
        clock: Arc<dyn Clock>,
        interval: Duration,
        limits: SessionLimits,
    ) -> Self {
        let shared = Session::new(None, shared, store, clock.clone(), interval);
        Sessions {
            shared: Arc::new(shared),
            registry: Arc::new(Registry {
                named: Mutex::new(HashMap::new()),
                initial: initial.without_events(),
                clock,
                interval,
                limits,
                end_hooks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Takes the registry apart into the initial state, the shared state
    /// and its database, for a rebuild with other options.
    ///
    /// # Panics
    ///
    /// Panics when a server or a background task still uses the registry.
    pub(crate) fn into_parts(self) -> (ClusterState, ClusterState, Option<Store>) {
        let shared = Arc::into_inner(self.shared).expect("the shared state is not in use yet");
        let (state, store) = shared.into_parts();
        (self.registry.initial.clone(), state, store)
    }

    /// Returns the shared state, which requests without a session use.
    pub fn shared(&self) -> &Arc<Session> {
        &self.shared
    }

    /// Returns the state that sessions start on and a reset restores.
    pub fn initial(&self) -> &ClusterState {
        &self.registry.initial
    }

    pub fn limits(&self) -> SessionLimits {
        self.registry.limits
    }

    /// Returns the session named by `headers` ([`name_from_headers`]),
    /// started on a copy of the initial state when it does not exist, or
    /// the shared state without the header. Either way the request counts
    /// as a use of the session.
    pub fn for_headers(&self, headers: &HeaderMap) -> Result<Arc<Session>, SessionError> {
        self.get(name_from_headers(headers)?)
    }

    /// Returns the session `name`, started on a copy of the initial state
    /// when it does not exist, or the shared state for `None`. `name` must
    /// pass [`check_name`].
    pub fn get(&self, name: Option<&str>) -> Result<Arc<Session>, SessionError> {
        match name {
            None => Ok(self.shared.clone()),
            Some(name) => {
                check_name(name)?;
                self.registry.get_or_start(name)
            }
        }
    }

    /// Returns whether the session `name` exists and has not expired.
    pub fn contains(&self, name: &str) -> bool {
        self.registry.contains(name)
    }

    /// Returns a [`ExistsPredicate`] on this registry. It does not keep
    /// the registry alive, and returns `false` once it is gone.
    pub fn exists_predicate(&self) -> ExistsPredicate {
        let registry: Weak<Registry> = Arc::downgrade(&self.registry);
        Arc::new(move |name| {
            registry
                .upgrade()
                .is_some_and(|registry| registry.contains(name))
        })
    }

    /// Adds a hook that runs with the name of each session that ends.
    pub fn on_end(&self, hook: EndHook) {
        lock(&self.registry.end_hooks).push(hook);
    }

    /// Ends the session `name`. Returns `false` when it does not exist.
    pub fn remove(&self, name: &str) -> bool {
        let removed = lock(&self.registry.named).remove(name);
        match removed {
            Some(session) => {
                self.registry.ended(vec![session]);
                true
            }
            None => false,
        }
    }

    /// Ends every session that has been idle for the idle timeout, and
    /// returns how many ended.
    pub fn sweep(&self) -> usize {
        let expired = self.registry.take_expired(&mut lock(&self.registry.named));
        let count = expired.len();
        self.registry.ended(expired);
        count
    }

    /// Returns the sessions, sorted by name, after ending the expired ones.
    pub fn list(&self) -> SessionList {
        self.sweep();
        let limits = self.registry.limits;
        let mut sessions: Vec<SessionInfo> = lock(&self.registry.named)
            .values()
            .map(|session| {
                let last_used_at = session.last_used();
                SessionInfo {
                    name: session.name().unwrap_or_default().to_string(),
                    created_at: session.created_at(),
                    last_used_at,
                    expires_at: last_used_at + limits.idle_timeout,
                }
            })
            .collect();
        sessions.sort_by(|a, b| a.name.cmp(&b.name));
        SessionList {
            sessions,
            limit: limits.max_sessions,
            // Rounded up, so that a timeout under a second, which only the
            // library allows, is not listed as 0.
            idle_timeout_seconds: limits.idle_timeout.as_millis().div_ceil(1000).max(1) as u64,
        }
    }

    /// Returns the shared state and every session.
    pub fn all(&self) -> Vec<Arc<Session>> {
        let named = lock(&self.registry.named);
        let mut all = Vec::with_capacity(named.len() + 1);
        all.push(self.shared.clone());
        all.extend(named.values().cloned());
        all
    }

    /// Ends the update streams of the shared state and of every session,
    /// for a shutdown: an open stream would otherwise keep its connection
    /// until the shutdown grace period is over.
    pub fn close_update_streams(&self) {
        for session in self.all() {
            session.close_streams();
        }
    }

    /// Spawns a task on the current tokio runtime that ends idle sessions
    /// every second, and logs each.
    ///
    /// # Panics
    ///
    /// Panics outside a tokio runtime.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let registry = Arc::downgrade(&self.registry);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SWEEP_PERIOD);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                let expired = registry.take_expired(&mut lock(&registry.named));
                registry.ended(expired);
            }
        })
    }
}

impl Registry {
    fn contains(&self, name: &str) -> bool {
        let now = self.clock.now();
        lock(&self.named)
            .get(name)
            .is_some_and(|session| !self.is_expired(session, now))
    }

    /// Returns the session `name`, started when it does not exist. Expired
    /// sessions end first, so that they do not count against the limit.
    fn get_or_start(&self, name: &str) -> Result<Arc<Session>, SessionError> {
        let now = self.clock.now();
        let expired = {
            let mut named = lock(&self.named);
            if let Some(session) = named.get(name)
                && !self.is_expired(session, now)
            {
                session.touch(now);
                return Ok(session.clone());
            }
            self.take_expired(&mut named)
        };
        self.ended(expired);
        self.check_room(&lock(&self.named))?;

        // The copy of the state is made outside the lock, because a large
        // state takes a while to copy.
        let started = Arc::new(Session::new(
            Some(name.into()),
            self.initial.clone(),
            None,
            self.clock.clone(),
            self.interval,
        ));
        let mut named = lock(&self.named);
        if let Some(session) = named.get(name) {
            session.touch(now);
            return Ok(session.clone());
        }
        self.check_room(&named)?;
        named.insert(name.into(), started.clone());
        drop(named);
        tracing::info!(
            request_id = crate::telemetry::request_id_field(),
            session = name,
            "session started"
        );
        Ok(started)
    }

    fn check_room(&self, named: &HashMap<Box<str>, Arc<Session>>) -> Result<(), SessionError> {
        let limit = self.limits.max_sessions;
        if named.len() >= limit {
            return Err(SessionError::LimitReached(limit));
        }
        Ok(())
    }

    fn is_expired(&self, session: &Session, now: SystemTime) -> bool {
        let idle = now
            .duration_since(session.last_used())
            .unwrap_or(Duration::ZERO);
        idle >= self.limits.idle_timeout
    }

    /// Removes the expired sessions from `named` and returns them.
    fn take_expired(&self, named: &mut HashMap<Box<str>, Arc<Session>>) -> Vec<Arc<Session>> {
        let now = self.clock.now();
        let names: Vec<Box<str>> = named
            .iter()
            .filter(|(_, session)| self.is_expired(session, now))
            .map(|(name, _)| name.clone())
            .collect();
        names.iter().filter_map(|name| named.remove(name)).collect()
    }

    /// Ends the removed `sessions` and runs the end hooks for each.
    fn ended(&self, sessions: Vec<Arc<Session>>) {
        if sessions.is_empty() {
            return;
        }
        let hooks = lock(&self.end_hooks).clone();
        for session in sessions {
            session.end();
            let name = session.name().unwrap_or_default();
            for hook in &hooks {
                hook(name);
            }
            tracing::info!(session = name, "session ended");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value stays consistent: no update panics part-way.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use axum::http::HeaderValue;

    use super::*;
    use crate::clock::ManualClock;

    const IDLE: Duration = Duration::from_secs(600);

    fn registry(max_sessions: usize) -> (Sessions, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_000_000),
        ));
        let state = ClusterState::default_state();
        let limits = SessionLimits {
            max_sessions,
            idle_timeout: IDLE,
        };
        let interval = Duration::from_secs(60);
        let sessions = Sessions::new(&state, state.clone(), None, clock.clone(), interval, limits);
        (sessions, clock)
    }

    #[test]
    fn session_header_name_matches_text() {
        let name = HeaderName::from_bytes(SESSION_HEADER.as_bytes());
        assert_eq!(name.ok(), Some(SESSION_HEADER_NAME.clone()));
    }

    #[test]
    fn names_follow_rule() {
        for valid in ["a", "test-1", "A.b_c", &"x".repeat(64)] {
            assert_eq!(check_name(valid), Ok(()), "{valid}");
        }
        for invalid in ["", "a b", "é", "a/b", "a:b", &"x".repeat(65)] {
            assert!(check_name(invalid).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn header_absent_repeated_or_invalid() {
        let mut headers = HeaderMap::new();
        assert_eq!(name_from_headers(&headers), Ok(None));
        headers.insert(SESSION_HEADER, HeaderValue::from_static("t1"));
        assert_eq!(name_from_headers(&headers), Ok(Some("t1")));
        headers.append(SESSION_HEADER, HeaderValue::from_static("t2"));
        assert!(name_from_headers(&headers).is_err());
        headers.insert(SESSION_HEADER, HeaderValue::from_bytes(b"\xff").unwrap());
        assert!(name_from_headers(&headers).is_err());
    }

    #[test]
    fn sessions_have_own_state() {
        let (sessions, _clock) = registry(4);
        let one = sessions.get(Some("one")).unwrap();
        let two = sessions.get(Some("two")).unwrap();
        assert_eq!(one.mark_terminate("cron", None).unwrap(), Ok(2));
        assert_eq!(two.mark_terminate("cron", None).unwrap(), Ok(2));
        let shared = sessions.get(None).unwrap();
        assert_eq!(shared.mark_terminate("cron", None).unwrap(), Ok(2));
        assert!(Arc::ptr_eq(&one, &sessions.get(Some("one")).unwrap()));
    }

    #[test]
    fn limit_rejects_new_sessions_only() {
        let (sessions, _clock) = registry(2);
        sessions.get(Some("a")).unwrap();
        sessions.get(Some("b")).unwrap();
        assert_eq!(
            sessions.get(Some("c")).err(),
            Some(SessionError::LimitReached(2))
        );
        assert!(sessions.get(Some("a")).is_ok());
        assert!(sessions.remove("a"));
        assert!(sessions.get(Some("c")).is_ok());
    }

    #[test]
    fn zero_limit_turns_sessions_off() {
        let (sessions, _clock) = registry(0);
        assert_eq!(
            sessions.get(Some("a")).err(),
            Some(SessionError::LimitReached(0))
        );
        assert!(sessions.get(None).is_ok());
    }

    #[test]
    fn idle_sessions_expire() {
        let (sessions, clock) = registry(1);
        let first = sessions.get(Some("a")).unwrap();
        clock.advance(IDLE - Duration::from_secs(1));
        assert!(sessions.contains("a"));
        assert_eq!(sessions.sweep(), 0);

        clock.advance(Duration::from_secs(1));
        assert!(!sessions.contains("a"));
        let second = sessions
            .get(Some("b"))
            .expect("the expired session made room");
        assert!(first.has_ended());
        assert!(!second.has_ended());
        assert_eq!(sessions.list().sessions.len(), 1);
    }

    #[test]
    fn use_postpones_expiry() {
        let (sessions, clock) = registry(1);
        sessions.get(Some("a")).unwrap();
        clock.advance(IDLE - Duration::from_secs(1));
        sessions.get(Some("a")).unwrap();
        clock.advance(IDLE - Duration::from_secs(1));
        assert_eq!(sessions.sweep(), 0);
        let list = sessions.list();
        let info = &list.sessions[0];
        assert_eq!(info.expires_at, info.last_used_at + IDLE);
        assert_eq!(
            info.last_used_at.duration_since(info.created_at).unwrap(),
            IDLE - Duration::from_secs(1)
        );
    }

    #[test]
    fn list_rounds_timeout_up() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
        let state = ClusterState::default_state();
        let limits = SessionLimits {
            max_sessions: 1,
            idle_timeout: Duration::from_millis(1500),
        };
        let interval = Duration::from_secs(60);
        let sessions = Sessions::new(&state, state.clone(), None, clock, interval, limits);
        assert_eq!(sessions.list().idle_timeout_seconds, 2);
    }

    #[test]
    fn end_hooks_run_on_remove_and_expiry() {
        let (sessions, clock) = registry(4);
        let ended = Arc::new(Mutex::new(Vec::new()));
        let record = ended.clone();
        sessions.on_end(Arc::new(move |name| {
            record.lock().unwrap().push(name.to_string())
        }));
        sessions.get(Some("a")).unwrap();
        sessions.get(Some("b")).unwrap();
        assert!(sessions.remove("a"));
        assert!(!sessions.remove("a"));
        clock.advance(IDLE);
        assert_eq!(sessions.sweep(), 1);
        assert_eq!(*ended.lock().unwrap(), ["a", "b"]);
    }

    #[test]
    fn exists_predicate_follows_registry() {
        let (sessions, _clock) = registry(4);
        let exists = sessions.exists_predicate();
        assert!(!exists("a"));
        sessions.get(Some("a")).unwrap();
        assert!(exists("a"));
        drop(sessions);
        assert!(!exists("a"));
    }

    #[test]
    fn random_names_stay_within_limit() {
        let (sessions, _clock) = registry(8);
        let mut rejected = 0;
        for index in 0..10_000 {
            if sessions.get(Some(&format!("n{index}"))).is_err() {
                rejected += 1;
            }
        }
        assert_eq!(rejected, 10_000 - 8);
        assert_eq!(sessions.all().len(), 9);
    }
}

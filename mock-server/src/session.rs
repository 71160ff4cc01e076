//! One cluster state with its own clock, Tasks Scheduler schedule and
//! change notifications: the shared state or the state of a session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::watch;

use crate::clock::{self, Clock, Rfc3339, serialize_rfc3339, serialize_rfc3339_option};
use crate::events::{Event, SignalOutcome};
use crate::persist::{PersistError, Store};
use crate::state::{
    Change, ClusterState, Fixture, Process, ProcessError, SchedulerRun, TerminateError,
};

/// Maximum number of scheduled runs that one clock advance carries out.
/// A larger advance is rejected, because its response lists every run.
pub const MAX_RUNS_PER_ADVANCE: u64 = 10_000;

/// Maximum number of signals that the runs of one clock advance send. A
/// hung, flagged process is signalled on every run, so this bounds the
/// response and the log lines of an advance, which list every signal.
pub const MAX_SIGNALS_PER_ADVANCE: u64 = 100_000;

/// Number of events, the newest, in a [`Snapshot`].
pub const SNAPSHOT_EVENTS: usize = 1000;

/// A cluster state with its clock and its Tasks Scheduler schedule.
///
/// The session's clock is the mock's clock plus an offset that
/// [`advance_clock`](Self::advance_clock) moves forward. Each change
/// notifies the receivers of [`subscribe`](Self::subscribe).
pub struct Session {
    /// `None` for the shared state.
    name: Option<Box<str>>,
    guarded: Mutex<Guarded>,
    clock: Arc<dyn Clock>,
    /// Time between two scheduled runs; zero turns scheduled runs off.
    interval: Duration,
    /// Creation time on the mock's clock, without the offset.
    created_at: SystemTime,
    /// Time of the last request on the mock's clock, without the offset.
    last_used: Mutex<SystemTime>,
    /// Counts the changes, so that receivers wake up after each one.
    changes: watch::Sender<u64>,
    ended: AtomicBool,
    /// Set when the mock stops, so that update streams end.
    streams_closed: AtomicBool,
}

/// The contents of the lock of [`Session`]: the state that reads use, the
/// database that each change is written to first (the shared state with
/// persistence only), the clock offset and the next scheduled run.
struct Guarded {
    state: ClusterState,
    store: Option<Store>,
    /// How far the session's clock is ahead of the mock's clock.
    offset: Duration,
    /// Time of the next scheduled run on the session's clock, or `None`
    /// when scheduled runs are off.
    next_run: Option<SystemTime>,
}

impl Guarded {
    /// Writes `change` to the database, if there is one.
    fn record(store: &mut Option<Store>, change: &Change<'_>) -> Result<(), PersistError> {
        match store {
            Some(store) => store.record(change),
            None => Ok(()),
        }
    }

    fn run_scheduler_at(&mut self, at: SystemTime) -> Result<SchedulerRun, PersistError> {
        let store = &mut self.store;
        self.state
            .run_scheduler_recorded(at, |change| Guarded::record(store, change))
    }
}

/// The schedule of the Tasks Scheduler of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// The session's clock.
    #[serde(serialize_with = "serialize_rfc3339")]
    pub now: SystemTime,
    /// Seconds between two runs; 0 when scheduled runs are off.
    pub interval_seconds: u64,
    /// Time of the next scheduled run, or `None` when runs are off.
    #[serde(serialize_with = "serialize_rfc3339_option")]
    pub next_run_at: Option<SystemTime>,
}

/// The outcome of a clock advance: the new schedule and the runs it caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockAdvanced {
    pub schedule: Schedule,
    /// The scheduled runs in the skipped time, oldest first.
    pub runs: Vec<SchedulerRun>,
}

/// The newest events of a session, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Number of older events that the log no longer keeps.
    pub dropped: u64,
}

/// Everything the dashboard shows of a session.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Session name, or `None` for the shared state.
    pub session: Option<String>,
    pub state: Fixture,
    pub schedule: Schedule,
    pub events: EventPage,
}

/// Reason a clock advance fails.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error(
        "the advance causes {runs} scheduled runs, more than {MAX_RUNS_PER_ADVANCE} in one \
         request"
    )]
    TooManyRuns { runs: u64 },
    #[error(
        "the advance sends {signals} signals, more than {MAX_SIGNALS_PER_ADVANCE} in one request"
    )]
    TooManySignals { signals: u64 },
    #[error("the advance moves the clock or its next run past 9999-12-31T23:59:59Z")]
    PastMaxTime,
    /// The database rejected a run. The runs before it happened.
    #[error(transparent)]
    Persist(#[from] PersistError),
}

impl Session {
    /// Creates a session on `state`, with its first scheduled run one
    /// `interval` from now. `store` must hold `state`, as with
    /// [`crate::MockApi::with_store`].
    pub(crate) fn new(
        name: Option<Box<str>>,
        state: ClusterState,
        store: Option<Store>,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        let now = clock.now();
        Session {
            name,
            guarded: Mutex::new(Guarded {
                state,
                store,
                offset: Duration::ZERO,
                next_run: first_run(now, interval),
            }),
            clock,
            interval,
            created_at: now,
            last_used: Mutex::new(now),
            changes: watch::Sender::new(0),
            ended: AtomicBool::new(false),
            streams_closed: AtomicBool::new(false),
        }
    }

    /// Returns the state and the database, for a rebuild with other options.
    pub(crate) fn into_parts(self) -> (ClusterState, Option<Store>) {
        let guarded = self
            .guarded
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (guarded.state, guarded.store)
    }

    /// Returns the session name, or `None` for the shared state.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Returns the time between two scheduled runs; zero when they are off.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// Returns the time of the last request, on the mock's clock.
    pub fn last_used(&self) -> SystemTime {
        *lock(&self.last_used)
    }

    /// Records a request at `now`, on the mock's clock.
    pub(crate) fn touch(&self, now: SystemTime) {
        *lock(&self.last_used) = now;
    }

    /// Returns the session's clock.
    pub fn now(&self) -> SystemTime {
        let offset = self.lock().offset;
        self.clock.now() + offset
    }

    /// Sets the termination flag of a service's processes, as
    /// [`ClusterState::mark_terminate`] does. When the database rejects
    /// the change, nothing changes.
    pub fn mark_terminate(
        &self,
        service_id: &str,
        node_id: Option<&str>,
    ) -> Result<Result<u64, TerminateError>, PersistError> {
        let result = {
            let guarded = &mut *self.lock();
            let store = &mut guarded.store;
            guarded
                .state
                .mark_terminate_recorded(service_id, node_id, |change| {
                    Guarded::record(store, change)
                })?
        };
        if matches!(result, Ok(affected) if affected > 0) {
            self.notify();
        }
        Ok(result)
    }

    /// Runs the Tasks Scheduler once at the session's clock, outside the
    /// schedule, and logs the run. When the database rejects the run,
    /// nothing changes.
    pub fn run_scheduler(&self) -> Result<SchedulerRun, PersistError> {
        let run = {
            let mut guarded = self.lock();
            let now = self.clock.now() + guarded.offset;
            guarded.run_scheduler_at(now)?
        };
        self.log_run(&run);
        self.notify();
        Ok(run)
    }

    /// Runs the Tasks Scheduler when its next scheduled run is due on the
    /// session's clock, and schedules the one after. A run that is more
    /// than one interval late happens once, and the next one follows one
    /// interval after it. Returns `None` when no run was due.
    ///
    /// When the database rejects the run, nothing changes, the error is
    /// logged and returned, and the next run is scheduled all the same.
    pub fn run_if_due(&self) -> Option<Result<SchedulerRun, PersistError>> {
        let result = {
            let mut guarded = self.lock();
            let now = self.clock.now() + guarded.offset;
            let due = guarded.next_run.filter(|next| *next <= now)?;
            let result = guarded.run_scheduler_at(now);
            let following = due + self.interval;
            guarded.next_run = Some(if following <= now {
                now + self.interval
            } else {
                following
            });
            result
        };
        match &result {
            Ok(run) => {
                self.log_run(run);
                self.notify();
            }
            Err(error) => tracing::error!(
                session = self.name(),
                %error,
                "Tasks Scheduler run not persisted, so not applied"
            ),
        }
        Some(result)
    }

    /// Returns how long until the next scheduled run is due on the
    /// session's clock: zero when it is due, `None` when runs are off.
    pub fn until_next_run(&self) -> Option<Duration> {
        let guarded = self.lock();
        let now = self.clock.now() + guarded.offset;
        let next = guarded.next_run?;
        Some(next.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// Returns the latest time the session clock may reach, so that its
    /// next scheduled run, at most one interval later, is still at or before
    /// [`clock::max_time`].
    fn latest_time(&self) -> SystemTime {
        clock::max_time()
            .checked_sub(self.interval)
            .unwrap_or(std::time::UNIX_EPOCH)
    }

    /// Moves the session's clock forward by `by`. Every scheduled run in
    /// the skipped time happens at its scheduled time, in order. More than
    /// [`MAX_RUNS_PER_ADVANCE`] runs or [`MAX_SIGNALS_PER_ADVANCE`]
    /// signals, or a clock or next run past
    /// [`clock::max_time`], are rejected, and nothing changes.
    ///
    /// When the database rejects a run, the clock has moved and the runs
    /// before it happened; the rejected run stays due.
    pub fn advance_clock(&self, by: Duration) -> Result<ClockAdvanced, AdvanceError> {
        let mut guarded = self.lock();
        let target = (self.clock.now() + guarded.offset)
            .checked_add(by)
            .filter(|target| *target <= self.latest_time())
            .ok_or(AdvanceError::PastMaxTime)?;
        let runs_due = guarded
            .next_run
            .map_or(0, |next| runs_until(next, target, self.interval));
        if runs_due > MAX_RUNS_PER_ADVANCE {
            return Err(AdvanceError::TooManyRuns { runs: runs_due });
        }
        let signals = guarded.state.signals_of_runs(runs_due);
        if signals > MAX_SIGNALS_PER_ADVANCE {
            return Err(AdvanceError::TooManySignals { signals });
        }

        guarded.offset += by;
        let mut runs = Vec::new();
        let mut failure = None;
        while let Some(next) = guarded.next_run.filter(|next| *next <= target) {
            match guarded.run_scheduler_at(next) {
                Ok(run) => runs.push(run),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
            guarded.next_run = Some(next + self.interval);
        }
        let schedule = self.schedule_of(&guarded);
        drop(guarded);

        for run in &runs {
            self.log_run(run);
        }
        self.notify();
        match failure {
            Some(error) => Err(AdvanceError::Persist(error)),
            None => Ok(ClockAdvanced { schedule, runs }),
        }
    }

    /// Marks a process as hung and returns it, as [`ClusterState::hang`]
    /// does. When the database rejects the change, nothing changes.
    pub fn hang(
        &self,
        service_id: &str,
        node_id: &str,
    ) -> Result<Result<Process, ProcessError>, PersistError> {
        let result = {
            let guarded = &mut *self.lock();
            let store = &mut guarded.store;
            let hung = guarded
                .state
                .hang_recorded(service_id, node_id, |change| Guarded::record(store, change))?;
            hung.and_then(|()| guarded.state.process_of(service_id, node_id))
        };
        if result.is_ok() {
            self.notify();
        }
        Ok(result)
    }

    /// Kills a process at the session's clock, as [`ClusterState::kill`]
    /// does. When the database rejects the change, nothing changes.
    pub fn kill(
        &self,
        service_id: &str,
        node_id: &str,
    ) -> Result<Result<Process, ProcessError>, PersistError> {
        let result = {
            let guarded = &mut *self.lock();
            let now = self.clock.now() + guarded.offset;
            let store = &mut guarded.store;
            guarded
                .state
                .kill_recorded(service_id, node_id, now, |change| {
                    Guarded::record(store, change)
                })?
        };
        if result.is_ok() {
            self.notify();
        }
        Ok(result)
    }

    /// Replaces the cluster state; the clock and the schedule stay. With a
    /// database, the state is saved first, and nothing changes when that
    /// fails.
    pub fn replace(&self, state: ClusterState) -> Result<(), PersistError> {
        {
            let mut guarded = self.lock();
            if let Some(store) = &mut guarded.store {
                store.save(&state)?;
            }
            guarded.state = state;
        }
        self.notify();
        Ok(())
    }

    /// Replaces the state with a copy of `initial`, sets the clock back to
    /// the mock's clock and schedules the next run one interval from now.
    /// With a database, the state is saved first, and nothing changes when
    /// that fails.
    pub fn reset(&self, initial: &ClusterState) -> Result<(), PersistError> {
        let state = initial.clone();
        {
            let mut guarded = self.lock();
            if let Some(store) = &mut guarded.store {
                store.save(&state)?;
            }
            guarded.state = state;
            guarded.offset = Duration::ZERO;
            guarded.next_run = first_run(self.clock.now(), self.interval);
        }
        self.notify();
        Ok(())
    }

    /// Returns the schedule of the Tasks Scheduler.
    pub fn schedule(&self) -> Schedule {
        self.schedule_of(&self.lock())
    }

    /// Returns the newest `limit` events, oldest first.
    pub fn events(&self, limit: usize) -> EventPage {
        event_page(&self.lock().state, limit)
    }

    /// Returns the state, the schedule and the newest
    /// [`SNAPSHOT_EVENTS`] events, read under one lock.
    pub fn snapshot(&self) -> Snapshot {
        let guarded = self.lock();
        Snapshot {
            session: self.name.as_deref().map(str::to_string),
            state: guarded.state.to_fixture(),
            schedule: self.schedule_of(&guarded),
            events: event_page(&guarded.state, SNAPSHOT_EVENTS),
        }
    }

    /// Runs `read` on the current state.
    pub fn with_state<T>(&self, read: impl FnOnce(&ClusterState) -> T) -> T {
        read(&self.lock().state)
    }

    /// Returns a receiver that gets a new value after each change and
    /// after the session ends.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Returns whether the session was deleted or expired.
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Marks the session as ended and wakes its receivers.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.notify();
    }

    /// Returns whether update streams of the session should end: the
    /// session ended, or the mock is stopping.
    pub fn streams_closed(&self) -> bool {
        self.has_ended() || self.streams_closed.load(Ordering::Acquire)
    }

    /// Ends the update streams of the session, and wakes its receivers.
    /// The session itself goes on.
    pub fn close_streams(&self) {
        self.streams_closed.store(true, Ordering::Release);
        self.notify();
    }

    fn notify(&self) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    fn schedule_of(&self, guarded: &Guarded) -> Schedule {
        Schedule {
            now: self.clock.now() + guarded.offset,
            interval_seconds: self.interval.as_secs(),
            next_run_at: guarded.next_run,
        }
    }

    fn log_run(&self, run: &SchedulerRun) {
        let at = Rfc3339(run.at);
        let session = self.name();
        tracing::info!(
            session,
            %at,
            signals = run.signals.len(),
            terminated = run.terminated(),
            ignored = run.ignored(),
            "Tasks Scheduler run"
        );
        for signal in &run.signals {
            let message = match signal.outcome {
                SignalOutcome::Terminated => "SIGTERM sent, process terminated",
                SignalOutcome::Ignored => "SIGTERM sent, hung process ignored it",
            };
            tracing::info!(
                session,
                %at,
                service = %signal.service,
                node = %signal.node,
                pid = signal.pid,
                "{message}"
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, Guarded> {
        // A poisoned lock still holds a consistent state, because no update
        // panics part-way: updates flip flags, remove processes and rebuild
        // the index right after, and append events. A panic in a database
        // write comes before the in-memory change, and drops the open
        // transaction, which rolls it back.
        lock(&self.guarded)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the time of the first scheduled run of a session created at
/// `now`, or `None` when `interval` is zero.
fn first_run(now: SystemTime, interval: Duration) -> Option<SystemTime> {
    (!interval.is_zero()).then(|| now + interval)
}

/// Returns the number of runs scheduled every `interval` from `next` on
/// that fall at or before `target`.
fn runs_until(next: SystemTime, target: SystemTime, interval: Duration) -> u64 {
    match target.duration_since(next) {
        Ok(after) => (after.as_nanos() / interval.as_nanos()) as u64 + 1,
        Err(_) => 0,
    }
}

fn event_page(state: &ClusterState, limit: usize) -> EventPage {
    let log = state.events();
    let skip = log.len().saturating_sub(limit);
    EventPage {
        events: log.iter().skip(skip).cloned().collect(),
        dropped: log.dropped(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::ManualClock;
    use crate::events::EventKind;

    /// 2026-11-30T08:00:00Z.
    const START: Duration = Duration::from_secs(1_796_025_600);
    const INTERVAL: Duration = Duration::from_secs(60);

    fn session(interval: Duration) -> (Session, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let state = ClusterState::default_state();
        let session = Session::new(Some("a".into()), state, None, clock.clone(), interval);
        (session, clock)
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + START + Duration::from_secs(seconds)
    }

    fn run_times(session: &Session) -> Vec<SystemTime> {
        let events = session.events(usize::MAX).events.into_iter();
        events
            .filter(|event| matches!(event.kind, EventKind::SchedulerRun { .. }))
            .map(|event| event.at)
            .collect()
    }

    #[test]
    fn first_run_is_one_interval_away() {
        let (session, _clock) = session(INTERVAL);
        let schedule = session.schedule();
        assert_eq!(schedule.now, at(0));
        assert_eq!(schedule.interval_seconds, 60);
        assert_eq!(schedule.next_run_at, Some(at(60)));
        assert_eq!(session.until_next_run(), Some(INTERVAL));
    }

    #[test]
    fn zero_interval_schedules_nothing() {
        let (session, _clock) = session(Duration::ZERO);
        assert_eq!(session.schedule().next_run_at, None);
        assert_eq!(session.until_next_run(), None);
        let advanced = session.advance_clock(Duration::from_secs(3600)).unwrap();
        assert_eq!(advanced.runs, []);
        assert_eq!(advanced.schedule.now, at(3600));
    }

    #[test]
    fn advance_runs_each_skipped_run_in_order() {
        let (session, _clock) = session(INTERVAL);
        session.mark_terminate("cron", None).unwrap().unwrap();

        let advanced = session.advance_clock(Duration::from_secs(150)).unwrap();
        let times: Vec<_> = advanced.runs.iter().map(|run| run.at).collect();
        assert_eq!(times, [at(60), at(120)]);
        assert_eq!(advanced.runs[0].terminated(), 2);
        assert_eq!(advanced.runs[1].signals, []);
        assert_eq!(advanced.schedule.now, at(150));
        assert_eq!(advanced.schedule.next_run_at, Some(at(180)));
        assert_eq!(run_times(&session), [at(60), at(120)]);
    }

    #[test]
    fn advance_to_run_time_includes_run() {
        let (session, _clock) = session(INTERVAL);
        let advanced = session.advance_clock(INTERVAL).unwrap();
        assert_eq!(advanced.runs.len(), 1);
        assert_eq!(advanced.schedule.next_run_at, Some(at(120)));
    }

    #[test]
    fn advance_rejects_too_many_runs() {
        let (session, _clock) = session(Duration::from_secs(1));
        let seconds = MAX_RUNS_PER_ADVANCE + 1;
        let error = session
            .advance_clock(Duration::from_secs(seconds))
            .unwrap_err();
        assert!(
            matches!(error, AdvanceError::TooManyRuns { runs } if runs == seconds),
            "{error}"
        );
        assert_eq!(session.schedule().now, at(0));
        assert_eq!(run_times(&session), []);
        let allowed = session.advance_clock(Duration::from_secs(seconds - 1));
        assert_eq!(allowed.unwrap().runs.len() as u64, MAX_RUNS_PER_ADVANCE);
    }

    /// Builds a state with `count` nodes, each running one hung process of
    /// the service `h` that is flagged for termination.
    fn hung_flagged(count: usize) -> ClusterState {
        let mut yaml = String::from("nodes:\n");
        for node in 0..count {
            yaml += &format!("  - {{id: n{node}, name: n}}\n");
        }
        yaml += "services:\n  - {id: tasks_scheduler, name: t}\n  - {id: h, name: h}\n";
        yaml += "processes:\n";
        for node in 0..count {
            yaml += &format!(
                "  - {{service: h, node: n{node}, pid: 1, started_at: '2026-01-01T00:00:00Z', \
                 hung: true, terminate: true}}\n"
            );
        }
        ClusterState::from_yaml(&yaml).expect("a valid fixture")
    }

    #[test]
    fn signals_of_runs_counts_hung_again() {
        let mut state = ClusterState::default_state();
        assert_eq!(state.signals_of_runs(3), 0);
        state.mark_terminate("cron", None).unwrap();
        state.mark_terminate("mail_queue", None).unwrap();
        // Three flagged processes, one of them hung.
        assert_eq!(state.signals_of_runs(0), 0);
        assert_eq!(state.signals_of_runs(1), 3);
        assert_eq!(state.signals_of_runs(4), 6);
    }

    #[test]
    fn advance_rejects_too_many_signals() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let session = Session::new(None, hung_flagged(20), None, clock, INTERVAL);
        let runs = MAX_SIGNALS_PER_ADVANCE / 20 + 1;
        let error = session.advance_clock(INTERVAL * runs as u32).unwrap_err();
        assert!(
            matches!(error, AdvanceError::TooManySignals { signals } if signals == runs * 20),
            "{error}"
        );
        assert_eq!(session.schedule().now, at(0));
        let advanced = session.advance_clock(INTERVAL * (runs - 1) as u32).unwrap();
        let signals: usize = advanced.runs.iter().map(|run| run.signals.len()).sum();
        assert_eq!(signals as u64, MAX_SIGNALS_PER_ADVANCE);
    }

    #[test]
    fn advance_rejects_time_past_year_9999() {
        let (session, _clock) = session(Duration::ZERO);
        let to_max = clock::max_time().duration_since(at(0)).unwrap();
        let error = session
            .advance_clock(to_max + Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(error, AdvanceError::PastMaxTime), "{error}");
        assert_eq!(session.schedule().now, at(0));
        let advanced = session.advance_clock(to_max).unwrap();
        assert_eq!(advanced.schedule.now, clock::max_time());
        let error = session.advance_clock(Duration::from_secs(1)).unwrap_err();
        assert!(matches!(error, AdvanceError::PastMaxTime), "{error}");
    }

    #[test]
    fn run_if_due_follows_clock() {
        let (session, clock) = session(INTERVAL);
        assert!(session.run_if_due().is_none());

        clock.advance(INTERVAL);
        let run = session.run_if_due().expect("due").expect("no database");
        assert_eq!(run.at, at(60));
        assert!(session.run_if_due().is_none());
        assert_eq!(session.schedule().next_run_at, Some(at(120)));
    }

    #[test]
    fn late_run_happens_once() {
        let (session, clock) = session(INTERVAL);
        clock.advance(Duration::from_secs(500));
        assert!(session.run_if_due().is_some());
        assert!(session.run_if_due().is_none());
        assert_eq!(run_times(&session), [at(500)]);
        assert_eq!(session.schedule().next_run_at, Some(at(560)));
    }

    #[test]
    fn advanced_clock_makes_run_due() {
        let (session, _clock) = session(INTERVAL);
        session.advance_clock(Duration::from_secs(59)).unwrap();
        assert_eq!(session.until_next_run(), Some(Duration::from_secs(1)));
        assert!(session.run_if_due().is_none());
    }

    #[test]
    fn reset_restores_state_and_clock() {
        let (session, clock) = session(INTERVAL);
        let initial = ClusterState::default_state();
        session.mark_terminate("cron", None).unwrap().unwrap();
        session.advance_clock(Duration::from_secs(3600)).unwrap();
        clock.advance(Duration::from_secs(10));

        session.reset(&initial).unwrap();
        assert_eq!(session.now(), at(10));
        assert_eq!(session.schedule().next_run_at, Some(at(70)));
        assert_eq!(session.events(usize::MAX).events, []);
        assert_eq!(session.with_state(|state| state.processes().len()), 7);
    }

    #[test]
    fn replace_and_reset_are_persisted() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.db");
        let initial = ClusterState::default_state();
        let (mut store, _) = Store::open(&path).unwrap();
        store.save(&initial).unwrap();
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let session = Session::new(None, initial.clone(), Some(store), clock, INTERVAL);

        let mut fixture = initial.to_fixture();
        fixture.processes.truncate(1);
        session
            .replace(ClusterState::from_fixture(fixture).unwrap())
            .unwrap();
        let (_, store) = session.into_parts();
        drop(store);
        let (store, saved) = Store::open(&path).unwrap();
        let saved = saved.unwrap();
        assert_eq!(saved.processes().len(), 1);

        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let session = Session::new(None, saved, Some(store), clock, INTERVAL);
        session.kill("tasks_scheduler", "node-1").unwrap().unwrap();
        session.reset(&initial).unwrap();
        drop(session);
        let (_, saved) = Store::open(&path).unwrap();
        let saved = saved.unwrap();
        assert_eq!(saved.processes().len(), 7);
        assert_eq!(saved.events().len(), 0);
    }

    #[test]
    fn hang_returns_hung_process() {
        let (session, _clock) = session(INTERVAL);
        let process = session.hang("cron", "node-2").unwrap().unwrap();
        assert!(process.hung);
        assert_eq!(process.pid, 2310);
        let missing = session.hang("backup", "node-1").unwrap();
        assert!(matches!(missing, Err(ProcessError::NoProcess { .. })));
    }

    #[test]
    fn kill_logs_at_session_clock() {
        let (session, _clock) = session(INTERVAL);
        session.advance_clock(Duration::from_secs(30)).unwrap();
        let killed = session.kill("cron", "node-1").unwrap().unwrap();
        let events = session.events(usize::MAX).events;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].at, at(30));
        assert_eq!(killed.service, "cron");
    }

    #[test]
    fn changes_notify_subscribers() {
        let (session, _clock) = session(INTERVAL);
        let mut changes = session.subscribe();
        assert!(!changes.has_changed().unwrap());

        session.mark_terminate("backup", None).unwrap().unwrap();
        assert!(!changes.has_changed().unwrap(), "0 affected is no change");
        session.mark_terminate("cron", None).unwrap().unwrap();
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();

        session.end();
        assert!(changes.has_changed().unwrap());
        assert!(session.has_ended());
    }

    #[test]
    fn event_page_keeps_newest() {
        let (session, _clock) = session(INTERVAL);
        for _ in 0..3 {
            session.run_scheduler().unwrap();
        }
        let page = session.events(2);
        assert_eq!(page.events.len(), 2);
        assert_eq!(page.dropped, 0);
    }

    #[test]
    fn snapshot_names_session() {
        let (session, _clock) = session(INTERVAL);
        let snapshot = serde_json::to_value(session.snapshot()).unwrap();
        assert_eq!(snapshot["session"], "a");
        assert_eq!(snapshot["schedule"]["next_run_at"], "2026-11-30T08:01:00Z");
        assert_eq!(snapshot["state"]["scheduler_service"], "tasks_scheduler");
        assert_eq!(snapshot["state"]["processes"][0]["terminate"], false);
        assert_eq!(snapshot["events"]["dropped"], 0);
    }
}

//! The Tasks Scheduler's background task: runs the scheduler of the shared
//! state and of each session at a fixed interval of its clock.

use std::sync::Arc;
use std::time::Duration;

use crate::MockApi;
use crate::persist::PersistError;
use crate::state::SchedulerRun;

/// Interval between two runs when none is configured. The real Tasks
/// Scheduler runs about once a minute.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Maximum interval that the command line accepts, in seconds (one day).
/// Far larger values overflow the timer's `Instant` arithmetic.
pub const MAX_INTERVAL_SECS: u64 = 86_400;

/// Maximum wait of the background task between two checks, so that it
/// notices a new session, a reset or a moved clock within this time.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Runs the Tasks Scheduler of the shared state and of each session of a
/// [`MockApi`] when its next scheduled run is due on its clock.
#[derive(Clone)]
pub struct Scheduler {
    api: Arc<MockApi>,
}

impl Scheduler {
    /// Creates the task for the runs that
    /// [`MockApi::with_scheduler_interval`] schedules.
    pub fn new(api: Arc<MockApi>) -> Self {
        Scheduler { api }
    }

    /// Runs the Tasks Scheduler of every session whose next run is due, and
    /// returns the runs. [`Session::run_if_due`](crate::session::Session::run_if_due)
    /// logs each run, and each run that the persistence database rejected.
    pub fn run_due(&self) -> Vec<Result<SchedulerRun, PersistError>> {
        let sessions = self.api.sessions().all();
        sessions
            .iter()
            .filter_map(|session| session.run_if_due())
            .collect()
    }

    /// Returns how long to wait before the next check: until the earliest
    /// due run, at most [`MAX_WAIT`].
    fn wait(&self) -> Duration {
        let sessions = self.api.sessions().all();
        sessions
            .iter()
            .filter_map(|session| session.until_next_run())
            .fold(MAX_WAIT, Duration::min)
    }

    /// Spawns the background task on the current tokio runtime. Returns
    /// `None`, and spawns nothing, when scheduled runs are off.
    ///
    /// # Panics
    ///
    /// Panics outside a tokio runtime.
    pub fn spawn(self) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.api.scheduler_interval();
        if interval.is_zero() {
            tracing::info!("Tasks Scheduler background runs are off");
            return None;
        }
        tracing::info!(
            interval_secs = interval.as_secs_f64(),
            "Tasks Scheduler started"
        );
        Some(tokio::spawn(self.run_forever()))
    }

    async fn run_forever(self) {
        loop {
            tokio::time::sleep(self.wait()).await;
            self.run_due();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::clock::ManualClock;
    use crate::events::EventKind;
    use crate::state::ClusterState;

    const START: Duration = Duration::from_secs(1_796_025_600);

    /// Creates a mock on the default state with cron flagged on both nodes.
    fn api_with_cron_flagged(clock: Arc<ManualClock>, interval: Duration) -> Arc<MockApi> {
        let mut state = ClusterState::default_state();
        state.mark_terminate("cron", None).expect("cron exists");
        let api = MockApi::new(state, vec![])
            .with_clock(clock)
            .with_scheduler_interval(interval);
        Arc::new(api)
    }

    fn run_times(api: &MockApi) -> Vec<SystemTime> {
        let events = api.events().into_iter();
        events
            .filter(|event| matches!(event.kind, EventKind::SchedulerRun { .. }))
            .map(|event| event.at)
            .collect()
    }

    #[test]
    fn run_due_runs_due_sessions_only() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let api = api_with_cron_flagged(clock.clone(), DEFAULT_INTERVAL);
        let scheduler = Scheduler::new(api.clone());
        assert!(scheduler.run_due().is_empty());
        assert_eq!(scheduler.wait(), MAX_WAIT);

        let session = api.sessions().get(Some("s")).unwrap();
        session.advance_clock(Duration::from_secs(30)).unwrap();
        clock.advance(Duration::from_secs(30));
        let runs = scheduler.run_due();
        assert_eq!(runs.len(), 1, "only the session is due");
        let run = runs[0].as_ref().expect("no database to reject the run");
        assert_eq!(run.at, UNIX_EPOCH + START + DEFAULT_INTERVAL);
        assert_eq!(run_times(&api), []);

        clock.advance(Duration::from_secs(30));
        let runs = scheduler.run_due();
        assert_eq!(runs.len(), 1, "only the shared state is due");
        assert_eq!(runs[0].as_ref().unwrap().terminated(), 2);
        assert_eq!(run_times(&api), [UNIX_EPOCH + START + DEFAULT_INTERVAL]);
    }

    #[tokio::test]
    async fn zero_interval_spawns_nothing() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
        let api = api_with_cron_flagged(clock, Duration::ZERO);
        assert!(Scheduler::new(api).spawn().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn background_task_runs_each_interval() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let api = api_with_cron_flagged(clock.clone(), DEFAULT_INTERVAL);
        let task = Scheduler::new(api.clone())
            .spawn()
            .expect("a nonzero interval spawns the task");

        tokio::time::sleep(DEFAULT_INTERVAL - Duration::from_secs(1)).await;
        assert_eq!(run_times(&api), []);

        clock.advance(DEFAULT_INTERVAL);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(run_times(&api), [UNIX_EPOCH + START + DEFAULT_INTERVAL]);
        assert_eq!(api.with_state(|state| state.processes().len()), 5);

        clock.advance(DEFAULT_INTERVAL);
        tokio::time::sleep(DEFAULT_INTERVAL).await;
        assert_eq!(run_times(&api).len(), 2);
        task.abort();
    }
}

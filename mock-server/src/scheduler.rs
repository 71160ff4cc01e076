//! The Tasks Scheduler's background task: runs the scheduler on the mock's state at a fixed interval.

use std::sync::Arc;
use std::time::Duration;

use crate::MockApi;
use crate::clock::Rfc3339;
use crate::events::SignalOutcome;
use crate::persist::PersistError;
use crate::state::SchedulerRun;

/// Interval between two runs when none is configured. The real Tasks
/// Scheduler runs about once a minute.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Maximum interval that the command line accepts, in seconds (one day).
/// Far larger values overflow the timer's `Instant` arithmetic.
pub const MAX_INTERVAL_SECS: u64 = 86_400;

/// Runs the Tasks Scheduler on a [`MockApi`] every `interval`.
#[derive(Clone)]
pub struct Scheduler {
    api: Arc<MockApi>,
    interval: Duration,
}

impl Scheduler {
    /// Creates the task. An `interval` of zero disables the background runs.
    pub fn new(api: Arc<MockApi>, interval: Duration) -> Self {
        Scheduler { api, interval }
    }

    /// Runs the scheduler once and logs the run and each signal. When the
    /// persistence database rejects the run, nothing changes, and the error
    /// is logged and returned.
    pub fn tick(&self) -> Result<SchedulerRun, PersistError> {
        match self.api.try_run_scheduler() {
            Ok(run) => {
                log_run(&run);
                Ok(run)
            }
            Err(error) => {
                tracing::error!(%error, "Tasks Scheduler run not persisted, so not applied");
                Err(error)
            }
        }
    }

    /// Spawns the background task on the current tokio runtime, with the
    /// first run one interval from now. Returns `None`, and spawns nothing,
    /// when the interval is zero.
    ///
    /// # Panics
    ///
    /// Panics outside a tokio runtime, and when `interval` is so large that
    /// the time of the first run overflows.
    pub fn spawn(self) -> Option<tokio::task::JoinHandle<()>> {
        if self.interval.is_zero() {
            tracing::info!("Tasks Scheduler background runs are off");
            return None;
        }
        tracing::info!(
            interval_secs = self.interval.as_secs_f64(),
            "Tasks Scheduler started"
        );
        Some(tokio::spawn(self.run_forever()))
    }

    async fn run_forever(self) {
        let start = tokio::time::Instant::now() + self.interval;
        let mut ticks = tokio::time::interval_at(start, self.interval);
        // After a stall, run once and keep the interval from then on, as a
        // scheduler that runs late does, instead of catching up in a burst.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let _ = self.tick();
        }
    }
}

fn log_run(run: &SchedulerRun) {
    let at = Rfc3339(run.at);
    tracing::info!(
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
            %at,
            service = %signal.service,
            node = %signal.node,
            pid = signal.pid,
            "{message}"
        );
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
    fn api_with_cron_flagged(clock: Arc<ManualClock>) -> Arc<MockApi> {
        let mut state = ClusterState::default_state();
        state.mark_terminate("cron", None).expect("cron exists");
        Arc::new(MockApi::new(state, vec![]).with_clock(clock))
    }

    fn run_times(api: &MockApi) -> Vec<SystemTime> {
        let events = api.events().into_iter();
        events
            .filter(|event| matches!(event.kind, EventKind::SchedulerRun { .. }))
            .map(|event| event.at)
            .collect()
    }

    #[test]
    fn tick_runs_scheduler_once() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let api = api_with_cron_flagged(clock);
        let scheduler = Scheduler::new(api.clone(), DEFAULT_INTERVAL);

        let run = scheduler.tick().expect("no database to reject the run");
        assert_eq!(run.at, UNIX_EPOCH + START);
        assert_eq!(run.terminated(), 2);
        assert_eq!(run_times(&api), [UNIX_EPOCH + START]);
        assert_eq!(scheduler.tick().expect("no database").signals, []);
    }

    #[tokio::test]
    async fn zero_interval_spawns_nothing() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
        let api = api_with_cron_flagged(clock);
        assert!(Scheduler::new(api, Duration::ZERO).spawn().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn background_task_runs_each_interval() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + START));
        let api = api_with_cron_flagged(clock.clone());
        let task = Scheduler::new(api.clone(), DEFAULT_INTERVAL)
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

//! The event log of the mock: Tasks Scheduler runs, the signals they send, and shell kills.

use std::collections::VecDeque;
use std::time::SystemTime;

use serde::Serialize;

/// Number of events that a log keeps by default. Older events are dropped.
pub const DEFAULT_EVENT_CAPACITY: usize = 10_000;

/// The reaction of a process to SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalOutcome {
    /// The process stopped and left the active set.
    Terminated,
    /// The process hung: it stays active and flagged.
    Ignored,
}

/// A SIGTERM that the Tasks Scheduler sent to a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signal {
    pub service: String,
    pub node: String,
    pub pid: u32,
    pub outcome: SignalOutcome,
}

/// The kind of an event and its data, without its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A run of the Tasks Scheduler and the number of signals it sent.
    SchedulerRun { signals: usize },
    /// One signal of a run, logged right after the run's `SchedulerRun` event.
    Signal(Signal),
    /// A kill from a shell on the node, which removes the process whatever
    /// its state.
    Kill {
        service: String,
        node: String,
        pid: u32,
    },
}

/// An entry of the event log. It serializes as one flat JSON object, for
/// example `{"at": "2026-11-30T08:00:00Z", "event": "scheduler_run",
/// "signals": 2}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(serialize_with = "crate::clock::serialize_rfc3339")]
    pub at: SystemTime,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The newest events, oldest first, with a count of the dropped ones.
#[derive(Debug, Clone)]
pub struct EventLog {
    events: VecDeque<Event>,
    capacity: usize,
    dropped: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_EVENT_CAPACITY)
    }
}

impl EventLog {
    /// Creates an empty log that keeps the newest `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        EventLog {
            events: VecDeque::new(),
            capacity,
            dropped: 0,
        }
    }

    /// Creates a log that keeps the newest `capacity` events, contains
    /// `events`, oldest first, and counts `dropped` older events as dropped.
    pub(crate) fn restore(capacity: usize, events: Vec<Event>, dropped: u64) -> Self {
        let mut log = EventLog {
            events: VecDeque::with_capacity(events.len().min(capacity)),
            capacity,
            dropped,
        };
        for event in events {
            log.push(event);
        }
        log
    }

    /// Appends an event, dropping the oldest one when the log is full.
    pub fn push(&mut self, event: Event) {
        self.events.push_back(event);
        while self.events.len() > self.capacity {
            self.events.pop_front();
            self.dropped += 1;
        }
    }

    /// Appends `count` events, the `index`-th made by `make(index)`, as
    /// `count` calls of [`push`](Self::push) do. Events that the log would
    /// drop at once are counted as dropped without being made.
    pub fn push_many(&mut self, count: usize, mut make: impl FnMut(usize) -> Event) {
        let first_kept = count.saturating_sub(self.capacity);
        if first_kept > 0 {
            self.dropped += (self.events.len() + first_kept) as u64;
            self.events.clear();
        }
        for index in first_kept..count {
            self.push(make(index));
        }
    }

    /// Returns an iterator over the kept events, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Event> {
        self.events.iter()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of events dropped to keep the log within its capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn run_event(seconds: u64, signals: usize) -> Event {
        Event {
            at: UNIX_EPOCH + Duration::from_secs(seconds),
            kind: EventKind::SchedulerRun { signals },
        }
    }

    #[test]
    fn full_log_drops_oldest_event() {
        let mut log = EventLog::with_capacity(2);
        for seconds in 0..5 {
            log.push(run_event(seconds, 0));
        }
        let kept: Vec<_> = log.iter().cloned().collect();
        assert_eq!(kept, [run_event(3, 0), run_event(4, 0)]);
        assert_eq!(log.dropped(), 3);
    }

    #[test]
    fn push_many_matches_single_pushes() {
        for (capacity, before, count) in [(3, 0, 2), (3, 2, 2), (3, 2, 3), (3, 1, 7), (0, 0, 2)] {
            let mut one_by_one = EventLog::with_capacity(capacity);
            let mut at_once = EventLog::with_capacity(capacity);
            for seconds in 0..before {
                one_by_one.push(run_event(seconds, 0));
                at_once.push(run_event(seconds, 0));
            }
            for index in 0..count {
                one_by_one.push(run_event(100, index));
            }
            at_once.push_many(count, |index| run_event(100, index));
            let kept = |log: &EventLog| log.iter().cloned().collect::<Vec<_>>();
            assert_eq!(
                kept(&at_once),
                kept(&one_by_one),
                "{capacity} {before} {count}"
            );
            assert_eq!(at_once.dropped(), one_by_one.dropped());
        }
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut log = EventLog::with_capacity(0);
        log.push(run_event(0, 0));
        assert!(log.is_empty());
        assert_eq!(log.dropped(), 1);
    }

    #[test]
    fn events_serialize_as_flat_objects() {
        let signal = Event {
            at: UNIX_EPOCH + Duration::from_secs(1_796_025_600),
            kind: EventKind::Signal(Signal {
                service: "cron".into(),
                node: "node-1".into(),
                pid: 1310,
                outcome: SignalOutcome::Terminated,
            }),
        };
        let json = serde_json::to_value(&signal).expect("an event serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "at": "2026-11-30T08:00:00Z",
                "event": "signal",
                "service": "cron",
                "node": "node-1",
                "pid": 1310,
                "outcome": "terminated",
            })
        );
    }
}

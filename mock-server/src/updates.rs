//! The live updates of a session as server-sent events: an `update` event
//! with the session's snapshot at once and after each change.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::Stream;
use tokio::sync::watch;

use crate::session::Session;

/// Time after which an idle stream sends a comment line, so that proxies
/// and browsers keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Returns the stream of `update` events of `session`: one with the
/// current snapshot, then one after each change. Changes that come while
/// an event is written are sent as one event with the newest snapshot.
/// The stream ends when the session ends or its streams are closed
/// ([`Session::close_streams`]).
pub fn stream(session: Arc<Session>) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    let changes = session.subscribe();
    let start = Step {
        session,
        changes,
        first: true,
    };
    futures_util::stream::unfold(start, |mut step| async move {
        let frame = step.next_frame().await?;
        Some((Ok(frame), step))
    })
}

/// The state of [`stream`] between two events.
struct Step {
    session: Arc<Session>,
    changes: watch::Receiver<u64>,
    first: bool,
}

impl Step {
    /// Waits for the next change, or [`KEEP_ALIVE`], and returns the bytes
    /// to send, or `None` when the session has ended.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.first {
            self.first = false;
            self.changes.mark_unchanged();
            return Some(self.update());
        }
        match tokio::time::timeout(KEEP_ALIVE, self.changes.changed()).await {
            Err(_elapsed) => Some(Bytes::from_static(b": keep-alive\n\n")),
            Ok(Err(_closed)) => None,
            Ok(Ok(())) if self.session.streams_closed() => None,
            Ok(Ok(())) => {
                self.changes.mark_unchanged();
                Some(self.update())
            }
        }
    }

    fn update(&self) -> Bytes {
        let snapshot =
            serde_json::to_string(&self.session.snapshot()).expect("a snapshot serializes to JSON");
        // JSON text from serde_json has no raw line breaks, so it fits in
        // one `data` line.
        Bytes::from(format!("event: update\ndata: {snapshot}\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use futures_util::StreamExt;

    use super::*;
    use crate::clock::ManualClock;
    use crate::state::ClusterState;

    fn session() -> Arc<Session> {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
        let state = ClusterState::default_state();
        let interval = Duration::from_secs(60);
        Arc::new(Session::new(Some("s".into()), state, None, clock, interval))
    }

    /// Returns the snapshot of an `update` frame as JSON.
    fn snapshot_of(frame: &Bytes) -> serde_json::Value {
        let text = std::str::from_utf8(frame).unwrap();
        let data = text
            .strip_prefix("event: update\ndata: ")
            .and_then(|rest| rest.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("not an update event: {text:?}"));
        serde_json::from_str(data).unwrap()
    }

    fn flagged(snapshot: &serde_json::Value) -> usize {
        let processes = snapshot["state"]["processes"].as_array().unwrap();
        let flags = processes
            .iter()
            .filter(|process| process["terminate"] == true);
        flags.count()
    }

    #[tokio::test]
    async fn sends_snapshot_then_changes() {
        let session = session();
        let mut updates = Box::pin(stream(session.clone()));

        let first = updates.next().await.unwrap().unwrap();
        assert_eq!(snapshot_of(&first)["session"], "s");
        assert_eq!(flagged(&snapshot_of(&first)), 0);

        session.mark_terminate("cron", None).unwrap().unwrap();
        let second = updates.next().await.unwrap().unwrap();
        assert_eq!(flagged(&snapshot_of(&second)), 2);
    }

    #[tokio::test]
    async fn ends_with_session() {
        let session = session();
        let mut updates = Box::pin(stream(session.clone()));
        updates.next().await.unwrap().unwrap();
        session.end();
        assert!(updates.next().await.is_none());
    }

    #[tokio::test]
    async fn ends_when_streams_close() {
        let session = session();
        let mut updates = Box::pin(stream(session.clone()));
        updates.next().await.unwrap().unwrap();
        session.close_streams();
        assert!(updates.next().await.is_none());
        assert!(!session.has_ended());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_stream_keeps_alive() {
        let session = session();
        let mut updates = Box::pin(stream(session.clone()));
        updates.next().await.unwrap().unwrap();
        let frame = updates.next().await.unwrap().unwrap();
        assert_eq!(frame, Bytes::from_static(b": keep-alive\n\n"));
    }
}

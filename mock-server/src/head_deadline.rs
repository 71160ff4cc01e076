//! The time limit on the headers of a request. A watchdog task per
//! connection keeps it, so no request arms and disarms a timer.
//!
//! The connection's [`HeadClock`] notes when the server starts waiting for
//! the headers of a request (when the connection opens, or when the
//! previous response is sent) and when they are complete (when the
//! service is called). The watchdog sleeps until the current wait would
//! pass the limit and checks the clock again. Once a wait has passed it,
//! the watchdog aborts the connection's task, which closes the connection
//! without a response. A request costs a store, a compare-and-swap and a
//! clock read, and the watchdog wakes about twice a limit period at most.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// Value of [`Shared::waiting_since`] while a request is served.
const SERVING: u64 = u64::MAX;

/// Value of [`Shared::waiting_since`] once the connection has ended.
const CLOSED: u64 = u64::MAX - 1;

/// The header clock of one connection, shared by its service, its task and
/// its watchdog.
#[derive(Clone)]
pub(crate) struct HeadClock(Arc<Shared>);

struct Shared {
    opened: Instant,
    /// Microseconds from `opened` to the start of the current wait for
    /// headers, or [`SERVING`], or [`CLOSED`].
    waiting_since: AtomicU64,
    /// Wakes the watchdog when the connection ends.
    closed: Notify,
}

impl HeadClock {
    /// Starts the clock of a connection that opens now, waiting for the
    /// headers of its first request.
    pub(crate) fn new() -> Self {
        HeadClock(Arc::new(Shared {
            opened: Instant::now(),
            waiting_since: AtomicU64::new(0),
            closed: Notify::new(),
        }))
    }

    /// Notes that the headers of a request are complete.
    pub(crate) fn request_started(&self) {
        self.0.waiting_since.store(SERVING, Ordering::Relaxed);
    }

    /// Notes that `response` is ready. A body of known length is written
    /// at once, so the wait for the next headers starts now. Any other body
    /// starts it when hyper drops the body after sending it.
    pub(crate) fn response_ready(&self, response: &mut Response) {
        if http_body::Body::size_hint(response.body())
            .exact()
            .is_some()
        {
            self.start_waiting();
            return;
        }
        let body = std::mem::take(response.body_mut());
        *response.body_mut() = Body::new(WaitWhenSent {
            body,
            clock: self.clone(),
        });
    }

    /// Notes that the connection has ended, and wakes the watchdog.
    pub(crate) fn close(&self) {
        self.0.waiting_since.store(CLOSED, Ordering::Relaxed);
        self.0.closed.notify_one();
    }

    fn start_waiting(&self) {
        let since = self.0.opened.elapsed().as_micros();
        let since = u64::try_from(since).unwrap_or(CLOSED - 1).min(CLOSED - 1);
        // Only a serving clock starts a wait, so a closed one stays closed.
        let _ =
            self.0
                .waiting_since
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                    (current == SERVING).then_some(since)
                });
    }

    /// Waits until a wait for headers passes `limit` and returns `true`,
    /// or returns `false` when the connection ends first.
    pub(crate) async fn expired(&self, limit: Duration) -> bool {
        loop {
            let deadline = match self.0.waiting_since.load(Ordering::Relaxed) {
                CLOSED => return false,
                SERVING => Instant::now() + limit,
                since => self.0.opened + Duration::from_micros(since) + limit,
            };
            if deadline <= Instant::now() {
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.0.closed.notified() => {}
            }
        }
    }

    /// Runs the watchdog of a connection: aborts `connection`, the task
    /// that serves it, once a wait for headers passes `limit`.
    pub(crate) async fn watch(self, limit: Duration, connection: AbortHandle, peer: SocketAddr) {
        if self.expired(limit).await {
            tracing::debug!(
                %peer,
                limit_secs = limit.as_secs_f64(),
                "closing a connection whose request headers did not arrive in time"
            );
            connection.abort();
        }
    }
}

/// Closes the clock when the connection's task ends, also when the task is
/// aborted.
pub(crate) struct CloseOnDrop(pub(crate) HeadClock);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A response body of unknown length that starts the wait for the next
/// headers when hyper drops it, after sending it or when the connection
/// ends.
struct WaitWhenSent {
    body: Body,
    clock: HeadClock,
}

impl Drop for WaitWhenSent {
    fn drop(&mut self) {
        self.clock.start_waiting();
    }
}

impl http_body::Body for WaitWhenSent {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

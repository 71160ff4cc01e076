//! The time limit on the headers of a request. A watchdog task per
//! connection keeps it, so no request arms and disarms a timer.
//!
//! The connection's [`HeadClock`] notes when the server starts waiting for
//! the headers of a request (when the connection opens, or when the
//! previous response is sent) and when they are complete (when the
//! service is called). While a write to the client is blocked, because the
//! client reads slowly, the response is not sent yet and no wait runs. The watchdog sleeps until the current wait would
//! pass the limit and checks the clock again. Once a wait has passed it,
//! the watchdog aborts the connection's task, which closes the connection
//! without a response. A request costs a store, a compare-and-swap, a
//! clock read and a load per write, and the watchdog wakes about twice a
//! limit period at most.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
    /// Whether the last write to the client could not go ahead.
    write_blocked: AtomicBool,
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
            write_blocked: AtomicBool::new(false),
            closed: Notify::new(),
        }))
    }

    /// Notes that the headers of a request are complete.
    pub(crate) fn request_started(&self) {
        self.0.waiting_since.store(SERVING, Ordering::Relaxed);
    }

    /// Notes that `response` is ready. hyper writes a body of known length
    /// right away, so the wait for the next headers starts now, and
    /// [`ClockedIo`] restarts it when writes to a slow reader block. Any
    /// other body starts the wait when hyper drops it after sending it.
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

    /// Notes the outcome of a write to the client: blocked, or done. A
    /// write done after a blocked one restarts the wait, which counts from
    /// the end of the response. The flag is read before it is swapped, so
    /// an unblocked write costs no atomic swap.
    fn note_write(&self, blocked: bool) {
        if blocked {
            self.0.write_blocked.store(true, Ordering::Relaxed);
        } else if self.0.write_blocked.load(Ordering::Relaxed)
            && self.0.write_blocked.swap(false, Ordering::Relaxed)
        {
            self.restart_waiting();
        }
    }

    /// Notes that the connection has ended, and wakes the watchdog.
    pub(crate) fn close(&self) {
        self.0.waiting_since.store(CLOSED, Ordering::Relaxed);
        self.0.closed.notify_one();
    }

    /// Starts the wait for the next headers now, when a request is served.
    fn start_waiting(&self) {
        // Only a serving clock starts a wait, so a closed one stays closed.
        self.set_waiting_since_now(|current| current == SERVING);
    }

    /// Moves the start of the current wait to now, when a wait runs.
    fn restart_waiting(&self) {
        self.set_waiting_since_now(|current| current < CLOSED);
    }

    fn set_waiting_since_now(&self, applies: impl Fn(u64) -> bool) {
        let since = self.0.opened.elapsed().as_micros();
        let since = u64::try_from(since).unwrap_or(CLOSED - 1).min(CLOSED - 1);
        let _ =
            self.0
                .waiting_since
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                    applies(current).then_some(since)
                });
    }

    /// Waits until a wait for headers passes `limit` and returns `true`,
    /// or returns `false` when the connection ends first.
    pub(crate) async fn expired(&self, limit: Duration) -> bool {
        loop {
            let since = self.0.waiting_since.load(Ordering::Relaxed);
            let deadline = match since {
                CLOSED => return false,
                SERVING => Instant::now() + limit,
                _ if self.0.write_blocked.load(Ordering::Relaxed) => Instant::now() + limit,
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

/// A connection whose writes tell its [`HeadClock`] when they are blocked
/// and when they go ahead again.
pub(crate) struct ClockedIo<S> {
    inner: S,
    clock: HeadClock,
}

impl<S> ClockedIo<S> {
    pub(crate) fn new(inner: S, clock: HeadClock) -> Self {
        ClockedIo { inner, clock }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ClockedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(context, buffer)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ClockedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(context, buffer);
        self.clock.note_write(result.is_pending());
        result
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(context);
        self.clock.note_write(result.is_pending());
        result
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

//! Responses to requests that arrive together leave together.
//!
//! A request read less than [`BURST_WINDOW`] after the previous request on
//! the same worker thread is part of a burst. The first write of its
//! response waits until the worker has run the other tasks that are ready
//! and polled for IO once ([`tokio::task::yield_now`]). Under load, the
//! worker so serves every request that arrived in one poll before it sends
//! their responses. A client that reads many connections then wakes once
//! for a batch of responses rather than once for each, and the worker runs
//! the same code for many requests in a row. BENCHMARKS.md has the
//! measured effect.
//!
//! The response to a request read after a quiet spell is written at once.
//! A response that waits also waits for slow work of other tasks on the
//! worker, such as a large snapshot for an update stream. On a runtime
//! with several workers its task can also move to another worker, which
//! costs more than it saves when nothing else is ready.

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Maximum time between two requests read on one worker thread for the
/// second to count as part of a burst. An estimate: under load, requests
/// are read tens of microseconds apart, and an idle client's requests at
/// least a round trip and its own work apart.
pub const BURST_WINDOW: Duration = Duration::from_millis(1);

thread_local! {
    /// When this thread last read a request.
    static LAST_REQUEST: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The burst window of this thread: [`BURST_WINDOW`] unless a test
    /// sets another.
    static WINDOW: Cell<Duration> = const { Cell::new(BURST_WINDOW) };
}

/// Notes that this thread reads a request now, and returns whether it
/// comes within the burst window of the previous one. The first request of
/// a thread counts as part of a burst.
fn read_in_burst() -> bool {
    let now = Instant::now();
    match LAST_REQUEST.replace(Some(now)) {
        Some(previous) => now.duration_since(previous) < WINDOW.get(),
        None => true,
    }
}

/// Sets the burst window of the calling thread, for tests.
#[cfg(test)]
pub(crate) fn set_window_of_this_thread(window: Duration) {
    WINDOW.set(window);
}

/// A connection whose first write after a request read in a burst waits
/// for the worker's other ready tasks. The mock's server wraps each
/// connection in one, and any other hyper or axum server can too.
pub struct BatchedWrites<S> {
    inner: S,
    turn: Turn,
}

/// The state of a connection between a read and the write of its response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Turn {
    /// Nothing was read since the last write, or since the connection opened.
    Idle,
    /// A request was read in a burst, and the next write waits once.
    Burst,
    /// The next write goes ahead: it has waited, or the request was read
    /// after a quiet spell.
    Due,
}

impl<S> BatchedWrites<S> {
    /// Wraps the connection `inner`.
    pub fn new(inner: S) -> Self {
        BatchedWrites {
            inner,
            turn: Turn::Idle,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BatchedWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buffer.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(context, buffer);
        // Bytes read while a write waits get their response in a later
        // write, so the waiting write goes ahead without a second wait.
        if buffer.filled().len() > before && self.turn == Turn::Idle {
            self.turn = match read_in_burst() {
                true => Turn::Burst,
                false => Turn::Due,
            };
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BatchedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.turn == Turn::Burst {
            self.turn = Turn::Due;
            // A new `yield_now` is pending on its first poll, which has the
            // runtime wake this task after its next poll for IO.
            if pin!(tokio::task::yield_now()).poll(context).is_pending() {
                return Poll::Pending;
            }
        }
        let result = Pin::new(&mut self.inner).poll_write(context, buffer);
        if let Poll::Ready(Ok(_)) = result {
            self.turn = Turn::Idle;
        }
        result
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::*;

    /// A connection in memory: reads give the bytes the client sent since
    /// the last read, and writes append to what the client receives.
    #[derive(Default)]
    struct Pipe {
        sent: Vec<u8>,
        received: Vec<u8>,
    }

    impl AsyncRead for Pipe {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _context: &mut Context<'_>,
            buffer: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.sent.is_empty() {
                return Poll::Pending;
            }
            buffer.put_slice(&std::mem::take(&mut self.sent));
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Pipe {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _context: &mut Context<'_>,
            bytes: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.received.extend_from_slice(bytes);
            Poll::Ready(Ok(bytes.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A waker that counts its wakes.
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A connection with the client's side of its pipe, and a waker that
    /// counts its wakes.
    struct Connection {
        io: BatchedWrites<Pipe>,
        wakes: Arc<CountingWaker>,
        waker: Waker,
    }

    impl Connection {
        fn new() -> Self {
            set_window_of_this_thread(Duration::from_secs(3600));
            let wakes = Arc::new(CountingWaker(AtomicUsize::new(0)));
            Connection {
                io: BatchedWrites::new(Pipe::default()),
                waker: Waker::from(wakes.clone()),
                wakes,
            }
        }

        /// Sends `bytes` from the client and polls a read of them.
        fn read(&mut self, bytes: &[u8]) {
            self.io.inner.sent.extend_from_slice(bytes);
            let mut space = [0; 64];
            let mut buffer = ReadBuf::new(&mut space);
            let read = Pin::new(&mut self.io)
                .poll_read(&mut Context::from_waker(&self.waker), &mut buffer);
            assert!(read.is_ready());
            assert_eq!(buffer.filled(), bytes);
        }

        /// Polls a write of `bytes` once; true when it went ahead.
        fn write(&mut self, bytes: &[u8]) -> bool {
            let written =
                Pin::new(&mut self.io).poll_write(&mut Context::from_waker(&self.waker), bytes);
            match written {
                Poll::Ready(result) => {
                    assert_eq!(result.unwrap(), bytes.len());
                    true
                }
                Poll::Pending => false,
            }
        }

        fn wakes(&self) -> usize {
            self.wakes.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn first_write_after_read_waits_once() {
        let mut connection = Connection::new();
        connection.read(b"request");
        assert!(!connection.write(b"response"));
        // Outside a runtime the wait ends at once.
        assert_eq!(connection.wakes(), 1);
        assert!(connection.write(b"response"));
        // The rest of the response goes without a wait.
        assert!(connection.write(b"!"));
        assert_eq!(connection.io.inner.received, b"response!");
    }

    #[test]
    fn request_after_quiet_spell_written_at_once() {
        let mut connection = Connection::new();
        connection.read(b"first");
        assert!(!connection.write(b"a"));
        assert!(connection.write(b"a"));
        set_window_of_this_thread(Duration::ZERO);
        connection.read(b"second");
        assert!(connection.write(b"b"));
        assert_eq!(connection.wakes(), 1);
        assert_eq!(connection.io.inner.received, b"ab");
    }

    #[test]
    fn write_without_read_goes_at_once() {
        let mut connection = Connection::new();
        assert!(connection.write(b"hello"));
        assert_eq!(connection.wakes(), 0);
    }

    #[test]
    fn read_during_wait_adds_no_second_wait() {
        let mut connection = Connection::new();
        connection.read(b"first");
        assert!(!connection.write(b"a"));
        connection.read(b"second");
        assert!(connection.write(b"a"));
        // The next read after a write makes the next write wait again.
        connection.read(b"third");
        assert!(!connection.write(b"b"));
        assert!(connection.write(b"b"));
        assert_eq!(connection.io.inner.received, b"ab");
    }
}

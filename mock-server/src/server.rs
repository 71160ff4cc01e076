//! The HTTP/1.1 server: one task per connection, a header read timeout, a
//! request body deadline, and a graceful shutdown bounded by a grace period.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

use crate::head_deadline::{ClockedIo, CloseOnDrop, HeadClock};
use crate::protocol_errors::ErrorBodyIo;
use crate::write_batch::BatchedWrites;
use crate::{AppOptions, Cors, MockApi, MockService};

/// Time limits of the server. [`Limits::default`] gives each 10 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send the complete headers of a request, counted
    /// from when the server starts waiting for them: when the connection
    /// opens, or when the previous response on it was sent. A connection
    /// that passes it is closed without a response, so an idle keep-alive
    /// connection is closed after this time too.
    pub header_read_timeout: Duration,
    /// Time the body of a request has to arrive completely, counted from
    /// the end of its headers. A later body gets a 408.
    pub body_read_timeout: Duration,
    /// Time the open requests have to finish after the shutdown signal.
    /// The connections still open then are closed.
    pub shutdown_timeout: Duration,
}

impl Limits {
    /// Seconds of each limit in [`Limits::default`].
    pub const DEFAULT_SECS: u64 = 10;
}

impl Default for Limits {
    fn default() -> Self {
        let limit = Duration::from_secs(Self::DEFAULT_SECS);
        Limits {
            header_read_timeout: limit,
            body_read_timeout: limit,
            shutdown_timeout: limit,
        }
    }
}

/// Time that an open connection keeps serving after the shutdown signal
/// before its graceful shutdown starts, so that a request sent just before
/// the signal gets a response rather than a closed connection. A grace
/// period under twice this long shortens it to half the grace period.
pub const SHUTDOWN_LINGER: Duration = Duration::from_millis(100);

/// Outcome of a server's shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections that were still open when the shutdown grace period
    /// ended, and were closed without finishing their requests.
    pub dropped_connections: usize,
}

/// Serves the API on `listener` with `limits` until `shutdown` completes,
/// allowing browsers on any origin to call it ([`Cors::any`]). See
/// [`serve_with_cors`].
pub async fn serve_with(
    listener: TcpListener,
    api: Arc<MockApi>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Stopped> {
    serve_with_cors(listener, api, limits, Some(Cors::any()), shutdown).await
}

/// Serves the API on `listener` with `limits` and the CORS policy `cors`
/// until `shutdown` completes. When `cors` is `None`, responses carry no
/// CORS headers.
///
/// Then it stops accepting connections and lets each open connection finish
/// the request it is on, closing idle ones at once. Connections still open
/// after `limits.shutdown_timeout` are closed, and the returned [`Stopped`]
/// counts them. The middleware and handlers read each request's client
/// address from its telemetry context ([`MockService::serve_from`]).
pub async fn serve_with_cors(
    listener: TcpListener,
    api: Arc<MockApi>,
    limits: Limits,
    cors: Option<Cors>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Stopped> {
    let options = AppOptions {
        body_read_timeout: limits.body_read_timeout,
        cors,
    };
    let app = crate::service_with(api, &options);
    let builder = http1_builder();
    let (closing, closing_receiver) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    // Half the grace period at most, so that idle connections close before
    // the grace period ends.
    let linger = SHUTDOWN_LINGER.min(limits.shutdown_timeout / 2);

    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(result) = connections.join_next() => {
                log_task_failure(result);
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    handle_accept_error(error).await;
                    continue;
                }
            },
        };
        let clock = HeadClock::new();
        let service = connection_service(app.clone(), peer, clock.clone());
        let connection = builder.serve_connection(connection_io(stream, peer, &clock), service);
        let mut closing = closing_receiver.clone();
        let close_clock = CloseOnDrop(clock.clone());
        let task = connections.spawn(async move {
            let _close_clock = close_clock;
            let mut connection = pin!(connection);
            let result = tokio::select! {
                biased;
                result = connection.as_mut() => result,
                _ = closing.changed() => {
                    // hyper closes an idle connection at once, so a request
                    // already on its way would be lost. The connection
                    // first serves for `linger` more.
                    tokio::select! {
                        biased;
                        result = connection.as_mut() => result,
                        () = tokio::time::sleep(linger) => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection failed");
            }
        });
        tokio::spawn(clock.watch(limits.header_read_timeout, task, peer));
    }

    drop(listener);
    closing.send_replace(());
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while let Some(result) = connections.join_next().await {
            log_task_failure(result);
        }
    })
    .await;
    let dropped_connections = connections.len();
    if drained.is_err() && dropped_connections > 0 {
        tracing::warn!(
            dropped_connections,
            shutdown_timeout_secs = limits.shutdown_timeout.as_secs_f64(),
            "shutdown grace period is over, closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(Stopped {
        dropped_connections,
    })
}

/// Largest request line and headers, in bytes, that the server reads:
/// hyper's default read buffer size. A larger head gets a 431.
pub const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// Builds the HTTP/1.1 settings of every connection. The header read
/// timeout is the connection's [`HeadClock`], not hyper's, whose timer each
/// request would arm and disarm.
fn http1_builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    // A client may shut down its write half after a request and wait for
    // the response. Without half-close support, hyper reads that EOF while
    // the handler runs and closes the connection, dropping the response.
    builder.header_read_timeout(None).half_close(true);
    // hyper's buffer limit alone lets a larger head through when its last
    // bytes arrive in the read that fills the buffer.
    builder.max_header_size(MAX_HEAD_BYTES);
    builder
}

/// Returns the service of the requests of one connection from `peer`:
/// `app`, and the connection drop of a fault. Each request stops `clock`
/// while it is served.
fn connection_service(
    app: MockService,
    peer: SocketAddr,
    clock: HeadClock,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = crate::faults::ConnectionDropped,
    Future = impl Future<Output = Result<axum::response::Response, crate::faults::ConnectionDropped>>
             + Send
             + 'static,
> + Send
+ 'static {
    // The address goes to the request's telemetry context rather than into
    // a `ConnectInfo` extension, whose map each request would allocate.
    hyper::service::service_fn(move |request: Request<Incoming>| {
        clock.request_started();
        let clock = clock.clone();
        let response =
            app.serve_from(request.map(Body::new), Some(peer))
                .map(move |mut response| {
                    clock.response_ready(&mut response);
                    Ok::<_, Infallible>(response)
                });
        crate::faults::drop_if_marked(response)
    })
}

/// Wraps a connection's `io` for hyper: its protocol error responses get
/// the documented body ([`ErrorBodyIo`]), `clock` learns when its writes
/// are blocked ([`ClockedIo`]), and a response leaves with the others
/// that are ready ([`BatchedWrites`]).
fn connection_io<I>(
    io: I,
    peer: SocketAddr,
    clock: &HeadClock,
) -> TokioIo<BatchedWrites<ClockedIo<ErrorBodyIo<I>>>> {
    let clocked = ClockedIo::new(ErrorBodyIo::new(io, peer), clock.clone());
    TokioIo::new(BatchedWrites::new(clocked))
}

/// Serves the requests of one connection over `io`, from the client at
/// `peer`, with the API of `app`, as [`serve_with`] serves each TCP
/// connection it accepts. hyper parses the requests within `limits`, and
/// its own protocol error responses get the documented error body. Returns
/// when either side closes the connection.
pub async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    app: MockService,
    limits: Limits,
) -> hyper::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let clock = HeadClock::new();
    let _close_clock = CloseOnDrop(clock.clone());
    let service = connection_service(app, peer, clock.clone());
    let connection = http1_builder().serve_connection(connection_io(io, peer, &clock), service);
    tokio::select! {
        result = connection => result,
        true = clock.expired(limits.header_read_timeout) => {
            tracing::debug!(%peer, "closing a connection whose request headers did not arrive in time");
            Ok(())
        }
    }
}

fn log_task_failure(result: Result<(), JoinError>) {
    if let Err(error) = result
        && error.is_panic()
    {
        tracing::error!(%error, "connection task panicked");
    }
}

/// Waits one second after an error other than a failed connection, such
/// as running out of file descriptors, before the next accept.
async fn handle_accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed, retrying in 1 second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};

    use super::*;
    use crate::state::ClusterState;

    /// Sends `request` on a new connection, shuts down the write half, as
    /// `nc -N` does, and returns what the server sends until it closes.
    fn half_closed_exchange(address: std::net::SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).expect("connect to the server");
        let timeout = Some(Duration::from_secs(5));
        stream
            .set_read_timeout(timeout)
            .expect("set a read timeout");
        stream.write_all(request).expect("send the request");
        stream
            .shutdown(Shutdown::Write)
            .expect("shut down the write half");
        let mut received = Vec::new();
        stream
            .read_to_end(&mut received)
            .expect("read until the server closes");
        String::from_utf8_lossy(&received).into_owned()
    }

    /// Binds an ephemeral loopback port and builds the API on the default
    /// state with the default key. Returns the listener, its address and
    /// the API.
    async fn bind_default() -> (TcpListener, std::net::SocketAddr, Arc<MockApi>) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let key = crate::DEFAULT_API_KEY.to_string();
        let api = Arc::new(MockApi::new(ClusterState::default_state(), vec![key]));
        (listener, address, api)
    }

    /// Header read timeout of the servers that [`start_with_header_limit`]
    /// starts.
    const HEADER_LIMIT: Duration = Duration::from_millis(400);

    /// Starts a server whose header read timeout is [`HEADER_LIMIT`] and
    /// whose body read timeout is ten times longer; returns its address.
    async fn start_with_header_limit() -> std::net::SocketAddr {
        let (listener, address, api) = bind_default().await;
        let limits = Limits {
            header_read_timeout: HEADER_LIMIT,
            body_read_timeout: HEADER_LIMIT * 10,
            shutdown_timeout: HEADER_LIMIT,
        };
        tokio::spawn(serve_with(listener, api, limits, std::future::pending()));
        address
    }

    /// Opens a connection to `address` with a five-second read timeout.
    fn connect(address: std::net::SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(address).expect("connect to the server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a read timeout");
        stream
    }

    /// Reads from `stream` until the server closes it; returns the bytes.
    fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
        let mut received = Vec::new();
        stream
            .read_to_end(&mut received)
            .expect("read until the server closes");
        received
    }

    /// Sends a terminate request for `backup`, which has no processes, with
    /// its body `body_delay` after its head.
    fn send_terminate(stream: &mut TcpStream, body_delay: Duration) {
        let head = format!(
            "POST /system/services/active/backup/terminate HTTP/1.1\r\n\
             Host: 127.0.0.1\r\nX-Api-Key: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n",
            crate::DEFAULT_API_KEY
        );
        stream.write_all(head.as_bytes()).expect("send the head");
        std::thread::sleep(body_delay);
        stream.write_all(b"{}").expect("send the body");
    }

    /// Reads one response of the exact length of a `200` with the body `0`.
    fn read_response(stream: &mut TcpStream) -> String {
        let mut received = Vec::new();
        let mut buffer = [0; 1024];
        while !received.ends_with(b"\r\n\r\n0") {
            let count = stream.read(&mut buffer).expect("read the response");
            assert!(
                count > 0,
                "closed after {:?}",
                String::from_utf8_lossy(&received)
            );
            received.extend_from_slice(&buffer[..count]);
        }
        String::from_utf8_lossy(&received).into_owned()
    }

    /// Opens a connection to a server with [`HEADER_LIMIT`], sends `bytes`,
    /// and checks that the server closes it without a response once the
    /// limit has passed.
    async fn assert_closed_at_header_limit(bytes: &'static [u8]) {
        let address = start_with_header_limit().await;
        let (elapsed, received) = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut stream = connect(address);
            stream.write_all(bytes).expect("send the bytes");
            let received = read_until_closed(&mut stream);
            (started.elapsed(), received)
        })
        .await
        .expect("the client thread finishes");

        assert!(
            received.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&received)
        );
        assert!(elapsed >= HEADER_LIMIT, "closed after {elapsed:?}");
        assert!(elapsed < HEADER_LIMIT * 5, "closed after {elapsed:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connection_closes_at_header_limit() {
        assert_closed_at_header_limit(b"").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stalled_head_closes_without_response() {
        assert_closed_at_header_limit(
            b"POST /system/services/active/backup/terminate HTTP/1.1\r\nHost: a\r\n",
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn header_limit_counts_from_last_response() {
        let address = start_with_header_limit().await;
        let (responses, idle, received) = tokio::task::spawn_blocking(move || {
            let mut stream = connect(address);
            let mut responses = Vec::new();
            // Three requests, each sent after three quarters of the limit,
            // keep the connection open for more than twice the limit.
            for _ in 0..3 {
                std::thread::sleep(HEADER_LIMIT * 3 / 4);
                send_terminate(&mut stream, Duration::ZERO);
                responses.push(read_response(&mut stream));
            }
            let last_response = std::time::Instant::now();
            let received = read_until_closed(&mut stream);
            (responses, last_response.elapsed(), received)
        })
        .await
        .expect("the client thread finishes");

        for response in &responses {
            assert!(response.starts_with("HTTP/1.1 200 "), "{response:?}");
        }
        assert!(
            received.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&received)
        );
        assert!(idle >= HEADER_LIMIT * 9 / 10, "closed after {idle:?}");
        assert!(idle < HEADER_LIMIT * 5, "closed after {idle:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_body_outlasts_header_limit() {
        let address = start_with_header_limit().await;
        let response = tokio::task::spawn_blocking(move || {
            let mut stream = connect(address);
            send_terminate(&mut stream, HEADER_LIMIT * 2);
            read_response(&mut stream)
        })
        .await
        .expect("the client thread finishes");

        assert!(response.starts_with("HTTP/1.1 200 "), "{response:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_reader_outlasts_header_limit() {
        const REQUESTS: usize = 200;
        let address = start_with_header_limit().await;
        let (responses, received) = tokio::task::spawn_blocking(move || {
            let mut stream = connect(address);
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: a\r\n\r\n",
                crate::OPENAPI_JSON_PATH
            );
            stream
                .write_all(request.repeat(REQUESTS).as_bytes())
                .expect("send the requests");
            // The responses, about 4 MB, fill the socket buffers, so the
            // server's writes stay blocked while the client reads nothing.
            std::thread::sleep(HEADER_LIMIT * 3);
            let received = read_until_closed(&mut stream);
            let text = String::from_utf8_lossy(&received).into_owned();
            (text.matches("HTTP/1.1 200 OK\r\n").count(), received.len())
        })
        .await
        .expect("the client thread finishes");

        assert_eq!(responses, REQUESTS, "{received} bytes received");
    }

    /// An event of a connection of [`NotedIo`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Event {
        Read(usize),
        Wrote(usize),
    }

    /// A connection that notes each read and write that moves bytes.
    struct NotedIo {
        stream: tokio::net::TcpStream,
        connection: usize,
        events: Arc<std::sync::Mutex<Vec<Event>>>,
    }

    impl NotedIo {
        fn note(&self, event: Event) {
            self.events.lock().expect("not poisoned").push(event);
        }
    }

    impl AsyncRead for NotedIo {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut std::task::Context<'_>,
            buffer: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let before = buffer.filled().len();
            let result = std::pin::Pin::new(&mut self.stream).poll_read(context, buffer);
            if buffer.filled().len() > before {
                self.note(Event::Read(self.connection));
            }
            result
        }
    }

    impl AsyncWrite for NotedIo {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut std::task::Context<'_>,
            bytes: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let result = std::pin::Pin::new(&mut self.stream).poll_write(context, bytes);
            if let std::task::Poll::Ready(Ok(1..)) = result {
                self.note(Event::Wrote(self.connection));
            }
            result
        }

        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.stream).poll_flush(context)
        }

        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.stream).poll_shutdown(context)
        }
    }

    /// The server's worker reads every request that is waiting before it
    /// sends the first response.
    #[tokio::test]
    async fn waiting_requests_read_before_first_write() {
        const CONNECTIONS: usize = 4;
        // The server and the test share this thread. A debug build can take
        // longer than the default window to serve a request.
        crate::write_batch::set_window_of_this_thread(Duration::from_secs(3600));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let clients = tokio::task::spawn_blocking(move || {
            let mut clients: Vec<TcpStream> = (0..CONNECTIONS).map(|_| connect(address)).collect();
            for client in &mut clients {
                send_terminate(client, Duration::ZERO);
            }
            clients
        });
        let mut accepted = Vec::new();
        for _ in 0..CONNECTIONS {
            accepted.push(listener.accept().await.expect("accept a connection"));
        }
        let mut clients = clients.await.expect("the client thread finishes");
        // The requests reach the server's sockets before any is served.
        tokio::time::sleep(Duration::from_millis(100)).await;

        let key = crate::DEFAULT_API_KEY.to_string();
        let api = Arc::new(MockApi::new(ClusterState::default_state(), vec![key]));
        let app = crate::service_with(api, &AppOptions::default());
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        for (connection, (stream, peer)) in accepted.into_iter().enumerate() {
            let io = NotedIo {
                stream,
                connection,
                events: events.clone(),
            };
            tokio::spawn(serve_connection(io, peer, app.clone(), Limits::default()));
        }
        let responses = tokio::task::spawn_blocking(move || {
            let responses = clients.iter_mut().map(read_response);
            responses.collect::<Vec<String>>()
        })
        .await
        .expect("the client thread finishes");

        for response in &responses {
            assert!(response.starts_with("HTTP/1.1 200 "), "{response:?}");
        }
        let events = events.lock().expect("not poisoned").clone();
        let reads = events
            .iter()
            .filter(|event| matches!(event, Event::Read(_)));
        assert_eq!(reads.count(), CONNECTIONS, "{events:?}");
        let first_write = events
            .iter()
            .position(|event| matches!(event, Event::Wrote(_)));
        assert_eq!(first_write, Some(CONNECTIONS), "{events:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn half_closed_request_gets_response() {
        let (listener, address, api) = bind_default().await;
        let server = tokio::spawn(async move {
            let shutdown = std::future::pending();
            serve_with(listener, api, Limits::default(), shutdown).await
        });

        let responses = tokio::task::spawn_blocking(move || {
            let request = format!(
                "POST /system/services/active/backup/terminate HTTP/1.1\r\n\
                 Host: 127.0.0.1\r\nX-Api-Key: {}\r\n\
                 Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
                crate::DEFAULT_API_KEY
            );
            let exchanges = (0..300).map(|_| half_closed_exchange(address, request.as_bytes()));
            exchanges.collect::<Vec<String>>()
        })
        .await
        .expect("the client thread finishes");
        server.abort();

        for (attempt, response) in responses.iter().enumerate() {
            assert!(
                response.starts_with("HTTP/1.1 200 ") && response.ends_with("\r\n\r\n0"),
                "attempt {attempt}: {response:?}"
            );
        }
    }

    /// A request that reached an idle keep-alive connection before the
    /// shutdown began gets its response, and then the connection closes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn request_received_before_shutdown_answered() {
        const CONNECTIONS: usize = 40;
        let (listener, address, api) = bind_default().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve_with(listener, api, Limits::default(), shutdown));

        let streams = tokio::task::spawn_blocking(move || {
            let mut streams: Vec<TcpStream> = (0..CONNECTIONS).map(|_| connect(address)).collect();
            for stream in &mut streams {
                send_terminate(stream, Duration::ZERO);
                read_response(stream);
            }
            // Every connection is idle now. The next requests are sent
            // before the shutdown, so they reach the server within its linger.
            for stream in &mut streams {
                send_terminate(stream, Duration::ZERO);
            }
            streams
        })
        .await
        .expect("the client thread finishes");
        stop.send(())
            .expect("the server waits for the shutdown signal");

        let responses = tokio::task::spawn_blocking(move || {
            let read = |mut stream: TcpStream| {
                let mut received = Vec::new();
                match stream.read_to_end(&mut received) {
                    Ok(_) => String::from_utf8_lossy(&received).into_owned(),
                    Err(error) => format!("{error}"),
                }
            };
            streams.into_iter().map(read).collect::<Vec<String>>()
        })
        .await
        .expect("the client thread finishes");
        let stopped = server.await.expect("the server task finishes");
        let stopped = stopped.expect("the server stops without an error");

        let unanswered: Vec<&String> = responses
            .iter()
            .filter(|response| {
                !response.starts_with("HTTP/1.1 200 ") || !response.ends_with("\r\n\r\n0")
            })
            .collect();
        assert!(
            unanswered.is_empty(),
            "{} of {CONNECTIONS}: {unanswered:?}",
            unanswered.len()
        );
        assert_eq!(stopped.dropped_connections, 0);
    }
}

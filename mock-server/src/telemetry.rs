//! Logging with `tracing`: the subscriber, request ids and one line per request.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::future::Future;
use std::hash::BuildHasher;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{Extensions, HeaderName, HeaderValue, Method};
use axum::response::Response;
use futures_util::FutureExt;
use system_services_server::JsonRpcMethods;
use tracing_subscriber::EnvFilter;

pub use output::{LogOutput, buffer_this_thread, flush};
use request_line::RequestLine;

mod output;
mod request_line;

/// Target of the request log line.
const TARGET: &str = module_path!();

/// Whether the request log line goes straight to the output in the
/// plain-text format ([`request_line`]) rather than through `tracing`: set
/// by [`init`] for that format without colours.
static DIRECT_LINES: AtomicBool = AtomicBool::new(false);

/// Response header that carries the request id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Format of log lines on standard output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text, one line per event.
    #[default]
    Pretty,
    /// One JSON object per line, with the event's fields at the top level.
    Json,
}

/// Filter of the log lines when `RUST_LOG` is unset, empty or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber, which writes to standard output through
/// [`LogOutput`]: lines logged on a thread that called
/// [`buffer_this_thread`] wait until it calls [`flush`].
/// `RUST_LOG` sets the filter. When it is unset or empty the filter is
/// [`DEFAULT_FILTER`], and when it is invalid too, after one logged
/// warning. Pretty lines are coloured only when standard output is a
/// terminal.
pub fn init(format: LogFormat) {
    let (filter, ignored) = env_filter(std::env::var_os("RUST_LOG").as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogOutput);
    match format {
        LogFormat::Pretty => builder.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .init(),
    }
    let colours = std::io::stdout().is_terminal();
    DIRECT_LINES.store(format == LogFormat::Pretty && !colours, Ordering::Relaxed);
    if let Some(error) = ignored {
        tracing::warn!(
            %error,
            "RUST_LOG is invalid and was ignored, logging with the filter `{DEFAULT_FILTER}`"
        );
    }
}

/// Builds the filter from the value of `RUST_LOG`. An unset or blank value
/// gives [`DEFAULT_FILTER`]. An invalid one gives it too, with the reason
/// the value was ignored.
fn env_filter(value: Option<&OsStr>) -> (EnvFilter, Option<String>) {
    let default = || EnvFilter::new(DEFAULT_FILTER);
    let Some(value) = value else {
        return (default(), None);
    };
    let Some(text) = value.to_str() else {
        return (default(), Some("the value is not valid UTF-8".to_string()));
    };
    if text.trim().is_empty() {
        return (default(), None);
    }
    match EnvFilter::builder().parse(text) {
        Ok(filter) => (filter, None),
        Err(error) => (default(), Some(error.to_string())),
    }
}

/// Id of a request: 16 hex digits, in the `X-Request-Id` response header,
/// the request's log line and its journal entry. Code that runs for a
/// request gets it from [`current_request_id`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; 16]);

impl RequestId {
    /// Returns a new id, unique within the process and different in each
    /// run.
    pub fn new() -> RequestId {
        RequestId(new_id_digits())
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }

    /// Returns the digits as ASCII bytes, without the UTF-8 check of
    /// [`as_str`](Self::as_str).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), formatter)
    }
}

/// The id, client address and matched route of the request that the
/// current task serves.
struct RequestContext {
    id: RequestId,
    /// The client address that the server passed to [`log_request`].
    peer: Option<SocketAddr>,
    /// The route template of the log line, filled in after routing.
    route: RefCell<Option<RouteTemplate>>,
    /// The template of the mock's own route that matched, when it is
    /// found before routing.
    marked: RefCell<Option<Arc<str>>>,
}

tokio::task_local! {
    /// The request that the current task serves, set by [`log_request`]
    /// for the time its inner middleware and handler run.
    static REQUEST: RequestContext;
}

/// Returns the id of the request whose middleware or handler calls it, or
/// `None` outside a request. Log events inside a request carry it as their
/// `request_id` field.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST.try_with(|request| request.id).ok()
}

/// Returns the `request_id` field of a log event: the id of the request
/// whose middleware or handler logs it, or no field outside a request.
pub fn request_id_field() -> Option<tracing::field::DisplayValue<RequestId>> {
    current_request_id().map(tracing::field::display)
}

/// Returns a new id of 16 hex digits, unique within the process and
/// different in each run.
pub fn new_id() -> String {
    RequestId::new().as_str().to_string()
}

/// Returns a new id as [`new_id`] does, as ASCII bytes on the stack.
fn new_id_digits() -> [u8; 16] {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0));
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let value = mix(seed.wrapping_add(count));
    let mut digits = [0; 16];
    for (index, digit) in digits.iter_mut().enumerate() {
        let nibble = (value >> (60 - 4 * index)) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    digits
}

/// SplitMix64's output function, a bijection on `u64`, so distinct inputs
/// give distinct ids.
pub(crate) fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs `next` on `request` from the client at `peer` with a new request
/// id, and logs one line when
/// the response head is ready. `next` is called at once, and the id is the
/// [`current_request_id`] while its future runs. The id goes into the
/// `X-Request-Id` response header. The line has the JSON-RPC method names
/// as `rpc_methods`, comma-separated, when the response carries a
/// [`JsonRpcMethods`] extension. No header value is logged, so the API key
/// never is.
///
/// The future is built from combinators rather than as an `async fn`, which
/// would keep `request` and the future of `next` side by side in its state
/// and make the future twice as large to allocate and move.
pub fn log_request<F, Fut>(
    request: Request,
    peer: Option<SocketAddr>,
    next: F,
) -> impl Future<Output = Response>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let id = RequestId::new();
    // What the line needs is kept only when it is logged.
    let logged = tracing::enabled!(tracing::Level::INFO)
        .then(|| (request.method().clone(), request.uri().clone()));
    let context = RequestContext {
        id,
        peer,
        route: RefCell::new(None),
        marked: RefCell::new(None),
    };
    let inner = next(request).map(|response| {
        let route = REQUEST.with(|request| request.route.take());
        (response, route)
    });
    REQUEST
        .scope(context, inner)
        .map(move |(mut response, route)| {
            response.headers_mut().insert(
                X_REQUEST_ID,
                HeaderValue::from_bytes(id.as_bytes())
                    .expect("hex digits are a valid header value"),
            );
            if let Some((method, uri)) = logged {
                let route = match &route {
                    Some(template) => template.as_str(),
                    None => uri.path(),
                };
                log_completed(id.as_str(), &method, route, &response, started.elapsed());
            }
            response
        })
}

/// Returns the client address of `request`: its `ConnectInfo` extension,
/// or else the address that the server passed to [`log_request`].
pub(crate) fn client_address<B>(request: &axum::http::Request<B>) -> Option<SocketAddr> {
    client_address_of(request.extensions())
}

/// Returns the client address of the request with `extensions`, as
/// [`client_address`] does.
pub(crate) fn client_address_of(extensions: &Extensions) -> Option<SocketAddr> {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => Some(*address),
        None => current_peer(),
    }
}

/// Returns the client IP address of a handler's request: that of `known`,
/// the address in the handler's context, or else that of the address that
/// the server passed to [`log_request`]. Under the router, the context has
/// an address only when the request carries `ConnectInfo`.
pub(crate) fn client_ip(known: Option<SocketAddr>) -> Option<IpAddr> {
    known.or_else(current_peer).map(|address| address.ip())
}

/// Returns the client address that the server passed to [`log_request`]
/// for the request that the current task serves, if any.
fn current_peer() -> Option<SocketAddr> {
    REQUEST.try_with(|request| request.peer).ok().flatten()
}

/// Stores the route template of `request`, such as
/// `/system/services/active/{system_services_id}/terminate`, for the log
/// line of the request that the current task serves, if there is one.
pub(crate) fn note_route(request: &Request) {
    if let Some(matched) = request.extensions().get::<MatchedPath>() {
        set_route(RouteTemplate::Matched(matched.clone()));
    }
}

/// Stores `template`, a path template of the loaded document, for the log
/// line of the request that the current task serves, if there is one.
pub(crate) fn note_loaded_route(template: &Arc<str>) {
    set_route(RouteTemplate::Named(template.clone()));
}

/// Stores `template`, the route that [`crate::routed::Routes::mark`] found
/// before routing, as the matched route and the log line's route of the
/// request that the current task serves, if there is one.
pub(crate) fn mark_route(template: &Arc<str>) {
    let _ = REQUEST.try_with(|current| {
        *current.marked.borrow_mut() = Some(template.clone());
        *current.route.borrow_mut() = Some(RouteTemplate::Named(template.clone()));
    });
}

/// Returns the route that [`mark_route`] stored for the request that the
/// current task serves, if any.
pub(crate) fn marked_route() -> Option<Arc<str>> {
    REQUEST
        .try_with(|current| current.marked.borrow().clone())
        .ok()
        .flatten()
}

/// A route template: the one axum matched, or one the mock found itself,
/// of its own routes or of the document that `--spec` loads.
enum RouteTemplate {
    Matched(MatchedPath),
    Named(Arc<str>),
}

impl RouteTemplate {
    fn as_str(&self) -> &str {
        match self {
            RouteTemplate::Matched(matched) => matched.as_str(),
            RouteTemplate::Named(template) => template,
        }
    }
}

fn set_route(template: RouteTemplate) {
    let _ = REQUEST.try_with(|current| *current.route.borrow_mut() = Some(template));
}

/// Logs the request line. [`log_request`] calls it only when `INFO` events
/// were enabled as the request started.
fn log_completed(
    request_id: &str,
    method: &Method,
    route: &str,
    response: &Response,
    latency: Duration,
) {
    let names = response.extensions().get::<JsonRpcMethods>();
    if DIRECT_LINES.load(Ordering::Relaxed) {
        let line = RequestLine {
            request_id,
            method: method.as_str(),
            route,
            status: response.status().as_u16(),
            latency,
            rpc_methods: names.map(|JsonRpcMethods(names)| names.as_slice()),
        };
        if request_line::write(&line) {
            return;
        }
    }
    let rpc_methods = names.map(|JsonRpcMethods(names)| names.join(","));
    tracing::info!(
        request_id,
        method = %method,
        route,
        status = response.status().as_u16(),
        latency_ms = latency.as_micros() as f64 / 1000.0,
        rpc_methods = rpc_methods.as_deref(),
        "request completed"
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;

    /// Log output collected in memory.
    #[derive(Clone, Default)]
    pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        /// Returns a plain-text subscriber that writes into this capture.
        pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
            let writer = self.clone();
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish()
        }

        pub(crate) fn output(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Logs the request line of `response` and returns the output.
    fn request_line(response: &Response) -> String {
        let capture = Capture::default();
        tracing::subscriber::with_default(capture.subscriber(), || {
            let latency = Duration::from_micros(1500);
            log_completed("abc", &Method::POST, "/jsonrpc", response, latency);
        });
        capture.output()
    }

    #[test]
    fn request_line_has_request_fields() {
        let line = request_line(&StatusCode::UNAUTHORIZED.into_response());
        assert!(line.contains("request completed"), "{line}");
        assert!(line.contains("request_id=\"abc\""), "{line}");
        assert!(line.contains("method=POST"), "{line}");
        assert!(line.contains("route=\"/jsonrpc\""), "{line}");
        assert!(line.contains("status=401"), "{line}");
        assert!(line.contains("latency_ms=1.5"), "{line}");
        assert!(!line.contains("rpc_methods"), "{line}");
    }

    #[test]
    fn request_line_names_rpc_methods() {
        let mut response = StatusCode::OK.into_response();
        let names = vec![
            "system.services.active.mark_terminate".to_string(),
            "x.y".into(),
        ];
        response.extensions_mut().insert(JsonRpcMethods(names));
        let line = request_line(&response);
        assert!(
            line.contains("rpc_methods=\"system.services.active.mark_terminate,x.y\""),
            "{line}"
        );
    }

    /// Sends `request` to `address` on a new connection, from a blocking
    /// thread, and reads the response until the server closes the connection.
    async fn exchange(address: std::net::SocketAddr, request: String) -> String {
        use std::io::{Read, Write};

        let exchange = move || {
            let mut stream = std::net::TcpStream::connect(address).expect("connect to the server");
            stream
                .write_all(request.as_bytes())
                .expect("send the request");
            let mut response = Vec::new();
            stream
                .read_to_end(&mut response)
                .expect("read the response");
            String::from_utf8_lossy(&response).into_owned()
        };
        tokio::task::spawn_blocking(exchange)
            .await
            .expect("the client thread finishes")
    }

    #[tokio::test]
    async fn request_line_names_route_template() {
        let capture = Capture::default();
        let _default = tracing::subscriber::set_default(capture.subscriber());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let key = crate::DEFAULT_API_KEY;
        let state = crate::state::ClusterState::default_state();
        let api = Arc::new(crate::MockApi::new(state, vec![key.to_string()]));
        let limits = crate::Limits::default();
        let server = tokio::spawn(crate::serve_with(
            listener,
            api,
            limits,
            std::future::pending(),
        ));

        let terminate = format!(
            "POST /system/services/active/cron/terminate HTTP/1.1\r\nHost: x\r\n\
             X-Api-Key: {key}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let response = exchange(address, terminate).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        let unknown = "GET /unknown/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let response = exchange(address, unknown.to_string()).await;
        assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
        let document = "GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let response = exchange(address, document.to_string()).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        let other_method = "DELETE /jsonrpc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let response = exchange(address, other_method.to_string()).await;
        assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
        server.abort();

        let output = capture.output();
        let lines: Vec<&str> = output
            .lines()
            .filter(|line| line.contains("request completed"))
            .collect();
        assert_eq!(lines.len(), 4, "{output}");
        let template = "route=\"/system/services/active/{system_services_id}/terminate\"";
        assert!(lines[0].contains(template), "{}", lines[0]);
        assert!(lines[0].contains("status=200"), "{}", lines[0]);
        assert!(lines[1].contains("route=\"/unknown/path\""), "{}", lines[1]);
        assert!(lines[1].contains("status=404"), "{}", lines[1]);
        assert!(lines[2].contains("route=\"/openapi.json\""), "{}", lines[2]);
        assert!(lines[3].contains("route=\"/jsonrpc\""), "{}", lines[3]);
        assert!(lines[3].contains("status=405"), "{}", lines[3]);
    }

    #[tokio::test]
    async fn request_id_current_inside_request() {
        assert_eq!(current_request_id(), None);
        let seen = Arc::new(Mutex::new(None));
        let inner = seen.clone();
        let response = log_request(
            Request::new(axum::body::Body::empty()),
            None,
            |_| async move {
                tokio::task::yield_now().await;
                *inner.lock().unwrap() = current_request_id();
                StatusCode::OK.into_response()
            },
        )
        .await;
        let header = response.headers()[X_REQUEST_ID].to_str().unwrap();
        let seen = seen.lock().unwrap().expect("an id inside the request");
        assert_eq!(seen.as_str(), header);
        assert_eq!(current_request_id(), None);
    }

    #[test]
    fn new_id_is_sixteen_hex_digits() {
        let id = new_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.bytes().all(|byte| byte.is_ascii_hexdigit()), "{id}");
    }

    #[test]
    fn new_id_differs_each_call() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}

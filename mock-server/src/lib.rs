//! Stateful mock of the system services API, served on the generated axum
//! stubs.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use mock_server::{MockApi, state::ClusterState};
//!
//! let api = MockApi::new(ClusterState::default_state(), vec!["my-key".into()]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! mock_server::serve(listener, api).await
//! # }
//! ```

mod api;
pub mod auth;
mod body_timeout;
pub mod clock;
pub mod events;
mod internal_error;
pub mod persist;
mod protocol_errors;
pub mod scheduler;
mod server;
pub mod state;
pub mod telemetry;
mod yaml_location;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use api::{AUTH_FAILED_CODE, MockApi, NOT_FOUND_CODE, SCHEDULER_ITSELF_CODE};
pub use internal_error::{INTERNAL_ERROR_MESSAGE, internal_error};
pub use server::{Limits, Stopped, serve_with};

/// API key accepted when none is configured.
pub const DEFAULT_API_KEY: &str = "mock-api-key";

/// Builds the router of the API on `api`, with [`with_middleware`].
pub fn app(api: Arc<MockApi>) -> axum::Router {
    with_middleware(system_services_server::router(api))
}

/// Adds the middleware to every route and the fallback of `router`, with
/// the default request body deadline of [`Limits`]. See
/// [`with_middleware_and_body_timeout`].
pub fn with_middleware(router: axum::Router) -> axum::Router {
    with_middleware_and_body_timeout(router, Limits::default().body_read_timeout)
}

/// Adds the middleware to every route and the fallback of `router`. The
/// outer layer gives each request an id, turns a handler panic into the
/// documented 500 response and logs the request
/// ([`telemetry::log_request`]). The inner one gives the request body
/// `body_read_timeout` from the end of the headers to arrive, and responds
/// to a later body with a 408 in the documented error body. Call it after
/// the last route is added.
pub fn with_middleware_and_body_timeout(
    router: axum::Router,
    body_read_timeout: Duration,
) -> axum::Router {
    router
        .layer(axum::middleware::from_fn_with_state(
            body_read_timeout,
            body_timeout::limit_body_read,
        ))
        .layer(axum::middleware::from_fn(telemetry::log_request))
}

/// Serves the API on `listener` until the process stops.
pub async fn serve(listener: tokio::net::TcpListener, api: MockApi) -> std::io::Result<()> {
    serve_shared(listener, Arc::new(api)).await
}

/// Serves the API on `listener` until the process stops, sharing `api` with
/// the caller, for example with the Tasks Scheduler task.
pub async fn serve_shared(
    listener: tokio::net::TcpListener,
    api: Arc<MockApi>,
) -> std::io::Result<()> {
    serve_until(listener, api, std::future::pending()).await
}

/// Serves the API on `listener` with the default [`Limits`] until
/// `shutdown` completes, then stops accepting connections and returns once
/// the open connections are closed, or their grace period is over. See
/// [`serve_with`].
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    api: Arc<MockApi>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, api, Limits::default(), shutdown)
        .await
        .map(|_| ())
}

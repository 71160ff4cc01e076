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

mod any_spec;
mod api;
pub mod auth;
mod body_timeout;
pub mod clock;
mod control;
pub mod control_auth;
pub mod cors;
pub mod events;
pub mod faults;
mod head_deadline;
mod internal_error;
pub mod journal;
pub mod persist;
mod prefer;
mod protocol_errors;
mod routed;
pub mod scheduler;
mod server;
mod service;
pub mod session;
pub mod sessions;
mod spec;
pub mod state;
pub mod telemetry;
pub mod updates;
mod write_batch;
mod yaml_location;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use any_spec::AnySpec;
pub use api::{
    AUTH_FAILED_CODE, MockApi, NOT_FOUND_CODE, SCHEDULER_ITSELF_CODE, SESSION_LIMIT_CODE,
};
pub use cors::{Cors, CorsOrigin};
pub use internal_error::{INTERNAL_ERROR_MESSAGE, internal_error};
pub use server::{Limits, MAX_HEAD_BYTES, Stopped, serve_connection, serve_with, serve_with_cors};
pub use service::MockService;
pub use spec::{LoadError as SpecLoadError, OPENAPI_JSON_PATH, OPENAPI_YAML_PATH};
pub use write_batch::BatchedWrites;

/// API key accepted when none is configured.
pub const DEFAULT_API_KEY: &str = "mock-api-key";

/// Options of the HTTP layer around the API. [`AppOptions::default`]
/// allows any origin and gives the body the default deadline of
/// [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOptions {
    /// Time the body of a request has to arrive, counted from the end of
    /// its headers. A later body gets a 408.
    pub body_read_timeout: Duration,
    /// Origins that browsers may call the API from ([`cors`]). `None` sends
    /// no CORS headers, and preflight requests get the routes' 405.
    pub cors: Option<Cors>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            body_read_timeout: Limits::default().body_read_timeout,
            cors: Some(Cors::any()),
        }
    }
}

/// Builds the router of the API on `api` with the default [`AppOptions`].
/// See [`app_with`].
pub fn app(api: Arc<MockApi>) -> axum::Router {
    app_with(api, &AppOptions::default())
}

/// Builds the router of the API on `api`: the operations, the spec at
/// [`OPENAPI_YAML_PATH`] and [`OPENAPI_JSON_PATH`] without an API key, the
/// selection of documented examples with the `Prefer` header, the faults of
/// [`MockApi::faults`], the control API under `/__mock/`
/// (`spec/control.yaml`), the recording of each request in
/// [`MockApi::journal`], and the middleware of [`MockService`].
pub fn app_with(api: Arc<MockApi>, options: &AppOptions) -> axum::Router {
    axum::Router::new().fallback_service(service_with(api, options))
}

/// Builds the API on `api` as [`app_with`] does, as the service itself
/// rather than a router around it.
pub fn service_with(api: Arc<MockApi>, options: &AppOptions) -> MockService {
    // Both routers have a fallback, which `Router::merge` rejects. So the
    // control router is the fallback of the API's router: it serves the
    // paths under `/__mock/`, and its own fallback the unknown paths, with
    // the same 404 as the API's. A loaded spec comes between the two.
    let fallback = control::router(api.clone());
    let fallback = match api.spec() {
        Some(loaded) => any_spec::router(loaded.clone(), api.clone(), fallback),
        None => fallback,
    };
    let router =
        spec::add_routes(system_services_server::router(api.clone())).fallback_service(fallback);
    let routes = routed::Routes::with_operations(
        system_services_server::ROUTES,
        spec::ROUTES.iter().copied(),
    );
    MockService::new(router, Some(routes), options, Some(api))
}

/// Adds the middleware to every route and the fallback of `router`, with
/// the default [`AppOptions`]. See [`with_middleware_and_options`].
pub fn with_middleware(router: axum::Router) -> axum::Router {
    with_middleware_and_options(router, &AppOptions::default())
}

/// Adds the middleware to every route and the fallback of `router`, with
/// the default [`AppOptions`] but a body deadline of `body_read_timeout`.
/// See [`with_middleware_and_options`].
pub fn with_middleware_and_body_timeout(
    router: axum::Router,
    body_read_timeout: Duration,
) -> axum::Router {
    let options = AppOptions {
        body_read_timeout,
        ..AppOptions::default()
    };
    with_middleware_and_options(router, &options)
}

/// Adds the middleware of [`MockService`] to every route and the fallback
/// of `router`, without the `Prefer` selection. Call it after the last
/// route is added.
pub fn with_middleware_and_options(router: axum::Router, options: &AppOptions) -> axum::Router {
    let service = MockService::new(router, None, options, None);
    axum::Router::new().fallback_service(service)
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

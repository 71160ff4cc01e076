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
pub mod clock;
pub mod events;
pub mod scheduler;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use api::{AUTH_FAILED_CODE, MockApi, NOT_FOUND_CODE, SCHEDULER_ITSELF_CODE};

/// API key accepted when none is configured.
pub const DEFAULT_API_KEY: &str = "mock-api-key";

/// Builds the router of the API on `api`.
pub fn app(api: Arc<MockApi>) -> axum::Router {
    system_services_server::router(api)
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
    let app = app(api).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}

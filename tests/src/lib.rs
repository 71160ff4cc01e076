//! Helpers for the contract tests: a mock server on an ephemeral loopback
//! port and a generated client pointed at it.
//!
//! ```no_run
//! # async fn run() {
//! let mock = contract_tests::MockServer::start().await;
//! let client = mock.client();
//! let affected = client
//!     .mark_terminate()
//!     .system_services_id("cron")
//!     .body(system_services_client::types::TerminateRequest::default())
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(affected.into_inner(), 2);
//! # }
//! ```

pub mod checker;
pub mod contract;
pub mod control;

use std::net::SocketAddr;
use std::sync::Arc;

use mock_server::auth::AuthPolicy;
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use reqwest::header::{HeaderMap, HeaderValue};

/// A mock server on 127.0.0.1 with the default state, stopped on drop.
pub struct MockServer {
    pub address: SocketAddr,
    /// The served API, for running the Tasks Scheduler and reading the event
    /// log. The server starts no background scheduler task.
    pub api: Arc<MockApi>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Starts a mock server on the embedded default state.
    pub async fn start() -> Self {
        Self::start_with(ClusterState::default_state()).await
    }

    /// Starts a mock server on the embedded default state that accepts the
    /// keys of `auth`, for example keys limited to client networks.
    pub async fn start_with_auth(auth: AuthPolicy) -> Self {
        Self::start_with_api(MockApi::new(ClusterState::default_state(), auth)).await
    }

    /// Starts a mock server on `state`, accepting [`DEFAULT_API_KEY`].
    pub async fn start_with(state: ClusterState) -> Self {
        Self::start_with_api(MockApi::new(state, vec![DEFAULT_API_KEY.to_string()])).await
    }

    /// Starts a mock server on `api`, for example one with a manual clock.
    pub async fn start_with_api(api: MockApi) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let api = Arc::new(api);
        let served = api.clone();
        let task = tokio::spawn(async move {
            mock_server::serve_shared(listener, served)
                .await
                .expect("serve the mock");
        });
        MockServer { address, api, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns a generated client that sends the default API key.
    pub fn client(&self) -> system_services_client::Client {
        client_with_key(&self.base_url(), DEFAULT_API_KEY)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Returns a generated client for `base_url` that sends `api_key` in `X-Api-Key`.
pub fn client_with_key(base_url: &str, api_key: &str) -> system_services_client::Client {
    let mut headers = HeaderMap::new();
    let mut value = HeaderValue::from_str(api_key).expect("API key is a valid header value");
    value.set_sensitive(true);
    headers.insert("X-Api-Key", value);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("build an HTTP client");
    system_services_client::Client::new_with_client(base_url, http)
}

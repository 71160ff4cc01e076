//! `cargo run -p mock-server`: serves the mock API on 127.0.0.1:4010.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use mock_server::scheduler::{DEFAULT_INTERVAL, MAX_INTERVAL_SECS, Scheduler};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};

/// Stateful mock of the system services API.
#[derive(Parser)]
#[command(version)]
struct Options {
    /// Socket address to listen on; port 0 picks a free port.
    #[arg(long, env = "MOCK_LISTEN", default_value = "127.0.0.1:4010")]
    listen: SocketAddr,

    /// State fixture to load, YAML or JSON, in place of the embedded default state.
    #[arg(long, env = "MOCK_STATE")]
    state: Option<PathBuf>,

    /// API key that requests must send in X-Api-Key; repeat the option for several keys.
    #[arg(long = "api-key", env = "MOCK_API_KEYS", value_delimiter = ',', default_value = DEFAULT_API_KEY)]
    api_keys: Vec<String>,

    /// Seconds between two runs of the Tasks Scheduler, at most 86400. 0 turns the runs off.
    #[arg(
        long,
        env = "MOCK_SCHEDULER_INTERVAL",
        value_name = "SECONDS",
        default_value_t = DEFAULT_INTERVAL.as_secs(),
        value_parser = clap::value_parser!(u64).range(..=MAX_INTERVAL_SECS)
    )]
    scheduler_interval: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let options = Options::parse();

    let state = match &options.state {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read state fixture {}", path.display()))?;
            ClusterState::from_yaml(&text).with_context(|| path.display().to_string())?
        }
        None => ClusterState::default_state(),
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;

    // Only the built-in key is printed: a configured key is a secret.
    let key = if options.api_keys == [DEFAULT_API_KEY] {
        println!("API key: {DEFAULT_API_KEY}");
        DEFAULT_API_KEY
    } else {
        println!("API keys: {} configured", options.api_keys.len());
        "$API_KEY"
    };
    println!("mock server listening on http://{address}");
    println!(
        "try: curl -s -X POST http://{address}/system/services/active/cron/terminate \
         -H \"X-Api-Key: {key}\" -H 'Content-Type: application/json' -d '{{\"nodes_id\": null}}'"
    );
    tracing::info!(%address, "mock server started");

    let api = Arc::new(MockApi::new(state, options.api_keys));
    let interval = Duration::from_secs(options.scheduler_interval);
    Scheduler::new(api.clone(), interval).spawn();
    mock_server::serve_shared(listener, api).await?;
    Ok(())
}

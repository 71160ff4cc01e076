//! `cargo run -p mock-server`: serves the mock API on 127.0.0.1:4010.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use ipnet::IpNet;
use mock_server::auth::{ApiKeyEntry, AuthPolicy, parse_network};
use mock_server::scheduler::{DEFAULT_INTERVAL, MAX_INTERVAL_SECS, Scheduler};
use mock_server::state::ClusterState;
use mock_server::telemetry::{self, LogFormat};
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

    /// API key that requests must send in X-Api-Key, optionally limited to client IP addresses
    /// or CIDR ranges after `@`, joined by `+` (for example `KEY@10.0.0.0/8+2001:db8::1`).
    /// Repeat the option for several keys.
    #[arg(
        long = "api-key",
        value_name = "KEY[@NET+NET...]",
        env = "MOCK_API_KEYS",
        hide_env_values = true,
        value_delimiter = ',',
        default_value = DEFAULT_API_KEY,
        value_parser = ApiKeyParser
    )]
    api_keys: Vec<ApiKeyEntry>,

    /// IP address or CIDR range of a reverse proxy whose X-Forwarded-For header names the
    /// client IP. Repeat the option for several proxies. Without it, X-Forwarded-For is ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "NET",
        env = "MOCK_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_network
    )]
    trusted_proxies: Vec<IpNet>,

    /// Format of the log lines on standard output. RUST_LOG sets the level filter, `info` by
    /// default.
    #[arg(long, env = "MOCK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,

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
    let options = Options::parse();
    telemetry::init(options.log_format);

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

    print_try_command(address, &options.api_keys);
    tracing::info!(
        %address,
        api_keys = options.api_keys.len(),
        trusted_proxies = ?options.trusted_proxies,
        "mock server started"
    );

    let api = Arc::new(MockApi::new(
        state,
        AuthPolicy::new(options.api_keys, options.trusted_proxies),
    ));
    let interval = Duration::from_secs(options.scheduler_interval);
    Scheduler::new(api.clone(), interval).spawn();
    mock_server::serve_until(listener, api, shutdown_signal()).await?;
    tracing::info!("mock server stopped");
    Ok(())
}

/// Prints the address, the API key and a request to paste.
fn print_try_command(address: SocketAddr, api_keys: &[ApiKeyEntry]) {
    // Only the built-in key is printed: a configured key is a secret.
    let default_only = matches!(api_keys, [entry] if entry.is_default());
    let key = if default_only {
        println!("API key: {DEFAULT_API_KEY}");
        DEFAULT_API_KEY
    } else {
        println!("API keys: {} configured", api_keys.len());
        "$API_KEY"
    };
    println!("mock server listening on http://{address}");
    println!(
        "try: curl -s -X POST http://{address}/system/services/active/cron/terminate \
         -H \"X-Api-Key: {key}\" -H 'Content-Type: application/json' -d '{{\"nodes_id\": null}}'"
    );
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM, and logs which one.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "failed to listen for Ctrl-C, so only SIGTERM stops the server");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutdown signal received, finishing open requests"),
        () = terminate() => tracing::info!(signal = "SIGTERM", "shutdown signal received, finishing open requests"),
    }
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "failed to listen for SIGTERM, so only Ctrl-C stops the server");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}

/// Parses an `--api-key` entry. Unlike clap's function parsers, its error
/// message does not repeat the value, which contains the key.
#[derive(Clone)]
struct ApiKeyParser;

impl TypedValueParser for ApiKeyParser {
    type Value = ApiKeyEntry;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<ApiKeyEntry, clap::Error> {
        let reason = match value.to_str().map(str::parse::<ApiKeyEntry>) {
            Some(Ok(entry)) => return Ok(entry),
            Some(Err(error)) => error.to_string(),
            None => "API key is not valid UTF-8".to_string(),
        };
        let message = format!("invalid value for --api-key or MOCK_API_KEYS: {reason}\n");
        Err(clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("mock-server").chain(arguments.iter().copied()))
    }

    fn net(text: &str) -> IpNet {
        text.parse().expect("valid network")
    }

    #[test]
    fn api_key_option_parses_networks() {
        let options = parse(&[
            "--api-key",
            "first@10.0.0.0/8+192.0.2.7+2001:db8::/32",
            "--api-key",
            "second",
        ])
        .expect("valid options");
        let [first, second] = options.api_keys.as_slice() else {
            panic!("expected two keys, got {:?}", options.api_keys);
        };
        assert_eq!(
            first.networks(),
            [net("10.0.0.0/8"), net("192.0.2.7/32"), net("2001:db8::/32")]
        );
        assert!(second.networks().is_empty());
        assert_eq!(
            first,
            &"first@10.0.0.0/8+192.0.2.7+2001:db8::/32".parse().unwrap()
        );
        assert_eq!(second, &"second".parse().unwrap());
    }

    #[test]
    fn api_key_option_defaults_to_builtin() {
        let options = parse(&[]).expect("valid options");
        assert!(matches!(options.api_keys.as_slice(), [entry] if entry.is_default()));
        assert!(options.trusted_proxies.is_empty());
        assert_eq!(options.log_format, LogFormat::Pretty);
    }

    #[test]
    fn api_key_error_hides_key() {
        let error = match parse(&["--api-key", "topsecret@nowhere"]) {
            Ok(_) => panic!("an invalid network is rejected"),
            Err(error) => error.to_string(),
        };
        assert!(!error.contains("topsecret"), "{error}");
        assert!(error.contains("invalid network `nowhere`"), "{error}");
    }

    #[test]
    fn trusted_proxy_option_accepts_ip_and_cidr() {
        let options = parse(&[
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--log-format",
            "json",
        ])
        .expect("valid options");
        assert_eq!(
            options.trusted_proxies,
            [net("127.0.0.1/32"), net("10.0.0.0/8")]
        );
        assert_eq!(options.log_format, LogFormat::Json);
    }

    #[test]
    fn trusted_proxy_option_rejects_garbage() {
        assert!(parse(&["--trusted-proxy", "proxy.local"]).is_err());
    }
}

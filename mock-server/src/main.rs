//! `cargo run -p mock-server`: serves the mock API on 127.0.0.1:4010.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::future::Future;
use std::hash::BuildHasher;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use ipnet::IpNet;
use mock_server::auth::{ApiKeyEntry, AuthPolicy, ConfigError, parse_network};
use mock_server::control_auth::{ControlToken, InvalidControlToken};
use mock_server::faults::Faults;
use mock_server::journal::{self, Journal};
use mock_server::persist::Store;
use mock_server::scheduler::{DEFAULT_INTERVAL, MAX_INTERVAL_SECS, Scheduler};
use mock_server::sessions::SessionLimits;
use mock_server::state::ClusterState;
use mock_server::telemetry::{self, LogFormat};
use mock_server::{AnySpec, Cors, CorsOrigin, DEFAULT_API_KEY, Limits, MockApi};

/// Largest value of the timeout options, in seconds.
const MAX_TIMEOUT_SECS: u64 = 3600;

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

    /// SQLite database that keeps the state, its flags and the event log across restarts; each
    /// change is on disk before its response is sent. When FILE contains a state, that state is
    /// loaded and --state is ignored. Otherwise FILE is created from --state or the default.
    #[arg(long, env = "MOCK_PERSIST", value_name = "FILE")]
    persist: Option<PathBuf>,

    /// API key that requests must send in X-Api-Key, optionally limited to client IP addresses
    /// or CIDR ranges after `@`, joined by `+` (for example `KEY@10.0.0.0/8+2001:db8::1`).
    /// Repeat the option for several keys. MOCK_API_KEYS takes several keys separated by
    /// commas.
    #[arg(
        long = "api-key",
        value_name = "KEY[@NET+NET...]",
        env = "MOCK_API_KEYS",
        hide_env_values = true,
        default_value = DEFAULT_API_KEY,
        value_parser = EnvListParser::api_keys()
    )]
    api_keys: Vec<EnvList<ApiKeyEntry>>,

    /// IP address or CIDR range of a reverse proxy whose X-Forwarded-For header names the
    /// client IP. Repeat the option for several proxies. MOCK_TRUSTED_PROXIES takes several
    /// proxies separated by commas. Without it, X-Forwarded-For is ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "NET",
        env = "MOCK_TRUSTED_PROXIES",
        value_parser = EnvListParser::trusted_proxies()
    )]
    trusted_proxies: Vec<EnvList<IpNet>>,

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

    /// Seconds a client has to send the headers of a request, counted from when the connection
    /// opens or the previous response was sent, at most 3600. The server then closes the
    /// connection, so it also closes an idle connection after this time.
    #[arg(
        long,
        env = "MOCK_HEADER_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = Limits::DEFAULT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS)
    )]
    header_read_timeout: u64,

    /// Seconds the body of a request has to arrive after its headers, at most 3600. A later
    /// body gets a 408 response.
    #[arg(
        long,
        env = "MOCK_BODY_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = Limits::DEFAULT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS)
    )]
    body_read_timeout: u64,

    /// Seconds the open requests have to finish after Ctrl-C or SIGTERM, at most 3600. The
    /// server then closes the connections still open and exits.
    #[arg(
        long,
        env = "MOCK_SHUTDOWN_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = Limits::DEFAULT_SECS,
        value_parser = clap::value_parser!(u64).range(..=MAX_TIMEOUT_SECS)
    )]
    shutdown_timeout: u64,

    /// Origin of a web page that may call the API from the browser (CORS), written as browsers
    /// send it, such as `http://localhost:5173`. `*` allows any origin. Repeat the option for
    /// several origins. MOCK_CORS_ORIGINS takes several origins separated by commas.
    #[arg(
        long = "cors-origin",
        value_name = "ORIGIN",
        env = "MOCK_CORS_ORIGINS",
        default_value = "*",
        value_parser = EnvListParser::cors_origins()
    )]
    cors_origins: Vec<EnvList<CorsOrigin>>,

    /// Turns CORS off: no CORS headers, and a preflight request gets the 405 of any OPTIONS
    /// request. Overrides --cors-origin.
    #[arg(long, env = "MOCK_NO_CORS", value_parser = clap::builder::FalseyValueParser::new())]
    no_cors: bool,

    /// Maximum number of sessions (X-Mock-Session) at once, at most 10000; each keeps a copy
    /// of the initial state. A request that would start one more gets a 422. 0 turns sessions
    /// off.
    #[arg(
        long,
        env = "MOCK_MAX_SESSIONS",
        value_name = "N",
        default_value_t = SessionLimits::DEFAULT_MAX_SESSIONS as u64,
        value_parser = clap::value_parser!(u64).range(..=MAX_SESSIONS)
    )]
    max_sessions: u64,

    /// Seconds without a request after which a session ends and frees its state, 1 to 604800.
    #[arg(
        long,
        env = "MOCK_SESSION_IDLE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = SessionLimits::DEFAULT_IDLE_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=MAX_IDLE_TIMEOUT_SECS)
    )]
    session_idle_timeout: u64,

    /// Token that every request to the control API (/__mock) must carry in
    /// X-Mock-Control-Token, from any client. Without it, the control API serves loopback
    /// clients only.
    #[arg(
        long,
        env = "MOCK_CONTROL_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        value_parser = ControlTokenParser
    )]
    control_token: Option<ControlToken>,

    /// Requests that the journal keeps per session, the newest ones (GET /__mock/journal). 0
    /// turns the journal off.
    #[arg(
        long,
        env = "MOCK_JOURNAL_LIMIT",
        value_name = "N",
        default_value_t = journal::DEFAULT_LIMIT
    )]
    journal_limit: usize,

    /// Seed of the random draws of the faults (their `rate` and latency ranges), so that a run
    /// can be repeated. Without it the seed is random, and the start-up log line shows it.
    #[arg(long, env = "MOCK_FAULT_SEED", value_name = "SEED")]
    fault_seed: Option<u64>,

    /// OpenAPI 3.0 document, YAML or JSON, whose operations the mock serves too: each request
    /// is validated against it and gets the documented example, or a value generated from the
    /// schema. The mock's own operations and the control API stay served.
    #[arg(long, env = "MOCK_SPEC", value_name = "FILE")]
    spec: Option<PathBuf>,

    /// Seed of the values generated for --spec responses without an example, so that the same
    /// seed gives the same bodies. Without it the seed is random, and the start-up log line
    /// shows it.
    #[arg(long, env = "MOCK_SEED", value_name = "SEED")]
    seed: Option<u64>,
}

/// Largest value of `--max-sessions`.
const MAX_SESSIONS: u64 = 10_000;

/// Largest value of `--session-idle-timeout`, in seconds (a week).
const MAX_IDLE_TIMEOUT_SECS: u64 = 604_800;

/// Parses `--control-token`. Unlike clap's function parsers, its error
/// message does not repeat the value, which is a secret.
#[derive(Clone)]
struct ControlTokenParser;

impl TypedValueParser for ControlTokenParser {
    type Value = ControlToken;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<ControlToken, clap::Error> {
        let token = value
            .to_str()
            .ok_or(InvalidControlToken)
            .and_then(str::parse);
        token.map_err(|error| {
            let message = format!("invalid value for --control-token: {error}\n");
            clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(command)
        })
    }
}

impl Options {
    fn api_keys(&self) -> Vec<ApiKeyEntry> {
        self.api_keys
            .iter()
            .flat_map(|EnvList(keys)| keys.clone())
            .collect()
    }

    fn trusted_proxies(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .flat_map(|EnvList(networks)| networks.clone())
            .collect()
    }

    /// Returns the CORS policy, or none with `--no-cors`.
    fn cors(&self) -> Option<Cors> {
        if self.no_cors {
            return None;
        }
        let origins = self
            .cors_origins
            .iter()
            .flat_map(|EnvList(origins)| origins);
        Some(Cors::new(origins.cloned()))
    }

    fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            max_sessions: self.max_sessions as usize,
            idle_timeout: Duration::from_secs(self.session_idle_timeout),
        }
    }

    /// Returns the seed of `--fault-seed`, or a random one.
    fn fault_seed(&self) -> u64 {
        self.fault_seed
            .unwrap_or_else(|| RandomState::new().hash_one(0))
    }

    /// Returns the seed of `--seed`, or a random one.
    fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| RandomState::new().hash_one(1))
    }

    fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        }
    }
}

fn main() -> anyhow::Result<()> {
    // The workers buffer their log lines and write them when they go idle.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_unpark(telemetry::buffer_this_thread)
        .on_thread_park(telemetry::flush)
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run());
    drop(runtime);
    telemetry::flush();
    result
}

async fn run() -> anyhow::Result<()> {
    let options = Options::parse();
    telemetry::init(options.log_format);

    let fixture = load_fixture(&options)?;
    let seed = options.seed();
    let spec = load_spec(&options, seed)?;
    let (state, store) = load_state(&options, &fixture)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    let api_keys = options.api_keys();
    let trusted_proxies = options.trusted_proxies();
    let cors = options.cors();
    let fault_seed = options.fault_seed();
    let shutdown = shutdown_signal();

    print_try_command(address, &api_keys);
    tracing::info!(
        %address,
        api_keys = api_keys.len(),
        trusted_proxies = ?trusted_proxies,
        cors_origins = %cors.as_ref().map_or("off".to_string(), Cors::to_string),
        journal_limit = options.journal_limit,
        fault_seed,
        spec = options.spec.as_ref().map(|path| tracing::field::display(path.display())),
        spec_operations = spec.as_ref().map(AnySpec::operation_count),
        seed = spec.as_ref().map(|_| seed),
        "mock server started"
    );

    let api = MockApi::new(state, AuthPolicy::new(api_keys, trusted_proxies))
        .with_initial_state(fixture)
        .with_scheduler_interval(Duration::from_secs(options.scheduler_interval))
        .with_session_limits(options.session_limits())
        .with_control_token(options.control_token.clone())
        .with_journal(Journal::new(options.journal_limit))
        .with_faults(Faults::new(fault_seed));
    let api = match store {
        Some(store) => api.with_store(store),
        None => api,
    };
    let api = Arc::new(match spec {
        Some(spec) => api.with_spec(spec),
        None => api,
    });
    Scheduler::new(api.clone()).spawn();
    api.sessions().spawn_sweeper();
    let streams = api.clone();
    let shutdown = async move {
        shutdown.await;
        streams.sessions().close_update_streams();
    };
    let stopped =
        mock_server::serve_with_cors(listener, api, options.limits(), cors, shutdown).await?;
    tracing::info!(
        dropped_connections = stopped.dropped_connections,
        "mock server stopped"
    );
    Ok(())
}

/// Loads the fixture of `--state`, or the embedded default.
fn load_fixture(options: &Options) -> anyhow::Result<ClusterState> {
    match &options.state {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read state fixture {}", path.display()))?;
            Ok(ClusterState::from_yaml(&text).with_context(|| path.display().to_string())?)
        }
        None => Ok(ClusterState::default_state()),
    }
}

/// Loads the document of `--spec`, if any.
fn load_spec(options: &Options, seed: u64) -> anyhow::Result<Option<AnySpec>> {
    let Some(path) = &options.spec else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the spec {}", path.display()))?;
    let spec = AnySpec::load(&text, seed)
        .with_context(|| format!("cannot load the spec {}", path.display()))?;
    Ok(Some(spec))
}

/// Loads the state of `--persist` when its file contains one, and otherwise
/// returns a copy of `fixture`, which it then saves to the `--persist`
/// file, if any.
fn load_state(
    options: &Options,
    fixture: &ClusterState,
) -> anyhow::Result<(ClusterState, Option<Store>)> {
    let Some(path) = &options.persist else {
        return Ok((fixture.clone(), None));
    };
    let (mut store, saved) = Store::open(path)
        .with_context(|| format!("cannot open the persistence database {}", path.display()))?;
    if let Some(state) = saved {
        tracing::info!(
            persist = %path.display(),
            "state loaded from the persistence database; sessions and resets start on the \
             state fixture"
        );
        return Ok((state, Some(store)));
    }
    store
        .save(fixture)
        .with_context(|| format!("cannot save the state to {}", path.display()))?;
    tracing::info!(persist = %path.display(), "state saved to a new persistence database");
    Ok((fixture.clone(), Some(store)))
}

/// Prints the address, the API key and a request to paste. A failed write,
/// such as to a closed pipe, is ignored: the server runs on without them.
fn print_try_command(address: SocketAddr, api_keys: &[ApiKeyEntry]) {
    let _ = write_try_command(&mut std::io::stdout().lock(), address, api_keys);
}

fn write_try_command(
    out: &mut impl Write,
    address: SocketAddr,
    api_keys: &[ApiKeyEntry],
) -> std::io::Result<()> {
    // Only the built-in key is printed: a configured key is a secret.
    let default_only = matches!(api_keys, [entry] if entry.is_default());
    let key = if default_only {
        writeln!(out, "API key: {DEFAULT_API_KEY}")?;
        DEFAULT_API_KEY
    } else {
        writeln!(out, "API keys: {} configured", api_keys.len())?;
        "$API_KEY"
    };
    writeln!(out, "mock server listening on http://{address}")?;
    writeln!(
        out,
        "try: curl -s -X POST http://{address}/system/services/active/cron/terminate \
         -H \"X-Api-Key: {key}\" -H 'Content-Type: application/json' -d '{{\"nodes_id\": null}}'"
    )?;
    out.flush()
}

/// Listens for Ctrl-C (SIGINT) and, on Unix, SIGTERM from this call on, and
/// returns a future that completes on the first of them and logs which one.
/// The server calls it before it prints its address, so a signal sent as
/// soon as the address is known stops it gracefully.
fn shutdown_signal() -> impl Future<Output = ()> {
    let interrupt = listen(Signal::Interrupt);
    let terminate = listen(Signal::Terminate);
    async move {
        let signal = tokio::select! {
            signal = interrupt => signal,
            signal = terminate => signal,
        };
        tracing::info!(
            signal = signal.name(),
            "shutdown signal received, finishing open requests"
        );
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Starts listening for `signal` and returns a future that completes when it
/// arrives. It never completes when the signal cannot be listened for.
#[cfg(unix)]
fn listen(signal: Signal) -> impl Future<Output = Signal> {
    use tokio::signal::unix::SignalKind;
    let kind = match signal {
        Signal::Interrupt => SignalKind::interrupt(),
        Signal::Terminate => SignalKind::terminate(),
    };
    let stream = tokio::signal::unix::signal(kind);
    async move {
        match stream {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, signal = signal.name(), "failed to listen for the signal, so it does not stop the server");
                std::future::pending::<()>().await;
            }
        }
        signal
    }
}

/// Returns a future that completes on Ctrl-C for [`Signal::Interrupt`], and
/// never for [`Signal::Terminate`], because SIGTERM exists only on Unix.
#[cfg(not(unix))]
fn listen(signal: Signal) -> impl Future<Output = Signal> {
    async move {
        match signal {
            Signal::Interrupt if tokio::signal::ctrl_c().await.is_ok() => signal,
            _ => std::future::pending().await,
        }
    }
}

/// The items of one value of a repeatable option. A value from the
/// command line is one item; a value from the option's environment variable
/// is a comma-separated list.
#[derive(Debug, Clone, PartialEq)]
struct EnvList<T>(Vec<T>);

/// Parses the values of a repeatable option whose environment variable
/// contains a comma-separated list. On the command line a comma is an error, so a
/// value with one never becomes two items. Unlike clap's function parsers,
/// its error message does not repeat the value, which may contain a key.
#[derive(Clone)]
struct EnvListParser<T> {
    option: &'static str,
    variable: &'static str,
    /// Reason that a command-line value cannot contain a comma, with the
    /// form to use instead.
    comma_error: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl EnvListParser<ApiKeyEntry> {
    fn api_keys() -> Self {
        EnvListParser {
            option: "--api-key",
            variable: "MOCK_API_KEYS",
            comma_error: "keys and networks cannot contain commas; join the networks of a key \
                          with `+` (KEY@NET+NET) and repeat --api-key for several keys",
            parse: |entry| {
                entry
                    .parse()
                    .map_err(|error: ConfigError| error.to_string())
            },
        }
    }
}

impl EnvListParser<CorsOrigin> {
    fn cors_origins() -> Self {
        EnvListParser {
            option: "--cors-origin",
            variable: "MOCK_CORS_ORIGINS",
            comma_error: "an origin cannot contain commas; repeat --cors-origin for several \
                          origins",
            parse: |text| {
                text.parse()
                    .map_err(|error: mock_server::cors::InvalidOrigin| error.to_string())
            },
        }
    }
}

impl EnvListParser<IpNet> {
    fn trusted_proxies() -> Self {
        EnvListParser {
            option: "--trusted-proxy",
            variable: "MOCK_TRUSTED_PROXIES",
            comma_error: "a network cannot contain commas; repeat --trusted-proxy for several \
                          proxies",
            parse: |text| parse_network(text).map_err(|error| error.to_string()),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for EnvListParser<T> {
    type Value = EnvList<T>;

    fn parse_ref(
        &self,
        command: &clap::Command,
        argument: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<EnvList<T>, clap::Error> {
        self.parse_ref_(command, argument, value, ValueSource::CommandLine)
    }

    fn parse_ref_(
        &self,
        command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &OsStr,
        source: ValueSource,
    ) -> Result<EnvList<T>, clap::Error> {
        let from_variable = source == ValueSource::EnvVariable;
        let name = if from_variable {
            self.variable
        } else {
            self.option
        };
        let error = |reason: String| {
            let message = format!("invalid value for {name}: {reason}\n");
            clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(command)
        };
        let Some(text) = value.to_str() else {
            return Err(error("the value is not valid UTF-8".to_string()));
        };
        if !from_variable && text.contains(',') {
            return Err(error(self.comma_error.to_string()));
        }
        text.split(',')
            .map(|item| (self.parse)(item).map_err(&error))
            .collect::<Result<_, _>>()
            .map(EnvList)
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
        let keys = options.api_keys();
        let [first, second] = keys.as_slice() else {
            panic!("expected two keys, got {keys:?}");
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
        assert!(matches!(options.api_keys().as_slice(), [entry] if entry.is_default()));
        assert!(options.trusted_proxies().is_empty());
        assert_eq!(options.limits(), Limits::default());
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
            options.trusted_proxies(),
            [net("127.0.0.1/32"), net("10.0.0.0/8")]
        );
        assert_eq!(options.log_format, LogFormat::Json);
    }

    #[test]
    fn trusted_proxy_option_rejects_garbage() {
        assert!(parse(&["--trusted-proxy", "proxy.local"]).is_err());
    }

    fn parse_error(arguments: &[&str]) -> String {
        match parse(arguments) {
            Ok(_) => panic!("{arguments:?} is rejected"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn api_key_option_rejects_comma() {
        for value in ["k@10.0.0.1,10.0.0.2", "first,second", "topsecret,"] {
            let error = parse_error(&["--api-key", value]);
            assert!(
                error.contains(
                    "invalid value for --api-key: keys and networks cannot contain commas"
                ),
                "{error}"
            );
            assert!(error.contains("`+`"), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn trusted_proxy_option_rejects_comma() {
        let error = parse_error(&["--trusted-proxy", "127.0.0.1,10.0.0.1"]);
        assert!(
            error.contains("invalid value for --trusted-proxy: a network cannot contain commas"),
            "{error}"
        );
    }

    #[test]
    fn cors_option_defaults_to_any_origin() {
        let options = parse(&[]).expect("valid options");
        assert_eq!(options.cors(), Some(Cors::any()));
    }

    #[test]
    fn cors_option_collects_origins() {
        let options = parse(&[
            "--cors-origin",
            "http://localhost:5173",
            "--cors-origin",
            "https://app.example.test:8443",
        ])
        .expect("valid options");
        let expected = Cors::new([
            "http://localhost:5173".parse().unwrap(),
            "https://app.example.test:8443".parse().unwrap(),
        ]);
        assert_eq!(options.cors(), Some(expected));
        let options =
            parse(&["--cors-origin", "http://localhost:5173", "--no-cors"]).expect("valid options");
        assert_eq!(options.cors(), None);
    }

    #[test]
    fn cors_option_rejects_comma_and_path() {
        let error = parse_error(&["--cors-origin", "http://a.test,http://b.test"]);
        assert!(
            error.contains("invalid value for --cors-origin: an origin cannot contain commas"),
            "{error}"
        );
        let error = parse_error(&["--cors-origin", "http://a.test/"]);
        assert!(error.contains("is not an origin"), "{error}");
    }

    #[test]
    fn timeout_options_set_limits() {
        let options = parse(&[
            "--header-read-timeout",
            "2",
            "--body-read-timeout",
            "3",
            "--shutdown-timeout",
            "0",
        ])
        .expect("valid options");
        let limits = options.limits();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(3));
        assert_eq!(limits.shutdown_timeout, Duration::ZERO);
    }

    #[test]
    fn timeout_options_reject_out_of_range() {
        for arguments in [
            ["--header-read-timeout", "0"],
            ["--body-read-timeout", "0"],
            ["--shutdown-timeout", "3601"],
        ] {
            assert!(parse(&arguments).is_err(), "{arguments:?}");
        }
    }

    #[test]
    fn session_options_set_limits() {
        let defaults = parse(&[]).expect("valid options").session_limits();
        assert_eq!(defaults, SessionLimits::default());
        let options = parse(&[
            "--max-sessions",
            "0",
            "--session-idle-timeout",
            "5",
            "--control-token",
            "s3cret",
        ])
        .expect("valid options");
        let limits = options.session_limits();
        assert_eq!(limits.max_sessions, 0);
        assert_eq!(limits.idle_timeout, Duration::from_secs(5));
        assert_eq!(options.control_token, Some("s3cret".parse().unwrap()));
    }

    #[test]
    fn session_options_reject_out_of_range() {
        for arguments in [
            ["--max-sessions", "10001"],
            ["--session-idle-timeout", "0"],
            ["--session-idle-timeout", "604801"],
        ] {
            assert!(parse(&arguments).is_err(), "{arguments:?}");
        }
    }

    #[test]
    fn control_token_error_hides_token() {
        let error = parse_error(&["--control-token", "top secret"]);
        assert!(!error.contains("top secret"), "{error}");
        assert!(error.contains("visible ASCII"), "{error}");
    }

    /// A writer whose reader has gone, as standard output piped into
    /// `head -c1` after `head` exits.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn try_command_reports_closed_pipe() {
        let address: SocketAddr = "127.0.0.1:4010".parse().unwrap();
        let keys = [ApiKeyEntry::unrestricted(DEFAULT_API_KEY)];
        let error = write_try_command(&mut ClosedPipe, address, &keys).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
        let mut out = Vec::new();
        write_try_command(&mut out, address, &keys).expect("write to memory");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("API key: mock-api-key\n"), "{text}");
        assert!(text.contains("http://127.0.0.1:4010\n"), "{text}");
    }
}

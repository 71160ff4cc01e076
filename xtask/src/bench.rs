//! `cargo xtask bench`: HTTP load benchmarks of the mock against the ceiling server, then the
//! state micro-benchmarks.
//!
//! Each case starts a fresh server pinned to one core and drives it with wrk pinned to another,
//! with a fixed request. The mock's terminate call flags processes, so on the default state the
//! first call returns 2 (cron runs on two nodes) and every later one returns 0: the benchmark
//! measures that steady state. The ceiling server responds to the same routes with the same bodies
//! from a bare axum handler, so the ratio of the two shows what the mock's own work costs.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::test_suite::{Step, cargo};

mod instructions;
mod peers;

/// Key of the mock's built-in default, sent by every request.
const API_KEY: &str = "mock-api-key";
/// Core of the server under test.
const SERVER_CORE: usize = 0;
/// Core of the load generator.
const LOAD_CORE: usize = 1;
/// Maximum wait for a server's first 200; a server under callgrind starts in a few seconds.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// Directory of the wrk scripts, server logs and results.
const OUT_DIR: &str = "target/bench";

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A few seconds of tiny load that checks that every case runs; no targets are assessed.
    #[arg(long)]
    smoke: bool,
    /// Seconds of each measured wrk run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration: u64,
    /// Seconds of unmeasured wrk load before each measured run.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Open connections of wrk.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Runs of each case, interleaved; the report shows the run with the median requests/s.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Requests per second of the latency runs, which load the ceiling and the mock at the same
    /// constant rate. The default is half the lowest rate that either reached in the throughput
    /// runs, and 0 skips them.
    #[arg(long, value_name = "REQUESTS_PER_SEC")]
    rate: Option<u64>,
    /// Runs of each server at the same rate, interleaved. A p99 moves more between runs than a
    /// throughput, so the target is judged on the median of these rounds.
    #[arg(long, default_value_t = 5)]
    rate_rounds: usize,
    /// Record a `perf` profile of the mock during each of its measured runs, in
    /// `target/bench/perf-*.data`.
    #[arg(long)]
    perf: bool,
    /// Skip the state micro-benchmarks.
    #[arg(long)]
    skip_state: bool,
    /// Count the instructions per request of each server under callgrind instead of the wrk
    /// load; results in `target/bench/instructions.md`.
    #[arg(long, conflicts_with_all = ["smoke", "perf", "rate", "rate_rounds"])]
    instructions: bool,
    /// Requests of each counted run of `--instructions`, after 500 uncounted ones.
    #[arg(long, default_value_t = 5000, requires = "instructions")]
    requests: u64,
    /// With `--instructions`, also simulate the caches (callgrind's `--cache-sim=yes`, with the
    /// cache sizes of this machine) and report the cache misses per request.
    #[arg(long, requires = "instructions")]
    cache_sim: bool,
    /// Compare the mock with Stoplight Prism, Mockoon and WireMock over REST, installed from
    /// `bench/peers` with npm; results in `target/bench/peers.md`.
    #[arg(long, conflicts_with_all = ["smoke", "perf", "instructions", "rate", "rate_rounds"])]
    peers: bool,
}

/// Settings of one `cargo xtask bench` run.
#[derive(Debug, Clone)]
pub struct Options {
    /// A few seconds of tiny load that checks the harness works; no targets are assessed and the
    /// state benchmarks run once each.
    pub smoke: bool,
    /// Seconds of each measured wrk run.
    pub duration: u64,
    /// Seconds of wrk load before each measured run, not measured.
    pub warmup: u64,
    /// Open connections of wrk.
    pub connections: u32,
    /// Runs of each case, interleaved; the report shows the run with the median requests/s.
    pub rounds: usize,
    /// Request rate of the latency runs, which load the ceiling and the mock at the same rate.
    pub rate: SameRate,
    /// Runs of each server at the same rate, interleaved.
    pub rate_rounds: usize,
    /// Record a `perf` profile of the mock during each of its measured runs.
    pub perf: bool,
    /// Skip the state micro-benchmarks.
    pub skip_state: bool,
    /// Requests of each counted callgrind run, or `None` for the wrk load.
    pub instructions: Option<u64>,
    /// Simulate the caches in the callgrind runs and report their misses.
    pub cache_sim: bool,
    /// Compare the mock with other mock servers.
    pub peers: bool,
}

impl Options {
    /// The settings of `--smoke`.
    pub fn smoke() -> Self {
        Options {
            smoke: true,
            duration: 1,
            warmup: 0,
            connections: 4,
            rounds: 1,
            rate: SameRate::HalfOfSlower,
            rate_rounds: 1,
            perf: false,
            skip_state: false,
            instructions: None,
            cache_sim: false,
            peers: false,
        }
    }
}

impl From<Args> for Options {
    fn from(args: Args) -> Self {
        let rate = match args.rate {
            None => SameRate::HalfOfSlower,
            Some(0) => SameRate::Skip,
            Some(rate) => SameRate::Fixed(rate),
        };
        if args.smoke {
            return Options {
                skip_state: args.skip_state,
                rate,
                ..Options::smoke()
            };
        }
        Options {
            smoke: false,
            duration: args.duration,
            warmup: args.warmup,
            connections: args.connections,
            rounds: args.rounds.max(1),
            rate,
            rate_rounds: args.rate_rounds.max(1),
            perf: args.perf,
            skip_state: args.skip_state,
            instructions: args.instructions.then_some(args.requests.max(1)),
            cache_sim: args.cache_sim,
            peers: args.peers,
        }
    }
}

/// The request rate of the latency runs, which load the ceiling and the mock at the same rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameRate {
    /// Half the lowest requests/s that the ceiling or the mock reached over the transport in the
    /// throughput runs, so that neither is near saturation.
    HalfOfSlower,
    /// This many requests per second over every transport.
    Fixed(u64),
    /// No latency runs at the same rate.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Rest,
    JsonRpc,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Rest => "REST",
            Transport::JsonRpc => "JSON-RPC",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Transport::Rest => "/system/services/active/cron/terminate",
            Transport::JsonRpc => "/jsonrpc",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Transport::Rest => r#"{"nodes_id": null}"#,
            Transport::JsonRpc => {
                r#"{"jsonrpc": "2.0", "method": "system.services.active.mark_terminate", "params": {"system_services_id": "cron", "nodes_id": null}, "id": 1}"#
            }
        }
    }

    /// Returns whether a steady-state response body is the expected 0 result.
    fn is_steady_result(self, body: &str) -> bool {
        match self {
            Transport::Rest => body.trim() == "0",
            Transport::JsonRpc => body.contains(r#""result":0"#),
        }
    }

    /// Returns the file name of the wrk script, the one at a constant rate when `at_rate`.
    fn script_name(self, at_rate: bool) -> &'static str {
        match (self, at_rate) {
            (Transport::Rest, false) => "rest.lua",
            (Transport::Rest, true) => "rest-rate.lua",
            (Transport::JsonRpc, false) => "jsonrpc.lua",
            (Transport::JsonRpc, true) => "jsonrpc-rate.lua",
        }
    }
}

/// A server under test.
struct Target {
    name: &'static str,
    binary: PathBuf,
    /// `RUST_LOG` of the server; `None` leaves it unset, the default.
    rust_log: Option<&'static str>,
    /// Whether this is the ceiling, the reference of the ratios.
    ceiling: bool,
    /// Whether the targets are assessed on this server: true for the mock, false for the
    /// ceiling, the peers and the other servers shown for comparison.
    assessed: bool,
    /// Arguments after `--listen ADDRESS`.
    args: &'static [&'static str],
    /// Whether the mock runs with `--persist` on a new database in the output directory.
    persist: bool,
    /// The arguments of another mock server for its listening address; `None` for the ceiling
    /// and the mock, which take `--listen`.
    peer_args: Option<fn(SocketAddr) -> Vec<String>>,
}

impl Target {
    /// Returns whether this is the mock with its default options and log filter.
    fn is_default_mock(&self) -> bool {
        self.assessed && self.rust_log.is_none() && !self.persist
    }
}

/// The measurements of one case.
#[derive(Debug, Clone)]
struct Measurement {
    target: &'static str,
    transport: Transport,
    ceiling: bool,
    assessed: bool,
    requests_per_sec: f64,
    p50: Duration,
    p99: Duration,
    peak_rss_kib: u64,
    startup: Duration,
    server_cpu_percent: f64,
    server_core_busy_percent: f64,
    load_core_busy_percent: f64,
    requests: u64,
    /// Lowest and highest requests/s over the rounds.
    requests_per_sec_range: (f64, f64),
    /// Lowest and highest p99 over the rounds.
    p99_range: (Duration, Duration),
}

/// Runs the benchmarks and prints the results; with `--smoke`, checks only that each case runs.
pub fn run(options: &Options) -> anyhow::Result<()> {
    if let Some(requests) = options.instructions {
        build_servers()?;
        return instructions::run(&targets(), requests, options.cache_sim);
    }
    ensure_wrk()?;
    build_servers()?;
    if options.peers {
        return peers::run(options, &targets());
    }
    let targets = targets();
    let out_dir = prepare_output()?;
    let pinned = pinning_available();
    let transports = [Transport::Rest, Transport::JsonRpc];
    let results = measure(options, &targets, &transports, &out_dir, pinned)?;
    let same_rate = measure_same_rate(options, &targets, &results, &out_dir, pinned)?;

    let mut report = report(options, &results, pinned);
    report.push_str(&same_rate_report(options, &same_rate));
    println!("\n{report}");
    if !options.smoke {
        let path = out_dir.join("results.md");
        fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
        println!("written to {}", path.display());
    }

    if !options.skip_state {
        let mut args = vec![
            "bench",
            "--locked",
            "--package",
            "bench",
            "--bench",
            "state",
        ];
        if options.smoke {
            args.extend(["--", "--test"]);
        }
        cargo(&args).run()?;
    }
    Ok(())
}

/// Creates the output directory and writes the wrk scripts of the throughput runs into it.
fn prepare_output() -> anyhow::Result<PathBuf> {
    let out_dir = PathBuf::from(OUT_DIR);
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {OUT_DIR}"))?;
    for transport in [Transport::Rest, Transport::JsonRpc] {
        write_script(&out_dir, transport, None)?;
    }
    Ok(out_dir)
}

/// Runs every target over every transport `options.rounds` times, interleaved, and returns
/// the median run of each case.
fn measure(
    options: &Options,
    targets: &[Target],
    transports: &[Transport],
    out_dir: &Path,
    pinned: bool,
) -> anyhow::Result<Vec<Measurement>> {
    if !pinned {
        println!("warning: fewer than 2 cores; the server and wrk share the cores, unpinned");
    }
    let targets: Vec<&Target> = targets.iter().collect();
    let runs = run_rounds(
        options,
        &targets,
        transports,
        options.rounds,
        out_dir,
        pinned,
        false,
    )?;
    Ok(runs.into_iter().map(median_run).collect())
}

/// The latency runs at the same rate over one transport.
#[derive(Debug)]
struct SameRateCase {
    transport: Transport,
    /// Requests per second that wrk was to send to each server.
    rate: u64,
    /// The ceiling's run in each round.
    ceiling: Vec<Measurement>,
    /// The default mock's run in each round.
    mock: Vec<Measurement>,
}

impl SameRateCase {
    /// Returns the mock's p99 over the ceiling's in each round, in round order. A round runs the
    /// two servers one after the other, so its ratio compares them under the same noise of a
    /// shared machine, which moved one server's p99 from 2.2 to 5.9 ms between rounds.
    fn p99_ratios(&self) -> Vec<f64> {
        self.ceiling
            .iter()
            .zip(&self.mock)
            .map(|(ceiling, mock)| mock.p99.as_secs_f64() / ceiling.p99.as_secs_f64())
            .collect()
    }

    /// Returns why the runs cannot be judged: a run that served a rate more than
    /// [`RATE_TOLERANCE`] away from the requested one, or too few requests for a p99.
    fn not_judged_because(&self) -> Option<String> {
        let runs = self.ceiling.iter().zip(&self.mock).enumerate();
        for (index, (ceiling, mock)) in runs {
            for run in [ceiling, mock] {
                let share = run.requests_per_sec / self.rate as f64;
                let round = index + 1;
                if (share - 1.0).abs() > RATE_TOLERANCE {
                    return Some(format!(
                        "{} served {:.0} req/s in round {round}, more than {:.0}% off the rate",
                        run.target,
                        run.requests_per_sec,
                        RATE_TOLERANCE * 100.0
                    ));
                }
                if run.requests < MIN_P99_REQUESTS {
                    return Some(format!(
                        "{} served {} requests in round {round}, fewer than the \
                         {MIN_P99_REQUESTS} that a p99 needs",
                        run.target, run.requests
                    ));
                }
            }
        }
        None
    }
}

/// Largest share by which a run's rate may differ from the requested rate and still be judged.
const RATE_TOLERANCE: f64 = 0.05;

/// Minimum requests of a run whose p99 is judged: 1,000 leave 10 requests above the p99.
const MIN_P99_REQUESTS: u64 = 1000;

/// Returns the median of `values`: the mean of the middle two for an even count, NaN when empty.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 0 => (sorted[middle - 1] + sorted[middle]) / 2.0,
        _ => sorted[middle],
    }
}

/// Runs the ceiling and the mock with its defaults over every transport of `results` at the same
/// constant request rate, each once per round, for their latency away from saturation. Returns
/// nothing when the rate is [`SameRate::Skip`].
fn measure_same_rate(
    options: &Options,
    targets: &[Target],
    results: &[Measurement],
    out_dir: &Path,
    pinned: bool,
) -> anyhow::Result<Vec<SameRateCase>> {
    let targets: Vec<&Target> = targets
        .iter()
        .filter(|t| t.ceiling || t.is_default_mock())
        .collect();
    let mut transports: Vec<Transport> = results.iter().map(|m| m.transport).collect();
    transports.dedup();
    let mut cases = Vec::new();
    for &transport in &transports {
        let rate = match options.rate {
            SameRate::Skip => return Ok(Vec::new()),
            SameRate::Fixed(rate) => rate,
            SameRate::HalfOfSlower => half_of_slower(results, &targets, transport),
        };
        println!(
            "latency at the same rate over {}: {rate} requests/s",
            transport.name()
        );
        let lowest = lowest_rate(results, &targets, transport);
        if rate as f64 > lowest {
            println!(
                "warning: {rate} requests/s is above the {lowest:.0} that the slower server \
                 served saturated, so the runs may fall short of it and not be judged"
            );
        }
        write_script(out_dir, transport, Some(rate))?;
        cases.push(SameRateCase {
            transport,
            rate,
            ceiling: Vec::new(),
            mock: Vec::new(),
        });
    }
    let runs = run_rounds(
        options,
        &targets,
        &transports,
        options.rate_rounds,
        out_dir,
        pinned,
        true,
    )?;
    for runs in runs {
        let Some(case) = cases.iter_mut().find(|c| c.transport == runs[0].transport) else {
            continue;
        };
        if runs[0].ceiling {
            case.ceiling = runs;
        } else {
            case.mock = runs;
        }
    }
    Ok(cases)
}

/// Returns the lowest requests/s of any round of `targets` over `transport`, or 0 without one.
fn lowest_rate(results: &[Measurement], targets: &[&Target], transport: Transport) -> f64 {
    results
        .iter()
        .filter(|m| m.transport == transport && targets.iter().any(|t| t.name == m.target))
        .map(|m| m.requests_per_sec_range.0)
        .min_by(f64::total_cmp)
        .unwrap_or(0.0)
}

/// Returns half the lowest requests/s of any round of `targets` over `transport`, at least 1.
fn half_of_slower(results: &[Measurement], targets: &[&Target], transport: Transport) -> u64 {
    ((lowest_rate(results, targets, transport) / 2.0) as u64).max(1)
}

/// Runs every target over every transport `rounds` times, interleaved, with the wrk script at a
/// constant rate when `at_rate`, and returns the runs of each case.
fn run_rounds(
    options: &Options,
    targets: &[&Target],
    transports: &[Transport],
    rounds: usize,
    out_dir: &Path,
    pinned: bool,
    at_rate: bool,
) -> anyhow::Result<Vec<Vec<Measurement>>> {
    let kind = if at_rate { "same-rate round" } else { "round" };
    let mut runs: Vec<Vec<Measurement>> = Vec::new();
    for round in 1..=rounds {
        println!("{kind} {round} of {rounds}");
        let mut case = 0;
        for &transport in transports {
            for target in targets {
                let measurement = run_case(options, target, transport, out_dir, pinned, at_rate)
                    .with_context(|| format!("{} over {}", target.name, transport.name()))?;
                print_measurement(&measurement);
                if round == 1 {
                    runs.push(Vec::new());
                }
                runs[case].push(measurement);
                case += 1;
            }
        }
    }
    Ok(runs)
}

/// Returns the run with the median p99, with the range of p99 over all runs.
fn median_p99_run(mut runs: Vec<Measurement>) -> Measurement {
    runs.sort_by_key(|m| m.p99);
    let range = (runs[0].p99, runs[runs.len() - 1].p99);
    let mut median = runs.swap_remove(runs.len() / 2);
    median.p99_range = range;
    median
}

/// Builds the ceiling server and the mock in release mode.
fn build_servers() -> anyhow::Result<()> {
    cargo(&[
        "build",
        "--release",
        "--locked",
        "--package",
        "bench",
        "--package",
        "mock-server",
        "--bins",
    ])
    .run()
}

/// Returns the servers under test: the ceiling, the ceiling with the mock's write batching,
/// and the mock in three configurations.
fn targets() -> [Target; 5] {
    let release = target_dir().join("release");
    [
        Target {
            name: "ceiling",
            binary: release.join("ceiling"),
            rust_log: None,
            ceiling: true,
            assessed: false,
            args: &[],
            persist: false,
            peer_args: None,
        },
        Target {
            name: "ceiling --batch-writes",
            binary: release.join("ceiling"),
            rust_log: None,
            ceiling: false,
            assessed: false,
            args: &["--batch-writes"],
            persist: false,
            peer_args: None,
        },
        Target {
            name: "mock (log info, default)",
            binary: release.join("mock-server"),
            rust_log: None,
            ceiling: false,
            assessed: true,
            args: &[],
            persist: false,
            peer_args: None,
        },
        Target {
            name: "mock (RUST_LOG=warn)",
            binary: release.join("mock-server"),
            rust_log: Some("warn"),
            ceiling: false,
            assessed: true,
            args: &[],
            persist: false,
            peer_args: None,
        },
        Target {
            name: "mock --persist (RUST_LOG=warn)",
            binary: release.join("mock-server"),
            rust_log: Some("warn"),
            ceiling: false,
            assessed: true,
            args: &[],
            persist: true,
            peer_args: None,
        },
    ]
}

/// Installs Debian's wrk when it is not on `PATH`.
fn ensure_wrk() -> anyhow::Result<()> {
    ensure_debian_tool("wrk", "wrk")
}

/// Installs the Debian `package` that provides `program` when `program --version` does not run,
/// updating the package lists if the first attempt fails.
fn ensure_debian_tool(program: &str, package: &str) -> anyhow::Result<()> {
    if runs(program) {
        return Ok(());
    }
    println!("{program} is missing; installing Debian's package {package}");
    let install =
        Step::new("apt-get", &["install", "-y", package]).env("DEBIAN_FRONTEND", "noninteractive");
    if install.run().is_err() {
        Step::new("apt-get", &["update"]).run()?;
        install.run()?;
    }
    if !runs(program) {
        bail!("{program} is still not runnable after installing {package}");
    }
    Ok(())
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// Returns whether the machine has the two cores that the server and wrk are pinned to (the load core
/// is the higher one).
fn pinning_available() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores > LOAD_CORE
}

/// Writes the wrk script of a transport: the method, body and headers of every request, and a
/// `done` hook that prints the results as one JSON line after `RESULT `. With `rate`, the
/// requests go out at that many a second, whatever the latency. The connections of one wrk
/// thread share that schedule, so the script is for one thread.
fn write_script(out_dir: &Path, transport: Transport, rate: Option<u64>) -> anyhow::Result<()> {
    let mut script = format!(
        r#"-- Written by `cargo xtask bench`: the {name} request of the benchmark.
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "{API_KEY}"

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"non_2xx":%d}}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
"#,
        name = transport.name(),
        body = transport.body(),
    );
    if let Some(rate) = rate {
        // wrk calls `delay` before each request of a connection and sends the request that many
        // whole milliseconds later. Each call takes the next free slot of a schedule one
        // interval apart. wrk's timers round and fire late, so a connection often wakes just
        // after its slot: slots up to `max_lag` old are still sent at once, which keeps the
        // rate with few connections too. Older slots, missed in a stall, are dropped, so that
        // they do not go out in one burst.
        let _ = write!(
            script,
            r#"
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock, bench_timespec *time);
]]
local CLOCK_MONOTONIC = 1
local time = ffi.new("bench_timespec")
local interval = 1 / {rate}
local max_lag = 0.005
local next_slot = 0

delay = function()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, time)
  local now = tonumber(time.tv_sec) + tonumber(time.tv_nsec) * 1e-9
  if next_slot < now - max_lag then
    next_slot = now - max_lag
  end
  local wait = math.max(next_slot - now, 0)
  next_slot = next_slot + interval
  return math.floor(wait * 1000)
end
"#
        );
    }
    let path = out_dir.join(transport.script_name(rate.is_some()));
    fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs one case on a fresh server: start-up, warm-up, the measured wrk run, and the checks.
/// With `at_rate`, wrk runs the script at a constant rate.
fn run_case(
    options: &Options,
    target: &Target,
    transport: Transport,
    out_dir: &Path,
    pinned: bool,
    at_rate: bool,
) -> anyhow::Result<Measurement> {
    let address = free_loopback_address()?;
    let log_path = out_dir.join("server.log");
    let mut server = Server::start(target, address, &log_path, pinned)?;
    let startup = server.wait_for_first_ok(transport)?;

    let url = format!("http://{address}{}", transport.path());
    let script = out_dir.join(transport.script_name(at_rate));
    if options.warmup > 0 {
        wrk(options, &script, &url, options.warmup, pinned)?;
    }

    let perf = match options.perf && !target.ceiling {
        true => Some(Perf::start(
            server.pid(),
            target,
            transport,
            out_dir,
            pinned,
        )?),
        false => None,
    };
    let cpu_before = process_cpu_ticks(server.pid())?;
    let cores_before = core_ticks()?;
    let started = Instant::now();
    let result = wrk(options, &script, &url, options.duration, pinned)?;
    let wall = started.elapsed();
    let cpu_after = process_cpu_ticks(server.pid())?;
    let cores_after = core_ticks()?;
    if let Some(perf) = perf {
        perf.finish()?;
    }
    let peak_rss_kib = peak_rss_kib(server.pid())?;

    if result.socket_errors > 0 || result.non_2xx > 0 {
        bail!(
            "wrk saw {} socket errors and {} responses other than 2xx",
            result.socket_errors,
            result.non_2xx
        );
    }
    let (status, body) = send(address, transport)?;
    let steady = target.peer_args.is_some() || transport.is_steady_result(&body);
    if status != 200 || !steady {
        bail!(
            "after the run the server responded {status} {body}, expected 200 with the steady-state 0"
        );
    }
    server.stop();

    let ticks_per_sec = clock_ticks_per_sec()?;
    let server_cpu_secs = (cpu_after - cpu_before) as f64 / ticks_per_sec;
    let busy = |core: usize| busy_percent(&cores_before, &cores_after, core);
    Ok(Measurement {
        target: target.name,
        transport,
        ceiling: target.ceiling,
        assessed: target.assessed,
        requests_per_sec: result.requests as f64 / (result.duration_us as f64 / 1e6),
        p50: Duration::from_micros(result.p50_us),
        p99: Duration::from_micros(result.p99_us),
        peak_rss_kib,
        startup,
        server_cpu_percent: 100.0 * server_cpu_secs / wall.as_secs_f64(),
        server_core_busy_percent: busy(SERVER_CORE),
        load_core_busy_percent: busy(LOAD_CORE),
        requests: result.requests,
        requests_per_sec_range: (0.0, 0.0),
        p99_range: (Duration::ZERO, Duration::ZERO),
    })
}

/// Returns the run with the median requests/s, with the range of requests/s over all runs, the
/// median start-up and the highest peak RSS.
fn median_run(mut runs: Vec<Measurement>) -> Measurement {
    runs.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    let range = (
        runs[0].requests_per_sec,
        runs[runs.len() - 1].requests_per_sec,
    );
    let peak_rss_kib = runs.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    let requests = runs.iter().map(|m| m.requests).sum();
    let mut startups: Vec<Duration> = runs.iter().map(|m| m.startup).collect();
    startups.sort();
    let startup = startups[startups.len() / 2];
    let mut median = runs.swap_remove(runs.len() / 2);
    median.requests_per_sec_range = range;
    median.peak_rss_kib = peak_rss_kib;
    median.startup = startup;
    median.requests = requests;
    median
}

/// Returns a loopback address with a port that was free a moment ago.
fn free_loopback_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?)
}

/// A server child process, pinned to the server core; killed when dropped.
struct Server {
    child: Child,
    started: Instant,
    address: SocketAddr,
}

impl Server {
    fn start(
        target: &Target,
        address: SocketAddr,
        log_path: &Path,
        pinned: bool,
    ) -> anyhow::Result<Self> {
        Server::start_wrapped(target, address, log_path, pinned, &[])
    }

    /// Starts the server as [`Server::start`] does, run by the program and arguments of
    /// `wrapper` (such as `valgrind --tool=callgrind`) when it is not empty.
    fn start_wrapped(
        target: &Target,
        address: SocketAddr,
        log_path: &Path,
        pinned: bool,
        wrapper: &[String],
    ) -> anyhow::Result<Self> {
        let log = fs::File::create(log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = pinned_command(SERVER_CORE, Path::new(program), pinned);
                command.args(args).arg(&target.binary);
                command
            }
            None => pinned_command(SERVER_CORE, &target.binary, pinned),
        };
        match target.peer_args {
            Some(peer_args) => command.args(peer_args(address)),
            None => command
                .args(["--listen", &address.to_string()])
                .args(target.args),
        };
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // The mock runs with its defaults: no option from the environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MOCK_") {
                command.env_remove(&name);
            }
        }
        command.env_remove("RUST_LOG");
        if let Some(filter) = target.rust_log {
            command.env("RUST_LOG", filter);
        }
        if target.persist {
            let database = log_path.with_file_name("persist.db");
            for path in [database.clone(), log_path.with_file_name("persist.db-wal")] {
                match fs::remove_file(&path) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(error)
                            .with_context(|| format!("cannot remove {}", path.display()));
                    }
                    _ => {}
                }
            }
            command.arg("--persist").arg(database);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", target.binary.display()))?;
        Ok(Server {
            child,
            started,
            address,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the case's request until the server responds with 200, and returns the time from the
    /// spawn to that response.
    fn wait_for_first_ok(&mut self, transport: Transport) -> anyhow::Result<Duration> {
        loop {
            if let Ok((200, _)) = send(self.address, transport) {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited with {status} before its first response");
            }
            if self.started.elapsed() > STARTUP_LIMIT {
                bail!("no 200 within {STARTUP_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds a command for `program`, run through `taskset` on `core` when pinning is available.
fn pinned_command(core: usize, program: &Path, pinned: bool) -> Command {
    if pinned {
        let mut command = Command::new("taskset");
        command.arg("--cpu-list").arg(core.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Sends one request of the case on a new connection and returns the status and body.
fn send(address: SocketAddr, transport: Transport) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let body = transport.body();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         X-Api-Key: {API_KEY}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}",
        path = transport.path(),
        length = body.len(),
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP response: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    Ok((status, body))
}

/// The output of the wrk script's `done` hook.
#[derive(Debug)]
struct WrkResult {
    requests: u64,
    duration_us: u64,
    p50_us: u64,
    p99_us: u64,
    socket_errors: u64,
    non_2xx: u64,
}

/// Runs wrk with one thread on the load core for `seconds`, and parses its result line.
fn wrk(
    options: &Options,
    script: &Path,
    url: &str,
    seconds: u64,
    pinned: bool,
) -> anyhow::Result<WrkResult> {
    let mut command = pinned_command(LOAD_CORE, Path::new("wrk"), pinned);
    command
        .args(["--threads", "1"])
        .args(["--connections", &options.connections.to_string()])
        .args(["--duration", &format!("{seconds}s")])
        .args(["--timeout", "5s"])
        .arg("--script")
        .arg(script)
        .arg(url);
    let output = command.output().context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .with_context(|| format!("wrk printed no result line:\n{stdout}"))?;
    parse_wrk_result(line)
}

fn parse_wrk_result(line: &str) -> anyhow::Result<WrkResult> {
    let value: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("bad wrk result {line}"))?;
    let field = |name: &str| {
        value[name]
            .as_u64()
            .with_context(|| format!("wrk result without {name}: {line}"))
    };
    Ok(WrkResult {
        requests: field("requests")?,
        duration_us: field("duration_us")?,
        p50_us: field("p50_us")?,
        p99_us: field("p99_us")?,
        socket_errors: field("socket_errors")?,
        non_2xx: field("non_2xx")?,
    })
}

/// User plus system CPU time of a process and all its threads, in clock ticks, from
/// `/proc/PID/stat`.
fn process_cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name in parentheses may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the name: state is field 3, utime field 14 and stime field 15 (1-based in proc(5)).
    let ticks = |index: usize| -> anyhow::Result<u64> {
        let field = fields.get(index - 3).context("short /proc/PID/stat")?;
        Ok(field.parse()?)
    };
    Ok(ticks(14)? + ticks(15)?)
}

/// Busy and total clock ticks of each core, from `/proc/stat`.
fn core_ticks() -> anyhow::Result<Vec<(u64, u64)>> {
    let stat = fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    let mut cores = Vec::new();
    for line in stat.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let values: Vec<u64> = rest
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        // user nice system idle iowait irq softirq steal ...; idle and iowait are not busy.
        let total: u64 = values.iter().take(8).sum();
        let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
        cores.push((total - idle, total));
    }
    Ok(cores)
}

fn busy_percent(before: &[(u64, u64)], after: &[(u64, u64)], core: usize) -> f64 {
    match (before.get(core), after.get(core)) {
        (Some(&(busy0, total0)), Some(&(busy1, total1))) if total1 > total0 => {
            100.0 * (busy1 - busy0) as f64 / (total1 - total0) as f64
        }
        _ => f64::NAN,
    }
}

/// Peak resident set size of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .context("no VmHWM line")?;
    let kib = line.trim().trim_end_matches("kB").trim();
    Ok(kib.parse()?)
}

fn clock_ticks_per_sec() -> anyhow::Result<f64> {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("cannot run getconf CLK_TCK")?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
}

/// A `perf record` of the mock during its measured run, on the load core.
struct Perf {
    child: Child,
}

impl Perf {
    fn start(
        pid: u32,
        target: &Target,
        transport: Transport,
        out_dir: &Path,
        pinned: bool,
    ) -> anyhow::Result<Self> {
        let log = if target.rust_log.is_some() {
            "warn"
        } else {
            "info"
        };
        let persist = if target.persist { "-persist" } else { "" };
        let name = format!(
            "perf-{}-{log}{persist}.data",
            transport.name().to_lowercase().replace('-', "")
        );
        let output = out_dir.join(name);
        let mut command = pinned_command(LOAD_CORE, Path::new("perf"), pinned);
        command
            .args(["record", "--quiet", "-e", "cpu-clock", "-F", "999"])
            .args(["--call-graph", "dwarf,16384", "-p", &pid.to_string(), "-o"])
            .arg(&output)
            .stdin(Stdio::null());
        println!("==> {command:?}");
        let child = command.spawn().context("cannot start perf")?;
        Ok(Perf { child })
    }

    /// Stops the recording with SIGINT, as Ctrl-C does, and waits for perf to write its file.
    fn finish(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

fn print_measurement(m: &Measurement) {
    println!(
        "{:<26} {:<8} {:>9.0} req/s  p50 {:>7}  p99 {:>7}  peak RSS {:>6} KiB  start-up {:>7}  \
         server CPU {:>3.0}%  load core {:>3.0}%",
        m.target,
        m.transport.name(),
        m.requests_per_sec,
        format_duration(m.p50),
        format_duration(m.p99),
        m.peak_rss_kib,
        format_duration(m.startup),
        m.server_cpu_percent,
        m.load_core_busy_percent,
    );
}

fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

/// The Markdown report: the table of every case and, unless smoke, each target met or missed.
fn report(options: &Options, results: &[Measurement], pinned: bool) -> String {
    let mut out = String::new();
    let pinning = if pinned {
        format!("server on core {SERVER_CORE}, wrk on core {LOAD_CORE}")
    } else {
        "unpinned".to_string()
    };
    let _ = writeln!(
        out,
        "wrk 1 thread, {} connections, {} s warm-up, {} s measured, {}; {pinning}\n",
        options.connections,
        options.warmup,
        options.duration,
        rounds_text(options.rounds)
    );
    out.push_str(
        "| target | transport | req/s | req/s range | ratio | p50 | p99 | p99 ratio | peak RSS \
         | start-up | server CPU | server core busy | load core busy |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for m in results {
        let ceiling = ceiling_of(results, m.transport);
        let ratio = ceiling.map_or(f64::NAN, |c| m.requests_per_sec / c.requests_per_sec);
        let p99_ratio = ceiling.map_or(f64::NAN, |c| m.p99.as_secs_f64() / c.p99.as_secs_f64());
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0}–{:.0} | {ratio:.2} | {} | {} | {p99_ratio:.2} | {:.1} MiB | {} | {:.0}% | {:.0}% | {:.0}% |",
            m.target,
            m.transport.name(),
            m.requests_per_sec,
            m.requests_per_sec_range.0,
            m.requests_per_sec_range.1,
            format_duration(m.p50),
            format_duration(m.p99),
            m.peak_rss_kib as f64 / 1024.0,
            format_duration(m.startup),
            m.server_cpu_percent,
            m.server_core_busy_percent,
            m.load_core_busy_percent,
        );
    }
    let total: u64 = results.iter().map(|m| m.requests).sum();
    let _ = writeln!(out, "\n{total} requests in all, none failed.");
    if options.smoke {
        return out;
    }

    out.push_str("\n| target | mock | measured | verdict |\n|---|---|---:|---|\n");
    for m in results.iter().filter(|m| m.assessed) {
        let Some(ceiling) = ceiling_of(results, m.transport) else {
            continue;
        };
        let (name, floor) = match m.transport {
            Transport::Rest => ("REST req/s ≥ 0.85 × ceiling", 0.85),
            Transport::JsonRpc => ("JSON-RPC req/s ≥ 0.75 × ceiling", 0.75),
        };
        let ratio = m.requests_per_sec / ceiling.requests_per_sec;
        let p99_ratio = m.p99.as_secs_f64() / ceiling.p99.as_secs_f64();
        let mib = m.peak_rss_kib as f64 / 1024.0;
        let startup_ms = m.startup.as_secs_f64() * 1000.0;
        let rows = [
            (name.to_string(), format!("{ratio:.2}"), ratio >= floor),
            (
                format!("{} p99 ≤ 1.5 × ceiling, both saturated", m.transport.name()),
                format!("{p99_ratio:.2}"),
                p99_ratio <= 1.5,
            ),
            (
                "peak memory < 20 MiB".to_string(),
                format!("{mib:.1} MiB"),
                mib < 20.0,
            ),
            (
                "start-up < 50 ms".to_string(),
                format!("{startup_ms:.1} ms"),
                startup_ms < 50.0,
            ),
        ];
        for (name, measured, met) in rows {
            let verdict = if met { "met" } else { "missed" };
            let _ = writeln!(
                out,
                "| {name} | {} {} | {measured} | {verdict} |",
                m.target,
                m.transport.name()
            );
        }
    }
    out
}

/// Writes the Markdown table of the runs at the same rate: the latency of the ceiling and the
/// mock, and the p99 target judged on the median of the rounds' ratios. Says so when the runs
/// were skipped.
fn same_rate_report(options: &Options, cases: &[SameRateCase]) -> String {
    let mut out = String::new();
    if options.rate == SameRate::Skip {
        out.push_str("\nThe latency runs at the same rate were skipped (`--rate 0`).\n");
        return out;
    }
    let cases: Vec<&SameRateCase> = cases
        .iter()
        .filter(|case| !case.ceiling.is_empty() && !case.mock.is_empty())
        .collect();
    if cases.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nAt the same constant request rate, {} connections, {} \
         (the run with the median p99, with the ranges of the rounds):\n",
        options.connections,
        rounds_text(options.rate_rounds)
    );
    out.push_str(
        "| target | transport | rate | req/s | req/s range | p50 | p99 | p99 range | server CPU |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for case in &cases {
        for runs in [&case.ceiling, &case.mock] {
            let served = runs.iter().map(|m| m.requests_per_sec);
            let lowest = served.clone().fold(f64::INFINITY, f64::min);
            let highest = served.fold(0.0, f64::max);
            let m = median_p99_run(runs.clone());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {lowest:.0}–{highest:.0} | {} | {} | {}–{} | {:.0}% |",
                m.target,
                m.transport.name(),
                case.rate,
                m.requests_per_sec,
                format_duration(m.p50),
                format_duration(m.p99),
                format_duration(m.p99_range.0),
                format_duration(m.p99_range.1),
                m.server_cpu_percent,
            );
        }
    }
    if options.smoke {
        return out;
    }
    out.push_str(
        "\n| target | p99 ratio of each round, in order | median | verdict |\n|---|---|---:|---|\n",
    );
    for case in &cases {
        let ratios = case.p99_ratios();
        let median = median(&ratios);
        let verdict = match case.not_judged_because() {
            Some(reason) => format!("not judged: {reason}"),
            None if median <= 1.5 => "met".to_string(),
            None => "missed".to_string(),
        };
        let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        let _ = writeln!(
            out,
            "| {} p99 ≤ 1.5 × ceiling at the same rate, {} req/s | {} | {median:.2} | {verdict} |",
            case.transport.name(),
            case.rate,
            listed.join(", "),
        );
    }
    out
}

/// Returns "1 round" or "N rounds".
fn rounds_text(rounds: usize) -> String {
    match rounds {
        1 => "1 round".to_string(),
        _ => format!("{rounds} rounds"),
    }
}

fn ceiling_of(results: &[Measurement], transport: Transport) -> Option<&Measurement> {
    results
        .iter()
        .find(|m| m.ceiling && m.transport == transport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_result_line_parses() {
        let line = r#"{"requests":120,"duration_us":1000000,"p50_us":250,"p99_us":900,"socket_errors":0,"non_2xx":1}"#;
        let result = parse_wrk_result(line).unwrap();
        assert_eq!(result.requests, 120);
        assert_eq!(result.p99_us, 900);
        assert_eq!(result.non_2xx, 1);
    }

    #[test]
    fn busy_percent_counts_non_idle_ticks() {
        let before = [(10, 100), (0, 100)];
        let after = [(60, 200), (100, 200)];
        assert_eq!(busy_percent(&before, &after, 0), 50.0);
        assert_eq!(busy_percent(&before, &after, 1), 100.0);
        assert!(busy_percent(&before, &after, 2).is_nan());
    }

    /// Returns a run of `target` over REST with the given requests/s and p99.
    fn run(target: &'static str, requests_per_sec: f64, p99_us: u64) -> Measurement {
        Measurement {
            target,
            transport: Transport::Rest,
            ceiling: target == "ceiling",
            assessed: target != "ceiling",
            requests_per_sec,
            p50: Duration::from_micros(p99_us / 2),
            p99: Duration::from_micros(p99_us),
            peak_rss_kib: 0,
            startup: Duration::ZERO,
            server_cpu_percent: 0.0,
            server_core_busy_percent: 0.0,
            load_core_busy_percent: 0.0,
            requests: (requests_per_sec * 10.0) as u64,
            requests_per_sec_range: (requests_per_sec, requests_per_sec),
            p99_range: (Duration::ZERO, Duration::ZERO),
        }
    }

    /// Options of a run that assesses the targets.
    fn full_options() -> Options {
        Options {
            smoke: false,
            ..Options::smoke()
        }
    }

    #[test]
    fn same_rate_half_of_slowest_round() {
        let all = targets();
        let compared: Vec<&Target> = all
            .iter()
            .filter(|t| t.ceiling || t.is_default_mock())
            .collect();
        let mut ceiling = run("ceiling", 40_000.0, 100);
        ceiling.requests_per_sec_range = (30_001.0, 50_000.0);
        let mock = run("mock (log info, default)", 36_000.0, 100);
        // The batched ceiling and the mock with another log filter are not compared.
        let batched = run("ceiling --batch-writes", 10_000.0, 100);
        let warn = run("mock (RUST_LOG=warn)", 12_000.0, 100);
        let results = [ceiling, batched, mock, warn];
        assert_eq!(half_of_slower(&results, &compared, Transport::Rest), 15_000);
        assert_eq!(half_of_slower(&results, &compared, Transport::JsonRpc), 1);
    }

    #[test]
    fn same_rate_ratios_pair_rounds() {
        let case = SameRateCase {
            transport: Transport::Rest,
            rate: 10_000,
            ceiling: vec![
                run("ceiling", 10_000.0, 1000),
                run("ceiling", 9_990.0, 4000),
            ],
            mock: vec![run("mock", 9_980.0, 1500), run("mock", 10_010.0, 2000)],
        };
        assert_eq!(case.p99_ratios(), [1.5, 0.5]);
        assert_eq!(case.not_judged_because(), None);
        let report = same_rate_report(&full_options(), &[case]);
        let row =
            "| REST p99 ≤ 1.5 × ceiling at the same rate, 10000 req/s | 1.50, 0.50 | 1.00 | met |";
        assert!(report.contains(row), "{report}");
        assert!(report.contains("4 connections, 1 round ("), "{report}");
    }

    #[test]
    fn median_of_even_count_averages() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[1.6, 1.0]), 1.3);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn same_rate_off_rate_not_judged() {
        let case = SameRateCase {
            transport: Transport::Rest,
            rate: 10_000,
            ceiling: vec![run("ceiling", 9_400.0, 1000)],
            mock: vec![run("mock", 10_000.0, 1000)],
        };
        let reason = case.not_judged_because().unwrap_or_default();
        assert!(
            reason.starts_with("ceiling served 9400 req/s in round 1"),
            "{reason}"
        );
        let report = same_rate_report(&full_options(), &[case]);
        assert!(
            report.contains(&format!("| not judged: {reason} |")),
            "{report}"
        );
    }

    #[test]
    fn same_rate_few_requests_not_judged() {
        let mut mock = run("mock", 100.0, 1000);
        mock.requests = 999;
        let case = SameRateCase {
            transport: Transport::Rest,
            rate: 100,
            ceiling: vec![run("ceiling", 100.0, 1000)],
            mock: vec![mock],
        };
        let reason = case.not_judged_because().unwrap_or_default();
        assert!(
            reason.starts_with("mock served 999 requests in round 1"),
            "{reason}"
        );
    }

    #[test]
    fn skipped_same_rate_runs_reported() {
        let options = Options {
            rate: SameRate::Skip,
            ..full_options()
        };
        let report = same_rate_report(&options, &[]);
        assert!(report.contains("skipped (`--rate 0`)"), "{report}");
    }

    #[test]
    fn steady_results_are_recognised() {
        assert!(Transport::Rest.is_steady_result("0"));
        assert!(!Transport::Rest.is_steady_result("2"));
        assert!(Transport::JsonRpc.is_steady_result(r#"{"jsonrpc":"2.0","result":0,"id":1}"#));
    }
}

//! `cargo xtask bench --peers`: the mock against other mock servers, under the same wrk load.
//!
//! Stoplight Prism serves `spec/openapi.yaml` with its examples, Mockoon serves the environment
//! `bench/peers/mockoon.json`, and WireMock the stub mapping in `bench/peers/wiremock`. Each
//! responds to the benchmark's REST request with a fixed 200 body, while the mock runs the
//! operation on its state. The versions are pinned in `bench/peers/package-lock.json`; WireMock
//! is the standalone jar of the `wiremock` npm package, run with the machine's Java.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::{
    Measurement, Options, Target, Transport, format_duration, measure, pinning_available,
    prepare_output, rounds_text,
};

/// Directory of the npm project that pins the peers.
const PEERS_DIR: &str = "bench/peers";

/// The WireMock jar inside the `wiremock` npm package.
const WIREMOCK_JAR: &str = "bench/peers/node_modules/wiremock/build/wiremock-standalone-3.13.2.jar";

/// Runs the ceiling, the mock with its defaults and the peers over REST, prints the table and
/// writes it to `target/bench/peers.md`.
pub(super) fn run(options: &Options, ours: &[Target]) -> anyhow::Result<()> {
    install()?;
    let mut targets: Vec<Target> = ours
        .iter()
        .filter(|target| target.ceiling || target.is_default_mock())
        .map(|target| Target {
            name: target.name,
            binary: target.binary.clone(),
            rust_log: None,
            ceiling: target.ceiling,
            assessed: target.assessed,
            args: target.args,
            persist: false,
            peer_args: None,
        })
        .collect();
    targets.extend(peer_targets());

    let out_dir = prepare_output()?;
    let pinned = pinning_available();
    let results = measure(options, &targets, &[Transport::Rest], &out_dir, pinned)?;
    let report = report(options, &results);
    println!("\n{report}");
    let path = out_dir.join("peers.md");
    fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

/// Installs the pinned peers with `npm ci` unless they are installed, without the packages'
/// install scripts, and checks that Java runs.
fn install() -> anyhow::Result<()> {
    let installed = Path::new(PEERS_DIR).join("node_modules/.package-lock.json");
    if !installed.exists() {
        let args = ["ci", "--no-audit", "--no-fund", "--ignore-scripts"];
        println!("==> (cd {PEERS_DIR} && npm {})", args.join(" "));
        let status = Command::new("npm")
            .args(args)
            .current_dir(PEERS_DIR)
            .status()
            .context("cannot run npm; install Node.js and npm")?;
        if !status.success() {
            bail!("npm ci in {PEERS_DIR} failed with {status}");
        }
    }
    let java = Command::new("java").arg("-version").output();
    if !java.is_ok_and(|output| output.status.success()) {
        bail!("java does not run; WireMock needs Java 11 or later");
    }
    Ok(())
}

fn peer_targets() -> Vec<Target> {
    let bin = Path::new(PEERS_DIR).join("node_modules/.bin");
    let peer = |name, binary: PathBuf, peer_args| Target {
        name,
        binary,
        rust_log: None,
        ceiling: false,
        assessed: false,
        args: &[],
        persist: false,
        peer_args: Some(peer_args),
    };
    vec![
        peer("Prism 5.16.0", bin.join("prism"), prism_args),
        peer("Mockoon CLI 9.9.0", bin.join("mockoon-cli"), mockoon_args),
        peer("WireMock 3.13.2", PathBuf::from("java"), wiremock_args),
    ]
}

fn prism_args(address: SocketAddr) -> Vec<String> {
    let mut args = vec!["mock".to_string(), "spec/openapi.yaml".to_string()];
    args.extend(host_and_port(address, "--host", "--port"));
    args
}

fn mockoon_args(address: SocketAddr) -> Vec<String> {
    let mut args = vec![
        "start".to_string(),
        "--data".to_string(),
        format!("{PEERS_DIR}/mockoon.json"),
        "--disable-log-to-file".to_string(),
        "--disable-admin-api".to_string(),
    ];
    args.extend(host_and_port(address, "--hostname", "--port"));
    args
}

/// WireMock keeps its newest 10,000 requests, as the mock's journal does.
fn wiremock_args(address: SocketAddr) -> Vec<String> {
    let mut args = vec![
        "-jar".to_string(),
        WIREMOCK_JAR.to_string(),
        "--root-dir".to_string(),
        format!("{PEERS_DIR}/wiremock"),
        "--disable-banner".to_string(),
        "--max-request-journal-entries".to_string(),
        "10000".to_string(),
    ];
    args.extend(host_and_port(address, "--bind-address", "--port"));
    args
}

fn host_and_port(address: SocketAddr, host_flag: &str, port_flag: &str) -> [String; 4] {
    [
        host_flag.to_string(),
        address.ip().to_string(),
        port_flag.to_string(),
        address.port().to_string(),
    ]
}

/// Builds the Markdown table of the runs, with requests/s and p99 relative to the mock.
fn report(options: &Options, results: &[Measurement]) -> String {
    let mut out = format!(
        "REST only; wrk 1 thread, {} connections, {} s warm-up, {} s measured, {}\n\n",
        options.connections,
        options.warmup,
        options.duration,
        rounds_text(options.rounds)
    );
    out.push_str(
        "| server | req/s | req/s range | req/s vs mock | p50 | p99 | server CPU | peak RSS \
         | start-up |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mock = results
        .iter()
        .find(|m| !m.ceiling && m.target.starts_with("mock"));
    for m in results {
        let ratio = mock.map_or(f64::NAN, |mock| m.requests_per_sec / mock.requests_per_sec);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0}–{:.0} | {ratio:.2} | {} | {} | {:.0}% | {:.1} MiB | {} |",
            m.target,
            m.requests_per_sec,
            m.requests_per_sec_range.0,
            m.requests_per_sec_range.1,
            format_duration(m.p50),
            format_duration(m.p99),
            m.server_cpu_percent,
            m.peak_rss_kib as f64 / 1024.0,
            format_duration(m.startup),
        );
    }
    out
}

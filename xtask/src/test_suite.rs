//! `cargo xtask test`: every check that CI runs, in order, stopping at the first failure.
//!
//! Each step prints `==> <command>` before it runs, so a failure can be reproduced by running
//! that line from the workspace root. The caller has already made the workspace root the
//! current directory.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

const SPEC: &str = "spec/openapi.yaml";
const CONTROL_SPEC: &str = "spec/control.yaml";
/// Node tools that `cargo xtask gen` installs; tsc checks the TypeScript types.
const TYPESCRIPT_TOOLS: &str = "xtask/typescript";
const VENV: &str = ".venv";
const REQUIREMENTS: &str = "xtask/python-requirements.txt";
/// Copy of the requirements file that was last installed into the virtual environment.
const REQUIREMENTS_STAMP: &str = ".venv/.python-requirements";

/// The dashboard's end-to-end test, with playwright-core pinned in its `package-lock.json`.
const DASHBOARD_E2E: &str = "tests/dashboard";
/// Copy of the lock file that was last installed into the test's `node_modules`.
const DASHBOARD_LOCK_STAMP: &str = "tests/dashboard/node_modules/.installed-package-lock.json";

/// Key of the mock server that Schemathesis sends; the mock's built-in default.
const MOCK_API_KEY: &str = "mock-api-key";

/// Fixed Schemathesis seed, so a CI failure reproduces with the printed command.
const SCHEMATHESIS_SEED: &str = "20261204";

/// Schemathesis settings of the control API run: the operations whose
/// schema-valid requests may get a 400, and why.
const SCHEMATHESIS_CONTROL_CONFIG: &str = "xtask/schemathesis/control.toml";

/// Examples per control API operation: the run took 19 seconds on 2 shared
/// cores with 50, and 46 seconds with 100 (`time` of the printed command).
const SCHEMATHESIS_CONTROL_EXAMPLES: &str = "50";

/// Runs the checks: rustfmt, the generated-code drift check, the OpenAPI validator, clippy,
/// the tests, the dashboard in headless Chromium, the benchmark smoke run and rustdoc.
pub fn run() -> anyhow::Result<()> {
    cargo(&["fmt", "--all", "--check"]).run()?;
    cargo(&[
        "run",
        "--quiet",
        "--package",
        "xtask",
        "--",
        "gen",
        "--check",
    ])
    .run()?;
    Step::new(
        format!("{TYPESCRIPT_TOOLS}/node_modules/.bin/tsc"),
        &["-p", "tests/typescript"],
    )
    .run()?;
    install_python_tools()?;
    for spec in [SPEC, CONTROL_SPEC] {
        Step::new(format!("{VENV}/bin/openapi-spec-validator"), &[spec]).run()?;
    }
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])
    .run()?;
    cargo(&["test", "--workspace", "--locked"]).run()?;
    // The generated crates of the spec corpus, built once into target/corpus.
    cargo(&[
        "test",
        "--locked",
        "--package",
        "xtask",
        "corpus",
        "--",
        "--ignored",
    ])
    .run()?;
    run_schemathesis()?;
    run_dashboard_e2e()?;
    cargo(&[
        "run",
        "--quiet",
        "--locked",
        "--package",
        "xtask",
        "--",
        "bench",
        "--smoke",
    ])
    .run()?;
    cargo(&["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .run()?;
    println!("==> all checks passed");
    Ok(())
}

/// Runs the conformance properties against the server at `base_url`, with
/// the contract runner of the test crate. The key goes in the environment, so
/// the printed command line does not show it.
pub fn contract(
    base_url: &str,
    api_key: &str,
    budget: usize,
    seed: Option<u64>,
) -> anyhow::Result<()> {
    let budget = budget.to_string();
    let seed = seed.map(|seed| seed.to_string());
    let mut args = vec![
        "run",
        "--quiet",
        "--locked",
        "--package",
        "contract-tests",
        "--bin",
        "contract",
        "--",
        "--base-url",
        base_url,
        "--budget",
        &budget,
    ];
    if let Some(seed) = &seed {
        args.extend(["--seed", seed.as_str()]);
    }
    let mut step = cargo(&args);
    step.secret_env = Some(("CONTRACT_API_KEY", api_key.to_string()));
    step.run()
}

/// Creates `.venv` if it has no pip, and installs the pinned Python tools into it unless the
/// stamp shows that the current requirements file is already installed.
fn install_python_tools() -> anyhow::Result<()> {
    if !Path::new(VENV).join("bin/pip").exists() {
        Step::new("python3", &["-m", "venv", VENV]).run()?;
    }
    let requirements =
        fs::read(REQUIREMENTS).with_context(|| format!("cannot read {REQUIREMENTS}"))?;
    let installed = fs::read(REQUIREMENTS_STAMP).ok();
    let validator = Path::new(VENV).join("bin/openapi-spec-validator");
    let schemathesis = Path::new(VENV).join("bin/schemathesis");
    let present = validator.exists() && schemathesis.exists();
    if installed.as_deref() == Some(requirements.as_slice()) && present {
        return Ok(());
    }
    Step::new(
        format!("{VENV}/bin/pip"),
        &["install", "--quiet", "-r", REQUIREMENTS],
    )
    .run()?;
    fs::write(REQUIREMENTS_STAMP, &requirements)
        .with_context(|| format!("cannot write {REQUIREMENTS_STAMP}"))
}

/// Starts the mock server on a free loopback port and runs every Schemathesis
/// check against it, negative data and authentication included. Then does
/// the same for the control API on a mock of its own.
fn run_schemathesis() -> anyhow::Result<()> {
    let binary = build_mock_server()?;
    let mut server = MockProcess::start(&binary, &[])?;
    let url = server.base_url()?;
    let header = format!("X-Api-Key: {MOCK_API_KEY}");
    Step::new(
        format!("{VENV}/bin/schemathesis"),
        &[
            "run",
            SPEC,
            "--url",
            &url,
            "--header",
            &header,
            "--checks",
            "all",
            "--max-examples",
            "100",
            "--seed",
            SCHEMATHESIS_SEED,
        ],
    )
    .run()?;
    drop(server);

    // Schemathesis names a new session in many requests, which the default
    // limit of 64 sessions would reject with the documented 422.
    let mut control = MockProcess::start(&binary, &["--max-sessions", "10000"])?;
    let url = control.base_url()?;
    // NOTE: the update stream (`stream_updates`) is left out, because an
    // OpenAPI 3.0 document cannot describe the events of a server-sent
    // event stream, only its media type.
    Step::new(
        format!("{VENV}/bin/schemathesis"),
        &[
            "--config-file",
            SCHEMATHESIS_CONTROL_CONFIG,
            "run",
            CONTROL_SPEC,
            "--url",
            &url,
            "--checks",
            "all",
            "--exclude-operation-id",
            "stream_updates",
            "--max-examples",
            SCHEMATHESIS_CONTROL_EXAMPLES,
            "--seed",
            SCHEMATHESIS_SEED,
        ],
    )
    .run()
}

/// Installs the pinned playwright-core unless the stamp shows that the current lock file is
/// installed, then runs the dashboard's end-to-end test, which starts its own mocks.
fn run_dashboard_e2e() -> anyhow::Result<()> {
    let lock_path = format!("{DASHBOARD_E2E}/package-lock.json");
    let lock = fs::read(&lock_path).with_context(|| format!("cannot read {lock_path}"))?;
    let installed = fs::read(DASHBOARD_LOCK_STAMP).ok();
    if installed.as_deref() != Some(lock.as_slice()) {
        Step::new(
            "npm",
            &["ci", "--no-audit", "--no-fund", "--prefix", DASHBOARD_E2E],
        )
        .run()?;
        fs::write(DASHBOARD_LOCK_STAMP, &lock)
            .with_context(|| format!("cannot write {DASHBOARD_LOCK_STAMP}"))?;
    }

    let binary = build_mock_server()?;
    let script = format!("{DASHBOARD_E2E}/e2e.mjs");
    let binary = binary.to_string_lossy();
    Step::new("node", &[&script, "--mock-server", &binary]).run()
}

/// Builds the mock server binary and returns its path.
fn build_mock_server() -> anyhow::Result<PathBuf> {
    cargo(&["build", "--quiet", "--locked", "--package", "mock-server"]).run()?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    Ok(target.join("debug/mock-server"))
}

/// A mock server child process, killed when dropped.
struct MockProcess {
    child: Child,
}

impl MockProcess {
    /// Starts `binary` on a free loopback port with the scheduler off and
    /// the `extra` options.
    fn start(binary: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        println!(
            "==> {} --listen 127.0.0.1:0 --scheduler-interval 0 {}",
            binary.display(),
            extra.join(" ")
        );
        let child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--scheduler-interval", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(MockProcess { child })
    }

    /// Reads the server's start-up lines until one names its `http://` address,
    /// then keeps draining its output so that the server never writes to a
    /// closed pipe.
    fn base_url(&mut self) -> anyhow::Result<String> {
        let stdout = self
            .child
            .stdout
            .take()
            .context("the mock's stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.context("cannot read the mock's output")?;
            let url = line
                .split_whitespace()
                .find(|word| word.starts_with("http://"));
            if let Some(url) = url {
                let url = url.to_string();
                std::thread::spawn(move || lines.for_each(drop));
                return Ok(url);
            }
        }
        anyhow::bail!("the mock server exited before printing its address")
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One child process of the suite, shown to the user as `display_program args…`.
pub(crate) struct Step {
    program: OsString,
    display_program: String,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    /// A variable passed to the command but left out of its printed line.
    secret_env: Option<(&'static str, String)>,
}

/// Returns a cargo step. It runs the cargo that started this process (cargo sets `CARGO` for
/// `cargo run`), falling back to `cargo` on `PATH`.
pub(crate) fn cargo(args: &[&str]) -> Step {
    let mut step = Step::new("cargo", args);
    if let Some(program) = std::env::var_os("CARGO") {
        step.program = program;
    }
    step
}

impl Step {
    pub(crate) fn new(program: impl Into<String>, args: &[&str]) -> Self {
        let program = program.into();
        Self {
            program: OsString::from(&program),
            display_program: program,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            env: Vec::new(),
            secret_env: None,
        }
    }

    pub(crate) fn env(mut self, key: &'static str, value: &'static str) -> Self {
        self.env.push((key, value));
        self
    }

    /// Returns the command line as a user would type it in a POSIX shell.
    fn command_line(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(key, value)| format!("{key}=\"{value}\""));
        let command = std::iter::once(self.display_program.clone())
            .chain(self.args.iter().map(|arg| shell_quote(arg)));
        env.chain(command).collect::<Vec<_>>().join(" ")
    }

    /// Prints the header, runs the command with inherited stdio and fails on a non-zero exit.
    pub(crate) fn run(&self) -> anyhow::Result<()> {
        let command_line = self.command_line();
        println!("==> {command_line}");
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(self.env.iter().copied());
        if let Some((name, value)) = &self.secret_env {
            command.env(name, value);
        }
        let status = command
            .status()
            .with_context(|| format!("step failed: {command_line}: cannot start the command"))?;
        if !status.success() {
            anyhow::bail!("step failed: {command_line} ({status})");
        }
        Ok(())
    }
}

/// Quotes `arg` for a POSIX shell when it contains anything but safe characters.
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

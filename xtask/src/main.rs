//! Workspace tasks: `cargo xtask gen [--check]`, `cargo xtask test`, `cargo xtask contract` and
//! `cargo xtask bench`.

mod bench;
mod codegen;
mod test_suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Workspace tasks of the system services testbed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the clients, server stubs and TypeScript types in `generated/` from
    /// `spec/openapi.yaml` and `spec/control.yaml`.
    Gen {
        /// Write nothing; fail and name each file in `generated/` that differs from what the
        /// spec produces.
        #[arg(long)]
        check: bool,
        /// Skip the TypeScript types, which need Node.js and npm.
        #[arg(long)]
        no_typescript: bool,
        /// Generate from this OpenAPI 3.0 document instead of the workspace's specs. The
        /// crates go to --out, and no TypeScript types are written.
        #[arg(long, requires = "out")]
        spec: Option<PathBuf>,
        /// Folder of the crates generated from --spec: a workspace of `NAME-server` and
        /// `NAME-client`.
        #[arg(long, requires = "spec")]
        out: Option<PathBuf>,
        /// Crate name prefix for --spec; defaults to the spec's file name.
        #[arg(long, requires = "spec")]
        name: Option<String>,
        /// Overwrite files in --out that an earlier `gen --spec` run did not write, such as
        /// a Cargo.toml of your own. Without it, such files stop the run.
        #[arg(long, requires = "spec")]
        force: bool,
    },
    /// Run every check CI runs: rustfmt, clippy, the generated-code drift check, the OpenAPI
    /// validator and all tests.
    Test,
    /// Check a running server against the spec with random valid and invalid requests; print
    /// each failure with a curl line that reproduces it.
    Contract {
        /// Base URL of the server, such as `http://127.0.0.1:4010`.
        #[arg(long)]
        base_url: String,
        /// API key the server accepts; sent in X-Api-Key and never printed.
        #[arg(long, env = "CONTRACT_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Number of random cases to send.
        #[arg(long, default_value_t = 500)]
        budget: usize,
        /// Seed of the case generator; a random one is printed when none is given.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Benchmark the mock against a ceiling server under wrk load (REST and JSON-RPC, server and
    /// wrk pinned to separate cores), then the cluster state at scale; results in
    /// `target/bench/results.md`.
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // Paths on the command line are relative to where the command runs.
    if let Command::Gen { spec, out, .. } = &mut cli.command {
        for path in [spec, out].into_iter().flatten() {
            if let Ok(absolute) = std::path::absolute(&*path) {
                *path = absolute;
            }
        }
    }
    let root = workspace_root();
    if let Err(error) = std::env::set_current_dir(&root) {
        eprintln!(
            "error: cannot enter the workspace root {}: {error}",
            root.display()
        );
        return ExitCode::FAILURE;
    }

    let result = match cli.command {
        Command::Gen {
            check,
            no_typescript,
            spec,
            out,
            name,
            force,
        } => {
            let mode = if check {
                codegen::Mode::Check
            } else {
                codegen::Mode::Write
            };
            if let (Some(spec), Some(out)) = (&spec, &out) {
                return exit(codegen::run_scratch(
                    spec,
                    out,
                    name.as_deref(),
                    mode,
                    force,
                ));
            }
            let outputs = if no_typescript {
                codegen::Outputs::Rust
            } else {
                codegen::Outputs::All
            };
            codegen::run(&root, mode, outputs)
        }
        Command::Test => test_suite::run(),
        Command::Contract {
            base_url,
            api_key,
            budget,
            seed,
        } => test_suite::contract(&base_url, &api_key, budget, seed),
        Command::Bench(args) => bench::run(&bench::Options::from(args)),
    };
    exit(result)
}

/// Prints an error and returns the exit code of a command's result.
fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the workspace root: the parent of this crate's directory.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

//! `cargo xtask contract --base-url URL --api-key KEY`: runs the conformance
//! properties against any server of the API and prints each failure with a
//! curl line that reproduces it.

use std::process::ExitCode;

use clap::Parser;
use contract_tests::contract::{Settings, run};

/// Checks a running server of the system services API against the spec.
#[derive(Parser)]
#[command(name = "cargo xtask contract")]
struct Options {
    /// Base URL of the server, such as `http://127.0.0.1:4010`.
    #[arg(long)]
    base_url: String,

    /// API key the server accepts; sent in X-Api-Key and never printed.
    #[arg(long, env = "CONTRACT_API_KEY", hide_env_values = true)]
    api_key: String,

    /// Number of random cases to send (each is one request, or two when a
    /// successful terminate call is repeated).
    #[arg(long, default_value_t = 500)]
    budget: usize,

    /// Seed of the case generator; the same seed sends the same requests.
    /// A random seed is picked and printed when none is given.
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let seed = options.seed.unwrap_or_else(random_seed);
    println!(
        "checking {} with {} cases, seed {seed}",
        options.base_url, options.budget
    );
    let settings = Settings {
        base_url: options.base_url,
        api_key: options.api_key,
        budget: options.budget,
        seed,
    };
    let report = run(&settings).await;
    println!("{report}");
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("rerun with: --seed {seed}");
        ExitCode::FAILURE
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

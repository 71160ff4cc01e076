//! Conformance properties that hold on any server of the API, whatever its
//! state: random valid and invalid requests over REST and JSON-RPC, each
//! response checked against the spec and against the rules of the
//! terminate operation.
//!
//! Requests name services `contract-probe-…`, so on a real deployment they
//! are expected to meet 404s and flag nothing.
//!
//! ```no_run
//! # async fn run() {
//! use contract_tests::contract::{Settings, run};
//!
//! let settings = Settings {
//!     base_url: "http://127.0.0.1:4010".into(),
//!     api_key: "mock-api-key".into(),
//!     budget: 200,
//!     seed: 7,
//! };
//! let report = run(&settings).await;
//! assert!(report.failures.is_empty(), "{report}");
//! # }
//! ```

mod cases;
mod rules;

use std::fmt;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::checker::{RecordedRequest, curl_line, record};

pub use cases::{Case, case_strategy};
pub use rules::check_case;

/// Where to send requests and how many.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Scheme, host and port, such as `http://127.0.0.1:4010`.
    pub base_url: String,
    pub api_key: String,
    /// Number of cases to send; a case is one request, or two when a
    /// successful terminate is repeated.
    pub budget: usize,
    /// Seed of the case generator: the same seed sends the same requests.
    pub seed: u64,
}

/// A broken property: its name and what happened, with a curl line.
#[derive(Debug)]
pub struct Failure {
    pub property: &'static str,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "property: {}", self.property)?;
        write!(f, "{}", self.message)
    }
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    pub cases: usize,
    pub failures: Vec<Failure>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, failure) in self.failures.iter().enumerate() {
            writeln!(f, "--- failure {} of {}", index + 1, self.failures.len())?;
            writeln!(f, "{failure}")?;
        }
        write!(f, "{} cases, {} failures", self.cases, self.failures.len())
    }
}

/// Sends `settings.budget` random cases and checks every response.
pub async fn run(settings: &Settings) -> Report {
    let http = http_client();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&settings.seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = case_strategy();

    let mut report = Report::default();
    if let Err(failure) = check_key_accepted(&http, settings).await {
        report.failures.push(failure);
        return report;
    }
    for _ in 0..settings.budget {
        let case = strategy
            .new_tree(&mut runner)
            .expect("case strategies never reject")
            .current();
        report.cases += 1;
        if let Err(failure) = check_case(&http, &settings.base_url, &settings.api_key, &case).await
        {
            report.failures.push(failure);
        }
    }
    report
}

/// Stops a run early when the server rejects the key, since every case
/// would then fail with a 401.
async fn check_key_accepted(http: &reqwest::Client, settings: &Settings) -> Result<(), Failure> {
    let request = RecordedRequest::new(
        reqwest::Method::POST,
        &settings.base_url,
        "/system/services/active/contract-probe-key-check/terminate",
    )
    .header("X-Api-Key", &settings.api_key)
    .json(&serde_json::json!({}));
    let status = match record(http, &request).await {
        Ok(response) => response.status,
        Err(error) => {
            return Err(Failure {
                property: "server-answers",
                message: format!("no response: {error}\nrequest:\n  {}", curl_line(&request)),
            });
        }
    };
    if status == 401 {
        return Err(Failure {
            property: "api-key-accepted",
            message: format!(
                "the server rejects the API key with 401; pass a key it accepts\nrequest:\n  {}",
                curl_line(&request)
            ),
        });
    }
    Ok(())
}

/// Builds an HTTP client that follows no redirects, so every response is
/// checked as the server sent it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

//! `cargo xtask bench --instructions`: user-space instructions per request of each server,
//! counted by callgrind.
//!
//! Wall-clock rates on a shared machine move with everything else that runs on it. An
//! instruction count does not, so it is the figure to compare before and after a change. Each
//! case starts the server under `valgrind --tool=callgrind`, sends uncounted requests on one
//! keep-alive connection, zeroes the counters, sends the counted requests, and dumps the counters
//! with `callgrind_control`. The count covers every thread of the server and none of the
//! kernel's work, so the loopback socket cost that wrk's runs include is not in it.
//!
//! With `--cache-sim`, callgrind also simulates the first-level caches and the last-level cache
//! of this machine and counts their misses. A miss stalls the core longer than most instructions
//! take, so two servers with the same count can still differ in speed.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::{
    API_KEY, OUT_DIR, Server, Target, Transport, ensure_debian_tool, free_loopback_address,
    pinning_available,
};

/// Requests before the counters are zeroed: connection set-up, first-use allocations and the
/// start-up probe are not counted.
const WARMUP_REQUESTS: u64 = 500;

/// The count of one case.
struct Count {
    target: &'static str,
    transport: Transport,
    ceiling: bool,
    totals: Totals,
    requests: u64,
}

impl Count {
    fn per_request(&self) -> f64 {
        self.totals.instructions as f64 / self.requests as f64
    }

    /// Returns `misses` per request, or `NaN` without a cache simulation.
    fn misses_per_request(&self, misses: Option<u64>) -> f64 {
        misses.map_or(f64::NAN, |misses| misses as f64 / self.requests as f64)
    }
}

/// The totals of a callgrind dump: instructions, and the cache misses when the caches were
/// simulated.
#[derive(Debug, PartialEq)]
struct Totals {
    instructions: u64,
    /// Misses of the first-level instruction cache (`I1mr`).
    instruction_misses: Option<u64>,
    /// Read and write misses of the first-level data cache (`D1mr` + `D1mw`).
    data_misses: Option<u64>,
    /// Misses of the last-level cache, for instructions and data (`ILmr` + `DLmr` + `DLmw`).
    last_level_misses: Option<u64>,
}

/// Counts the instructions per request of every target over both transports, prints the table
/// and writes it to `target/bench/instructions.md`.
pub(super) fn run(targets: &[Target], requests: u64, cache_sim: bool) -> anyhow::Result<()> {
    ensure_debian_tool("valgrind", "valgrind")?;
    let out_dir = PathBuf::from(OUT_DIR);
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {OUT_DIR}"))?;
    let pinned = pinning_available();

    let mut counts = Vec::new();
    for transport in [Transport::Rest, Transport::JsonRpc] {
        for target in targets {
            let count = count_case(target, transport, requests, cache_sim, &out_dir, pinned)
                .with_context(|| format!("{} over {}", target.name, transport.name()))?;
            println!(
                "{:<32} {:<8} {:>9.0} instructions per request",
                count.target,
                count.transport.name(),
                count.per_request()
            );
            counts.push(count);
        }
    }

    let report = report(&counts, requests, cache_sim);
    println!("\n{report}");
    let path = out_dir.join("instructions.md");
    fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

/// Runs one server under callgrind and returns the instructions of `requests` requests.
fn count_case(
    target: &Target,
    transport: Transport,
    requests: u64,
    cache_sim: bool,
    out_dir: &Path,
    pinned: bool,
) -> anyhow::Result<Count> {
    let case = format!(
        "{}-{}",
        slug(target.name),
        transport.name().to_lowercase().replace('-', "")
    );
    let profile = out_dir.join(format!("callgrind-{case}.out"));
    let dump = PathBuf::from(format!("{}.1", profile.display()));
    for path in [&profile, &dump] {
        remove_if_present(path)?;
    }
    let mut wrapper = vec![
        "valgrind".to_string(),
        "--tool=callgrind".to_string(),
        format!("--callgrind-out-file={}", profile.display()),
    ];
    if cache_sim {
        wrapper.push("--cache-sim=yes".to_string());
    }
    let address = free_loopback_address()?;
    let log_path = out_dir.join(format!("callgrind-{case}.log"));
    let mut server = Server::start_wrapped(target, address, &log_path, pinned, &wrapper)?;
    server.wait_for_first_ok(transport)?;

    let mut connection = Connection::open(address, transport)?;
    connection.exchange_many(WARMUP_REQUESTS)?;
    callgrind_control("--zero", server.pid())?;
    connection.exchange_many(requests)?;
    callgrind_control("--dump=counted", server.pid())?;
    drop(connection);
    server.stop();

    let totals = read_totals(&dump)?;
    Ok(Count {
        target: target.name,
        transport,
        ceiling: target.ceiling,
        totals,
        requests,
    })
}

/// Turns a target name into a file name part: `mock (RUST_LOG=warn)` becomes `mock-rust-log-warn`.
fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let words = lower.split(|c: char| !c.is_ascii_alphanumeric());
    words
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Runs `callgrind_control OPTION PID`, which reaches the server through valgrind's gdbserver.
fn callgrind_control(option: &str, pid: u32) -> anyhow::Result<()> {
    let output = Command::new("callgrind_control")
        .arg(option)
        .arg(pid.to_string())
        .output()
        .context("cannot run callgrind_control")?;
    if !output.status.success() {
        bail!(
            "callgrind_control {option} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Reads the `events:` and `totals:` lines of a callgrind dump.
fn read_totals(dump: &Path) -> anyhow::Result<Totals> {
    let text = fs::read_to_string(dump)
        .with_context(|| format!("cannot read the callgrind dump {}", dump.display()))?;
    parse_totals(&text).with_context(|| {
        format!(
            "no `events:` line with Ir and matching `totals:` line in {}",
            dump.display()
        )
    })
}

fn parse_totals(text: &str) -> Option<Totals> {
    let line = |prefix: &str| text.lines().find_map(|line| line.strip_prefix(prefix));
    let mut values = line("totals:")?.split_whitespace().map(str::parse::<u64>);
    let mut totals = std::collections::HashMap::new();
    // callgrind leaves out the trailing events whose total is zero.
    for event in line("events:")?.split_whitespace() {
        totals.insert(event, values.next().transpose().ok()?.unwrap_or(0));
    }
    let sum = |events: &[&str]| -> Option<u64> {
        events.iter().map(|event| totals.get(event).copied()).sum()
    };
    Some(Totals {
        instructions: *totals.get("Ir")?,
        instruction_misses: sum(&["I1mr"]),
        data_misses: sum(&["D1mr", "D1mw"]),
        last_level_misses: sum(&["ILmr", "DLmr", "DLmw"]),
    })
}

/// A keep-alive HTTP/1.1 connection that sends the case's request and reads each response.
struct Connection {
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
    transport: Transport,
}

impl Connection {
    fn open(address: SocketAddr, transport: Transport) -> anyhow::Result<Self> {
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        let body = transport.body();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             X-Api-Key: {API_KEY}\r\nContent-Length: {length}\r\n\r\n{body}",
            path = transport.path(),
            length = body.len(),
        );
        Ok(Connection {
            reader: BufReader::new(stream),
            request: request.into_bytes(),
            transport,
        })
    }

    /// Sends `count` requests one after another, and checks that each gets the steady-state 200.
    fn exchange_many(&mut self, count: u64) -> anyhow::Result<()> {
        for _ in 0..count {
            self.reader.get_mut().write_all(&self.request)?;
            let (status, body) = self.read_response()?;
            if status != 200 || !self.transport.is_steady_result(&body) {
                bail!("the server responded {status} {body}, expected 200 with the steady-state 0");
            }
        }
        Ok(())
    }

    /// Reads one response with a `Content-Length` body, and returns its status and body.
    fn read_response(&mut self) -> anyhow::Result<(u16, String)> {
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
        let mut length = 0;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("the server closed the connection in a response head");
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        std::io::Read::read_exact(&mut self.reader, &mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// Builds the Markdown table of the counts, with each count's ratio to the ceiling of its
/// transport, and with `cache_sim` the cache misses per request.
fn report(counts: &[Count], requests: u64, cache_sim: bool) -> String {
    let mut out = format!(
        "callgrind, {WARMUP_REQUESTS} uncounted then {requests} counted requests on one \
         keep-alive connection\n\n"
    );
    out.push_str("| target | transport | instructions per request | ratio to ceiling |");
    if cache_sim {
        out.push_str(
            " L1 instruction misses per request | L1 data misses per request | \
             last-level misses per request |",
        );
    }
    out.push_str("\n|---|---|---:|---:|");
    if cache_sim {
        out.push_str("---:|---:|---:|");
    }
    out.push('\n');
    for count in counts {
        let ceiling = counts
            .iter()
            .find(|other| other.ceiling && other.transport == count.transport);
        let ratio = ceiling.map_or(f64::NAN, |c| count.per_request() / c.per_request());
        let _ = write!(
            out,
            "| {} | {} | {:.0} | {ratio:.2} |",
            count.target,
            count.transport.name(),
            count.per_request()
        );
        if cache_sim {
            let totals = &count.totals;
            let _ = write!(
                out,
                " {:.0} | {:.0} | {:.1} |",
                count.misses_per_request(totals.instruction_misses),
                count.misses_per_request(totals.data_misses),
                count.misses_per_request(totals.last_level_misses),
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_line_parses() {
        let dump = "events: Ir\nsummary: 126071317\ntotals: 126072643\n";
        let totals = parse_totals(dump).expect("totals");
        assert_eq!(totals.instructions, 126072643);
        assert_eq!(totals.instruction_misses, None);
        assert_eq!(parse_totals("events: Ir\n"), None);
    }

    #[test]
    fn cache_totals_parse() {
        let dump = "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n\
                    totals: 1000 300 200 40 7 3 1 2 4\n";
        let totals = parse_totals(dump).expect("totals");
        assert_eq!(totals.instructions, 1000);
        assert_eq!(totals.instruction_misses, Some(40));
        assert_eq!(totals.data_misses, Some(10));
        assert_eq!(totals.last_level_misses, Some(7));

        let trailing_zeros = "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n\
                              totals: 1000 300 200 40 7 3 1\n";
        let totals = parse_totals(trailing_zeros).expect("totals");
        assert_eq!(totals.last_level_misses, Some(1));
    }

    #[test]
    fn slug_keeps_words() {
        assert_eq!(slug("mock (RUST_LOG=warn)"), "mock-rust-log-warn");
        assert_eq!(slug("ceiling"), "ceiling");
    }
}

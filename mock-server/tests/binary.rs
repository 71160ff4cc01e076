//! The `mock-server` binary as a user runs it: help text, start-up output,
//! logs without secrets, graceful shutdown, time limits, option errors and
//! fixture errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_mock-server");

/// Time a test gives the mock to exit before it counts as hanging.
const EXIT_LIMIT: Duration = Duration::from_secs(8);

/// Sends one HTTP/1.1 request and returns the whole response text.
fn http(address: &str, key: &str, path: &str, body: &str) -> String {
    http_with_headers(address, key, path, body, "")
}

/// Sends one HTTP/1.1 request with `headers`, each line ending in `\r\n`,
/// and returns the whole response text.
fn http_with_headers(address: &str, key: &str, path: &str, body: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect to the mock");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nX-Api-Key: {key}\r\n{headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

/// Opens a connection and sends `bytes`, the start of a request that the
/// test never finishes, or finishes later.
fn send_partial(address: &str, bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("connect to the mock");
    stream.write_all(bytes.as_bytes()).expect("send the bytes");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    stream
}

/// Headers of a terminate request whose body has 100 bytes.
fn headers_of_100_byte_body(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: mock-api-key\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
}

/// Waits up to `limit` for `child` to exit. A child still running then is
/// killed, and the result is `None`.
fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("poll the mock") {
            return Some(status);
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs the binary with `args` and `env` to its end, which must come within
/// [`EXIT_LIMIT`].
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BINARY)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the mock binary");
    let exited = wait_within(&mut child, EXIT_LIMIT);
    let output = child.wait_with_output().expect("read the output");
    assert!(
        exited.is_some(),
        "the mock ran on for {EXIT_LIMIT:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A running mock binary, killed on drop if a test fails before `stop`.
struct RunningMock {
    child: Option<Child>,
    address: String,
    /// Standard output up to the address line.
    start_up: String,
    stdout: BufReader<ChildStdout>,
}

impl RunningMock {
    /// Starts the binary with `args`, reading its address from the start-up
    /// lines on standard output.
    fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Starts the binary with `args` and the environment variables `env`,
    /// which may replace `RUST_LOG=debug`.
    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--scheduler-interval", "0"])
            .args(args)
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the mock binary");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut running = RunningMock {
            child: Some(child),
            address: String::new(),
            start_up: String::new(),
            stdout,
        };
        while running.address.is_empty() {
            let mut line = String::new();
            let read = running
                .stdout
                .read_line(&mut line)
                .expect("read start-up output");
            assert!(read > 0, "the mock exited before printing its address");
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                running.address = url.trim_start_matches("http://").to_string();
            }
            running.start_up.push_str(&line);
        }
        running
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let child = self.child.as_ref().expect("the mock is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Sends SIGTERM and returns whether the process exited with 0, and
    /// everything it printed. The process must exit
    /// within [`EXIT_LIMIT`].
    fn stop(self) -> (bool, String) {
        self.terminate();
        self.wait()
    }

    /// Waits for the process to exit, which it must within [`EXIT_LIMIT`],
    /// and returns whether it exited with 0, and everything it printed.
    fn wait(mut self) -> (bool, String) {
        let mut child = self.child.take().expect("the mock is running");
        let exit = wait_within(&mut child, EXIT_LIMIT);
        let mut output = std::mem::take(&mut self.start_up);
        self.stdout
            .read_to_string(&mut output)
            .expect("read stdout");
        child
            .stderr
            .take()
            .expect("piped stderr")
            .read_to_string(&mut output)
            .expect("read stderr");
        let Some(exit) = exit else {
            panic!("the mock did not exit within {EXIT_LIMIT:?}:\n{output}");
        };
        (exit.success(), output)
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn help_lists_every_option() {
    let mut command = Command::new(BINARY);
    command.arg("--help");
    // clap prints the value of a set variable beside its option.
    for variable in [
        "MOCK_LISTEN",
        "MOCK_STATE",
        "MOCK_API_KEYS",
        "MOCK_TRUSTED_PROXIES",
        "MOCK_LOG_FORMAT",
        "MOCK_SCHEDULER_INTERVAL",
        "MOCK_HEADER_READ_TIMEOUT",
        "MOCK_BODY_READ_TIMEOUT",
        "MOCK_SHUTDOWN_TIMEOUT",
        "MOCK_PERSIST",
        "MOCK_CORS_ORIGINS",
        "MOCK_NO_CORS",
        "MOCK_MAX_SESSIONS",
        "MOCK_SESSION_IDLE_TIMEOUT",
        "MOCK_CONTROL_TOKEN",
        "MOCK_JOURNAL_LIMIT",
        "MOCK_FAULT_SEED",
        "MOCK_SPEC",
        "MOCK_SEED",
    ] {
        command.env_remove(variable);
    }
    let output = command.output().expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");
    insta::assert_snapshot!("help", help);
}

#[test]
fn configured_key_never_logged() {
    let secret = "s3cret-key-value";
    let mock = RunningMock::start(&["--api-key", secret, "--log-format", "json"]);
    let address = mock.address.clone();

    let accepted = http(
        &address,
        secret,
        "/system/services/active/cron/terminate",
        "{}",
    );
    assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted}");
    let rejected = http(
        &address,
        "wrong-key-value",
        "/system/services/active/cron/terminate",
        "{}",
    );
    assert!(rejected.starts_with("HTTP/1.1 401"), "{rejected}");

    let (exited_cleanly, output) = mock.stop();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
    assert!(
        !output.contains(secret),
        "the configured key is printed:\n{output}"
    );
    assert!(
        !output.contains("wrong-key-value"),
        "a rejected key is printed:\n{output}"
    );
    assert!(output.contains("X-Api-Key: $API_KEY"), "{output}");
}

#[test]
fn events_inside_request_carry_its_id() {
    for format in ["pretty", "json"] {
        let mock = RunningMock::start(&["--log-format", format]);
        let path = "/system/services/active/cron/terminate";
        let rejected = http(&mock.address, "wrong-key-value", path, "{}");
        assert!(rejected.starts_with("HTTP/1.1 401"), "{rejected}");
        let id = rejected
            .lines()
            .find_map(|line| line.strip_prefix("x-request-id: "))
            .expect("an X-Request-Id header")
            .trim()
            .to_string();
        let (_, output) = mock.stop();
        let lines: Vec<&str> = output.lines().filter(|line| line.contains(&id)).collect();
        assert_eq!(lines.len(), 2, "{format}: {output}");
        assert!(lines[0].contains("API key rejected"), "{}", lines[0]);
        assert!(lines[1].contains("request completed"), "{}", lines[1]);
    }
}

#[test]
fn request_line_written_while_running() {
    let mut mock = RunningMock::start(&[]);
    let address = mock.address.clone();
    let path = "/system/services/active/cron/terminate";
    let response = http(&address, "mock-api-key", path, "{}");
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");

    // The worker buffers the line and writes it when it goes idle, so it
    // arrives while the server runs. A watchdog kills a server that never
    // writes it, which ends the read below.
    let pid = mock.child.as_ref().expect("the mock is running").id();
    let (found, watched) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watched.recv_timeout(Duration::from_secs(10)).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let mut line = String::new();
    while !line.contains("request completed") {
        line.clear();
        let read = mock.stdout.read_line(&mut line).expect("read stdout");
        assert!(read > 0, "no request line within 10 seconds");
    }
    let _ = found.send(());
    assert!(line.contains(" INFO mock_server::telemetry: "), "{line}");
    let route = "route=\"/system/services/active/{system_services_id}/terminate\"";
    assert!(line.contains(route), "{line}");
    assert!(line.contains("status=200"), "{line}");
}

#[test]
fn request_line_has_fields() {
    let mock = RunningMock::start(&["--log-format", "json"]);
    let address = mock.address.clone();
    http(
        &address,
        "mock-api-key",
        "/system/services/active/cron/terminate",
        "{}",
    );
    let body = r#"{"jsonrpc":"2.0","method":"system.services.active.mark_terminate","params":["backup"],"id":1}"#;
    http(&address, "mock-api-key", "/jsonrpc", body);
    let (_, output) = mock.stop();

    let lines: Vec<serde_json::Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|line: &serde_json::Value| line["message"] == "request completed")
        .collect();
    assert_eq!(lines.len(), 2, "{output}");
    let rest = &lines[0];
    assert_eq!(
        rest["route"],
        "/system/services/active/{system_services_id}/terminate"
    );
    assert_eq!(rest["status"], 200);
    assert_eq!(rest["method"], "POST");
    assert!(rest["request_id"].is_string(), "{rest}");
    assert!(rest["latency_ms"].is_number(), "{rest}");
    let rpc = &lines[1];
    assert_eq!(rpc["route"], "/jsonrpc");
    assert!(
        rpc["rpc_methods"]
            .to_string()
            .contains("system.services.active.mark_terminate"),
        "{rpc}"
    );
    assert!(output.contains("mock server stopped"), "{output}");
}

#[test]
fn invalid_fixture_names_field_and_line() {
    let path = std::env::temp_dir().join(format!("fixture-{}.yaml", std::process::id()));
    let fixture = "nodes:\n  - {id: a, name: A}\nservices:\n  - {id: s, name: S}\n\
                   processes:\n  - {service: s, node: b, pid: 1, started_at: 2026-11-30T08:00:00Z}\n";
    std::fs::write(&path, fixture).expect("write the fixture");
    let output = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--state"])
        .arg(&path)
        .output()
        .expect("run the mock");
    std::fs::remove_file(&path).expect("remove the fixture");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("processes[0].node"), "{stderr}");
    assert!(stderr.contains("unknown node `b`"), "{stderr}");
    assert!(stderr.contains("line 6"), "{stderr}");
}

/// Returns the status code of a response text.
fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

/// Returns the JSON body of a response text.
fn json_body_of(response: &str) -> serde_json::Value {
    let (_, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no body in {response:?}"));
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {response}"))
}

#[test]
fn stalled_headers_do_not_block_shutdown() {
    let mock = RunningMock::start_with_env(
        &[],
        &[
            ("MOCK_SHUTDOWN_TIMEOUT", "1"),
            ("MOCK_HEADER_READ_TIMEOUT", "60"),
        ],
    );
    let _stalled = send_partial(&mock.address, "POST /jsonrpc HTTP/1.1\r\nHost: x\r\n");
    sleep(Duration::from_millis(300));

    let started = Instant::now();
    let (exited_cleanly, output) = mock.stop();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
    assert!(started.elapsed() < Duration::from_secs(5), "{output}");
    assert!(output.contains("shutdown grace period is over"), "{output}");
    assert!(output.contains("dropped_connections=1"), "{output}");
}

#[test]
fn stalled_body_does_not_block_shutdown() {
    let mock = RunningMock::start_with_env(
        &[],
        &[
            ("MOCK_SHUTDOWN_TIMEOUT", "1"),
            ("MOCK_BODY_READ_TIMEOUT", "60"),
        ],
    );
    let request = headers_of_100_byte_body("/jsonrpc") + "{\"json";
    let mut stalled = send_partial(&mock.address, &request);
    sleep(Duration::from_millis(300));

    let (exited_cleanly, output) = mock.stop();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
    assert!(output.contains("dropped_connections=1"), "{output}");
    let mut response = String::new();
    let read = stalled.read_to_string(&mut response);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "a dropped connection gets no response: {response}"
    );
}

#[test]
fn request_in_flight_finishes_after_sigterm() {
    let mock = RunningMock::start_with_env(&[], &[("MOCK_SHUTDOWN_TIMEOUT", "10")]);
    let body = r#"{"nodes_id": null}"#;
    let request = format!(
        "POST /system/services/active/cron/terminate HTTP/1.1\r\nHost: x\r\n\
         X-Api-Key: mock-api-key\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    );
    let mut in_flight = send_partial(&mock.address, &request);
    sleep(Duration::from_millis(300));

    mock.terminate();
    sleep(Duration::from_millis(300));
    in_flight
        .write_all(&body.as_bytes()[5..])
        .expect("send the rest of the body");
    let mut response = String::new();
    in_flight
        .read_to_string(&mut response)
        .expect("read the response");
    assert_eq!(status_of(&response), 200, "{response}");
    assert_eq!(json_body_of(&response), 2, "{response}");

    let (exited_cleanly, output) = mock.wait();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
    assert!(output.contains("dropped_connections=0"), "{output}");
}

#[test]
fn header_read_timeout_closes_stalled_connection() {
    let mock = RunningMock::start_with_env(&[], &[("MOCK_HEADER_READ_TIMEOUT", "1")]);
    let mut partial = send_partial(&mock.address, "POST /jsonrpc HTTP/1.1\r\nHost: x\r\n");
    let mut idle = send_partial(&mock.address, "");

    for stream in [&mut partial, &mut idle] {
        let started = Instant::now();
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("the server closes the connection");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let (exited_cleanly, output) = mock.stop();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
}

#[test]
fn stalled_body_gets_408() {
    let mock = RunningMock::start_with_env(
        &["--log-format", "json"],
        &[("MOCK_BODY_READ_TIMEOUT", "1")],
    );
    for path in ["/system/services/active/cron/terminate", "/jsonrpc"] {
        let request = headers_of_100_byte_body(path) + "{\"nodes";
        let mut stalled = send_partial(&mock.address, &request);
        let mut response = String::new();
        stalled
            .read_to_string(&mut response)
            .expect("read the response");

        assert_eq!(status_of(&response), 408, "{response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{response}"
        );
        let message = "Request body did not arrive within 1 second";
        let expected =
            serde_json::json!({"error": {"message": message, "data": {"body": message}}});
        assert_eq!(json_body_of(&response), expected, "{path}");
    }
    let (_, output) = mock.stop();
    let timed_out = output
        .lines()
        .filter(|line| line.contains("\"request completed\"") && line.contains("\"status\":408"))
        .count();
    assert_eq!(timed_out, 2, "{output}");
}

#[test]
fn api_key_option_rejects_comma() {
    let output = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "k3y@10.0.0.1,10.0.0.2",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value for --api-key: keys and networks cannot contain commas"),
        "{stderr}"
    );
    assert!(!stderr.contains("k3y"), "the key is printed: {stderr}");
}

#[test]
fn api_keys_variable_is_comma_separated() {
    let mock = RunningMock::start_with_env(
        &[],
        &[("MOCK_API_KEYS", "first@127.0.0.1+10.0.0.0/8,second")],
    );
    let path = "/system/services/active/backup/terminate";
    for (key, status) in [("first", 200), ("second", 200), ("10.0.0.0/8", 401)] {
        let response = http(&mock.address, key, path, "{}");
        assert_eq!(status_of(&response), status, "{key}: {response}");
    }
    let (exited_cleanly, output) = mock.stop();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
    assert!(output.contains("api_keys=2"), "{output}");
}

#[test]
fn trusted_proxies_variable_is_comma_separated() {
    let mock = RunningMock::start_with_env(
        &["--api-key", "k@192.0.2.7"],
        &[("MOCK_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")],
    );
    let path = "/system/services/active/backup/terminate";
    let forwarded = http_with_headers(
        &mock.address,
        "k",
        path,
        "{}",
        "X-Forwarded-For: 192.0.2.7\r\n",
    );
    assert_eq!(status_of(&forwarded), 200, "{forwarded}");
    let direct = http(&mock.address, "k", path, "{}");
    assert_eq!(status_of(&direct), 401, "{direct}");
    mock.stop();
}

#[test]
fn trusted_proxy_option_rejects_comma() {
    let output = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "127.0.0.1,10.0.0.1",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value for --trusted-proxy: a network cannot contain commas"),
        "{stderr}"
    );
}

#[test]
fn closed_stdout_does_not_stop_server() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("read the port").port()
    };
    let address = format!("127.0.0.1:{port}");
    let (reader, writer) = std::io::pipe().expect("create a pipe");
    drop(reader);
    let mut child = Command::new(BINARY)
        .args(["--listen", &address, "--scheduler-interval", "0"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the mock binary");

    let started = Instant::now();
    while TcpStream::connect(&address).is_err() {
        let exited = child.try_wait().expect("poll the mock");
        assert!(exited.is_none(), "the mock exited: {exited:?}");
        assert!(started.elapsed() < EXIT_LIMIT, "the mock does not listen");
        sleep(Duration::from_millis(20));
    }
    let response = http(
        &address,
        "mock-api-key",
        "/system/services/active/cron/terminate",
        "{}",
    );
    assert_eq!(status_of(&response), 200, "{response}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    let exit = wait_within(&mut child, EXIT_LIMIT);
    let output = child.wait_with_output().expect("read stderr");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        exit.is_some_and(|exit| exit.success()),
        "{exit:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn empty_rust_log_logs_at_info() {
    let mock = RunningMock::start_with_env(&[], &[("RUST_LOG", "")]);
    let (_, output) = mock.stop();
    assert!(output.contains("INFO"), "{output}");
    assert!(output.contains("mock server stopped"), "{output}");
}

#[test]
fn invalid_rust_log_warns_once() {
    let mock = RunningMock::start_with_env(&[], &[("RUST_LOG", "garbage[")]);
    let (_, output) = mock.stop();
    let warnings: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("RUST_LOG"))
        .collect();
    let [warning] = warnings.as_slice() else {
        panic!("expected one line about RUST_LOG:\n{output}");
    };
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("ignored"), "{warning}");
    assert!(warning.contains("`info`"), "{warning}");
    assert!(output.contains("mock server stopped"), "{output}");
}

#[test]
fn fixture_type_error_printed_once() {
    let path = std::env::temp_dir().join(format!("fixture-pid-{}.yaml", std::process::id()));
    let fixture = "nodes:\n  - {id: a, name: A}\nservices:\n  - {id: s, name: S}\nprocesses:\n\
                   \x20 - {service: s, node: a, pid: 1, started_at: x}\n\
                   \x20 - {service: s, node: a, pid: 2, started_at: x}\n\
                   \x20 - {service: s, node: a, pid: -5, started_at: x}\n";
    std::fs::write(&path, fixture).expect("write the fixture");
    let output = run_to_exit(
        &["--listen", "127.0.0.1:0", "--state", path.to_str().unwrap()],
        &[],
    );
    std::fs::remove_file(&path).expect("remove the fixture");

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "Error: {}\n\nCaused by:\n    invalid state fixture: processes[2].pid: \
         invalid type: integer `-5`, expected u32 at line 8 column 32\n",
        path.display()
    );
    assert_eq!(stderr, expected);
}

/// Sends a CORS preflight request for a terminate call from `origin` and
/// returns the whole response text.
fn preflight(address: &str, origin: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect to the mock");
    let request = format!(
        "OPTIONS /system/services/active/cron/terminate HTTP/1.1\r\nHost: {address}\r\n\
         Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: x-api-key\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

#[test]
fn cors_origins_variable_is_comma_separated() {
    let mock = RunningMock::start_with_env(
        &[],
        &[(
            "MOCK_CORS_ORIGINS",
            "http://localhost:5173,http://localhost:3000",
        )],
    );
    let allowed = preflight(&mock.address, "http://localhost:3000");
    assert_eq!(status_of(&allowed), 204, "{allowed}");
    assert!(
        allowed
            .to_ascii_lowercase()
            .contains("\r\naccess-control-allow-origin: http://localhost:3000\r\n"),
        "{allowed}"
    );
    let other = preflight(&mock.address, "http://localhost:8080");
    assert_eq!(status_of(&other), 405, "{other}");
    assert!(
        !other.to_ascii_lowercase().contains("access-control-"),
        "{other}"
    );
    let (exited_cleanly, output) = mock.stop();
    assert!(exited_cleanly, "SIGTERM exits with 0:\n{output}");
    assert!(
        output.contains("cors_origins=http://localhost:5173,http://localhost:3000"),
        "{output}"
    );
}

#[test]
fn no_cors_flag_turns_cors_off() {
    let mock = RunningMock::start(&["--no-cors"]);
    let response = preflight(&mock.address, "http://localhost:5173");
    assert_eq!(status_of(&response), 405, "{response}");
    assert!(
        !response.to_ascii_lowercase().contains("access-control-"),
        "{response}"
    );
    let ok = http_with_headers(
        &mock.address,
        "mock-api-key",
        "/system/services/active/cron/terminate",
        "{}",
        "Origin: http://localhost:5173\r\n",
    );
    assert_eq!(status_of(&ok), 200, "{ok}");
    assert!(!ok.to_ascii_lowercase().contains("access-control-"), "{ok}");
    let (_, output) = mock.stop();
    assert!(output.contains("cors_origins=off"), "{output}");
}

#[test]
fn cors_origin_option_rejects_path() {
    let output = run_to_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--cors-origin",
            "http://localhost:5173/app",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "invalid value for --cors-origin: `http://localhost:5173/app` is not an origin"
        ),
        "{stderr}"
    );
}

#[test]
fn journal_limit_and_fault_seed_apply() {
    let mock = RunningMock::start(&["--journal-limit", "1", "--fault-seed", "9"]);
    let address = mock.address.clone();
    let fault = http(
        &address,
        "",
        "/__mock/faults",
        r#"{"status": 500, "count": 1}"#,
    );
    assert_eq!(status_of(&fault), 201, "{fault}");
    let path = "/system/services/active/backup/terminate";
    let faulted = http(&address, "mock-api-key", path, "{}");
    assert_eq!(status_of(&faulted), 500, "{faulted}");
    let normal = http(&address, "mock-api-key", path, "{}");
    assert_eq!(status_of(&normal), 200, "{normal}");

    let request = "GET /__mock/journal HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut stream = send_partial(&address, request);
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the journal");
    let journal = json_body_of(&response);
    let Some(entries) = journal["entries"].as_array() else {
        panic!("no journal entries in {response:?}");
    };
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["status"], 200, "{journal}");
    assert_eq!(journal["dropped"], 1, "{journal}");

    let (exited, output) = mock.stop();
    assert!(exited, "{output}");
    let started = output
        .lines()
        .find(|line| line.contains("mock server started"))
        .expect("the start-up line");
    assert!(started.contains("fault_seed=9"), "{started}");
    assert!(started.contains("journal_limit=1"), "{started}");
}

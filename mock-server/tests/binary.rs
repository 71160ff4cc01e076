//! The `mock-server` binary as a user runs it: help text, start-up output,
//! logs without secrets, graceful shutdown, and fixture errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_mock-server");

/// Sends one HTTP/1.1 request and returns the whole response text.
fn http(address: &str, key: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect to the mock");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nX-Api-Key: {key}\r\n\
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

/// A running mock binary, killed on drop if a test fails before `stop`.
struct RunningMock {
    child: Option<Child>,
    address: String,
    stdout: BufReader<ChildStdout>,
}

impl RunningMock {
    /// Starts the binary with `args`, reading its address from the start-up
    /// lines on standard output.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--scheduler-interval", "0"])
            .args(args)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the mock binary");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut running = RunningMock {
            child: Some(child),
            address: String::new(),
            stdout,
        };
        let mut line = String::new();
        while running.address.is_empty() {
            line.clear();
            let read = running
                .stdout
                .read_line(&mut line)
                .expect("read start-up output");
            assert!(read > 0, "the mock exited before printing its address");
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                running.address = url.trim_start_matches("http://").to_string();
            }
        }
        running
    }

    /// Sends SIGTERM and returns whether the process exited with 0, and
    /// everything it printed after its address.
    fn stop(mut self) -> (bool, String) {
        let mut child = self.child.take().expect("the mock is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let exit = child.wait().expect("wait for the mock");
        let mut output = String::new();
        self.stdout
            .read_to_string(&mut output)
            .expect("read stdout");
        child
            .stderr
            .take()
            .expect("piped stderr")
            .read_to_string(&mut output)
            .expect("read stderr");
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
                   processes:\n  - {service: s, node: b, pid: 1, started_at: x}\n";
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

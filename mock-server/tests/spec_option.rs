//! The `--spec` and `--seed` options of the `mock-server` binary: the same
//! seed gives the same generated bodies, log lines name the path templates
//! of the loaded document, and a document that cannot be loaded stops the
//! start with the located reason.

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_mock-server");

/// Returns the path of a corpus spec whose `GET /store/inventory` has no
/// example, so its body is generated.
fn petstore() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xtask/corpus/petstore3.yaml")
}

/// A running mock, killed on drop.
struct Mock {
    child: Child,
    address: String,
    /// The lines of standard output after the address.
    lines: Lines<BufReader<ChildStdout>>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(seed: &str) -> Mock {
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--seed", seed, "--spec"])
        .arg(petstore())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the mock");
    let stdout = child.stdout.take().expect("the mock's standard output");
    let mut lines = BufReader::new(stdout).lines();
    let address = lines
        .find_map(|line| {
            let line = line.expect("read the mock's output");
            Some(
                line.strip_prefix("mock server listening on http://")?
                    .to_string(),
            )
        })
        .expect("the mock prints its address");
    Mock {
        child,
        address,
        lines,
    }
}

/// Returns the body of `GET path` with the default API key.
fn get(mock: &Mock, path: &str) -> String {
    let mut stream = TcpStream::connect(&mock.address).expect("connect to the mock");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\napi_key: mock-api-key\r\nConnection: close\r\n\r\n",
        mock.address
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    let (_, body) = response.split_once("\r\n\r\n").expect("a response body");
    body.to_string()
}

#[test]
fn same_seed_gives_same_body() {
    let first = get(&start("5"), "/store/inventory");
    let again = get(&start("5"), "/store/inventory");
    let other = get(&start("6"), "/store/inventory");
    assert!(first.starts_with('{'), "{first}");
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn unsupported_spec_names_pointer() {
    let path = std::env::temp_dir().join(format!("spec-3-1-{}.yaml", std::process::id()));
    let spec = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n";
    std::fs::write(&path, spec).expect("write the spec");
    // `timeout` stops a mock that serves the document instead of exiting.
    let output = Command::new("timeout")
        .args(["8", BINARY, "--listen", "127.0.0.1:0", "--spec"])
        .arg(&path)
        .output()
        .expect("run the mock");
    std::fs::remove_file(&path).expect("remove the spec");

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("cannot load the spec {}", path.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("#/openapi: OpenAPI 3.1.0 is not supported"),
        "{stderr}"
    );
}

#[test]
fn log_line_names_path_template() {
    let mut mock = start("5");
    get(&mock, "/pet/7");

    // A watchdog kills a mock that never writes the line, which ends the
    // read below.
    let pid = mock.child.id();
    let (found, watched) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watched.recv_timeout(Duration::from_secs(10)).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let line = mock
        .lines
        .by_ref()
        .map(|line| line.expect("read the mock's output"))
        .find(|line| line.contains("request completed"))
        .expect("a request line within 10 seconds");
    let _ = found.send(());
    assert!(line.contains("route=\"/pet/{petId}\""), "{line}");
    assert!(line.contains("status=200"), "{line}");
}

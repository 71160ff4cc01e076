//! `--persist` over real sockets: the mock binary killed with SIGKILL under
//! a load of terminate calls keeps every acknowledged flag after a restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_mock-server");

/// Nodes of the fixture; the service `s` runs on each of them.
const NODES: usize = 500;
/// Threads that send terminate calls at the same time.
const CLIENTS: usize = 8;
/// Acknowledged calls after which the server is killed.
const KILL_AFTER: usize = 100;
/// Maximum time the load may take.
const LOAD_LIMIT: Duration = Duration::from_secs(30);
/// Read and write timeout of each request.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A fixture of one service on [`NODES`] nodes, plus the Tasks Scheduler.
fn fixture() -> String {
    let mut text = String::from("nodes:\n");
    for node in 0..NODES {
        text.push_str(&format!("  - {{id: n{node}, name: Node {node}}}\n"));
    }
    text.push_str(
        "services: [{id: tasks_scheduler, name: Tasks Scheduler}, {id: s, name: Service}]\n\
         processes:\n",
    );
    for node in 0..NODES {
        text.push_str(&format!(
            "  - {{service: s, node: n{node}, pid: {}, started_at: 2026-11-30T08:00:00Z}}\n",
            node + 100
        ));
    }
    text
}

/// A running mock binary, killed on drop.
struct Mock {
    child: Child,
    address: String,
    /// Standard output up to the address line.
    start_up: String,
}

impl Mock {
    /// Starts the binary on a free loopback port with `--state fixture` and
    /// `--persist database`, and reads its address. A thread drains the
    /// rest of its output.
    fn start(fixture: &Path, database: &Path) -> Self {
        let mut child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--scheduler-interval", "0"])
            .arg("--state")
            .arg(fixture)
            .arg("--persist")
            .arg(database)
            .env("RUST_LOG", "info")
            .env("MOCK_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the mock binary");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut start_up = String::new();
        let address = loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).expect("read start-up output");
            assert!(read > 0, "the mock exited before its address:\n{start_up}");
            start_up.push_str(&line);
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                break url.trim_start_matches("http://").to_string();
            }
        };
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Mock {
            child,
            address,
            start_up,
        }
    }

    /// Sends SIGKILL, as `kill -KILL` does, and waits for the process.
    fn kill(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL failed");
        self.child.wait().expect("wait for the killed mock");
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a terminate call for service `s` and returns the status and body,
/// or `None` when the connection fails, as when the server is killed.
fn terminate(address: &str, node: Option<usize>) -> Option<(u16, String)> {
    let body = match node {
        Some(node) => format!("{{\"nodes_id\": \"n{node}\"}}"),
        None => "{\"nodes_id\": null}".to_string(),
    };
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).ok()?;
    let request = format!(
        "POST /system/services/active/s/terminate HTTP/1.1\r\nHost: {address}\r\n\
         X-Api-Key: mock-api-key\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some((status, body.trim().to_string()))
}

#[test]
fn acknowledged_flags_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fixture_path = dir.path().join("fixture.yaml");
    let database = dir.path().join("state.db");
    std::fs::write(&fixture_path, fixture()).expect("write the fixture");

    let mock = Mock::start(&fixture_path, &database);
    assert!(
        mock.start_up
            .contains("state saved to a new persistence database"),
        "{}",
        mock.start_up
    );
    let address = mock.address.clone();
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (address, next, acknowledged) =
                (address.clone(), next.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                let mut failed = 0;
                while started.elapsed() < LOAD_LIMIT {
                    let node = next.fetch_add(1, Ordering::Relaxed);
                    if node >= NODES {
                        break;
                    }
                    match terminate(&address, Some(node)) {
                        Some((200, body)) => {
                            assert_eq!(body, "1", "the first call for node n{node}");
                            acknowledged.lock().unwrap().push(node);
                        }
                        Some((status, body)) => panic!("node n{node}: {status} {body}"),
                        None => {
                            failed += 1;
                            break;
                        }
                    }
                }
                failed
            })
        })
        .collect();

    while acknowledged.lock().unwrap().len() < KILL_AFTER {
        assert!(started.elapsed() < LOAD_LIMIT, "the load took too long");
        assert!(
            !clients.iter().all(|client| client.is_finished()),
            "the clients stopped before {KILL_AFTER} calls were acknowledged"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    mock.kill();
    let failed: usize = clients
        .into_iter()
        .map(|client| client.join().expect("a client thread"))
        .sum();
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "{} calls acknowledged; {failed} clients lost their connection to the killed server",
        acknowledged.len()
    );

    let mock = Mock::start(&fixture_path, &database);
    assert!(
        mock.start_up
            .contains("state loaded from the persistence database"),
        "{}",
        mock.start_up
    );
    for &node in &acknowledged {
        assert_eq!(
            terminate(&mock.address, Some(node)),
            Some((200, "0".to_string())),
            "node n{node} was acknowledged, so it stays flagged"
        );
    }
    let (status, body) = terminate(&mock.address, None).expect("the restarted mock answers");
    assert_eq!(status, 200, "{body}");
    let newly_flagged: usize = body.parse().expect("a count");
    let flagged_before = NODES - newly_flagged;
    assert!(
        flagged_before >= acknowledged.len(),
        "{flagged_before} flagged after the restart, {} acknowledged",
        acknowledged.len()
    );
}

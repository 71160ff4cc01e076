//! Micro-benchmarks of the cluster state at scale, on fixtures generated in
//! code: load time, terminate, the Tasks Scheduler run, a kill, and the
//! memory per process row.
//!
//! `cargo bench -p bench --bench state` prints the memory table, then
//! divan's timings. Each benchmark runs at several sizes, so the tables show
//! how each cost grows with the work.
//!
//! Two fixture shapes:
//! - wide: 100 nodes, every service on every node; 10,000 services make
//!   1,000,000 process rows, and a service has 100 processes.
//! - tall: one service on every node of a large cluster plus 99 services on
//!   node 0, for a service with up to 10,000 active processes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use divan::Bencher;
use mock_server::state::{ClusterState, Fixture, Node, Process, Service};

/// The system allocator, counting the bytes and allocations that are live.
struct CountingAllocator;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counters only observe the sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Nodes of the wide fixture.
const WIDE_NODES: usize = 100;

/// Row counts of the wide fixture that the load, scheduler and memory
/// measurements use.
const ROWS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// Start time of every generated process.
const STARTED_AT: &str = "2026-11-30T08:00:00Z";

fn node_id(index: usize) -> String {
    format!("node-{index:05}")
}

fn service_id(index: usize) -> String {
    format!("service-{index:05}")
}

fn nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|index| Node {
            id: node_id(index),
            name: format!("Node {index}"),
        })
        .collect()
}

fn services(count: usize) -> Vec<Service> {
    (0..count)
        .map(|index| Service {
            id: service_id(index),
            name: format!("Service {index}"),
        })
        .collect()
}

fn process(service: usize, node: usize, pid: usize) -> Process {
    Process {
        service: service_id(service),
        node: node_id(node),
        pid: pid as u32,
        started_at: STARTED_AT.to_string(),
        terminate: false,
        hung: false,
    }
}

/// The wide fixture with `rows` process rows: `rows / 100` services, each on
/// all 100 nodes, listed service by service.
fn wide_fixture(rows: usize) -> Fixture {
    let service_count = rows / WIDE_NODES;
    let mut processes = Vec::with_capacity(rows);
    for service in 0..service_count {
        for node in 0..WIDE_NODES {
            processes.push(process(service, node, processes.len() + 1));
        }
    }
    Fixture {
        nodes: nodes(WIDE_NODES),
        services: services(service_count),
        processes,
        scheduler_service: None,
    }
}

/// The tall fixture: service 0 on each of `big` nodes, and services 1 to 99
/// on node 0.
fn tall_fixture(big: usize) -> Fixture {
    let mut processes: Vec<Process> = (0..big).map(|node| process(0, node, node + 1)).collect();
    for service in 1..100 {
        processes.push(process(service, 0, processes.len() + 1));
    }
    Fixture {
        nodes: nodes(big),
        services: services(100),
        processes,
        scheduler_service: None,
    }
}

fn load(fixture: Fixture) -> ClusterState {
    ClusterState::from_fixture(fixture).expect("a generated fixture is valid")
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_secs(seconds)
}

/// Loading a wide fixture into a `ClusterState`: the checks of unique IDs
/// and known references, and building the indexes.
#[divan::bench(args = ROWS, sample_count = 10, sample_size = 1)]
fn load_wide(bencher: Bencher, rows: usize) {
    bencher
        .with_inputs(|| wide_fixture(rows))
        .bench_local_values(load);
}

/// Terminate on all nodes of the tall fixture's big service, whose
/// `processes` processes are all unflagged: every flag changes.
#[divan::bench(args = [100, 1_000, 10_000], sample_count = 20, sample_size = 1)]
fn terminate_all_nodes(bencher: Bencher, processes: usize) {
    let state = load(tall_fixture(processes));
    let service = service_id(0);
    bencher
        .with_inputs(|| state.clone())
        .bench_local_refs(|state| state.mark_terminate(&service, None));
}

/// The same call again: every process is already flagged, so it returns 0.
/// This is the steady state of `cargo xtask bench`.
#[divan::bench(args = [100, 1_000, 10_000])]
fn terminate_repeated(bencher: Bencher, processes: usize) {
    let mut state = load(tall_fixture(processes));
    let service = service_id(0);
    state.mark_terminate(&service, None).unwrap();
    bencher.bench_local(|| state.mark_terminate(&service, None));
}

/// Terminate on one node of a service with 100 processes, in wide fixtures
/// of growing size: the cost should not grow with the total row count.
#[divan::bench(args = ROWS)]
fn terminate_one_node(bencher: Bencher, rows: usize) {
    let mut state = load(wide_fixture(rows));
    let service = service_id(rows / WIDE_NODES / 2);
    let node = node_id(WIDE_NODES / 2);
    bencher.bench_local(|| state.mark_terminate(&service, Some(&node)));
}

/// A scheduler run over `flags` flagged processes in the 1,000,000-row wide
/// fixture: it signals and removes each of them.
#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 10, sample_size = 1)]
fn scheduler_run(bencher: Bencher, flags: usize) {
    let mut state = load(wide_fixture(1_000_000));
    for service in 0..flags / WIDE_NODES {
        state.mark_terminate(&service_id(service), None).unwrap();
    }
    bencher
        .with_inputs(|| state.clone())
        .bench_local_refs(|state| state.run_scheduler(at(60)));
}

/// A kill of one process in wide fixtures of growing size.
#[divan::bench(args = ROWS, sample_count = 10, sample_size = 1)]
fn kill_one(bencher: Bencher, rows: usize) {
    let state = load(wide_fixture(rows));
    let service = service_id(rows / WIDE_NODES / 2);
    let node = node_id(WIDE_NODES / 2);
    bencher
        .with_inputs(|| state.clone())
        .bench_local_refs(|state| {
            state
                .kill(&service, &node, at(60))
                .map(|process| process.pid)
        });
}

/// Prints the heap bytes and allocations that a loaded state keeps per row.
/// The fixture moves into the state, so whatever is live after the load and
/// was not before the fixture was generated belongs to the state.
fn print_memory() {
    println!("memory of a loaded ClusterState (wide fixture, live heap bytes as requested):");
    println!(
        "{:>10} {:>14} {:>10} {:>12}",
        "rows", "bytes", "bytes/row", "allocs/row"
    );
    for rows in ROWS {
        let bytes_before = LIVE_BYTES.load(Ordering::Relaxed);
        let allocations_before = LIVE_ALLOCATIONS.load(Ordering::Relaxed);
        let state = load(wide_fixture(rows));
        let bytes = LIVE_BYTES.load(Ordering::Relaxed) - bytes_before;
        let allocations = LIVE_ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
        println!(
            "{rows:>10} {bytes:>14} {:>10.1} {:>12.2}",
            bytes as f64 / rows as f64,
            allocations as f64 / rows as f64
        );
        drop(state);
    }
    println!();
}

fn main() {
    print_memory();
    divan::main();
}

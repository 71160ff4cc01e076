//! Benchmarks of the mock server.
//!
//! - `src/bin/ceiling.rs`: the ceiling server, a bare axum handler that
//!   responds to the mock's routes with a constant. `cargo xtask bench` loads it
//!   and the mock with the same requests; the ratio of the two shows what
//!   the mock's own work costs.
//! - `benches/state.rs`: divan micro-benchmarks of the cluster state at
//!   scale (`cargo bench -p bench --bench state`).

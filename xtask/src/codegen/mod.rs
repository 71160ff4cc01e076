//! `cargo xtask gen`: the client and the server stubs, from the OpenAPI document.
//!
//! The phases: load the spec, build a typed model of its operations (which
//! rejects what the generator does not support, naming the spec location),
//! then emit each back end from its own module.

mod client;
mod files;
mod format;
mod model;
mod server;
mod spec;
mod types;

pub use files::Mode;

/// Generates every file under `generated/` and writes or checks them.
pub fn run(mode: Mode) -> anyhow::Result<()> {
    let api = spec::load()?;
    let mut generated = Vec::new();
    generated.extend(client::emit(&api)?);
    generated.extend(server::emit(&api)?);
    files::sync(&generated, mode)
}

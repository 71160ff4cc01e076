//! `cargo xtask gen`: the client and the server stubs, from the OpenAPI document.
//!
//! The phases: load the spec, build a typed model of its operations (which
//! rejects what the generator does not support, naming the spec location),
//! then emit each back end from its own module.

mod client;
mod files;
mod format;
mod jsonrpc;
mod model;
mod openrpc;
mod server;
mod spec;
mod types;
mod typescript;

use std::path::Path;

use openapiv3::OpenAPI;

pub use files::{GeneratedFile, Mode};

/// The set of generated files that a run covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outputs {
    /// Every file, the TypeScript types included, which needs Node.js.
    All,
    /// The Rust crates and the OpenRPC document only.
    Rust,
}

/// Generates the files under `generated/` from the spec under `root`, and
/// writes them or checks them for drift.
pub fn run(root: &Path, mode: Mode, outputs: Outputs) -> anyhow::Result<()> {
    let api = spec::load(root)?;
    let mut generated = generate(&api)?;
    if outputs == Outputs::All {
        generated.push(typescript::emit(root)?);
    }
    files::sync(root, &generated, mode)
}

/// Generates the contents of every file under `generated/`.
///
/// The server comes first: building its model rejects unsupported
/// constructs with their location, before progenitor can panic on them.
/// Fails when the server's types differ from the client's, because both
/// sides must serialise every schema the same way.
pub fn generate(api: &OpenAPI) -> anyhow::Result<Vec<GeneratedFile>> {
    let server = server::emit(api)?;
    let client = client::emit(api)?;
    if client.types != server.types {
        anyhow::bail!(
            "the server's types differ from the client's; \
             the schema conversion in xtask/src/codegen/types.rs must match progenitor's"
        );
    }
    let mut generated = client.files;
    generated.extend(server.files);
    Ok(generated)
}

#[cfg(test)]
mod tests;

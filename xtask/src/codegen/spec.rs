//! Loads the OpenAPI document and locates errors in it by JSON pointer.

use std::fmt;
use std::fs;
use std::path::Path;

use anyhow::Context;
use openapiv3::OpenAPI;

/// Path of the OpenAPI document, from the workspace root.
pub const SPEC_PATH: &str = "spec/openapi.yaml";

/// A construct of the spec that the generator rejects, located by JSON pointer.
#[derive(Debug, thiserror::Error)]
pub struct SpecError {
    pub pointer: String,
    pub message: String,
}

impl SpecError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SPEC_PATH}#{}: {}", self.pointer, self.message)
    }
}

/// Escapes one JSON pointer segment (RFC 6901): `~` becomes `~0`, `/` becomes `~1`.
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Reads and parses the OpenAPI document under `root`; a syntax error names
/// its line and column.
pub fn load(root: &Path) -> anyhow::Result<OpenAPI> {
    let text = fs::read_to_string(root.join(SPEC_PATH))
        .with_context(|| format!("cannot read {SPEC_PATH}"))?;
    parse(&text)
}

/// Parses an OpenAPI 3.0.x document from YAML or JSON text.
pub fn parse(text: &str) -> anyhow::Result<OpenAPI> {
    let api: OpenAPI = serde_yaml::from_str(text)
        .with_context(|| format!("{SPEC_PATH} is not a valid OpenAPI 3.0 document"))?;
    if !api.openapi.starts_with("3.0.") {
        return Err(SpecError::new(
            "/openapi",
            format!(
                "version {} is not supported; progenitor reads OpenAPI 3.0.x, so write 3.0.3",
                api.openapi
            ),
        )
        .into());
    }
    Ok(api)
}

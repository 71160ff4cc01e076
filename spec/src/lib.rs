//! The OpenAPI document of the system services API, embedded in the binary.

/// The OpenAPI 3.0.3 document, as YAML: the single source of truth for the
/// generated client, the server stubs and the mock server.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

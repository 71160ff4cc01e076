//! The OpenAPI documents of the system services API and of the mock's
//! control API, embedded in the binary.

/// The OpenAPI 3.0.3 document, as YAML: the single source of truth for the
/// generated client, the server stubs and the mock server.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// The OpenAPI 3.0.3 document of the mock's control API (`/__mock/...`), as
/// YAML: the source of the generated control client and server stubs.
pub const CONTROL_YAML: &str = include_str!("../control.yaml");

//! A typed model of the spec's operations: what the server emitter needs, and
//! nothing it cannot generate.
//!
//! Building the model is where unsupported constructs are rejected, each with
//! the JSON pointer of the construct and what to change.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, Operation as SpecOperation, ReferenceOr};

pub use super::bodies::{Body, DocumentedResponse, is_json_media_type, served_media_type};
use super::bodies::{body_model, check_one_body_per_class, response_body, responses};
use super::cycles;
use super::params::{self, Location, Param, ParamKind};
use super::security::{self, Requirement, Scheme};
use super::spec::{SpecError, escape_segment};

/// Extension that names an operation's JSON-RPC method.
const JSONRPC_EXTENSION: &str = "x-jsonrpc-method";

/// Extension that marks the operation serving JSON-RPC 2.0.
const JSONRPC_ENDPOINT_EXTENSION: &str = "x-jsonrpc-endpoint";

/// Extension of the endpoint mapping REST statuses to JSON-RPC error codes.
const JSONRPC_CODES_EXTENSION: &str = "x-jsonrpc-error-codes";

/// The operations of the spec and its JSON-RPC endpoint, if any.
#[derive(Debug)]
pub struct Model {
    pub operations: Vec<Operation>,
    pub jsonrpc: Option<JsonRpcEndpoint>,
    /// Every security scheme that a requirement names, by name.
    pub schemes: BTreeMap<String, Scheme>,
    /// Whether `authenticate` takes `Credentials` of several schemes,
    /// rather than the `ApiKey` of the spec's one apiKey header scheme.
    pub credentials: bool,
    /// Whether `authenticate` with an `ApiKey` returns a `types::Error`,
    /// sent as the operation's 401 variant, because every secured operation
    /// documents a 401 whose schema is `Error`. Otherwise it returns a
    /// `Rejection`, sent as it is.
    pub typed_key_error: bool,
}

/// The operation marked `x-jsonrpc-endpoint: true`.
#[derive(Debug)]
pub struct JsonRpcEndpoint {
    pub path: String,
    /// Header that carries the API key, checked once per HTTP request.
    pub api_key_header: Option<String>,
    /// JSON-RPC error code of each REST status.
    pub error_codes: BTreeMap<u16, i64>,
}

/// One operation of the spec.
#[derive(Debug)]
pub struct Operation {
    /// The `operationId`, a snake_case Rust identifier.
    pub name: String,
    /// HTTP method in upper case, such as `POST`.
    pub method: String,
    /// Path template with `{name}` parameters, as written in the spec.
    pub path: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub jsonrpc_method: Option<String>,
    /// Path, query and header parameters, in the spec's order.
    pub params: Vec<Param>,
    /// The security requirement, unless the operation checks none.
    pub security: Option<Requirement>,
    /// The API key of the operation, when the spec's one scheme is an
    /// apiKey header (`Model::credentials` is false).
    pub api_key: Option<ApiKeyAuth>,
    pub body: Option<Body>,
    /// Documented responses, ordered by status.
    pub responses: Vec<DocumentedResponse>,
    /// The `default` response, whose `status` is 0, because the
    /// implementation picks the status of each response.
    pub default_response: Option<DocumentedResponse>,
    /// JSON pointer of the operation.
    pub pointer: String,
}

impl Operation {
    /// Returns the path parameters, in the spec's order.
    pub fn path_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|param| param.location == Location::Path)
    }
}

/// An API key sent in a header, from the operation's security requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyAuth {
    pub header: String,
    /// Whether a request without the key is also allowed, because the
    /// requirement lists the empty alternative `{}`.
    pub optional: bool,
}

/// Returns whether `operation` is the JSON-RPC endpoint.
pub fn is_jsonrpc_endpoint(operation: &SpecOperation) -> bool {
    operation.extensions.get(JSONRPC_ENDPOINT_EXTENSION) == Some(&serde_json::Value::Bool(true))
}

/// Builds the model: every operation, in path and method order, and the
/// JSON-RPC endpoint, which must exist when an operation names a method.
///
/// `strict` also requires each operation to document the 400 and 401
/// responses that the router sends, as this workspace's specs do.
pub fn build(api: &OpenAPI, strict: bool) -> Result<Model, SpecError> {
    cycles::check_self_wrapping(api)?;
    let mut operations = Vec::new();
    let mut jsonrpc = None;
    let mut schemes = BTreeMap::new();
    let mut templates = BTreeMap::new();
    for (path, item) in api.paths.iter() {
        let item_pointer = format!("/paths/{}", escape_segment(path));
        if let Some(first) = templates.insert(template_shape(path), path) {
            return Err(SpecError::new(
                item_pointer,
                format!(
                    "path `{path}` differs from `{first}` only in its parameter names, so \
                     OpenAPI treats them as the same path; move its operations to `{first}`"
                ),
            ));
        }
        let item = match item {
            ReferenceOr::Item(item) => item,
            ReferenceOr::Reference { .. } => {
                return Err(SpecError::new(
                    item_pointer,
                    "a $ref path item is not supported; write the path item in place",
                ));
            }
        };
        if !item.parameters.is_empty() {
            return Err(SpecError::new(
                format!("{item_pointer}/parameters"),
                "path-level parameters are not supported; declare them on each operation",
            ));
        }
        for (method, operation) in item.iter() {
            let pointer = format!("{item_pointer}/{method}");
            if !is_jsonrpc_endpoint(operation) {
                let model = operation_model(api, path, method, operation, pointer, &mut schemes)?;
                operations.push(model);
                continue;
            }
            if method != "post" {
                return Err(SpecError::new(
                    pointer,
                    "the JSON-RPC endpoint must be a POST",
                ));
            }
            if jsonrpc.is_some() {
                return Err(SpecError::new(
                    pointer,
                    "the spec has a second JSON-RPC endpoint",
                ));
            }
            let requirement = security::requirement(api, operation, &pointer, &mut schemes)?;
            jsonrpc = Some(JsonRpcEndpoint {
                path: path.clone(),
                // Filled in below, once every scheme is known.
                api_key_header: requirement.map(|_| String::new()),
                error_codes: error_codes(operation, &pointer)?,
            });
        }
    }

    let requirements: Vec<&Requirement> = operations
        .iter()
        .filter_map(|operation| operation.security.as_ref())
        .collect();
    let header = security::single_header(&schemes, &requirements);
    let credentials = header.is_none() && !schemes.is_empty();
    for operation in &mut operations {
        operation.api_key = match (&header, &operation.security) {
            (Some(header), Some(requirement)) => Some(ApiKeyAuth {
                header: header.clone(),
                optional: requirement.optional,
            }),
            _ => None,
        };
        if strict {
            require_status(
                &operation.responses,
                operation.api_key.is_some(),
                401,
                "rejected API keys",
                &operation.pointer,
            )?;
        }
    }
    if let Some(endpoint) = &mut jsonrpc
        && endpoint.api_key_header.is_some()
    {
        endpoint.api_key_header = match &header {
            Some(header) => Some(header.clone()),
            None => {
                return Err(SpecError::new(
                    format!("/paths/{}/post/security", escape_segment(&endpoint.path)),
                    "the JSON-RPC endpoint supports a spec whose one security scheme is an \
                     apiKey header",
                ));
            }
        };
    }
    if strict {
        for operation in &operations {
            let has_input = operation.body.is_some() || !operation.params.is_empty();
            require_status(
                &operation.responses,
                has_input,
                400,
                "requests that cannot be decoded",
                &operation.pointer,
            )?;
        }
    }

    check_jsonrpc_methods(&operations, jsonrpc.as_ref())?;
    let typed_key_error = operations
        .iter()
        .filter(|operation| operation.api_key.is_some())
        .all(|operation| operation.responses.iter().any(is_error_401));
    Ok(Model {
        operations,
        jsonrpc,
        schemes,
        credentials,
        typed_key_error,
    })
}

/// Returns `path` with each parameter name left out, such as `/a/{}/b` for
/// `/a/{id}/b`: paths with the same shape match the same requests.
fn template_shape(path: &str) -> String {
    let segments = path.split('/').map(|segment| {
        if segment.starts_with('{') && segment.ends_with('}') {
            "{}"
        } else {
            segment
        }
    });
    segments.collect::<Vec<_>>().join("/")
}

/// Returns whether `response` is a 401 whose JSON body is the `Error`
/// component schema, which typify names `types::Error`.
fn is_error_401(response: &DocumentedResponse) -> bool {
    let reference = match &response.schema {
        Some(ReferenceOr::Reference { reference }) => reference,
        _ => return false,
    };
    response.status == 401 && reference == "#/components/schemas/Error"
}

fn error_codes(operation: &SpecOperation, pointer: &str) -> Result<BTreeMap<u16, i64>, SpecError> {
    let codes_pointer = format!("{pointer}/{JSONRPC_CODES_EXTENSION}");
    let Some(serde_json::Value::Object(table)) = operation.extensions.get(JSONRPC_CODES_EXTENSION)
    else {
        return Err(SpecError::new(
            codes_pointer,
            "the JSON-RPC endpoint needs a map from REST status to JSON-RPC error code",
        ));
    };
    let mut codes = BTreeMap::new();
    for (status, code) in table {
        let (Ok(status), Some(code)) = (status.parse::<u16>(), code.as_i64()) else {
            return Err(SpecError::new(
                format!("{codes_pointer}/{}", escape_segment(status)),
                "expected an HTTP status mapped to an integer code",
            ));
        };
        codes.insert(status, code);
    }
    Ok(codes)
}

/// Checks that every JSON-RPC method is unique, has an endpoint, takes an
/// object body, and has a code for each documented error status.
fn check_jsonrpc_methods(
    operations: &[Operation],
    endpoint: Option<&JsonRpcEndpoint>,
) -> Result<(), SpecError> {
    let mut seen = BTreeMap::new();
    for operation in operations {
        let Some(method) = &operation.jsonrpc_method else {
            continue;
        };
        let pointer = &operation.pointer;
        let extension_pointer = format!("{pointer}/{JSONRPC_EXTENSION}");
        if let Some(first) = seen.insert(method.clone(), pointer.clone()) {
            return Err(SpecError::new(
                extension_pointer,
                format!("JSON-RPC method `{method}` is also the method of {first}"),
            ));
        }
        if let Some(param) = operation
            .params
            .iter()
            .find(|param| param.location != Location::Path)
        {
            return Err(SpecError::new(
                extension_pointer,
                format!(
                    "parameter `{}` is not in the path, and JSON-RPC params are path parameters \
                     and body fields only; move it into the body",
                    param.name
                ),
            ));
        }
        if let Some(param) = operation
            .path_params()
            .find(|param| !matches!(param.kind, ParamKind::String { .. }))
        {
            return Err(SpecError::new(
                param_pointer(param),
                format!(
                    "path parameter `{}` is not a string, and JSON-RPC params read path \
                     parameters as strings only; make it a string or move it into the body",
                    param.name
                ),
            ));
        }
        if let Some(response) = &operation.default_response {
            return Err(SpecError::new(
                &response.pointer,
                "a JSON-RPC method needs an explicit status for each response",
            ));
        }
        if let Some(body) = operation.body.as_ref().filter(|body| body.form) {
            return Err(SpecError::new(
                &body.pointer,
                "a JSON-RPC method needs a JSON request body, whose fields become params",
            ));
        }
        if let Some(response) = operation
            .responses
            .iter()
            .find(|response| response.raw_media_type.is_some())
        {
            return Err(SpecError::new(
                &response.pointer,
                "a JSON-RPC method needs JSON responses",
            ));
        }
        let Some(endpoint) = endpoint else {
            return Err(SpecError::new(
                extension_pointer,
                format!("add an operation with `{JSONRPC_ENDPOINT_EXTENSION}: true` to serve it"),
            ));
        };
        if operation
            .body
            .as_ref()
            .is_some_and(|body| body.object.is_none())
        {
            return Err(SpecError::new(
                extension_pointer,
                "a JSON-RPC method needs an object request body, whose fields become params",
            ));
        }
        let fields = operation.body.iter().flat_map(|body| body.fields());
        if let Some(field) = fields
            .into_iter()
            .find(|field| operation.path_params().any(|param| param.name == *field))
        {
            return Err(SpecError::new(
                extension_pointer,
                format!(
                    "body field `{field}` has the name of a path parameter, so JSON-RPC params \
                     by name cannot tell them apart; rename one"
                ),
            ));
        }
        for response in operation.responses.iter().filter(|r| r.status >= 400) {
            if !endpoint.error_codes.contains_key(&response.status) {
                return Err(SpecError::new(
                    &response.pointer,
                    format!(
                        "status {} has no JSON-RPC error code in {JSONRPC_CODES_EXTENSION}",
                        response.status
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn operation_model(
    api: &OpenAPI,
    path: &str,
    method: &str,
    operation: &SpecOperation,
    pointer: String,
    schemes: &mut BTreeMap<String, Scheme>,
) -> Result<Operation, SpecError> {
    // `names::normalize_operation_ids` has given every operation a
    // snake_case identifier.
    let name = operation
        .operation_id
        .clone()
        .ok_or_else(|| SpecError::new(&pointer, "the operation has no operationId; add one"))?;

    let jsonrpc_method = match operation.extensions.get(JSONRPC_EXTENSION) {
        None => None,
        Some(serde_json::Value::String(method)) => Some(method.clone()),
        Some(_) => {
            return Err(SpecError::new(
                format!("{pointer}/{JSONRPC_EXTENSION}"),
                "the JSON-RPC method name must be a string",
            ));
        }
    };

    let params = params::build(api, &operation.parameters, &pointer)?;
    check_path_template(path, &params, &pointer)?;
    check_client_param_names(&params, operation.request_body.is_some())?;

    let responses = responses(api, operation, &pointer)?;
    let default_response = match &operation.responses.default {
        Some(response) => {
            let response_pointer = format!("{pointer}/responses/default");
            let response = resolve(api, response, &response_pointer, |components, name| {
                components.responses.get(name)
            })?;
            let (schema, raw_media_type) = response_body(response, &response_pointer)?;
            Some(DocumentedResponse {
                status: 0,
                description: response.description.clone(),
                schema,
                raw_media_type,
                pointer: response_pointer,
            })
        }
        None => None,
    };
    let security = security::requirement(api, operation, &pointer, schemes)?;
    let body = match &operation.request_body {
        Some(body) => Some(body_model(api, body, &format!("{pointer}/requestBody"))?),
        None => None,
    };
    check_one_body_per_class(&responses, default_response.as_ref())?;

    Ok(Operation {
        name,
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        summary: operation.summary.clone(),
        description: operation.description.clone(),
        jsonrpc_method,
        params,
        security,
        api_key: None,
        body,
        responses,
        default_response,
        pointer,
    })
}

/// Rust keywords, strict and reserved, which cannot name a method or field.
pub const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Checks that no two parameters of the client's operation method, which
/// progenitor names in snake_case, get the same name, and that none is
/// named `body` next to a request body. Cookie parameters are left out of
/// the client.
fn check_client_param_names(params: &[Param], has_body: bool) -> Result<(), SpecError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    if has_body {
        seen.insert("body".to_string(), "the request body".to_string());
    }
    for param in params
        .iter()
        .filter(|param| param.location != Location::Cookie)
    {
        let name = heck::ToSnakeCase::to_snake_case(param.name.as_str());
        let described = format!("parameter `{}`", param.name);
        if let Some(first) = seen.insert(name.clone(), described) {
            return Err(SpecError::new(
                param_pointer(param),
                format!(
                    "parameter `{}` and {first} both become `{name}` in the client; rename one",
                    param.name
                ),
            ));
        }
    }
    Ok(())
}

/// Returns the JSON pointer of a parameter, from that of its schema.
fn param_pointer(param: &Param) -> &str {
    param
        .pointer
        .strip_suffix("/schema")
        .unwrap_or(&param.pointer)
}

/// Checks that the path template names exactly the declared path parameters.
fn check_path_template(path: &str, params: &[Param], pointer: &str) -> Result<(), SpecError> {
    let mut in_template = Vec::new();
    for segment in path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            in_template.push(name);
        } else if segment.contains(['{', '}']) {
            return Err(SpecError::new(
                pointer,
                format!("path segment `{segment}` mixes text and a parameter; use whole segments"),
            ));
        }
    }
    let mut declared: Vec<&str> = params
        .iter()
        .filter(|param| param.location == Location::Path)
        .map(|param| param.name.as_str())
        .collect();
    in_template.sort_unstable();
    declared.sort_unstable();
    if in_template != declared {
        return Err(SpecError::new(
            format!("{pointer}/parameters"),
            format!(
                "the path template has parameters {in_template:?} but the operation declares {declared:?}"
            ),
        ));
    }
    Ok(())
}

fn require_status(
    responses: &[DocumentedResponse],
    needed: bool,
    status: u16,
    purpose: &str,
    pointer: &str,
) -> Result<(), SpecError> {
    if needed && !responses.iter().any(|response| response.status == status) {
        return Err(SpecError::new(
            format!("{pointer}/responses"),
            format!("document a {status} response: the router answers it for {purpose}"),
        ));
    }
    Ok(())
}

/// Resolves a local `#/components/<kind>/<name>` reference with `lookup`.
pub fn resolve<'a, T>(
    api: &'a OpenAPI,
    item: &'a ReferenceOr<T>,
    pointer: &str,
    lookup: impl Fn(&'a openapiv3::Components, &str) -> Option<&'a ReferenceOr<T>>,
) -> Result<&'a T, SpecError> {
    let reference = match item {
        ReferenceOr::Item(item) => return Ok(item),
        ReferenceOr::Reference { reference } => reference,
    };
    let name = reference
        .strip_prefix("#/components/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, name)| name)
        .ok_or_else(|| {
            SpecError::new(
                pointer,
                format!("$ref `{reference}` is not a local #/components/ reference"),
            )
        })?;
    match api.components.as_ref().and_then(|c| lookup(c, name)) {
        Some(ReferenceOr::Item(item)) => Ok(item),
        Some(ReferenceOr::Reference { .. }) => Err(SpecError::new(
            pointer,
            format!("$ref `{reference}` points to another $ref; point to the definition"),
        )),
        None => Err(SpecError::new(
            pointer,
            format!("$ref `{reference}` does not resolve"),
        )),
    }
}

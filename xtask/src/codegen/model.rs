//! A typed model of the spec's operations: what the server emitter needs, and
//! nothing it cannot generate.
//!
//! Building the model is where unsupported constructs are rejected, each with
//! the JSON pointer of the construct and what to change.

use std::collections::BTreeMap;

use openapiv3::{
    OpenAPI, Operation as SpecOperation, ReferenceOr, RequestBody, Schema, StatusCode,
};

use super::params::{self, Location, Param};
use super::security::{self, Requirement, Scheme};
use super::spec::{SpecError, escape_segment};

/// Media types of request bodies that the stubs pass on as bytes, as
/// progenitor's client sends them.
const RAW_REQUEST_MEDIA_TYPES: [&str; 2] = ["application/octet-stream", "text/plain"];

/// Returns whether a media type is JSON: `application/json` or
/// `application/<suffix>+json`, with any parameters such as `charset`.
pub fn is_json_media_type(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Returns the media type of a body or response that the stubs read or
/// send: the first JSON one, else the first one.
// NOTE: the other media types of a body are not served (the router sends
// 415), and those of a response are never sent.
pub fn served_media_type(
    content: &indexmap::IndexMap<String, openapiv3::MediaType>,
) -> Option<(&String, &openapiv3::MediaType)> {
    content
        .iter()
        .find(|(media_type, _)| is_json_media_type(media_type))
        .or_else(|| content.iter().next())
}

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

/// A request body: JSON, or raw bytes of another media type.
#[derive(Debug)]
pub struct Body {
    pub schema: ReferenceOr<Schema>,
    /// Media type of a body that is not JSON (`application/octet-stream` or
    /// `text/plain`), which the stubs pass on as bytes.
    pub raw_media_type: Option<String>,
    pub required: bool,
    pub pointer: String,
    /// The schema, resolved, when it is an object: its fields can then be
    /// JSON-RPC params.
    pub object: Option<ObjectSchema>,
}

/// The object schema of a request body and its JSON pointer.
#[derive(Debug)]
pub struct ObjectSchema {
    pub schema: openapiv3::ObjectType,
    pub pointer: String,
}

impl Body {
    /// Returns the properties of an object schema, in the spec's order.
    pub fn fields(&self) -> Vec<&str> {
        self.object
            .iter()
            .flat_map(|object| object.schema.properties.keys())
            .map(String::as_str)
            .collect()
    }

    /// Returns whether the schema is an object that forbids other properties.
    pub fn closed(&self) -> bool {
        self.object.as_ref().is_some_and(|object| {
            matches!(
                object.schema.additional_properties,
                Some(openapiv3::AdditionalProperties::Any(false))
            )
        })
    }
}

/// A documented response status and its body: a JSON schema, another
/// media type, or none.
#[derive(Debug)]
pub struct DocumentedResponse {
    pub status: u16,
    pub description: String,
    /// Schema of an `application/json` body.
    pub schema: Option<ReferenceOr<Schema>>,
    /// Media type of a body that is not JSON, such as `text/html`. The
    /// stubs pass such a body through as bytes.
    pub raw_media_type: Option<String>,
    pub pointer: String,
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
    let mut operations = Vec::new();
    let mut jsonrpc = None;
    let mut schemes = BTreeMap::new();
    for (path, item) in api.paths.iter() {
        let item_pointer = format!("/paths/{}", escape_segment(path));
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
    Ok(Model {
        operations,
        jsonrpc,
        schemes,
        credentials,
    })
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
        if let Some(response) = &operation.default_response {
            return Err(SpecError::new(
                &response.pointer,
                "a JSON-RPC method needs an explicit status for each response",
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

fn body_model(
    api: &OpenAPI,
    body: &ReferenceOr<RequestBody>,
    pointer: &str,
) -> Result<Body, SpecError> {
    let body = resolve(api, body, pointer, |components, name| {
        components.request_bodies.get(name)
    })?;
    let content_pointer = format!("{pointer}/content");
    let Some((media_type, content)) = served_media_type(&body.content) else {
        return Err(SpecError::new(
            content_pointer,
            "the request body needs a media type",
        ));
    };
    let media_pointer = format!("{content_pointer}/{}", escape_segment(media_type));
    let raw_media_type = if is_json_media_type(media_type) {
        None
    } else if RAW_REQUEST_MEDIA_TYPES.contains(&media_type.as_str()) {
        Some(media_type.clone())
    } else {
        return Err(SpecError::new(
            media_pointer,
            format!(
                "request media type `{media_type}` is not supported; the stubs read JSON, \
                 {}",
                RAW_REQUEST_MEDIA_TYPES.join(" or ")
            ),
        ));
    };
    let schema = content
        .schema
        .clone()
        .ok_or_else(|| SpecError::new(&media_pointer, "the media type has no schema"))?;
    let (resolved, resolved_pointer) = match &schema {
        ReferenceOr::Item(schema) => (Some(schema), format!("{pointer}/content")),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/schemas/");
            let schema = name
                .and_then(|name| api.components.as_ref()?.schemas.get(name))
                .and_then(ReferenceOr::as_item);
            let name = escape_segment(name.unwrap_or_default());
            (schema, format!("/components/schemas/{name}"))
        }
    };
    let object = match resolved.map(|schema| &schema.schema_kind) {
        Some(openapiv3::SchemaKind::Type(openapiv3::Type::Object(object))) => Some(ObjectSchema {
            schema: object.clone(),
            pointer: resolved_pointer,
        }),
        _ => None,
    };
    Ok(Body {
        schema,
        raw_media_type,
        required: body.required,
        pointer: pointer.to_string(),
        object,
    })
}

fn responses(
    api: &OpenAPI,
    operation: &SpecOperation,
    pointer: &str,
) -> Result<Vec<DocumentedResponse>, SpecError> {
    let responses_pointer = format!("{pointer}/responses");
    let mut documented = Vec::new();
    for (status, response) in &operation.responses.responses {
        let response_pointer = format!("{responses_pointer}/{status}");
        let status = match status {
            StatusCode::Code(code) => *code,
            StatusCode::Range(_) => {
                return Err(SpecError::new(
                    response_pointer,
                    "status ranges such as 4XX are not supported; document each status",
                ));
            }
        };
        if !(200..=599).contains(&status) {
            return Err(SpecError::new(
                response_pointer,
                format!("status {status} is not a final HTTP status between 200 and 599"),
            ));
        }
        let response = resolve(api, response, &response_pointer, |components, name| {
            components.responses.get(name)
        })?;
        let (schema, raw_media_type) = response_body(response, &response_pointer)?;
        documented.push(DocumentedResponse {
            status,
            description: response.description.clone(),
            schema,
            raw_media_type,
            pointer: response_pointer,
        });
    }
    documented.sort_by_key(|response| response.status);
    Ok(documented)
}

/// Returns the body of a response: the schema of a JSON one, or the media
/// type of another, or neither for a response without content.
fn response_body(
    response: &openapiv3::Response,
    pointer: &str,
) -> Result<(Option<ReferenceOr<Schema>>, Option<String>), SpecError> {
    let Some((media_type, content)) = served_media_type(&response.content) else {
        return Ok((None, None));
    };
    if !is_json_media_type(media_type) {
        return Ok((None, Some(media_type.clone())));
    }
    let media_pointer = format!("{pointer}/content/{}", escape_segment(media_type));
    if !content.encoding.is_empty() {
        return Err(SpecError::new(
            format!("{media_pointer}/encoding"),
            "`encoding` on a JSON response is not supported (progenitor rejects it); remove it",
        ));
    }
    let schema = content.schema.clone().ok_or_else(|| {
        SpecError::new(
            media_pointer,
            "the media type has no schema; add one, `{}` for any JSON",
        )
    })?;
    Ok((Some(schema), None))
}

/// Checks that the success responses (2xx) of an operation have one body,
/// and so do its error responses (4xx, 5xx and `default`): the same JSON
/// schema, or all another media type, or all none. progenitor's client
/// returns one type for each class and panics on a mix.
fn check_one_body_per_class(
    responses: &[DocumentedResponse],
    default_response: Option<&DocumentedResponse>,
) -> Result<(), SpecError> {
    let body = |response: &DocumentedResponse| match (&response.schema, &response.raw_media_type) {
        (Some(schema), _) => serde_json::to_value(schema).unwrap_or_default(),
        (None, Some(_)) => serde_json::Value::from("raw"),
        (None, None) => serde_json::Value::Null,
    };
    for (class, range) in [("success", 200..=299), ("error", 400..=599)] {
        let mut members = responses
            .iter()
            .filter(|r| range.contains(&r.status))
            .chain(default_response.filter(|_| class == "error"));
        let Some(first) = members.next() else {
            continue;
        };
        for response in members {
            if body(response) != body(first) {
                return Err(SpecError::new(
                    &response.pointer,
                    format!(
                        "every {class} response of an operation needs the same body, because \
                         progenitor decodes them into one type; use the body of {}",
                        match first.status {
                            0 => "the default response".to_string(),
                            status => format!("status {status}"),
                        }
                    ),
                ));
            }
        }
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

//! The embedded OpenAPI document, [`api_spec::OPENAPI_YAML`]: served at
//! `/openapi.yaml` and `/openapi.json`, and read once for the documented
//! examples that `Prefer` selects and the methods that CORS preflight
//! responses allow.

use std::fmt;
use std::sync::LazyLock;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_yaml::Value;
use system_services_server::Rejection;

/// Path of the spec as YAML, the embedded text unchanged.
pub const OPENAPI_YAML_PATH: &str = "/openapi.yaml";

/// Path of the spec as JSON.
pub const OPENAPI_JSON_PATH: &str = "/openapi.json";

/// Methods of the paths that serve the spec. axum also routes `HEAD` to a
/// `GET` route.
const DOCUMENT_METHODS: &str = "GET, HEAD";

static DOCUMENT: LazyLock<Document> = LazyLock::new(|| {
    Document::load(api_spec::OPENAPI_YAML)
        .unwrap_or_else(|error| panic!("spec/openapi.yaml cannot be loaded: {error}"))
});

/// Returns the embedded document, loaded on first use.
pub(crate) fn document() -> &'static Document {
    &DOCUMENT
}

/// The path templates of the routes that [`add_routes`] adds, each with
/// the `Allow` header value that axum gives a `GET` route.
pub(crate) const ROUTES: &[(&str, &str)] = &[
    (OPENAPI_YAML_PATH, "GET,HEAD"),
    (OPENAPI_JSON_PATH, "GET,HEAD"),
];

/// Adds the routes that serve the spec to `router`. Another method on
/// their paths gets the documented 405 body.
pub(crate) fn add_routes(router: axum::Router) -> axum::Router {
    // Load the document now, when the server starts, not on a request.
    LazyLock::force(&DOCUMENT);
    router
        .route(OPENAPI_YAML_PATH, get_only(serve_yaml))
        .route(OPENAPI_JSON_PATH, get_only(serve_json))
}

fn get_only<H, T>(handler: H) -> MethodRouter
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    get(handler).fallback(|method: Method| async move {
        Rejection::method_not_allowed(&method, vec![Method::GET, Method::HEAD]).into_response()
    })
}

async fn serve_yaml() -> Response {
    let content_type = HeaderValue::from_static("application/yaml");
    ([(CONTENT_TYPE, content_type)], api_spec::OPENAPI_YAML).into_response()
}

async fn serve_json() -> Response {
    let content_type = HeaderValue::from_static("application/json");
    ([(CONTENT_TYPE, content_type)], document().json.clone()).into_response()
}

/// The parts of the spec that the mock uses at run time.
///
/// The document is walked as `serde_yaml::Value`, whose mappings keep the
/// document's order, so "the first example" of a response is the first one
/// the spec lists. `serde_json::Value` sorts keys, because this workspace
/// builds `serde_json` without its `preserve_order` feature.
pub(crate) struct Document {
    /// The document as JSON, in the document's key order.
    json: Bytes,
    operations: Vec<Operation>,
    /// Each path template of the spec with its methods, for the
    /// `Access-Control-Allow-Methods` header of a preflight response.
    path_methods: Vec<(String, HeaderValue)>,
}

/// An operation: its path template and method, and its documented
/// responses in the document's order.
pub(crate) struct Operation {
    path: String,
    method: Method,
    /// Whether the operation is the JSON-RPC endpoint
    /// (`x-jsonrpc-endpoint: true`).
    pub jsonrpc_endpoint: bool,
    /// The JSON-RPC method that calls the operation (`x-jsonrpc-method`).
    jsonrpc_method: Option<String>,
    /// The JSON-RPC error code of each REST status, on the JSON-RPC
    /// endpoint (`x-jsonrpc-error-codes`).
    jsonrpc_error_codes: Vec<(StatusCode, i64)>,
    responses: Vec<DocumentedResponse>,
}

struct DocumentedResponse {
    status: StatusCode,
    examples: Vec<Example>,
}

/// A named example of a documented response, with its JSON body.
pub(crate) struct Example {
    pub status: StatusCode,
    pub name: String,
    pub body: Bytes,
}

impl Example {
    /// Builds the response that sends the example: its status and its
    /// body as `application/json`.
    pub(crate) fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// Error of a spec that the mock cannot read, with the JSON pointer and the
/// reason.
#[derive(Debug)]
pub struct LoadError {
    pointer: String,
    message: String,
}

impl LoadError {
    /// Builds the error at the JSON pointer `pointer` (without the `#`).
    pub(crate) fn new(pointer: &str, message: impl Into<String>) -> Self {
        LoadError {
            pointer: pointer.to_string(),
            message: message.into(),
        }
    }
}

impl std::error::Error for LoadError {}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}: {}", self.pointer, self.message)
    }
}

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Document {
    /// Reads `yaml`, resolving `$ref`s inside the document.
    pub(crate) fn load(yaml: &str) -> Result<Self, LoadError> {
        let root: Value = serde_yaml::from_str(yaml).map_err(|error| LoadError {
            pointer: String::new(),
            message: format!("invalid YAML: {error}"),
        })?;
        Document::from_root(&root)
    }

    /// Reads the parsed document `root`, resolving `$ref`s inside it.
    pub(crate) fn from_root(root: &Value) -> Result<Self, LoadError> {
        let json = serde_json::to_vec_pretty(root).map_err(|error| LoadError {
            pointer: String::new(),
            message: format!("not representable as JSON: {error}"),
        })?;
        let mut operations = Vec::new();
        let mut path_methods = Vec::new();
        let paths = root.get("paths").and_then(Value::as_mapping);
        for (path, item) in paths.into_iter().flatten() {
            let Some(path) = path.as_str() else { continue };
            let item_pointer = format!("/paths/{}", pointer_token(path));
            let item = resolve(root, item, &item_pointer)?;
            let mut methods = Vec::new();
            for name in HTTP_METHODS {
                let Some(operation) = item.get(name) else {
                    continue;
                };
                let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                    .expect("an HTTP method name");
                let pointer = format!("{item_pointer}/{name}");
                operations.push(Operation::load(
                    root,
                    path,
                    method.clone(),
                    operation,
                    &pointer,
                )?);
                methods.push(method);
            }
            let methods: Vec<&str> = methods.iter().map(Method::as_str).collect();
            if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
                path_methods.push((path.to_string(), value));
            }
        }
        for path in [OPENAPI_YAML_PATH, OPENAPI_JSON_PATH] {
            path_methods.push((path.to_string(), HeaderValue::from_static(DOCUMENT_METHODS)));
        }
        Ok(Document {
            json: Bytes::from(json),
            operations,
            path_methods,
        })
    }

    /// Returns the operation at the route template `path` with `method`.
    pub(crate) fn operation(&self, path: &str, method: &Method) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|operation| operation.path == path && operation.method == method)
    }

    /// Returns the operation that the JSON-RPC method `name` calls.
    pub(crate) fn jsonrpc_operation(&self, name: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|operation| operation.jsonrpc_method.as_deref() == Some(name))
    }

    /// Returns the JSON-RPC error code that the JSON-RPC endpoint maps the
    /// REST `status` to.
    pub(crate) fn jsonrpc_error_code(&self, status: StatusCode) -> Option<i64> {
        self.operations
            .iter()
            .flat_map(|operation| &operation.jsonrpc_error_codes)
            .find(|(mapped, _)| *mapped == status)
            .map(|&(_, code)| code)
    }

    /// Returns the first documented example of `status`: the one of
    /// `operation` when it has one, and otherwise the first one of a REST
    /// operation, in the document's order.
    pub(crate) fn example_of<'a>(
        &'a self,
        status: StatusCode,
        operation: Option<&'a Operation>,
    ) -> Option<&'a Example> {
        let own = operation.and_then(|operation| operation.select(Some(status), None).ok());
        own.or_else(|| {
            self.operations
                .iter()
                .filter(|operation| !operation.jsonrpc_endpoint)
                .find_map(|operation| operation.select(Some(status), None).ok())
        })
    }

    /// Lists the error statuses (400 and above) that a REST operation
    /// documents with an example, in ascending order.
    pub(crate) fn error_statuses(&self) -> Vec<StatusCode> {
        let mut statuses: Vec<StatusCode> = self
            .operations
            .iter()
            .filter(|operation| !operation.jsonrpc_endpoint)
            .flat_map(|operation| &operation.responses)
            .filter(|response| response.status.as_u16() >= 400 && !response.examples.is_empty())
            .map(|response| response.status)
            .collect();
        statuses.sort();
        statuses.dedup();
        statuses
    }

    /// Returns the methods served at the route template `path`, as a
    /// header value such as `POST`, or none for a path the mock does not
    /// serve.
    pub(crate) fn methods(&self, path: &str) -> Option<&HeaderValue> {
        self.path_methods
            .iter()
            .find(|(template, _)| template == path)
            .map(|(_, methods)| methods)
    }
}

impl Operation {
    fn load(
        root: &Value,
        path: &str,
        method: Method,
        operation: &Value,
        pointer: &str,
    ) -> Result<Self, LoadError> {
        let jsonrpc_endpoint = operation.get("x-jsonrpc-endpoint") == Some(&Value::Bool(true));
        let jsonrpc_method = operation
            .get("x-jsonrpc-method")
            .and_then(Value::as_str)
            .map(str::to_string);
        let jsonrpc_error_codes = load_error_codes(operation, pointer)?;
        let mut responses = Vec::new();
        let documented = operation.get("responses").and_then(Value::as_mapping);
        for (key, response) in documented.into_iter().flatten() {
            let key = match key {
                Value::String(key) => key.clone(),
                Value::Number(number) => number.to_string(),
                _ => continue,
            };
            // Ranges such as `4XX` and `default` name no single status.
            let Some(status) = key
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
            else {
                continue;
            };
            let pointer = format!("{pointer}/responses/{key}");
            let response = resolve(root, response, &pointer)?;
            let examples = load_examples(root, status, response, &pointer)?;
            responses.push(DocumentedResponse { status, examples });
        }
        Ok(Operation {
            path: path.to_string(),
            method,
            jsonrpc_endpoint,
            jsonrpc_method,
            jsonrpc_error_codes,
            responses,
        })
    }

    /// Lists the documented statuses, such as `200, 400, 401`.
    fn statuses(&self) -> String {
        let statuses: Vec<&str> = self
            .responses
            .iter()
            .map(|response| response.status.as_str())
            .collect();
        statuses.join(", ")
    }

    /// Returns the example that `status` and `name` select: the first
    /// example of `status`, the example `name` of the first status that has
    /// one, or the example `name` of `status`. The error explains why none
    /// matches, in words for the client.
    pub(crate) fn select(
        &self,
        status: Option<StatusCode>,
        name: Option<&str>,
    ) -> Result<&Example, String> {
        let Some(status) = status else {
            let name = name.unwrap_or_default();
            let mut examples = self.responses.iter().flat_map(|r| r.examples.iter());
            return examples
                .find(|example| example.name == name)
                .ok_or_else(|| match self.example_names() {
                    names if names.is_empty() => {
                        format!(
                            "Example `{name}` is not documented: this operation has no examples"
                        )
                    }
                    names => format!(
                        "Example `{name}` is not documented for this operation; documented: {names}"
                    ),
                });
        };
        let Some(response) = self.responses.iter().find(|r| r.status == status) else {
            return Err(format!(
                "Status {} is not documented for this operation; documented: {}",
                status.as_u16(),
                self.statuses()
            ));
        };
        let names = || {
            let names: Vec<&str> = response.examples.iter().map(|e| e.name.as_str()).collect();
            names.join(", ")
        };
        match name {
            None => response.examples.first().ok_or_else(|| {
                format!(
                    "Status {} is documented without an example",
                    status.as_u16()
                )
            }),
            Some(name) => response
                .examples
                .iter()
                .find(|example| example.name == name)
                .ok_or_else(|| {
                    if response.examples.is_empty() {
                        format!(
                            "Status {} is documented without an example",
                            status.as_u16()
                        )
                    } else {
                        format!(
                            "Status {} has no example `{name}`; its examples: {}",
                            status.as_u16(),
                            names()
                        )
                    }
                }),
        }
    }

    /// Lists every example name of the operation, in the document's order.
    fn example_names(&self) -> String {
        let names: Vec<&str> = self
            .responses
            .iter()
            .flat_map(|response| response.examples.iter())
            .map(|example| example.name.as_str())
            .collect();
        names.join(", ")
    }
}

/// Reads an operation's `x-jsonrpc-error-codes`, a mapping of REST
/// statuses to JSON-RPC error codes.
fn load_error_codes(operation: &Value, pointer: &str) -> Result<Vec<(StatusCode, i64)>, LoadError> {
    let Some(mapping) = operation.get("x-jsonrpc-error-codes") else {
        return Ok(Vec::new());
    };
    let pointer = format!("{pointer}/x-jsonrpc-error-codes");
    let fail = |message: String| LoadError {
        pointer: pointer.clone(),
        message,
    };
    let mapping = mapping
        .as_mapping()
        .ok_or_else(|| fail("expected a mapping of statuses to codes".to_string()))?;
    let mut codes = Vec::new();
    for (key, code) in mapping {
        let key = match key {
            Value::String(key) => key.clone(),
            Value::Number(number) => number.to_string(),
            _ => return Err(fail(format!("{key:?} is not an HTTP status"))),
        };
        let status = key
            .parse::<u16>()
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| fail(format!("`{key}` is not an HTTP status")))?;
        let code = code
            .as_i64()
            .ok_or_else(|| fail(format!("the code of `{key}` is not an integer")))?;
        codes.push((status, code));
    }
    Ok(codes)
}

/// Reads the examples of a response's `application/json` content: each
/// entry of `examples` with a `value`, or a single `example`, named
/// `example`.
fn load_examples(
    root: &Value,
    status: StatusCode,
    response: &Value,
    pointer: &str,
) -> Result<Vec<Example>, LoadError> {
    let Some(media) = response
        .get("content")
        .and_then(|content| content.get("application/json"))
    else {
        return Ok(Vec::new());
    };
    let pointer = format!("{pointer}/content/application~1json");
    let body = |value: &Value, pointer: &str| {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|error| LoadError {
                pointer: pointer.to_string(),
                message: format!("example is not representable as JSON: {error}"),
            })
    };
    let mut examples = Vec::new();
    if let Some(named) = media.get("examples").and_then(Value::as_mapping) {
        for (name, example) in named {
            let Some(name) = name.as_str() else { continue };
            let pointer = format!("{pointer}/examples/{}", pointer_token(name));
            let example = resolve(root, example, &pointer)?;
            let Some(value) = example.get("value") else {
                continue;
            };
            examples.push(Example {
                status,
                name: name.to_string(),
                body: body(value, &pointer)?,
            });
        }
    } else if let Some(value) = media.get("example") {
        examples.push(Example {
            status,
            name: "example".to_string(),
            body: body(value, &format!("{pointer}/example"))?,
        });
    }
    Ok(examples)
}

/// Follows `value`'s `$ref`, and the `$ref` of its target, to an object
/// in the document. `pointer` locates `value`, for the error.
fn resolve<'a>(root: &'a Value, value: &'a Value, pointer: &str) -> Result<&'a Value, LoadError> {
    let mut current = value;
    for _ in 0..16 {
        let Some(reference) = current.get("$ref") else {
            return Ok(current);
        };
        let fail = |message: String| LoadError {
            pointer: pointer.to_string(),
            message,
        };
        let target = reference
            .as_str()
            .and_then(|reference| reference.strip_prefix('#'))
            .ok_or_else(|| {
                fail(format!(
                    "only references inside the document resolve: {reference:?}"
                ))
            })?;
        current = lookup(root, target)
            .ok_or_else(|| fail(format!("reference #{target} does not resolve")))?;
    }
    Err(LoadError {
        pointer: pointer.to_string(),
        message: "more than 16 references in a chain".to_string(),
    })
}

/// Finds the value at the JSON pointer `pointer` (without the `#`).
fn lookup<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    let mut current = root;
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        current = match current {
            Value::Mapping(mapping) => mapping.get(token.as_str())?,
            Value::Sequence(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Escapes `~` and `/` for a JSON pointer token.
fn pointer_token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REST_PATH: &str = "/system/services/active/{system_services_id}/terminate";

    fn rest_operation() -> &'static Operation {
        document()
            .operation(REST_PATH, &Method::POST)
            .expect("the terminate operation")
    }

    #[test]
    fn embedded_spec_loads() {
        let document = document();
        assert_eq!(document.operations.len(), 2);
        assert!(
            document
                .operation("/jsonrpc", &Method::POST)
                .unwrap()
                .jsonrpc_endpoint
        );
        assert!(!rest_operation().jsonrpc_endpoint);
        assert_eq!(document.methods(REST_PATH).unwrap(), "POST");
        assert_eq!(document.methods(OPENAPI_JSON_PATH).unwrap(), "GET, HEAD");
        assert!(document.methods("/unknown").is_none());
    }

    #[test]
    fn json_equals_yaml() {
        let from_json: serde_json::Value = serde_json::from_slice(&document().json).unwrap();
        let from_yaml: serde_json::Value = serde_yaml::from_str(api_spec::OPENAPI_YAML).unwrap();
        assert_eq!(from_json, from_yaml);
    }

    #[test]
    fn first_example_follows_document_order() {
        let example = rest_operation()
            .select(Some(StatusCode::NOT_FOUND), None)
            .unwrap();
        assert_eq!(example.name, "unknown_service");
        let body: serde_json::Value = serde_json::from_slice(&example.body).unwrap();
        assert_eq!(body["error"]["data"]["object_id"], "mailer");
    }

    #[test]
    fn example_name_selects_across_statuses() {
        let example = rest_operation().select(None, Some("flagged")).unwrap();
        assert_eq!(
            (example.status, &example.body[..]),
            (StatusCode::OK, &b"3"[..])
        );
        let example = rest_operation().select(None, Some("unknown_node")).unwrap();
        assert_eq!(example.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn example_name_without_examples_says_so() {
        let yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      \
                    responses:\n        '200':\n          description: Fine.\n";
        let document = Document::load(yaml).expect("a valid document");
        let operation = document.operation("/a", &Method::GET).expect("GET /a");
        let error = operation.select(None, Some("nope")).err().unwrap();
        assert_eq!(
            error,
            "Example `nope` is not documented: this operation has no examples"
        );
    }

    #[test]
    fn selection_errors_list_documented_values() {
        let operation = rest_operation();
        let teapot = StatusCode::IM_A_TEAPOT;
        let error = operation.select(Some(teapot), None).err().unwrap();
        assert_eq!(
            error,
            "Status 418 is not documented for this operation; \
             documented: 200, 400, 401, 404, 408, 413, 415, 422, 500"
        );
        let error = operation.select(None, Some("nope")).err().unwrap();
        assert!(
            error.starts_with(
                "Example `nope` is not documented for this operation; documented: flagged, repeated, empty_node"
            ),
            "{error}"
        );
        let error = operation
            .select(Some(StatusCode::NOT_FOUND), Some("flagged"))
            .err()
            .unwrap();
        assert_eq!(
            error,
            "Status 404 has no example `flagged`; its examples: unknown_service, unknown_node"
        );
    }

    #[test]
    fn unresolved_reference_names_pointer() {
        let yaml = "paths:\n  /a:\n    post:\n      responses:\n        '200': {$ref: '#/components/responses/Missing'}\n";
        let error = Document::load(yaml).err().unwrap().to_string();
        assert_eq!(
            error,
            "#/paths/~1a/post/responses/200: reference #/components/responses/Missing does not resolve"
        );
    }
}

//! The mock of another OpenAPI 3.0 document, loaded at start-up
//! (`mock-server --spec FILE`) and interpreted at run time.
//!
//! Each request is routed by the document's path templates and methods.
//! Then its security requirement is checked (a 401), the media type of its
//! body (a 415), and its parameters and JSON or form body (a 400 naming
//! each invalid field). A valid request gets the documented example of
//! the lowest 2xx status, or a value generated from its schema with the
//! seed of [`AnySpec::load`], with that response's documented headers.
//! `Prefer: code=` selects the response of another status, its range or
//! `default`, and `example=` a named example, as for the mock's own
//! document. A request with such a selection gets it right after the
//! security check, so its body and parameters are not checked.
//!
//! The mock's own operations, the spec at `/openapi.yaml` and the control
//! API stay served, and come first: an operation of the loaded document at
//! one of their paths, such as the terminate operation, keeps its stateful
//! implementation.

mod decode;
mod generate;
mod headers;
mod load;
mod validate;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{ACCESS_CONTROL_ALLOW_HEADERS, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use system_services_server::{MAX_BODY_BYTES, Rejection};
use tower_service::Service;

use crate::cors::{self, ALLOWED_HEADERS, Cors};
use crate::journal::Secrets;
use crate::sessions::{SESSION_HEADER, SessionError, session_limit_message};
use crate::spec::{Document, LoadError};
use crate::{MockApi, prefer, telemetry};
use load::{
    Credential, DocumentedResponse, Loader, Location, Operation, ResponseKey, essence, is_json,
};
use openapi_schema::{Direction, structure};

/// A loaded OpenAPI 3.0 document, ready to serve.
pub struct AnySpec {
    routes: Vec<Route>,
    /// The documented examples, for `Prefer` selections.
    examples: Document,
}

/// The decoded values of a path template's expressions, by name.
type PathValues = Vec<(String, String)>;

/// A path template with the operations at it.
struct Route {
    template: Arc<str>,
    segments: Vec<Segment>,
    operations: Vec<ServedOperation>,
    /// `Access-Control-Allow-Headers` of a preflight response: the
    /// mock's own [`ALLOWED_HEADERS`], the header parameters and the
    /// credential headers of the operations.
    allowed_headers: HeaderValue,
}

/// A segment of a path template.
enum Segment {
    Literal(String),
    /// A segment with a template expression, such as `{id}` or
    /// `{id}.json`.
    Parameter {
        prefix: String,
        name: String,
        suffix: String,
    },
}

struct ServedOperation {
    operation: Operation,
    /// The body of each of `operation.responses`, in the same order.
    answers: Vec<Answer>,
}

/// The body and headers of a documented response, prepared at start-up.
struct Answer {
    content_type: Option<HeaderValue>,
    /// None for a response documented without content.
    body: Option<Bytes>,
    /// The named `examples` of a JSON media type, as JSON text, in the
    /// document's order.
    examples: Vec<(String, Bytes)>,
    headers: headers::DocumentedHeaders,
}

impl AnySpec {
    /// Loads an OpenAPI 3.0 document from YAML or JSON `text`, and prepares
    /// the body of each documented response. `seed` sets the values
    /// generated for responses documented without an example.
    ///
    /// # Errors
    ///
    /// Returns the JSON pointer and the reason when the text is not YAML
    /// or JSON, the document is not OpenAPI 3.0, a `$ref` does not
    /// resolve, a schema does not compile, a security scheme is not
    /// defined, or a path parameter is not in its path template. The
    /// checks of [`openapi_schema::structure::check_paths`] fail it too.
    ///
    /// ```
    /// let yaml = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n";
    /// let error = mock_server::AnySpec::load(yaml, 7).err().unwrap();
    /// assert!(error.to_string().starts_with("#/openapi: OpenAPI 3.1.0 is not supported"));
    /// ```
    pub fn load(text: &str, seed: u64) -> Result<Self, LoadError> {
        // A UTF-8 byte order mark is no part of the YAML or JSON text.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut yaml: serde_yaml::Value = serde_yaml::from_str(text)
            .map_err(|error| LoadError::new("", format!("invalid YAML or JSON: {error}")))?;
        openapi_schema::yaml::apply_merge_keys(&mut yaml)
            .map_err(|error| LoadError::new(&error.pointer, error.message))?;
        let document: Value = serde_json::to_value(&yaml)
            .map_err(|error| LoadError::new("", format!("not representable as JSON: {error}")))?;
        check_version(&document)?;
        structure::check_paths(&document)
            .map_err(|error| LoadError::new(&error.pointer, error.message))?;
        let loader = Loader::new(&document);
        let operations = loader.operations()?;
        let examples = Document::from_root(&yaml)?;

        let mut routes: Vec<Route> = Vec::new();
        for operation in operations {
            let answers = operation
                .responses
                .iter()
                .map(|response| answer(&loader, &examples, &operation, response, seed))
                .collect::<Result<_, _>>()?;
            let served = ServedOperation { operation, answers };
            match routes
                .iter_mut()
                .find(|route| *route.template == served.operation.template)
            {
                Some(route) => route.operations.push(served),
                None => routes.push(Route {
                    template: Arc::from(served.operation.template.as_str()),
                    segments: segments(&served.operation.template),
                    operations: vec![served],
                    allowed_headers: HeaderValue::from_static(ALLOWED_HEADERS),
                }),
            }
        }
        for route in &mut routes {
            route.allowed_headers = allowed_headers(&route.operations);
        }
        Ok(AnySpec { routes, examples })
    }

    /// Returns the names of the apiKey credentials that the operations
    /// take in a header or the query, which the journal redacts. Cookies
    /// are redacted whole.
    pub(crate) fn secrets(&self) -> Secrets {
        let mut secrets = Secrets::default();
        let credentials = self
            .routes
            .iter()
            .flat_map(|route| &route.operations)
            .flat_map(|served| &served.operation.security)
            .flatten();
        for credential in credentials {
            let Credential::ApiKey { location, name } = credential else {
                continue;
            };
            match location {
                Location::Header => {
                    if let Ok(header) = HeaderName::from_bytes(name.as_bytes())
                        && !secrets.headers.contains(&header)
                    {
                        secrets.headers.push(header);
                    }
                }
                Location::Query if !secrets.query.contains(name) => {
                    secrets.query.push(name.clone());
                }
                _ => {}
            }
        }
        secrets
    }

    /// Returns the number of operations of the document.
    pub fn operation_count(&self) -> usize {
        self.routes.iter().map(|route| route.operations.len()).sum()
    }

    /// Finds the route of `path`, preferring the template with the most
    /// literal segments, with the decoded values of its expressions.
    fn find(&self, path: &str) -> Option<(&Route, PathValues)> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut best: Option<(&Route, PathValues, usize)> = None;
        for route in &self.routes {
            let Some(values) = route.matches(&parts) else {
                continue;
            };
            let literals = route
                .segments
                .iter()
                .filter(|segment| matches!(segment, Segment::Literal(_)))
                .count();
            if best.as_ref().is_none_or(|(_, _, most)| literals > *most) {
                best = Some((route, values, literals));
            }
        }
        best.map(|(route, values, _)| (route, values))
    }

    /// Returns whether a request with `method`, `headers` and `uri` from
    /// `peer` satisfies the security requirement of its operation in the
    /// document, or none when the document has no such operation.
    pub(crate) fn accepts(
        &self,
        api: &MockApi,
        peer: Option<IpAddr>,
        method: &Method,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Option<bool> {
        let (route, _) = self.find(uri.path())?;
        let served = route.operation(method)?;
        let checked = validate::check_security(&served.operation, api, peer, headers, uri);
        Some(checked.is_ok())
    }

    /// Stores the path template of `request` for its log line when its
    /// path is in the document. Returns the response to a CORS preflight
    /// request to that path from an origin that `cors` allows: the 204
    /// that the mock sends on its own paths.
    pub(crate) fn route_request(&self, cors: Option<&Cors>, request: &Request) -> Option<Response> {
        let (route, _) = self.find(request.uri().path())?;
        telemetry::note_loaded_route(&route.template);
        let mut response = cors::preflight_with(cors?, request, |_| route.methods())?;
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_HEADERS, route.allowed_headers.clone());
        Some(response)
    }

    /// Responds to `request`, or passes it to `fallback` when its path is
    /// not in the document.
    async fn respond(
        &self,
        api: &MockApi,
        mut fallback: axum::Router,
        request: Request,
    ) -> Response {
        let Some((route, path_values)) = self.find(request.uri().path()) else {
            return match fallback.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        };
        let method = request.method();
        let Some(served) = route.operation(method) else {
            let allow = route
                .operations
                .iter()
                .map(|served| served.operation.method.clone())
                .collect();
            return Rejection::method_not_allowed(method, allow).into_response();
        };
        let operation = &served.operation;
        tracing::debug!(
            route = %operation.template,
            operation_id = operation.operation_id.as_deref(),
            pointer = %operation.pointer,
            "request to the loaded spec"
        );

        let (parts, body) = request.into_parts();
        let peer = telemetry::client_address_of(&parts.extensions).map(|address| address.ip());
        if let Err(rejection) =
            validate::check_security(operation, api, peer, &parts.headers, &parts.uri)
        {
            return rejection.into_response();
        }
        if let Err(rejection) = start_session(api, &parts.headers) {
            return rejection.into_response();
        }

        // As on the mock's own operations, a `Prefer` selection is sent
        // without reading or checking the body and the parameters.
        let examples = self
            .examples
            .operation(&operation.template, &operation.method);
        if let Some(selected) = prefer::respond_to_loaded(&parts.headers, examples, served) {
            return selected;
        }

        let body = match read_body(&parts.headers, body).await {
            Ok(body) => body,
            Err(rejection) => return rejection.into_response(),
        };
        let mut invalid = BTreeMap::new();
        if let Err(rejection) = validate::check_body(operation, &parts.headers, &body, &mut invalid)
        {
            return rejection.into_response();
        }
        validate::check_parameters(
            operation,
            &path_values,
            &parts.headers,
            &parts.uri,
            &mut invalid,
        );
        if !invalid.is_empty() {
            let fields: Vec<&str> = invalid.keys().map(String::as_str).collect();
            tracing::debug!(
                route = %operation.template,
                invalid = %fields.join(", "),
                "request rejected by the loaded spec"
            );
            return Rejection {
                status: StatusCode::BAD_REQUEST,
                message: "Invalid request".to_string(),
                data: invalid,
                allow: Vec::new(),
            }
            .into_response();
        }

        served.chosen_response()
    }

    /// Returns the response of a `status` fault on the operation of the
    /// document that `method` and `uri` name: the operation's documented
    /// response of that status, else the mock's error body. Returns none
    /// when the document has no such operation.
    pub(crate) fn fault_response(
        &self,
        method: &Method,
        uri: &Uri,
        status: StatusCode,
    ) -> Option<Response> {
        let (route, _) = self.find(uri.path())?;
        let served = route.operation(method)?;
        let response = served
            .status_response(status)
            .unwrap_or_else(|_| crate::faults::error_response(status));
        Some(response)
    }
}

impl ServedOperation {
    /// Returns the index of the response documented for `status` itself.
    fn exact(&self, status: StatusCode) -> Option<usize> {
        let responses = &self.operation.responses;
        responses
            .iter()
            .position(|response| response.key == ResponseKey::Status(status))
    }

    /// Returns the index of the response that covers `status` without
    /// naming it: its range (`4XX`), else `default`.
    fn covering(&self, status: StatusCode) -> Option<usize> {
        let responses = &self.operation.responses;
        let range = responses.iter().position(|response| {
            matches!(response.key, ResponseKey::Range(_)) && response.key.covers(status)
        });
        range.or_else(|| {
            responses
                .iter()
                .position(|response| response.key == ResponseKey::Default)
        })
    }

    /// Builds the response to a valid request without `Prefer`.
    fn chosen_response(&self) -> Response {
        let chosen = self.operation.chosen;
        let status = self.operation.responses[chosen].key.status();
        self.answers[chosen].response(status)
    }

    /// Builds the response of `status`, sent with that status: the
    /// operation's response documented for it, else for its range (`4XX`),
    /// else `default`. The error lists the documented keys.
    fn status_response(&self, status: StatusCode) -> Result<Response, String> {
        let responses = &self.operation.responses;
        let exact = self.exact(status);
        match exact.or_else(|| self.covering(status)) {
            Some(index) => Ok(self.answers[index].response(status)),
            None => {
                let keys: Vec<String> = responses.iter().map(|r| r.key.to_string()).collect();
                Err(format!(
                    "Status {} is not documented for this operation; documented: {}",
                    status.as_u16(),
                    keys.join(", ")
                ))
            }
        }
    }
}

impl prefer::LoadedResponses for ServedOperation {
    fn by_status(&self, status: StatusCode) -> Result<Response, String> {
        self.status_response(status)
    }

    fn covered_example(&self, status: StatusCode, name: &str) -> Option<Result<Response, String>> {
        if self.exact(status).is_some() {
            return None;
        }
        let index = self.covering(status)?;
        let key = &self.operation.responses[index].key;
        let answer = &self.answers[index];
        let found = answer.examples.iter().find(|(example, _)| example == name);
        let result = match found {
            Some((_, body)) => {
                Ok(answer.response_with_body(status, answer.content_type.clone(), body.clone()))
            }
            None if answer.examples.is_empty() => Err(format!(
                "Status {} is documented by `{key}` without a named example",
                status.as_u16()
            )),
            None => {
                let names: Vec<&str> = answer
                    .examples
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect();
                Err(format!(
                    "Status {} has no example `{name}`; the examples of `{key}`: {}",
                    status.as_u16(),
                    names.join(", ")
                ))
            }
        };
        Some(result)
    }
}

/// Starts the session that `X-Mock-Session` names, as a request to the
/// mock's own operations does, so that a misspelt name is a 400 naming the
/// header rather than a request on the shared state.
fn start_session(api: &MockApi, headers: &HeaderMap) -> Result<(), Rejection> {
    let (status, message, data) = match api.sessions().for_headers(headers) {
        Ok(_) => return Ok(()),
        Err(SessionError::InvalidName(message)) => (
            StatusCode::BAD_REQUEST,
            "Invalid request".to_string(),
            BTreeMap::from([(SESSION_HEADER.to_string(), message)]),
        ),
        Err(SessionError::LimitReached(limit)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            session_limit_message(limit),
            BTreeMap::from([("limit".to_string(), limit.to_string())]),
        ),
    };
    Err(Rejection {
        status,
        message,
        data,
        allow: Vec::new(),
    })
}

/// Serves the operations of `spec` in front of `fallback`, which gets the
/// requests to other paths.
pub(crate) fn router(
    spec: Arc<AnySpec>,
    api: Arc<MockApi>,
    fallback: axum::Router,
) -> axum::Router {
    axum::Router::new().fallback(move |request: Request| {
        let (spec, api, fallback) = (spec.clone(), api.clone(), fallback.clone());
        async move { spec.respond(&api, fallback, request).await }
    })
}

impl Route {
    /// Returns the operation of `method`. A HEAD request without its own
    /// operation gets the GET one, whose response body hyper leaves out.
    fn operation(&self, method: &Method) -> Option<&ServedOperation> {
        let own = self
            .operations
            .iter()
            .find(|served| served.operation.method == method);
        own.or_else(|| {
            let mut gets = self
                .operations
                .iter()
                .filter(|served| served.operation.method == Method::GET);
            gets.find(|_| method == Method::HEAD)
        })
    }

    /// Returns the methods of the operations, as `Allow` and
    /// `Access-Control-Allow-Methods` list them.
    fn methods(&self) -> Option<HeaderValue> {
        let methods: Vec<&str> = self
            .operations
            .iter()
            .map(|served| served.operation.method.as_str())
            .collect();
        HeaderValue::from_str(&methods.join(", ")).ok()
    }

    /// Returns the values of the template's expressions when the path
    /// `parts` match it.
    fn matches(&self, parts: &[&str]) -> Option<PathValues> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut values = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                // A segment such as `%C3%BCber` matches the literal `über`.
                Segment::Literal(literal) => {
                    let decoded = percent_encoding::percent_decode_str(part);
                    if *decoded.collect::<Vec<u8>>() != *literal.as_bytes() {
                        return None;
                    }
                }
                Segment::Parameter {
                    prefix,
                    name,
                    suffix,
                } => {
                    let value = part
                        .strip_prefix(prefix.as_str())?
                        .strip_suffix(suffix.as_str())?;
                    if value.is_empty() {
                        return None;
                    }
                    let decoded = percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .ok()?;
                    values.push((name.clone(), decoded.into_owned()));
                }
            }
        }
        Some(values)
    }
}

/// Lists the request headers that a preflight response to the path of
/// `operations` allows: the mock's own [`ALLOWED_HEADERS`], then each
/// header parameter and credential header of the operations.
fn allowed_headers(operations: &[ServedOperation]) -> HeaderValue {
    let mut names: Vec<String> = Vec::new();
    for served in operations {
        let operation = &served.operation;
        let parameters = operation
            .parameters
            .iter()
            .filter(|parameter| parameter.location == Location::Header)
            .map(|parameter| parameter.name.clone());
        let credentials = operation
            .security
            .iter()
            .flatten()
            .filter_map(|credential| match credential {
                Credential::ApiKey {
                    location: Location::Header,
                    name,
                } => Some(name.clone()),
                Credential::Authorization { .. } => Some("Authorization".to_string()),
                Credential::ApiKey { .. } => None,
            });
        for name in parameters.chain(credentials) {
            if !names.iter().any(|known| known.eq_ignore_ascii_case(&name)) {
                names.push(name);
            }
        }
    }
    let mut value = ALLOWED_HEADERS.to_string();
    for name in names {
        let listed = ALLOWED_HEADERS
            .split(", ")
            .any(|known| known.eq_ignore_ascii_case(&name));
        if !listed {
            value.push_str(", ");
            value.push_str(&name);
        }
    }
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS))
}

/// Splits a path template into its segments. A segment with several
/// expressions is matched by its first one only.
fn segments(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .map(|part| {
            let expression = part
                .split_once('{')
                .and_then(|(prefix, rest)| Some((prefix, rest.split_once('}')?)));
            match expression {
                Some((prefix, (name, suffix))) => Segment::Parameter {
                    prefix: prefix.to_string(),
                    name: name.to_string(),
                    suffix: suffix.to_string(),
                },
                None => Segment::Literal(part.to_string()),
            }
        })
        .collect()
}

/// Rejects a document that is not OpenAPI 3.0.
fn check_version(document: &Value) -> Result<(), LoadError> {
    match document.get("openapi") {
        Some(Value::String(version)) if version.starts_with("3.0.") => Ok(()),
        Some(Value::String(version)) if version == "3.0" => Err(LoadError::new(
            "/openapi",
            "version \"3.0\" has no patch number; write a full version such as \"3.0.3\"",
        )),
        Some(Value::String(version)) => Err(LoadError::new(
            "/openapi",
            format!("OpenAPI {version} is not supported; the mock serves OpenAPI 3.0 documents"),
        )),
        Some(other) => Err(LoadError::new(
            "/openapi",
            format!("expected a version string such as \"3.0.3\", found {other}"),
        )),
        None if document.get("swagger").is_some() => Err(LoadError::new(
            "/swagger",
            "Swagger 2.0 is not supported; convert the document to OpenAPI 3.0",
        )),
        None => Err(LoadError::new(
            "/openapi",
            "missing; the mock serves OpenAPI 3.0 documents",
        )),
    }
}

/// Reads the request body, up to [`MAX_BODY_BYTES`]; a larger one is a
/// 413.
async fn read_body(headers: &axum::http::HeaderMap, body: Body) -> Result<Bytes, Rejection> {
    let too_large = || Rejection {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
        data: BTreeMap::from([("body".to_string(), "Request body is too large".to_string())]),
        allow: Vec::new(),
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())
}

impl Answer {
    /// Builds the response with `status`. A 204, 205 or 304 has no body.
    /// An error status documented without content gets the mock's error
    /// body, because the mock never sends an empty 4xx or 5xx (the
    /// `protocol_errors` module rewrites those as hyper's own).
    fn response(&self, status: StatusCode) -> Response {
        let no_body = matches!(status.as_u16(), 204 | 205 | 304);
        let (content_type, body) = match &self.body {
            _ if no_body => (None, Bytes::new()),
            Some(body) => (self.content_type.clone(), body.clone()),
            None if !status.is_client_error() && !status.is_server_error() => (None, Bytes::new()),
            None => {
                let message = format!(
                    "The spec documents status {} without content for this operation, so the \
                     mock sends its own error body",
                    status.as_u16()
                );
                let body = serde_json::json!({
                    "error": { "message": message, "data": { "status": message } }
                });
                let json = HeaderValue::from_static("application/json");
                (Some(json), Bytes::from(body.to_string()))
            }
        };
        self.response_with_body(status, content_type, body)
    }

    /// Builds the response with `status`, `body` and the documented
    /// headers.
    fn response_with_body(
        &self,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
    ) -> Response {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.extend(self.headers.values.clone());
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, content_type);
        }
        if let Some(exposed) = &self.headers.exposed {
            response
                .extensions_mut()
                .insert(cors::ExposedHeaders(exposed.clone()));
        }
        response
    }
}

/// The draws tried in turn for a generated response until one is valid:
/// whether schema examples are taken, and which `oneOf` alternative.
const ATTEMPTS: [(bool, usize); 5] = [(true, 0), (false, 0), (true, 1), (false, 1), (false, 2)];

/// Prepares the `documented` response of `operation`: its documented
/// example, else a value generated from its schema, and its documented
/// headers. Each response of an operation draws from the same seed.
fn answer(
    loader: &Loader,
    examples: &Document,
    operation: &Operation,
    documented: &DocumentedResponse,
    seed: u64,
) -> Result<Answer, LoadError> {
    let operation_seed =
        telemetry::mix(seed ^ fnv1a(&format!("{} {}", operation.method, operation.template)));
    let headers = headers::documented(
        loader,
        &documented.headers,
        &documented.pointer,
        operation_seed,
    );
    let (content_type, body) = response_body(
        loader,
        examples,
        operation,
        documented,
        seed,
        operation_seed,
    )?;
    Ok(Answer {
        content_type,
        body,
        examples: named_examples(loader, documented),
        headers,
    })
}

/// Returns the named `examples` of the `documented` response's media type
/// when it is JSON, each value as JSON text.
fn named_examples(loader: &Loader, documented: &DocumentedResponse) -> Vec<(String, Bytes)> {
    let (Some(media_type), Some(media)) = (&documented.media_type, &documented.media) else {
        return Vec::new();
    };
    if !is_json(&essence(media_type)) {
        return Vec::new();
    }
    let named = media.get("examples").and_then(Value::as_object);
    let mut examples = Vec::new();
    for (name, example) in named.into_iter().flatten() {
        let value = load::resolve(loader.document, example)
            .ok()
            .and_then(|example| example.get("value"));
        if let Some(Ok(body)) = value.map(serde_json::to_vec) {
            examples.push((name.clone(), Bytes::from(body)));
        }
    }
    examples
}

/// Prepares the media type and body of the `documented` response of
/// `operation`, as [`answer`] describes them. A generated JSON body draws
/// from `operation_seed`, which [`answer`] derives from `seed` and the
/// operation.
fn response_body(
    loader: &Loader,
    examples: &Document,
    operation: &Operation,
    documented: &DocumentedResponse,
    seed: u64,
    operation_seed: u64,
) -> Result<(Option<HeaderValue>, Option<Bytes>), LoadError> {
    let (Some(media_type), Some(media)) = (&documented.media_type, &documented.media) else {
        return Ok((None, None));
    };
    // A media range such as `*/*` is no Content-Type, so its body is sent
    // as bytes.
    let content_type = if media_type.contains('*') {
        Some(HeaderValue::from_static("application/octet-stream"))
    } else {
        HeaderValue::from_str(media_type).ok()
    };
    let essence = essence(media_type);
    let schema = media.get("schema");

    if !is_json(&essence) {
        // A response of another media type gets its documented example,
        // a string as it is and another value as JSON text. Without one it
        // gets a generated string when its schema is a string, and an
        // empty body otherwise.
        let mut generator = generate::Generator::new(loader.document, seed, true, 0);
        let generated = schema.map(|schema| generator.value(schema));
        let body = match (media_example(loader, media), generated) {
            (Some(Value::String(text)), _) | (None, Some(Value::String(text))) => Bytes::from(text),
            (Some(example), _) => Bytes::from(example.to_string()),
            (None, _) => Bytes::new(),
        };
        return Ok((content_type, Some(body)));
    }

    let example = documented_example(loader, examples, operation, documented.key, media);
    let value = match (example, schema) {
        (Some(example), _) => example,
        (None, None) => Value::Object(serde_json::Map::new()),
        (None, Some(schema)) => {
            let pointer = format!(
                "{}/content/{}/schema",
                documented.pointer,
                load::pointer_token(media_type)
            );
            let validator = loader.validator(schema, &pointer, Direction::Response)?;
            let mut values = ATTEMPTS.iter().map(|&(use_examples, alternative)| {
                generate::Generator::new(loader.document, operation_seed, use_examples, alternative)
                    .value(schema)
            });
            let first = values.next().unwrap_or(Value::Null);
            if validator.is_valid(&first) {
                first
            } else if let Some(valid) = values.find(|value| validator.is_valid(value)) {
                valid
            } else {
                warn_invalid(&validator, &first, &pointer);
                first
            }
        }
    };
    let body = serde_json::to_vec(&value).map_err(|error| {
        LoadError::new(
            &documented.pointer,
            format!("the example is not JSON: {error}"),
        )
    })?;
    Ok((content_type, Some(Bytes::from(body))))
}

/// Logs that the value generated for the schema at `pointer` does not
/// validate against it, naming the first invalid value and the keyword it
/// breaks, such as `/fee` and `/properties/fee/multipleOf`.
fn warn_invalid(validator: &jsonschema::Validator, value: &Value, pointer: &str) {
    let Some(error) = validator.iter_errors(value).next() else {
        return;
    };
    tracing::warn!(
        pointer,
        instance = %error.instance_path().as_str(),
        keyword = %error.schema_path().as_str(),
        %error,
        "the value generated for the schema does not validate against it, so the response may \
         not match the spec"
    );
}

/// Returns the first documented example of the response of `key`: the
/// first of its `application/json` examples, in the document's order, or
/// the `example` or first `examples` value of its media type.
fn documented_example(
    loader: &Loader,
    examples: &Document,
    operation: &Operation,
    key: ResponseKey,
    media: &Value,
) -> Option<Value> {
    // The examples of `Document` are those of single statuses.
    let ResponseKey::Status(status) = key else {
        return media_example(loader, media);
    };
    let first = examples
        .operation(&operation.template, &operation.method)
        .and_then(|documented| documented.select(Some(status), None).ok())
        .and_then(|example| serde_json::from_slice(&example.body).ok());
    first.or_else(|| media_example(loader, media))
}

/// Returns the `example` or the first `examples` value of a Media Type
/// Object.
fn media_example(loader: &Loader, media: &Value) -> Option<Value> {
    if let Some(example) = media.get("example") {
        return Some(example.clone());
    }
    let named = media.get("examples").and_then(Value::as_object)?;
    named.values().find_map(|example| {
        let example = load::resolve(loader.document, example).ok()?;
        example.get("value").cloned()
    })
}

/// Hashes `text` with 64-bit FNV-1a, so each operation draws its own
/// generated values from the seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_expressions() {
        let yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pets/{id}:\n    get:\n      responses: {'200': {description: one}}\n  /pets/mine:\n    get:\n      responses: {'204': {description: none}}\n";
        let spec = AnySpec::load(yaml, 1).unwrap();
        let (route, values) = spec.find("/pets/mine").unwrap();
        assert_eq!(&*route.template, "/pets/mine");
        assert!(values.is_empty());
        let (route, values) = spec.find("/pets/a%20b").unwrap();
        assert_eq!(&*route.template, "/pets/{id}");
        assert_eq!(values, [("id".to_string(), "a b".to_string())]);
        assert!(spec.find("/pets").is_none());
    }

    #[test]
    fn invalid_generated_value_names_property() {
        // No value of `fee` is a multiple of 10 between 1 and 9.
        let yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                required: [fee]\n                properties:\n                  fee: {type: integer, minimum: 1, maximum: 9, multipleOf: 10}\n";
        let capture = crate::telemetry::tests::Capture::default();
        tracing::subscriber::with_default(capture.subscriber(), || AnySpec::load(yaml, 1))
            .expect("the spec loads");
        let output = capture.output();
        assert!(output.contains("does not validate"), "{output}");
        assert!(output.contains("instance=/fee"), "{output}");
        assert!(output.contains("keyword=/properties/fee/"), "{output}");
    }

    #[test]
    fn unsendable_header_warning_is_one_line() {
        let huge = "h".repeat(9000);
        let yaml = format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    get:\n      \
             responses:\n        '200':\n          description: ok\n          headers:\n            \
             X-Crlf: {{example: \"a\\r\\nSet-Cookie: x=1\"}}\n            \
             X-Huge: {{example: {huge}}}\n"
        );
        let capture = crate::telemetry::tests::Capture::default();
        tracing::subscriber::with_default(capture.subscriber(), || AnySpec::load(&yaml, 1))
            .expect("the spec loads");
        let output = capture.output();
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 2, "{output}");
        assert!(
            lines[0].contains(r#"value="a\r\nSet-Cookie: x=1""#),
            "{output}"
        );
        assert!(lines[0].contains("not valid in HTTP"), "{output}");
        assert!(lines[1].contains("longer than 8 KiB"), "{output}");
        assert!(lines[1].contains("length=9000"), "{output}");
    }

    #[test]
    fn swagger_two_is_rejected() {
        let error = AnySpec::load("swagger: '2.0'\npaths: {}\n", 1)
            .err()
            .unwrap();
        assert_eq!(
            error.to_string(),
            "#/swagger: Swagger 2.0 is not supported; convert the document to OpenAPI 3.0"
        );
    }
}

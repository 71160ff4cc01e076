//! Spec-driven checks of recorded HTTP exchanges against `spec/openapi.yaml`.
//!
//! [`Checker`] finds the operation of a request by its path template and
//! method. It then checks the response under separate [`Rule`]s:
//!
//! - the status is documented,
//! - the `Content-Type` is a documented media type, with parameters such as
//!   `charset=utf-8` allowed,
//! - a response documented without content has an empty body,
//! - a JSON body validates against the documented schema.
//!
//! Schemas are converted from OpenAPI 3.0 to JSON Schema draft 2020-12 and
//! validated with the `jsonschema` crate, built without its HTTP and file
//! resolvers, so only references inside the document resolve.
//!
//! ```no_run
//! use contract_tests::checker::{Checker, RecordedRequest, record};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let request = RecordedRequest::new(
//!     reqwest::Method::POST,
//!     "http://127.0.0.1:4010",
//!     "/system/services/active/cron/terminate",
//! )
//! .header("X-Api-Key", "mock-api-key")
//! .json(&json!({"nodes_id": null}));
//! let response = record(&reqwest::Client::new(), &request).await?;
//! // On failure the violation shows the rule, the details, a curl line
//! // and the response.
//! Checker::shared().check(&request, &response)?;
//! # Ok(())
//! # }
//! ```

mod body;
mod record;
mod spec;
mod violation;

use std::sync::LazyLock;

use serde_json::Value;

pub use record::{RecordedRequest, RecordedResponse, record};
pub use spec::SpecError;
pub use violation::{Rule, Violation, curl_line};

use body::{BodyRule, check_body};
use spec::{Body, Operation};

static SHARED: LazyLock<Checker> = LazyLock::new(Checker::new);

/// An OpenAPI document loaded for checking exchanges, with one compiled
/// validator per documented media type schema.
pub struct Checker {
    document: Value,
    operations: Vec<Operation>,
}

/// A named example of a documented response, from an `examples` map or a
/// single `example` (named `example`).
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub name: String,
    pub value: Value,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// Loads the embedded spec, [`api_spec::OPENAPI_YAML`].
    ///
    /// # Panics
    ///
    /// Panics when the embedded spec cannot be loaded.
    pub fn new() -> Self {
        Self::from_yaml(api_spec::OPENAPI_YAML)
            .unwrap_or_else(|error| panic!("spec/openapi.yaml cannot be loaded: {error}"))
    }

    /// Returns the checker of the embedded spec, loaded on first use.
    pub fn shared() -> &'static Checker {
        &SHARED
    }

    /// Loads an OpenAPI 3.0 document from YAML or JSON text.
    ///
    /// # Errors
    ///
    /// Returns the pointer and reason when the text is not YAML, a `$ref`
    /// does not resolve, or a schema does not compile.
    pub fn from_yaml(yaml: &str) -> Result<Self, SpecError> {
        let document: Value = serde_yaml::from_str(yaml).map_err(|error| SpecError {
            pointer: String::new(),
            message: format!("invalid YAML: {error}"),
        })?;
        let operations = spec::load_operations(&document)?;
        Ok(Checker {
            document,
            operations,
        })
    }

    /// Returns the loaded document, as JSON.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Checks `response` against the operation that `request` calls.
    ///
    /// # Errors
    ///
    /// Returns the first broken rule: an undocumented path, method or
    /// status, then a content type mismatch, a body on a response documented
    /// without content, a body that is not JSON, or schema errors.
    pub fn check(
        &self,
        request: &RecordedRequest,
        response: &RecordedResponse,
    ) -> Result<(), Violation> {
        let fail = |rule, operation: Option<&Operation>, details| {
            violation(rule, operation, details, request, Some(response))
        };
        let operation = self
            .find_operation(request)
            .map_err(|(rule, detail)| fail(rule, None, vec![detail]))?;
        let Some(documented) = operation.response(response.status) else {
            let detail = format!(
                "status {} is not documented. Documented: {}",
                response.status,
                operation.documented_statuses()
            );
            return Err(fail(
                Rule::StatusNotDocumented,
                Some(operation),
                vec![detail],
            ));
        };
        check_body(documented, &response.headers, &response.body).map_err(|failure| {
            let rule = response_rule(failure.rule);
            fail(rule, Some(operation), failure.details)
        })
    }

    /// Checks the body of `request` against the operation's request body:
    /// present when required, a documented media type, JSON and valid
    /// against the schema.
    ///
    /// # Errors
    ///
    /// Returns the first broken rule, with no response in the violation.
    pub fn check_request(&self, request: &RecordedRequest) -> Result<(), Violation> {
        let fail = |rule, operation: Option<&Operation>, details| {
            violation(rule, operation, details, request, None)
        };
        let operation = self
            .find_operation(request)
            .map_err(|(rule, detail)| fail(rule, None, vec![detail]))?;
        check_request_body(operation, request)
            .map_err(|(rule, details)| fail(rule, Some(operation), details))
    }

    /// Returns the documented response keys of an operation, such as `200`,
    /// or none when no operation has `operation_id`.
    pub fn statuses(&self, operation_id: &str) -> Vec<String> {
        let Some(operation) = self.operation_by_id(operation_id) else {
            return Vec::new();
        };
        let keys = operation.responses.iter().map(|(key, _)| key.clone());
        keys.collect()
    }

    /// Returns the examples of every media type of a documented response,
    /// following `$ref`s, or none when the operation or status is not
    /// documented.
    pub fn examples(&self, operation_id: &str, status: &str) -> Vec<Example> {
        let Some(operation) = self.operation_by_id(operation_id) else {
            return Vec::new();
        };
        let status = spec::pointer_token(status);
        let pointer = format!("{}/responses/{status}", operation.pointer);
        let Some(response) = self.resolve_pointer(&pointer) else {
            return Vec::new();
        };
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return Vec::new();
        };
        let media_types = content.values();
        media_types
            .flat_map(|media| self.media_examples(media))
            .collect()
    }

    fn media_examples(&self, media: &Value) -> Vec<Example> {
        if let Some(value) = media.get("example") {
            let name = "example".to_string();
            let value = value.clone();
            return vec![Example { name, value }];
        }
        let Some(examples) = media.get("examples").and_then(Value::as_object) else {
            return Vec::new();
        };
        let resolved = examples.iter().filter_map(|(name, example)| {
            let example = spec::resolve(&self.document, example).ok()?;
            let value = example.get("value")?.clone();
            let name = name.clone();
            Some(Example { name, value })
        });
        resolved.collect()
    }

    fn resolve_pointer(&self, pointer: &str) -> Option<&Value> {
        let value = self.document.pointer(pointer)?;
        spec::resolve(&self.document, value).ok()
    }

    fn operation_by_id(&self, operation_id: &str) -> Option<&Operation> {
        let mut operations = self.operations.iter();
        operations.find(|operation| operation.id.as_deref() == Some(operation_id))
    }

    /// Finds the operation of `request`. Among matching templates the one
    /// with the most literal segments wins, as OpenAPI 3.0 matches concrete
    /// paths before templated ones.
    fn find_operation(&self, request: &RecordedRequest) -> Result<&Operation, (Rule, String)> {
        let path = request.path_without_query();
        let matches: Vec<(&Operation, usize)> = self
            .operations
            .iter()
            .filter_map(|operation| Some((operation, operation.match_path(path)?)))
            .collect();
        let Some(best) = matches.iter().map(|(_, literals)| *literals).max() else {
            let detail = format!("no path template of the spec matches {path}");
            return Err((Rule::PathNotDocumented, detail));
        };
        let candidates: Vec<&Operation> = matches
            .iter()
            .filter(|(_, literals)| *literals == best)
            .map(|(operation, _)| *operation)
            .collect();
        let method = request.method.as_str();
        let found = candidates
            .iter()
            .find(|operation| operation.method == method);
        found.copied().ok_or_else(|| {
            let documented: Vec<&str> = candidates.iter().map(|op| op.method.as_str()).collect();
            let detail = format!(
                "{method} is not documented for {}. Documented: {}",
                candidates[0].template,
                documented.join(", ")
            );
            (Rule::MethodNotDocumented, detail)
        })
    }
}

fn check_request_body(
    operation: &Operation,
    request: &RecordedRequest,
) -> Result<(), (Rule, Vec<String>)> {
    let checked = |documented: &Body| {
        check_body(documented, &request.headers, &request.body)
            .map_err(|failure| (request_rule(failure.rule), failure.details))
    };
    let no_content = Body {
        media_types: Vec::new(),
    };
    match &operation.request_body {
        None => checked(&no_content),
        Some(documented) if !request.body.is_empty() => checked(&documented.body),
        Some(documented) if documented.required => {
            let detail = "the request body is required, but the body is empty".to_string();
            Err((Rule::RequestBodyMissing, vec![detail]))
        }
        Some(_) => Ok(()),
    }
}

fn response_rule(rule: BodyRule) -> Rule {
    match rule {
        BodyRule::ContentType => Rule::ContentTypeMismatch,
        BodyRule::NotEmpty => Rule::BodyNotEmpty,
        BodyRule::NotJson => Rule::BodyNotJson,
        BodyRule::Schema => Rule::BodySchema,
    }
}

fn request_rule(rule: BodyRule) -> Rule {
    match rule {
        BodyRule::ContentType => Rule::RequestContentTypeMismatch,
        BodyRule::NotEmpty => Rule::RequestBodyNotEmpty,
        BodyRule::NotJson => Rule::RequestBodyNotJson,
        BodyRule::Schema => Rule::RequestBodySchema,
    }
}

fn violation(
    rule: Rule,
    operation: Option<&Operation>,
    details: Vec<String>,
    request: &RecordedRequest,
    response: Option<&RecordedResponse>,
) -> Violation {
    Violation {
        rule,
        operation: operation.map(Operation::label),
        details,
        request: Box::new(request.clone()),
        response: response.map(|response| Box::new(response.clone())),
    }
}

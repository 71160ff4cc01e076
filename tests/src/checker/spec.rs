//! The operations of an OpenAPI 3.0 document, with a compiled JSON Schema
//! validator for each documented request and response media type.

use std::fmt;

use jsonschema::Validator;
use serde_json::Value;

use super::body::essence;
use openapi_schema::{Components, Direction};

/// The HTTP methods that a Path Item Object can hold, as OpenAPI 3.0 names
/// them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The max number of `$ref` hops followed before a reference counts as a
/// cycle.
const MAX_REF_HOPS: usize = 32;

/// An OpenAPI document that the checker cannot load: the JSON pointer of the
/// construct and what is wrong with it.
#[derive(Debug)]
pub struct SpecError {
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "#{}: {}", self.pointer, self.message)
    }
}

impl std::error::Error for SpecError {}

/// One operation: a method on a path template.
pub(super) struct Operation {
    /// Upper-case method, such as `POST`.
    pub method: String,
    /// Path template, such as `/system/services/active/{system_services_id}/terminate`.
    pub template: String,
    pub id: Option<String>,
    /// JSON pointer to the Operation Object in the document.
    pub pointer: String,
    pub request_body: Option<RequestBody>,
    /// Response keys (`200`, `2XX`, `default`) with their content.
    pub responses: Vec<(String, Body)>,
}

pub(super) struct RequestBody {
    pub required: bool,
    pub body: Body,
}

/// The documented content of a request or response. No media types means the
/// body is documented as empty.
pub(super) struct Body {
    pub media_types: Vec<MediaType>,
}

pub(super) struct MediaType {
    /// Lower-case media type key without parameters, such as
    /// `application/json`.
    pub name: String,
    /// The validator of the media type's schema, if it has one.
    pub validator: Option<Validator>,
}

impl Operation {
    /// Returns the number of literal segments when `path` matches the
    /// template, so the most concrete template can win.
    // NOTE: a template segment is either literal or a whole `{name}`. A
    // segment that mixes both, such as `{id}.json`, never matches.
    pub fn match_path(&self, path: &str) -> Option<usize> {
        let template: Vec<&str> = self.template.split('/').collect();
        let concrete: Vec<&str> = path.split('/').collect();
        if template.len() != concrete.len() {
            return None;
        }
        let mut literals = 0;
        for (expected, actual) in template.iter().zip(&concrete) {
            if is_parameter(expected) {
                if actual.is_empty() {
                    return None;
                }
            } else if expected == actual {
                literals += 1;
            } else {
                return None;
            }
        }
        Some(literals)
    }

    /// Finds the documented response for `status`: the exact code first,
    /// then its range such as `4XX`, then `default`.
    pub fn response(&self, status: u16) -> Option<&Body> {
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let keys = [exact.as_str(), range.as_str(), "default"];
        keys.iter().find_map(|key| {
            self.responses
                .iter()
                .find(|(documented, _)| documented.eq_ignore_ascii_case(key))
                .map(|(_, body)| body)
        })
    }

    /// Returns the documented response keys, comma-separated.
    pub fn documented_statuses(&self) -> String {
        let keys: Vec<&str> = self.responses.iter().map(|(key, _)| key.as_str()).collect();
        keys.join(", ")
    }

    /// Returns a label such as `POST /jsonrpc (jsonrpc)`.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("{} {} ({id})", self.method, self.template),
            None => format!("{} {}", self.method, self.template),
        }
    }
}

/// Loads every operation of `document` and compiles its body schemas.
pub(super) fn load_operations(document: &Value) -> Result<Vec<Operation>, SpecError> {
    let components = document.pointer("/components/schemas");
    let loader = Loader {
        document,
        components: Components::new(components),
    };
    loader.operations()
}

/// Follows `$ref` until `value` is no Reference Object. Only local
/// references (`#/…`) resolve.
pub(super) fn resolve<'a>(document: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    let mut current = value;
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = current.get("$ref") else {
            return Ok(current);
        };
        let reference = reference.as_str().ok_or("$ref is not a string")?;
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("$ref `{reference}` is not local (`#/…`)"))?;
        current = document
            .pointer(pointer)
            .ok_or_else(|| format!("$ref `{reference}` points to nothing"))?;
    }
    Err(format!(
        "more than {MAX_REF_HOPS} $ref hops, likely a cycle"
    ))
}

/// Escapes `token` for use in a JSON pointer.
pub(super) fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn is_parameter(segment: &str) -> bool {
    segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}')
}

struct Loader<'a> {
    document: &'a Value,
    /// `components/schemas`, converted to JSON Schema.
    components: Components,
}

impl<'a> Loader<'a> {
    fn operations(&self) -> Result<Vec<Operation>, SpecError> {
        let paths = self.object(self.document.get("paths"), "/paths")?;
        let mut operations = Vec::new();
        for (template, item) in paths {
            let item_pointer = format!("/paths/{}", pointer_token(template));
            let item = self.resolve(item, &item_pointer)?;
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    let pointer = format!("{item_pointer}/{method}");
                    operations.push(self.operation(template, method, operation, pointer)?);
                }
            }
        }
        Ok(operations)
    }

    fn operation(
        &self,
        template: &str,
        method: &str,
        operation: &'a Value,
        pointer: String,
    ) -> Result<Operation, SpecError> {
        let request_body = operation
            .get("requestBody")
            .map(|body| self.request_body(body, &format!("{pointer}/requestBody")))
            .transpose()?;
        let responses = self.responses(operation.get("responses"), &pointer)?;
        Ok(Operation {
            method: method.to_ascii_uppercase(),
            template: template.to_string(),
            id: operation["operationId"].as_str().map(str::to_string),
            pointer,
            request_body,
            responses,
        })
    }

    fn request_body(&self, body: &'a Value, pointer: &str) -> Result<RequestBody, SpecError> {
        let body = self.resolve(body, pointer)?;
        Ok(RequestBody {
            required: body["required"].as_bool().unwrap_or(false),
            body: self.body(
                body.get("content"),
                &format!("{pointer}/content"),
                Direction::Request,
            )?,
        })
    }

    fn responses(
        &self,
        responses: Option<&'a Value>,
        operation_pointer: &str,
    ) -> Result<Vec<(String, Body)>, SpecError> {
        let pointer = format!("{operation_pointer}/responses");
        let mut loaded = Vec::new();
        for (status, response) in self.object(responses, &pointer)? {
            let response_pointer = format!("{pointer}/{}", pointer_token(status));
            let response = self.resolve(response, &response_pointer)?;
            let content_pointer = format!("{response_pointer}/content");
            let body = self.body(
                response.get("content"),
                &content_pointer,
                Direction::Response,
            )?;
            loaded.push((status.clone(), body));
        }
        Ok(loaded)
    }

    fn body(
        &self,
        content: Option<&'a Value>,
        pointer: &str,
        direction: Direction,
    ) -> Result<Body, SpecError> {
        let Some(content) = content else {
            return Ok(Body {
                media_types: Vec::new(),
            });
        };
        let mut media_types = Vec::new();
        for (name, media) in self.object(Some(content), pointer)? {
            let media_pointer = format!("{pointer}/{}", pointer_token(name));
            let validator = media
                .get("schema")
                .map(|schema| self.validator(schema, &format!("{media_pointer}/schema"), direction))
                .transpose()?;
            media_types.push(MediaType {
                name: essence(name),
                validator,
            });
        }
        Ok(Body { media_types })
    }

    fn validator(
        &self,
        schema: &Value,
        pointer: &str,
        direction: Direction,
    ) -> Result<Validator, SpecError> {
        let root = self.components.root_document(schema, direction);
        jsonschema::draft202012::options()
            .build(&root)
            .map_err(|error| spec_error(pointer, format!("invalid schema: {error}")))
    }

    fn resolve(&self, value: &'a Value, pointer: &str) -> Result<&'a Value, SpecError> {
        resolve(self.document, value).map_err(|message| spec_error(pointer, message))
    }

    fn object(
        &self,
        value: Option<&'a Value>,
        pointer: &str,
    ) -> Result<&'a serde_json::Map<String, Value>, SpecError> {
        value
            .and_then(Value::as_object)
            .ok_or_else(|| spec_error(pointer, "expected an object".to_string()))
    }
}

fn spec_error(pointer: &str, message: String) -> SpecError {
    SpecError {
        pointer: pointer.to_string(),
        message,
    }
}

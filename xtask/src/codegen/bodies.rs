//! The model of request bodies and responses: which media type the stubs
//! read or send, and the checks that keep progenitor's client working.

use openapiv3::{
    OpenAPI, Operation as SpecOperation, ReferenceOr, RequestBody, Schema, StatusCode,
};

use super::model::resolve;
use super::spec::{SpecError, escape_segment};

/// Media types of request bodies that the stubs pass on as bytes, as
/// progenitor's client sends them.
const RAW_REQUEST_MEDIA_TYPES: [&str; 2] = ["application/octet-stream", "text/plain"];

/// Media type of form request bodies.
const FORM: &str = "application/x-www-form-urlencoded";

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

/// A request body: JSON, or raw bytes of another media type.
#[derive(Debug)]
pub struct Body {
    pub schema: ReferenceOr<Schema>,
    /// Media type of a body that is not JSON (`application/octet-stream` or
    /// `text/plain`), which the stubs pass on as bytes.
    pub raw_media_type: Option<String>,
    /// Whether the body is `application/x-www-form-urlencoded`, decoded into
    /// the schema's type like a JSON one.
    pub form: bool,
    pub required: bool,
    pub pointer: String,
    /// JSON pointer of the served media type's schema.
    pub schema_pointer: String,
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

pub fn body_model(
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
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    let form = essence == FORM;
    let raw_media_type = if is_json_media_type(media_type) || form {
        None
    } else if RAW_REQUEST_MEDIA_TYPES.contains(&essence) {
        Some(essence.to_string())
    } else {
        return Err(SpecError::new(
            media_pointer,
            format!(
                "request media type `{media_type}` is not supported; the stubs read JSON, \
                 {FORM}, {}",
                RAW_REQUEST_MEDIA_TYPES.join(" or ")
            ),
        ));
    };
    if !content.encoding.is_empty() {
        return Err(SpecError::new(
            format!("{media_pointer}/encoding"),
            "`encoding` on a request body is not supported (progenitor rejects it); remove it",
        ));
    }
    let schema = content
        .schema
        .clone()
        .ok_or_else(|| SpecError::new(&media_pointer, "the media type has no schema"))?;
    if let Some(raw) = &raw_media_type {
        check_raw_schema(api, &schema, raw, &format!("{media_pointer}/schema"))?;
    }
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
        form,
        required: body.required,
        pointer: pointer.to_string(),
        schema_pointer: format!("{media_pointer}/schema"),
        object,
    })
}

/// Checks the schema of a raw request body as progenitor does: `type:
/// string` with `format: binary` for `application/octet-stream`, and without
/// a format for `text/plain`.
fn check_raw_schema(
    api: &OpenAPI,
    schema: &ReferenceOr<Schema>,
    media_type: &str,
    pointer: &str,
) -> Result<(), SpecError> {
    let schema = resolve(api, schema, pointer, |components, name| {
        components.schemas.get(name)
    })?;
    let binary = media_type == "application/octet-stream";
    let fits = match &schema.schema_kind {
        openapiv3::SchemaKind::Type(openapiv3::Type::String(string)) => {
            let format_fits = match &string.format {
                openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Binary) => binary,
                openapiv3::VariantOrUnknownOrEmpty::Empty => !binary,
                _ => false,
            };
            format_fits
                && string.enumeration.is_empty()
                && string.pattern.is_none()
                && string.min_length.is_none()
                && string.max_length.is_none()
                && !schema.schema_data.nullable
                && schema.schema_data.default.is_none()
        }
        _ => false,
    };
    if fits {
        return Ok(());
    }
    let expected = if binary {
        "`type: string` with `format: binary`"
    } else {
        "`type: string` without a format"
    };
    Err(SpecError::new(
        pointer,
        format!("a `{media_type}` body needs the schema {expected}, as progenitor reads it"),
    ))
}

pub fn responses(
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
pub fn response_body(
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
pub fn check_one_body_per_class(
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

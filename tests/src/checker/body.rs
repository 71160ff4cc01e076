//! Checks of a body against its documented content: the media type, an empty
//! body where no content is documented, JSON syntax and the schema.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::Value;

use super::spec::{Body, MediaType};

/// The body rules, shared by requests and responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyRule {
    ContentType,
    NotEmpty,
    NotJson,
    Schema,
}

pub(super) struct BodyFailure {
    pub rule: BodyRule,
    pub details: Vec<String>,
}

/// Checks `body` and its `Content-Type` in `headers` against `documented`.
/// A media type that is not JSON is checked by its `Content-Type` only.
pub(super) fn check_body(
    documented: &Body,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), BodyFailure> {
    if documented.media_types.is_empty() {
        return check_empty(body);
    }
    let (media_type, essence) = match_content_type(documented, headers)?;
    if !is_json(&essence) {
        return Ok(());
    }
    let value = parse_json(body)?;
    match &media_type.validator {
        Some(validator) => validate(validator, &value),
        None => Ok(()),
    }
}

/// Returns the media type without parameters, in lower case, such as
/// `application/json`.
pub(super) fn essence(media_type: &str) -> String {
    let essence = media_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

fn check_empty(body: &[u8]) -> Result<(), BodyFailure> {
    if body.is_empty() {
        return Ok(());
    }
    let detail = format!(
        "documented without content, but the body has {} bytes",
        body.len()
    );
    Err(failure(BodyRule::NotEmpty, detail))
}

/// Finds the documented media type of the one `Content-Type` header and
/// returns it with the header's essence.
fn match_content_type<'b>(
    documented: &'b Body,
    headers: &HeaderMap,
) -> Result<(&'b MediaType, String), BodyFailure> {
    let header = single_content_type(documented, headers)?;
    let essence = essence(&header);
    let Some(media_type) = find_media_type(documented, &essence) else {
        let detail = format!(
            "Content-Type `{header}` is not documented. Documented: {}",
            names(documented)
        );
        return Err(failure(BodyRule::ContentType, detail));
    };
    if is_json(&essence) {
        check_charset(&header)?;
    }
    Ok((media_type, essence))
}

fn single_content_type(documented: &Body, headers: &HeaderMap) -> Result<String, BodyFailure> {
    let values: Vec<_> = headers.get_all(CONTENT_TYPE).iter().collect();
    let detail = match values.as_slice() {
        [value] => match value.to_str() {
            Ok(text) => return Ok(text.to_string()),
            Err(_) => "the Content-Type header is not visible ASCII".to_string(),
        },
        [] => format!(
            "the Content-Type header is missing. Documented: {}",
            names(documented)
        ),
        several => format!("{} Content-Type headers, expected one", several.len()),
    };
    Err(failure(BodyRule::ContentType, detail))
}

/// Prefers an exact media type key over a range such as `application/*`.
fn find_media_type<'b>(documented: &'b Body, essence: &str) -> Option<&'b MediaType> {
    let media_types = &documented.media_types;
    let exact = media_types.iter().find(|media| media.name == essence);
    exact.or_else(|| {
        media_types
            .iter()
            .find(|media| range_matches(&media.name, essence))
    })
}

fn range_matches(range: &str, essence: &str) -> bool {
    if range == "*/*" {
        return true;
    }
    let Some(kind) = range.strip_suffix("/*") else {
        return false;
    };
    essence.split('/').next() == Some(kind)
}

/// Rejects a charset other than UTF-8: RFC 8259, section 8.1, requires
/// UTF-8 for JSON text exchanged between systems.
fn check_charset(header: &str) -> Result<(), BodyFailure> {
    let charset = header
        .split(';')
        .skip(1)
        .filter_map(|parameter| parameter.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, value)| value.trim().trim_matches('"'));
    match charset {
        Some(charset) if !charset.eq_ignore_ascii_case("utf-8") => {
            let detail = format!("charset `{charset}` is not UTF-8, the encoding of JSON text");
            Err(failure(BodyRule::ContentType, detail))
        }
        _ => Ok(()),
    }
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

fn parse_json(body: &[u8]) -> Result<Value, BodyFailure> {
    if body.is_empty() {
        let detail = "the body is empty, but a JSON media type is documented".to_string();
        return Err(failure(BodyRule::NotJson, detail));
    }
    serde_json::from_slice(body)
        .map_err(|error| failure(BodyRule::NotJson, format!("invalid JSON: {error}")))
}

fn validate(validator: &Validator, value: &Value) -> Result<(), BodyFailure> {
    let mut details = Vec::new();
    for error in validator.iter_errors(value) {
        describe(&error, "", &mut details);
    }
    if details.is_empty() {
        return Ok(());
    }
    Err(BodyFailure {
        rule: BodyRule::Schema,
        details,
    })
}

/// Describes a schema error as `body<instance path>: <message> (schema
/// <evaluation path>)`, with the evaluation path including each `$ref`
/// taken. The errors of each `oneOf` or `anyOf` branch follow, prefixed with
/// the branch, such as `oneOf[1] > `.
fn describe(error: &ValidationError<'_>, prefix: &str, details: &mut Vec<String>) {
    let (keyword, branches) = match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } => ("oneOf", context.as_slice()),
        ValidationErrorKind::AnyOf { context } => ("anyOf", context.as_slice()),
        _ => ("", [].as_slice()),
    };
    // The instance path locates an object or array, so the message names
    // only scalars and does not repeat a whole body.
    let message = match error.instance().as_ref() {
        Value::Object(_) | Value::Array(_) => error.masked_with("the value").to_string(),
        _ => error.to_string(),
    };
    details.push(format!(
        "{prefix}body{}: {message} (schema {})",
        error.instance_path(),
        error.evaluation_path()
    ));
    for (index, branch) in branches.iter().enumerate() {
        let prefix = format!("{prefix}{keyword}[{index}] > ");
        for nested in branch {
            describe(nested, &prefix, details);
        }
    }
}

fn names(documented: &Body) -> String {
    let names: Vec<&str> = documented
        .media_types
        .iter()
        .map(|media| media.name.as_str())
        .collect();
    names.join(", ")
}

fn failure(rule: BodyRule, detail: String) -> BodyFailure {
    BodyFailure {
        rule,
        details: vec![detail],
    }
}

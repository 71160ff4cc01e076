//! Checks of the paths, operations and response statuses of an OpenAPI 3.0
//! document, which the mock and the generator both run, so that neither
//! drops an operation that the other serves.

use std::fmt;

use serde_json::Value;

/// The methods a Path Item Object can hold, as OpenAPI 3.0 names them.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The fields of a Path Item Object besides its methods and `x-`
/// extensions.
const PATH_ITEM_FIELDS: [&str; 5] = ["$ref", "summary", "description", "servers", "parameters"];

/// A construct of the document that neither tool reads, located by JSON
/// pointer (without the `#`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureError {
    pub pointer: String,
    pub message: String,
}

impl StructureError {
    fn new(pointer: &str, message: impl Into<String>) -> Self {
        StructureError {
            pointer: pointer.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for StructureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}: {}", self.pointer, self.message)
    }
}

impl std::error::Error for StructureError {}

/// Checks the Paths Object of `document`, a whole OpenAPI document. Each
/// path must start with `/`, and each Path Item field must be one that
/// OpenAPI 3.0 defines. Each operation must document at least one
/// response, under a status from 100 to 599, a range such as `4XX`, or
/// `default`. `x-` extensions are allowed everywhere. A `$ref` path item
/// is not followed.
///
/// ```
/// use serde_json::json;
///
/// let document = json!({"paths": {"pets": {"get": {"responses": {"200": {}}}}}});
/// let error = openapi_schema::structure::check_paths(&document).unwrap_err();
/// assert_eq!(error.pointer, "/paths/pets");
/// ```
pub fn check_paths(document: &Value) -> Result<(), StructureError> {
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return Ok(());
    };
    for (path, item) in paths {
        let pointer = format!("/paths/{}", pointer_token(path));
        if path.starts_with("x-") {
            continue;
        }
        if !path.starts_with('/') {
            let message = format!("path `{path}` does not start with `/`; write `/{path}`");
            return Err(StructureError::new(&pointer, message));
        }
        check_path_item(item, &pointer)?;
    }
    Ok(())
}

fn check_path_item(item: &Value, pointer: &str) -> Result<(), StructureError> {
    let Some(fields) = item.as_object() else {
        return Err(StructureError::new(pointer, "expected a Path Item Object"));
    };
    for (field, value) in fields {
        let field_pointer = format!("{pointer}/{}", pointer_token(field));
        if METHODS.contains(&field.as_str()) {
            check_operation(value, &field_pointer)?;
            continue;
        }
        if PATH_ITEM_FIELDS.contains(&field.as_str()) || field.starts_with("x-") {
            continue;
        }
        let lowercase = field.to_ascii_lowercase();
        let message = if METHODS.contains(&lowercase.as_str()) {
            format!("method `{field}` must be lowercase; write `{lowercase}`")
        } else {
            format!(
                "`{field}` is not a field of a Path Item Object; expected a method ({}), \
                 {} or an `x-` extension",
                METHODS.join(", "),
                PATH_ITEM_FIELDS.join(", ")
            )
        };
        return Err(StructureError::new(&field_pointer, message));
    }
    Ok(())
}

fn check_operation(operation: &Value, pointer: &str) -> Result<(), StructureError> {
    let responses_pointer = format!("{pointer}/responses");
    let Some(responses) = operation.get("responses") else {
        return Err(StructureError::new(
            &responses_pointer,
            "missing; document at least one response, such as `200` or `default`",
        ));
    };
    let Some(responses) = responses.as_object() else {
        return Err(StructureError::new(
            &responses_pointer,
            "expected a mapping of statuses to responses",
        ));
    };
    let mut documented = 0;
    for key in responses.keys() {
        if key.starts_with("x-") {
            continue;
        }
        if !is_response_key(key) {
            let message = format!(
                "`{key}` is not a response status; expected a status from 100 to 599, a range \
                 such as `4XX`, or `default`"
            );
            return Err(StructureError::new(
                &format!("{responses_pointer}/{}", pointer_token(key)),
                message,
            ));
        }
        documented += 1;
    }
    if documented == 0 {
        return Err(StructureError::new(
            &responses_pointer,
            "the operation documents no response; add one, such as `200` or `default`",
        ));
    }
    Ok(())
}

/// Returns whether `key` names responses: `default`, a range from `1XX` to
/// `5XX`, or a status from 100 to 599 in three digits.
fn is_response_key(key: &str) -> bool {
    if key == "default" {
        return true;
    }
    let bytes = key.as_bytes();
    if bytes.len() != 3 || !(b'1'..=b'5').contains(&bytes[0]) {
        return false;
    }
    bytes[1..] == *b"XX" || bytes[1..].iter().all(u8::is_ascii_digit)
}

/// Escapes `~` and `/` for a JSON pointer token.
fn pointer_token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(paths: Value) -> StructureError {
        check_paths(&json!({ "paths": paths })).expect_err("the paths are rejected")
    }

    #[test]
    fn valid_paths_pass() {
        let paths = json!({
            "/a": {
                "summary": "A",
                "x-owner": "ops",
                "get": {"responses": {"200": {}, "4XX": {}, "default": {}, "x-note": 1}},
            },
            "x-internal": {"anything": true},
        });
        assert_eq!(check_paths(&json!({ "paths": paths })), Ok(()));
    }

    #[test]
    fn path_without_slash_is_located() {
        let error = error_of(json!({"pets": {"get": {"responses": {"200": {}}}}}));
        assert_eq!(error.pointer, "/paths/pets");
        assert_eq!(
            error.message,
            "path `pets` does not start with `/`; write `/pets`"
        );
    }

    #[test]
    fn invalid_statuses_are_located() {
        for key in ["99", "600", "2XY", "20", "ok", "6XX", "0200"] {
            let error = error_of(json!({"/a": {"get": {"responses": {key: {}}}}}));
            assert_eq!(error.pointer, format!("/paths/~1a/get/responses/{key}"));
            assert!(
                error.message.starts_with(&format!("`{key}` is not")),
                "{key}"
            );
        }
    }

    #[test]
    fn empty_responses_are_located() {
        let error = error_of(json!({"/a": {"get": {"responses": {}}}}));
        assert_eq!(error.pointer, "/paths/~1a/get/responses");
        assert!(
            error
                .message
                .starts_with("the operation documents no response")
        );
        let error = error_of(json!({"/a": {"get": {"summary": "no responses"}}}));
        assert_eq!(error.pointer, "/paths/~1a/get/responses");
        assert!(error.message.starts_with("missing"));
    }

    #[test]
    fn unknown_path_item_field_is_located() {
        let error = error_of(json!({"/a": {"GET": {"responses": {"200": {}}}}}));
        assert_eq!(error.pointer, "/paths/~1a/GET");
        assert_eq!(error.message, "method `GET` must be lowercase; write `get`");
        let error = error_of(json!({"/a": {"fetch": {}}}));
        assert!(error.message.starts_with("`fetch` is not a field"));
    }
}

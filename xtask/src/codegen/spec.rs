//! Loads the OpenAPI document and locates errors in it by JSON pointer.

use std::fmt;
use std::fs;
use std::path::Path;

use anyhow::Context;
use openapiv3::OpenAPI;

use super::panics::catch_quietly;

/// A construct of the spec that the generator rejects, located by JSON pointer.
///
/// It displays as `#<pointer>: <message>`, and the caller puts the spec's
/// path in front.
#[derive(Debug, thiserror::Error)]
pub struct SpecError {
    pub pointer: String,
    pub message: String,
}

impl SpecError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}: {}", self.pointer, self.message)
    }
}

/// Escapes one JSON pointer segment (RFC 6901): `~` becomes `~0`, `/` becomes `~1`.
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Reads and parses the OpenAPI document at `path` under `root`. A syntax
/// error names its line and column.
pub fn load(root: &Path, path: &str) -> anyhow::Result<OpenAPI> {
    let text =
        fs::read_to_string(root.join(path)).with_context(|| format!("cannot read {path}"))?;
    parse(&text, path)
}

/// Parses an OpenAPI 3.0.x document from YAML or JSON text, and checks that
/// every `$ref` in it resolves. `path` names the document in errors.
pub fn parse(text: &str, path: &str) -> anyhow::Result<OpenAPI> {
    parse_document(text, path).map_err(|error| locate(error, path))
}

/// Puts the spec's path in front of a [`SpecError`]'s pointer. Other errors
/// pass unchanged.
pub fn locate(error: anyhow::Error, path: &str) -> anyhow::Error {
    match error.downcast::<SpecError>() {
        Ok(error) => anyhow::anyhow!("{path}#{}: {}", error.pointer, error.message),
        Err(error) => error,
    }
}

fn parse_document(text: &str, path: &str) -> anyhow::Result<OpenAPI> {
    // A first pass into plain YAML values rejects syntax errors and duplicate
    // keys with their line; openapiv3 panics on some duplicate keys.
    let mut document: serde_yaml::Value =
        serde_yaml::from_str(text).with_context(|| format!("{path} is not valid YAML"))?;
    openapi_schema::yaml::apply_merge_keys(&mut document)
        .map_err(|error| SpecError::new(error.pointer, error.message))?;
    // The version comes first: a 3.1 or 2.0 document often fails to parse
    // as 3.0, with a less helpful message.
    let version = match document.get("openapi").or_else(|| document.get("swagger")) {
        Some(serde_yaml::Value::String(version)) => version.clone(),
        Some(version) => serde_yaml::to_string(version).unwrap_or_default(),
        None => String::new(),
    };
    if !version.starts_with("3.0.") {
        let pointer = if document.get("swagger").is_some() {
            "/swagger"
        } else {
            "/openapi"
        };
        return Err(SpecError::new(
            pointer,
            format!(
                "version `{}` is not supported; progenitor reads OpenAPI 3.0.x, so convert \
                 the document to 3.0.3",
                version.trim()
            ),
        )
        .into());
    }
    let json = serde_json::to_value(&document)
        .with_context(|| format!("{path} has a value that JSON cannot hold"))?;
    // openapiv3 silently skips paths without a leading `/` and responses
    // under keys that are not statuses, so they are rejected here, as the
    // mock rejects them.
    openapi_schema::structure::check_paths(&json)
        .map_err(|error| SpecError::new(error.pointer, error.message))?;
    let parsed = catch_quietly(|| serde_yaml::from_value::<OpenAPI>(document.clone()));
    let api = match parsed {
        Ok(result) => {
            result.with_context(|| format!("{path} is not a valid OpenAPI 3.0 document"))?
        }
        Err(_) => anyhow::bail!("{path} is not a valid OpenAPI 3.0 document"),
    };
    check_refs(&json, &json, "", false)?;
    Ok(api)
}

/// Keywords whose value is literal data, in which a `$ref` key is data too.
const LITERAL_KEYWORDS: &[&str] = &["example", "default", "enum", "value"];

/// Checks that every `$ref` under `value` is a local reference (`#/...`)
/// that resolves in `document`. `keys_are_names` is true for the map of a
/// schema's `properties`, whose keys are property names, so that a
/// property named `$ref` is not read as a reference.
fn check_refs(
    document: &serde_json::Value,
    value: &serde_json::Value,
    pointer: &str,
    keys_are_names: bool,
) -> Result<(), SpecError> {
    match value {
        serde_json::Value::Object(object) => {
            let reference = object.get("$ref").filter(|_| !keys_are_names);
            if let Some(reference) = reference {
                let target = reference.as_str().unwrap_or_default();
                let Some(target_pointer) = target.strip_prefix('#') else {
                    return Err(SpecError::new(
                        pointer,
                        format!(
                            "$ref `{target}` is external; only local `#/...` references are supported"
                        ),
                    ));
                };
                if document.pointer(target_pointer).is_none() {
                    return Err(SpecError::new(
                        pointer,
                        format!("$ref `{target}` does not resolve"),
                    ));
                }
            }
            for (key, child) in object {
                if !keys_are_names && LITERAL_KEYWORDS.contains(&key.as_str()) {
                    continue;
                }
                let child_pointer = format!("{pointer}/{}", escape_segment(key));
                if !keys_are_names && key == "discriminator" {
                    check_mapping(document, child, &child_pointer)?;
                }
                check_refs(
                    document,
                    child,
                    &child_pointer,
                    !keys_are_names && key == "properties",
                )?;
            }
        }
        serde_json::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                check_refs(document, child, &format!("{pointer}/{index}"), false)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks that each value of a discriminator's `mapping` resolves in
/// `document`: a `#/...` reference, or a bare name, which names a
/// component schema. A value that points into another document is not
/// checked, because the mock then ignores the discriminator too.
fn check_mapping(
    document: &serde_json::Value,
    discriminator: &serde_json::Value,
    pointer: &str,
) -> Result<(), SpecError> {
    let Some(mapping) = discriminator
        .get("mapping")
        .and_then(serde_json::Value::as_object)
    else {
        return Ok(());
    };
    for (value, target) in mapping {
        let Some(target) = target.as_str() else {
            continue;
        };
        let target_pointer = match target.strip_prefix('#') {
            Some(target_pointer) => target_pointer.to_string(),
            None if target.contains('/') || target.contains('#') => continue,
            None => format!("/components/schemas/{}", escape_segment(target)),
        };
        if document.pointer(&target_pointer).is_none() {
            return Err(SpecError::new(
                format!("{pointer}/mapping/{}", escape_segment(value)),
                format!(
                    "the discriminator mapping value `{target}` does not resolve; add the \
                     schema `#{target_pointer}`, or remove the entry"
                ),
            ));
        }
    }
    Ok(())
}

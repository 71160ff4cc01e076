//! The headers documented for the responses of the loaded document, such
//! as `Location` or `X-Total-Count`, with their values prepared at start-up.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::generate::Generator;
use super::load::{self, Loader};
use crate::cors::EXPOSED_HEADERS;

/// Headers that the mock or HTTP itself sets: the framing and connection
/// headers, whose documented value would break the response, and the
/// headers that the mock sends of its own. A documented one is not sent.
const RESERVED: [&str; 11] = [
    "connection",
    "content-length",
    "content-type",
    "keep-alive",
    "preference-applied",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-request-id",
];

/// The max length of a documented header value, in bytes. HTTP clients
/// limit the size of a response's headers, so a longer value is left out
/// rather than sent.
const MAX_VALUE_BYTES: usize = 8 * 1024;

/// The documented headers of a response, ready to send.
#[derive(Clone, Debug, Default)]
pub(super) struct DocumentedHeaders {
    pub values: HeaderMap,
    /// `Access-Control-Expose-Headers` with the documented names after the
    /// mock's own, or `None` when the response documents no header.
    pub exposed: Option<HeaderValue>,
}

/// Prepares each header of the Header Objects `headers`, by name, with
/// its value: the `example`, else the first of its `examples`, else a
/// value of its schema (the schema's example or a generated value from
/// `seed`). A header of another kind, such as one described by `content`
/// only, is left out, and so are the [`RESERVED`] and `Access-Control-`
/// headers. A value that is no valid header text, such as one with CR or
/// LF, or that is longer than [`MAX_VALUE_BYTES`], is left out with a
/// warning. Of two names that differ only in case, the later one is sent.
pub(super) fn documented(
    loader: &Loader,
    headers: &[(String, Value)],
    pointer: &str,
    seed: u64,
) -> DocumentedHeaders {
    let mut documented = DocumentedHeaders::default();
    let mut names = Vec::new();
    for (name, header) in headers {
        let lower = name.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str()) || lower.starts_with("access-control-") {
            tracing::debug!(pointer, header = %name, "documented header not sent: the mock sets it");
            continue;
        }
        let Some(value) = header_value(loader, header, seed) else {
            continue;
        };
        let text = header_text(&value);
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .ok()
            .zip(HeaderValue::from_str(&text).ok());
        let reason = match parsed {
            None => "its name or value is not valid in HTTP",
            Some(_) if text.len() > MAX_VALUE_BYTES => "its value is longer than 8 KiB",
            Some((header_name, header_value)) => {
                documented.values.insert(header_name, header_value);
                names.retain(|known: &&str| !known.eq_ignore_ascii_case(name));
                names.push(name.as_str());
                continue;
            }
        };
        // The name and value are debug-escaped, so that a CR or LF in them
        // cannot start a line of its own in the log, and the value is cut
        // to its first 80 characters.
        let excerpt: String = text.chars().take(80).collect();
        tracing::warn!(
            pointer,
            header = ?name,
            value = ?excerpt,
            length = text.len(),
            "documented header not sent: {reason}"
        );
    }
    if !names.is_empty() {
        let exposed = format!("{EXPOSED_HEADERS}, {}", names.join(", "));
        documented.exposed = HeaderValue::from_str(&exposed).ok();
    }
    documented
}

/// Returns the value of the Header Object `header`, if it has an example
/// or a schema.
fn header_value(loader: &Loader, header: &Value, seed: u64) -> Option<Value> {
    if let Some(example) = header.get("example") {
        return Some(example.clone());
    }
    let examples = header.get("examples").and_then(Value::as_object);
    let first = examples.into_iter().flatten().find_map(|(_, example)| {
        let example = load::resolve(loader.document, example).ok()?;
        example.get("value").cloned()
    });
    if first.is_some() {
        return first;
    }
    let schema = header.get("schema")?;
    Some(Generator::new(loader.document, seed, true, 0).value(schema))
}

/// Writes `value` as a header's text in the `simple` style, the only
/// style of OpenAPI 3.0 headers: an array's items and an object's names
/// and values separated by commas.
fn header_text(value: &Value) -> String {
    let scalar = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match value {
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Object(map) => map
            .iter()
            .flat_map(|(name, value)| [name.clone(), scalar(value)])
            .collect::<Vec<_>>()
            .join(","),
        other => scalar(other),
    }
}

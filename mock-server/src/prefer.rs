//! Response selection with the `Prefer` header, as Stoplight Prism does it:
//! `Prefer: code=404` answers a REST operation with the first documented
//! example of that status, `Prefer: example=unknown_node` with the named
//! example, and both together with the named example of that status. The
//! operation does not run, so the state does not change.
//!
//! A request whose API key is rejected goes on to the operation, which
//! responds with the same 401 as without `Prefer`. A selection that matches
//! no documented example is a 400 in the documented error body, naming
//! `prefer` in `data`. On the JSON-RPC endpoint a selection is a JSON-RPC
//! error with HTTP status 400, because it applies to REST operations only.
//! Other preferences, such as `return=minimal`, are ignored (RFC 7240).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use system_services_server::{CallError, Rejection, jsonrpc};

use crate::MockApi;
use crate::routed::MatchedRoute;
use crate::spec::Operation;

/// The request header that selects a documented response.
pub(crate) const PREFER: HeaderName = HeaderName::from_static("prefer");

/// The response header that names the preferences applied (RFC 7240).
pub(crate) const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// The `code` and `example` preferences of a request, each the first
/// instance of its name, unquoted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Selection {
    code: Option<String>,
    example: Option<String>,
}

impl Selection {
    /// Reads every `Prefer` header, or returns none when they name neither
    /// `code` nor `example`.
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut selection = Selection::default();
        for value in headers.get_all(PREFER) {
            let text = String::from_utf8_lossy(value.as_bytes());
            for preference in split_unquoted(&text, ',') {
                let token = split_unquoted(preference, ';')
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let (name, value) = token.split_once('=').unwrap_or((token, ""));
                let slot = match name.trim().to_ascii_lowercase().as_str() {
                    "code" => &mut selection.code,
                    "example" => &mut selection.example,
                    _ => continue,
                };
                slot.get_or_insert_with(|| unquote(value.trim()));
            }
        }
        (selection.code.is_some() || selection.example.is_some()).then_some(selection)
    }

    /// Returns the status of the `code` preference, if any, or why the
    /// mock does not send it. A status code is three digits from 100 to 599
    /// (RFC 9110), and the mock sends only those from 200: a 1xx is
    /// informational, and 101 would switch the connection's protocol.
    fn status(&self) -> Result<Option<StatusCode>, String> {
        let Some(code) = &self.code else {
            return Ok(None);
        };
        let not_a_status = || format!("Prefer code `{code}` is not an HTTP status code");
        let three_digits = code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_digit());
        let number = code.parse::<u16>().ok().filter(|_| three_digits);
        let Some(number) = number.filter(|number| *number >= 100) else {
            return Err(not_a_status());
        };
        if !(200..=599).contains(&number) {
            return Err(format!(
                "Prefer code `{code}` is not a status the mock sends; \
                 use a status from 200 to 599"
            ));
        }
        StatusCode::from_u16(number)
            .map(Some)
            .map_err(|_| not_a_status())
    }

    /// Builds the response with the documented example of `operation` that
    /// the selection names, or the 400 that explains why none matches.
    fn respond(&self, operation: &Operation) -> Response {
        let status = match self.status() {
            Ok(status) => status,
            Err(message) => return Rejection::invalid("prefer", message).into_response(),
        };

        let example = match operation.select(status, self.example.as_deref()) {
            Ok(example) => example,
            Err(message) => return Rejection::invalid("prefer", message).into_response(),
        };
        tracing::debug!(
            request_id = crate::telemetry::request_id_field(),
            status = example.status.as_u16(),
            example = example.name,
            "sending a documented example for Prefer"
        );

        let mut applied = Vec::new();
        if self.code.is_some() {
            applied.push(format!("code={}", example.status.as_u16()));
        }
        if self.example.is_some() {
            applied.push(format!("example={}", example.name));
        }

        let mut response = example.response();
        if let Ok(applied) = HeaderValue::from_str(&applied.join(", ")) {
            response.headers_mut().insert(PREFERENCE_APPLIED, applied);
        }
        response
    }
}

/// Splits `text` at each `separator` outside double quotes.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Removes the double quotes and backslash escapes of a quoted string.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return value.to_string();
    };
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        text.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    text
}

/// The responses of an operation of a document loaded with `--spec`, as
/// `Prefer` selects them.
pub(crate) trait LoadedResponses {
    /// Builds the operation's response of `status`, which may be a
    /// generated value or its range's or `default` response, or returns
    /// why the operation documents none.
    fn by_status(&self, status: StatusCode) -> Result<Response, String>;

    /// Builds the response of `status` with the example `name` of the
    /// range or `default` response that covers `status`, or returns why
    /// that response has no such example. Returns none when the operation
    /// documents `status` itself, or nothing covers it.
    fn covered_example(&self, status: StatusCode, name: &str) -> Option<Result<Response, String>>;
}

/// Returns the response that the `Prefer` headers in `headers` select on
/// an operation of a document loaded with `--spec`, or none when they name
/// neither `code` nor `example`. A `code` alone gets the operation's
/// response of that status from `responses`, and a `code` covered by a
/// range or `default` with an `example` gets that response's example. An
/// `example` is otherwise looked up among `examples`, the operation's
/// named examples of explicit statuses, as on the mock's own operations.
pub(crate) fn respond_to_loaded(
    headers: &HeaderMap,
    examples: Option<&Operation>,
    responses: &impl LoadedResponses,
) -> Option<Response> {
    let selection = Selection::from_headers(headers)?;
    let status = match selection.status() {
        Ok(status) => status,
        Err(message) => return Some(Rejection::invalid("prefer", message).into_response()),
    };
    let response = match (status, selection.example.as_deref(), examples) {
        (Some(status), None, _) => applied(responses.by_status(status), status, None),
        (Some(status), Some(name), _)
            if let Some(result) = responses.covered_example(status, name) =>
        {
            applied(result, status, Some(name))
        }
        (_, _, Some(operation)) => selection.respond(operation),
        (_, _, None) => {
            let message = "This operation has no examples to select".to_string();
            Rejection::invalid("prefer", message).into_response()
        }
    };
    Some(response)
}

/// Adds `Preference-Applied` with `status` and the example `name` to a
/// response selected on a loaded operation, or builds the 400 that
/// explains why none was.
fn applied(selected: Result<Response, String>, status: StatusCode, name: Option<&str>) -> Response {
    let mut response = match selected {
        Ok(response) => response,
        Err(message) => return Rejection::invalid("prefer", message).into_response(),
    };
    tracing::debug!(
        request_id = crate::telemetry::request_id_field(),
        status = status.as_u16(),
        example = name,
        "sending a documented response for Prefer"
    );
    let mut preferences = format!("code={}", status.as_u16());
    if let Some(name) = name {
        preferences.push_str(&format!(", example={name}"));
    }
    if let Ok(value) = HeaderValue::from_str(&preferences) {
        response.headers_mut().insert(PREFERENCE_APPLIED, value);
    }
    response
}

/// Builds the 400 response to a selection on the JSON-RPC endpoint, with a
/// JSON-RPC error.
fn jsonrpc_rejection() -> Response {
    let data = serde_json::json!({
        "prefer": "Prefer code and example apply to the REST operations only; \
                   call the REST path to get a documented example"
    });
    let error = CallError::new(jsonrpc::INVALID_REQUEST, "Invalid Request", Some(data));
    jsonrpc::reject(StatusCode::BAD_REQUEST, error)
}

/// Returns the documented example that `request` selects with `Prefer`, as
/// the module documentation describes. Returns none, so that the request
/// goes on to the operation, when the request has no selection, matches no
/// operation, or has a rejected API key. It runs after routing, because it
/// needs the matched route.
pub(crate) fn select(api: &MockApi, request: &Request) -> Option<Response> {
    if !crate::sessions::has_header(request.headers(), &PREFER) {
        return None;
    }
    let selection = Selection::from_headers(request.headers())?;
    let path = MatchedRoute::of(request)?;
    let operation = crate::spec::document().operation(&path, request.method())?;
    if !api.accepts_request(request) {
        return None;
    }
    if operation.jsonrpc_endpoint {
        return Some(jsonrpc_rejection());
    }
    Some(selection.respond(operation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(values: &[&str]) -> Option<Selection> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(PREFER, HeaderValue::from_str(value).unwrap());
        }
        Selection::from_headers(&headers)
    }

    fn select(code: Option<&str>, example: Option<&str>) -> Option<Selection> {
        Some(Selection {
            code: code.map(str::to_string),
            example: example.map(str::to_string),
        })
    }

    #[test]
    fn reads_code_and_example() {
        assert_eq!(selection(&["code=404"]), select(Some("404"), None));
        assert_eq!(
            selection(&["code=404, example=unknown_node"]),
            select(Some("404"), Some("unknown_node"))
        );
        assert_eq!(
            selection(&["Example=\"unknown_node\"; x=1", "CODE = 404"]),
            select(Some("404"), Some("unknown_node"))
        );
    }

    #[test]
    fn first_instance_counts() {
        assert_eq!(
            selection(&["code=404, code=500", "code=401"]),
            select(Some("404"), None)
        );
    }

    #[test]
    fn other_preferences_are_ignored() {
        assert_eq!(selection(&["return=minimal, respond-async"]), None);
        assert_eq!(selection(&["wait=5, example=a"]), select(None, Some("a")));
    }

    #[test]
    fn quoted_separators_stay_in_value() {
        assert_eq!(
            selection(&[r#"example="a,b;c\"d", code=200"#]),
            select(Some("200"), Some("a,b;c\"d"))
        );
    }
}

//! A broken rule of the OpenAPI document, shown with the request as a curl
//! line and with the response.

use std::fmt;

use reqwest::StatusCode;

use super::record::{API_KEY_HEADER, RecordedRequest, RecordedResponse};

/// The max number of response body bytes that a violation shows. The rest
/// is cut.
const MAX_SHOWN_BODY_BYTES: usize = 4096;

/// A rule that an exchange can break, with a short stable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No path template of the spec matches the request path.
    PathNotDocumented,
    /// The path matches a template that has no operation for the method.
    MethodNotDocumented,
    /// The operation documents neither the status, nor its `NXX` range, nor
    /// `default`.
    StatusNotDocumented,
    /// The response `Content-Type` is missing, repeated, not a documented
    /// media type, or names a charset other than UTF-8 for JSON.
    ContentTypeMismatch,
    /// The response is documented without content but has a body.
    BodyNotEmpty,
    /// The response body of a JSON media type is not JSON.
    BodyNotJson,
    /// The response body does not validate against the documented schema.
    BodySchema,
    /// The request has an empty body but the operation requires one.
    RequestBodyMissing,
    /// The request `Content-Type` is not a documented request media type.
    RequestContentTypeMismatch,
    /// The operation documents no request body but the request has one.
    RequestBodyNotEmpty,
    /// The request body of a JSON media type is not JSON.
    RequestBodyNotJson,
    /// The request body does not validate against the documented schema.
    RequestBodySchema,
}

impl Rule {
    /// Returns the stable name, such as `body-schema`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::PathNotDocumented => "path-not-documented",
            Rule::MethodNotDocumented => "method-not-documented",
            Rule::StatusNotDocumented => "status-not-documented",
            Rule::ContentTypeMismatch => "content-type-mismatch",
            Rule::BodyNotEmpty => "body-not-empty",
            Rule::BodyNotJson => "body-not-json",
            Rule::BodySchema => "body-schema",
            Rule::RequestBodyMissing => "request-body-missing",
            Rule::RequestContentTypeMismatch => "request-content-type-mismatch",
            Rule::RequestBodyNotEmpty => "request-body-not-empty",
            Rule::RequestBodyNotJson => "request-body-not-json",
            Rule::RequestBodySchema => "request-body-schema",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A broken rule: its name, the details, the request and the response.
///
/// `Display` shows the request as a curl line with the API key replaced by
/// `$API_KEY`. `Debug` shows the same text, so a failed `expect` is readable.
pub struct Violation {
    pub rule: Rule,
    /// The matched operation, such as `POST /jsonrpc (jsonrpc)`, when the
    /// request path and method are documented.
    pub operation: Option<String>,
    /// One line per problem, such as a schema error with its paths.
    pub details: Vec<String>,
    pub request: Box<RecordedRequest>,
    /// The checked response. A check of a request alone has none.
    pub response: Option<Box<RecordedResponse>>,
}

impl fmt::Display for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "rule: {}", self.rule)?;
        if let Some(operation) = &self.operation {
            writeln!(formatter, "operation: {operation}")?;
        }
        writeln!(formatter, "details:")?;
        for detail in &self.details {
            writeln!(formatter, "  - {detail}")?;
        }
        writeln!(formatter, "request:")?;
        writeln!(formatter, "  {}", curl_line(&self.request))?;
        if let Some(response) = &self.response {
            write_response(formatter, response)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl std::error::Error for Violation {}

/// Formats `request` as one shell line of curl that sends it again. The
/// `X-Api-Key` value is replaced by `"$API_KEY"`, expanded by the shell.
/// Other values and the body are single-quoted, or ANSI-C quoted (`$'…'`)
/// when they contain control characters or bytes that are not UTF-8.
pub fn curl_line(request: &RecordedRequest) -> String {
    let mut words = vec![
        "curl -sS -i -X".to_string(),
        request.method.to_string(),
        shell_quote(request.url().as_bytes()),
    ];
    for (name, value) in &request.headers {
        words.push("-H".to_string());
        if name.as_str() == API_KEY_HEADER {
            words.push("\"X-Api-Key: $API_KEY\"".to_string());
        } else {
            let header = [name.as_str().as_bytes(), b": ", value.as_bytes()].concat();
            words.push(shell_quote(&header));
        }
    }
    if !request.body.is_empty() {
        words.push("--data-binary".to_string());
        words.push(shell_quote(&request.body));
    }
    words.join(" ")
}

/// Quotes `bytes` as one shell word.
fn shell_quote(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => {
            format!("'{}'", text.replace('\'', r"'\''"))
        }
        _ => ansi_c_quote(bytes),
    }
}

/// Quotes `bytes` as a bash `$'…'` word: printable ASCII as it is, other
/// bytes as `\xHH`.
fn ansi_c_quote(bytes: &[u8]) -> String {
    let mut quoted = String::from("$'");
    for &byte in bytes {
        match byte {
            b'\'' => quoted.push_str(r"\'"),
            b'\\' => quoted.push_str(r"\\"),
            b'\n' => quoted.push_str(r"\n"),
            b'\r' => quoted.push_str(r"\r"),
            b'\t' => quoted.push_str(r"\t"),
            b' '..=b'~' => quoted.push(char::from(byte)),
            _ => quoted.push_str(&format!("\\x{byte:02x}")),
        }
    }
    quoted.push('\'');
    quoted
}

fn write_response(formatter: &mut fmt::Formatter<'_>, response: &RecordedResponse) -> fmt::Result {
    let reason = StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    writeln!(formatter, "response:")?;
    writeln!(formatter, "  status: {} {reason}", response.status)?;
    let content_type = response.content_type().unwrap_or("(none)");
    writeln!(formatter, "  content-type: {content_type}")?;
    writeln!(formatter, "  body: {}", shown_body(&response.body))
}

fn shown_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty)".to_string();
    }
    let shown = &body[..body.len().min(MAX_SHOWN_BODY_BYTES)];
    let text = String::from_utf8_lossy(shown);
    if shown.len() == body.len() {
        text.into_owned()
    } else {
        format!("{text}… ({} bytes in all)", body.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    fn terminate() -> RecordedRequest {
        RecordedRequest::new(
            Method::POST,
            "http://127.0.0.1:4010",
            "/system/services/active/cron/terminate",
        )
    }

    #[test]
    fn curl_line_redacts_api_key() {
        let line = curl_line(&terminate().header("X-Api-Key", "secret-key"));
        assert!(line.contains(r#"-H "X-Api-Key: $API_KEY""#), "{line}");
        assert!(!line.contains("secret-key"), "{line}");
    }

    #[test]
    fn curl_line_quotes_method_url_and_body() {
        let line = curl_line(&terminate().body(r#"{"nodes_id": null}"#));
        let expected = "curl -sS -i -X POST \
            'http://127.0.0.1:4010/system/services/active/cron/terminate' \
            --data-binary '{\"nodes_id\": null}'";
        assert_eq!(line, expected);
    }

    #[test]
    fn curl_line_escapes_single_quote() {
        let line = curl_line(&terminate().body("it's"));
        assert!(line.ends_with(r"--data-binary 'it'\''s'"), "{line}");
    }

    #[test]
    fn curl_line_escapes_control_bytes() {
        let line = curl_line(&terminate().body(b"a\nb'\xff".to_vec()));
        assert!(line.ends_with(r"--data-binary $'a\nb\'\xff'"), "{line}");
    }

    #[test]
    fn long_body_is_cut() {
        let displayed = shown_body(&vec![b'a'; MAX_SHOWN_BODY_BYTES + 1]);
        assert!(displayed.ends_with("… (4097 bytes in all)"), "{displayed}");
    }
}

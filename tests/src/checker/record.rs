//! Recorded HTTP requests and responses, and [`record`], which sends a request
//! with reqwest and records the response.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// The name of the API key header, whose value the curl line redacts.
pub(super) const API_KEY_HEADER: &str = "x-api-key";

/// An HTTP request as sent: method, base URL, concrete path, headers and
/// body bytes.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: Method,
    /// Scheme, host and port, such as `http://127.0.0.1:4010`.
    pub base_url: String,
    /// Concrete path as sent, percent-encoded, such as
    /// `/system/services/active/cron/terminate`. A query string may follow.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// Creates a request without headers and with an empty body.
    pub fn new(method: Method, base_url: &str, path: &str) -> Self {
        RecordedRequest {
            method,
            base_url: base_url.trim_end_matches('/').to_string(),
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// Appends a header. The value of `X-Api-Key` is marked sensitive, so
    /// `Debug` output does not show it.
    ///
    /// # Panics
    ///
    /// Panics when `name` or `value` is not valid in an HTTP header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        append_header(&mut self.headers, name, value);
        self
    }

    /// Sets the body bytes and leaves the headers as they are.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets `value` as the body and `Content-Type: application/json`.
    pub fn json(self, value: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// Returns the full URL: base URL and path.
    pub fn url(&self) -> String {
        format!("{}{}", self.base_url, self.path)
    }

    /// Returns the path without the query string.
    pub(super) fn path_without_query(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// An HTTP response as received: status, headers and body bytes.
#[derive(Clone, Debug)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RecordedResponse {
    /// Creates a response without headers and with an empty body, for
    /// checking a hand-made response.
    pub fn new(status: u16) -> Self {
        RecordedResponse {
            status,
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// Appends a header.
    ///
    /// # Panics
    ///
    /// Panics when `name` or `value` is not valid in an HTTP header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        append_header(&mut self.headers, name, value);
        self
    }

    /// Sets the body bytes and leaves the headers as they are.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets `value` as the body and `Content-Type: application/json`.
    pub fn json(self, value: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// Returns the first `Content-Type` header, if it is visible ASCII.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE)?.to_str().ok()
    }
}

/// Sends `request` with `http` and records the response.
///
/// # Errors
///
/// Returns the reqwest error when the request cannot be sent or the body
/// cannot be read.
pub async fn record(
    http: &reqwest::Client,
    request: &RecordedRequest,
) -> Result<RecordedResponse, reqwest::Error> {
    let response = http
        .request(request.method.clone(), request.url())
        .headers(request.headers.clone())
        .body(request.body.clone())
        .send()
        .await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    Ok(RecordedResponse {
        status,
        headers,
        body,
    })
}

fn append_header(headers: &mut HeaderMap, name: &str, value: &str) {
    let name = HeaderName::from_bytes(name.as_bytes())
        .unwrap_or_else(|error| panic!("invalid header name {name:?}: {error}"));
    let mut value = HeaderValue::from_str(value)
        .unwrap_or_else(|error| panic!("invalid value for header {name}: {error}"));
    value.set_sensitive(name.as_str() == API_KEY_HEADER);
    headers.append(name, value);
}
